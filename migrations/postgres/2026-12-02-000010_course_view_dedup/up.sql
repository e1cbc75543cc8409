-- A course view counts once per user, course and day: repeated views of the same course carry
-- the same key and are ignored, so one account cannot push a course up the trending list.
ALTER TABLE behavior_events ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX behavior_events_dedup_key ON behavior_events (dedup_key);
