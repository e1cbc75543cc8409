DROP TABLE recommendation_dismissals;
DELETE FROM behavior_events WHERE kind IN ('lesson_start', 'lesson_complete', 'search_click',
    'wishlist_add');
CREATE TABLE behavior_events_old (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('course_view', 'enroll', 'purchase', 'refund', 'review',
        'live_join', 'question_asked', 'question_upvoted', 'poll_voted')),
    weight REAL NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
INSERT INTO behavior_events_old SELECT id, user_id, course_id, kind, weight, occurred_at FROM behavior_events;
DROP TABLE behavior_events;
ALTER TABLE behavior_events_old RENAME TO behavior_events;
CREATE INDEX behavior_events_user_idx ON behavior_events (user_id, occurred_at);
CREATE INDEX behavior_events_course_idx ON behavior_events (course_id, occurred_at);
