DROP TABLE room_events;
DROP TABLE room_epochs;
DROP TABLE live_sessions;
