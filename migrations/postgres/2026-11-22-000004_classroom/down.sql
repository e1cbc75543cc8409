DELETE FROM behavior_events WHERE kind IN ('live_join', 'question_asked', 'question_upvoted', 'poll_voted');
ALTER TABLE behavior_events DROP CONSTRAINT behavior_events_kind_check;
ALTER TABLE behavior_events ADD CONSTRAINT behavior_events_kind_check CHECK (kind IN ('course_view',
    'enroll', 'purchase', 'refund', 'review'));
DROP TABLE room_events;
DROP TABLE room_epochs;
DROP TABLE live_sessions;
