-- Client-side behaviour (lesson progress, search clicks, wishlists) feeds the recommender, with
-- what it was about (a lesson id or a search query). SQLite rebuilds the table to change a CHECK.
CREATE TABLE behavior_events_new (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('course_view', 'enroll', 'purchase', 'refund', 'review',
        'live_join', 'question_asked', 'question_upvoted', 'poll_voted', 'lesson_start',
        'lesson_complete', 'search_click', 'wishlist_add')),
    weight REAL NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    detail TEXT
);
INSERT INTO behavior_events_new (id, user_id, course_id, kind, weight, occurred_at)
    SELECT id, user_id, course_id, kind, weight, occurred_at FROM behavior_events;
DROP TABLE behavior_events;
ALTER TABLE behavior_events_new RENAME TO behavior_events;
CREATE INDEX behavior_events_user_idx ON behavior_events (user_id, occurred_at);
CREATE INDEX behavior_events_course_idx ON behavior_events (course_id, occurred_at);
-- The recommender counts what arrived since its last rebuild.
CREATE INDEX behavior_events_time_idx ON behavior_events (occurred_at);

-- "Not interested": a dismissed course is never recommended to that user again (until undone).
CREATE TABLE recommendation_dismissals (
    user_id TEXT NOT NULL REFERENCES users (id),
    course_id TEXT NOT NULL REFERENCES courses (id),
    dismissed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, course_id)
);
