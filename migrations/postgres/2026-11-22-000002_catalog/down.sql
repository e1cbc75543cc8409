DROP TABLE behavior_events;
DROP TABLE reviews;
DROP TABLE entitlements;
DROP TABLE lessons;
DROP TABLE course_tags;
DROP TABLE courses;
