-- Live sessions of a course and the durable log of every room: one epoch per room, and events
-- numbered 1, 2, 3… within it.
CREATE TABLE live_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    course_id TEXT NOT NULL REFERENCES courses(id),
    title TEXT NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'live', 'ended')),
    started_at TIMESTAMP,
    ended_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX live_sessions_course_idx ON live_sessions (course_id, starts_at);

CREATE TABLE room_epochs (
    room TEXT PRIMARY KEY NOT NULL,
    epoch TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE room_events (
    room TEXT NOT NULL,
    epoch TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor_id TEXT,
    data TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (room, epoch, seq)
);

-- Live behaviour feeds the recommender too: widen the kinds (SQLite rebuilds the table to
-- change a CHECK constraint).
CREATE TABLE behavior_events_new (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('course_view', 'enroll', 'purchase', 'refund', 'review',
        'live_join', 'question_asked', 'question_upvoted', 'poll_voted')),
    weight REAL NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
INSERT INTO behavior_events_new SELECT id, user_id, course_id, kind, weight, occurred_at FROM behavior_events;
DROP TABLE behavior_events;
ALTER TABLE behavior_events_new RENAME TO behavior_events;
CREATE INDEX behavior_events_user_idx ON behavior_events (user_id, occurred_at);
CREATE INDEX behavior_events_course_idx ON behavior_events (course_id, occurred_at);
