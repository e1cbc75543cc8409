-- Catalog: courses with tags and ordered lessons, entitlements (who may read what),
-- reviews, and behaviour events for recommendations.
CREATE TABLE courses (
    id TEXT PRIMARY KEY NOT NULL,
    instructor_id TEXT NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    cover_image_url TEXT,
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    currency TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('beginner', 'intermediate', 'advanced', 'all_levels')),
    language TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'in_review', 'published', 'archived')),
    rejection_reason TEXT,
    search_text TEXT NOT NULL,
    rating_count BIGINT NOT NULL DEFAULT 0,
    rating_sum BIGINT NOT NULL DEFAULT 0,
    rating_avg DOUBLE PRECISION NOT NULL DEFAULT 0,
    enrollment_count BIGINT NOT NULL DEFAULT 0,
    published_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE INDEX courses_status_published_idx ON courses (status, published_at);
CREATE INDEX courses_instructor_idx ON courses (instructor_id);
CREATE INDEX courses_category_idx ON courses (category);

CREATE TABLE course_tags (
    course_id TEXT NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (course_id, tag)
);

CREATE INDEX course_tags_tag_idx ON course_tags (tag);

CREATE TABLE lessons (
    id TEXT PRIMARY KEY NOT NULL,
    course_id TEXT NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    title TEXT NOT NULL,
    body TEXT,
    media_url TEXT,
    duration_secs INTEGER NOT NULL CHECK (duration_secs >= 0),
    free_preview BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE INDEX lessons_course_position_idx ON lessons (course_id, position);

CREATE TABLE entitlements (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    course_id TEXT NOT NULL REFERENCES courses(id),
    source TEXT NOT NULL CHECK (source IN ('enroll', 'order', 'admin')),
    order_id TEXT,
    granted_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

CREATE UNIQUE INDEX entitlements_active_uidx ON entitlements (user_id, course_id)
    WHERE revoked_at IS NULL;
CREATE INDEX entitlements_course_idx ON entitlements (course_id);
CREATE INDEX entitlements_order_idx ON entitlements (order_id);

CREATE TABLE reviews (
    id TEXT PRIMARY KEY NOT NULL,
    course_id TEXT NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (course_id, user_id)
);

CREATE INDEX reviews_course_idx ON reviews (course_id, updated_at);

CREATE TABLE behavior_events (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('course_view', 'enroll', 'purchase', 'refund', 'review')),
    weight DOUBLE PRECISION NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);

CREATE INDEX behavior_events_user_idx ON behavior_events (user_id, occurred_at);
CREATE INDEX behavior_events_course_idx ON behavior_events (course_id, occurred_at);
