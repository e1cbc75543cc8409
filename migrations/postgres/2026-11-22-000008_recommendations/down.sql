DROP TABLE recommendation_dismissals;
DROP INDEX behavior_events_time_idx;
DELETE FROM behavior_events WHERE kind IN ('lesson_start', 'lesson_complete', 'search_click',
    'wishlist_add');
ALTER TABLE behavior_events DROP COLUMN detail;
ALTER TABLE behavior_events DROP CONSTRAINT behavior_events_kind_check;
ALTER TABLE behavior_events ADD CONSTRAINT behavior_events_kind_check CHECK (kind IN ('course_view',
    'enroll', 'purchase', 'refund', 'review', 'live_join', 'question_asked', 'question_upvoted',
    'poll_voted'));
