DROP INDEX behavior_events_dedup_key;
ALTER TABLE behavior_events DROP COLUMN dedup_key;
