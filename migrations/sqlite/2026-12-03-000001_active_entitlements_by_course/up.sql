-- A course's enrolment count is recounted from its active entitlements on every grant and
-- revocation. Without this index PostgreSQL answered that count by scanning the whole partial
-- unique index (user_id, course_id) — every active entitlement on the platform — and SQLite by
-- reading each of the course's rows; with it the count reads only the course's active entries.
CREATE INDEX entitlements_course_active_idx ON entitlements (course_id) WHERE revoked_at IS NULL;
