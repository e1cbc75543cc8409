-- Expert profiles for paid consultations: the public profile with its per-minute rate, tags and
-- languages, weekly availability windows in the expert's local wall-clock time, and one-off
-- blocked local days.
CREATE TABLE expert_profiles (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id),
    headline TEXT NOT NULL,
    bio TEXT NOT NULL,
    rate_per_minute_minor BIGINT NOT NULL
        CHECK (rate_per_minute_minor > 0 AND rate_per_minute_minor <= 1000000),
    currency TEXT NOT NULL,
    min_minutes INTEGER NOT NULL CHECK (min_minutes >= 5 AND min_minutes % 5 = 0),
    max_minutes INTEGER NOT NULL
        CHECK (max_minutes >= min_minutes AND max_minutes <= 240 AND max_minutes % 5 = 0),
    time_zone TEXT NOT NULL,
    published BOOLEAN NOT NULL DEFAULT FALSE,
    search_text TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE INDEX expert_profiles_published_idx ON expert_profiles (published, created_at);

CREATE TABLE expert_tags (
    expert_id TEXT NOT NULL REFERENCES expert_profiles(user_id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (expert_id, tag)
);

CREATE INDEX expert_tags_tag_idx ON expert_tags (tag);

CREATE TABLE expert_languages (
    expert_id TEXT NOT NULL REFERENCES expert_profiles(user_id) ON DELETE CASCADE,
    language TEXT NOT NULL,
    PRIMARY KEY (expert_id, language)
);

CREATE INDEX expert_languages_language_idx ON expert_languages (language);

-- Local wall-clock minutes of the day in the profile's time zone (weekday 0 = Monday): a
-- recurring "Mondays 09:00" is a different UTC time in summer and winter.
CREATE TABLE expert_windows (
    expert_id TEXT NOT NULL REFERENCES expert_profiles(user_id) ON DELETE CASCADE,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    start_minute INTEGER NOT NULL CHECK (start_minute >= 0 AND start_minute % 5 = 0),
    end_minute INTEGER NOT NULL
        CHECK (end_minute > start_minute AND end_minute <= 1440 AND end_minute % 5 = 0),
    PRIMARY KEY (expert_id, weekday, start_minute)
);

-- A blocked local date and the UTC instants [starts_at, ends_at) it spans in the profile's
-- time zone (recomputed when the time zone changes).
CREATE TABLE expert_blocked_days (
    expert_id TEXT NOT NULL REFERENCES expert_profiles(user_id) ON DELETE CASCADE,
    local_date DATE NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL CHECK (ends_at >= starts_at),
    PRIMARY KEY (expert_id, local_date)
);

CREATE INDEX expert_blocked_days_range_idx ON expert_blocked_days (expert_id, starts_at);
