-- Client-side behaviour (lesson progress, search clicks, wishlists) feeds the recommender, with
-- what it was about (a lesson id or a search query).
ALTER TABLE behavior_events DROP CONSTRAINT behavior_events_kind_check;
ALTER TABLE behavior_events ADD CONSTRAINT behavior_events_kind_check CHECK (kind IN ('course_view',
    'enroll', 'purchase', 'refund', 'review', 'live_join', 'question_asked', 'question_upvoted',
    'poll_voted', 'lesson_start', 'lesson_complete', 'search_click', 'wishlist_add'));
ALTER TABLE behavior_events ADD COLUMN detail TEXT;
-- The recommender counts what arrived since its last rebuild.
CREATE INDEX behavior_events_time_idx ON behavior_events (occurred_at);

-- "Not interested": a dismissed course is never recommended to that user again (until undone).
CREATE TABLE recommendation_dismissals (
    user_id TEXT NOT NULL REFERENCES users (id),
    course_id TEXT NOT NULL REFERENCES courses (id),
    dismissed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, course_id)
);
