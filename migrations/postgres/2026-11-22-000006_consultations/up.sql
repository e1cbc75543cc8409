-- Paid 1:1 consultations: money held on the learner's card (payment holds), bookings with one
-- row per 5-minute slot so that the primary key forbids two bookings overlapping for one expert,
-- and the metered intervals during which both parties were connected.
CREATE TABLE payment_holds (
    id TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('booking', 'extension', 'question', 'unlock')),
    subject_id TEXT NOT NULL,
    payer_id TEXT NOT NULL REFERENCES users(id),
    payee_id TEXT NOT NULL REFERENCES users(id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    fee_bps INTEGER NOT NULL,
    payment_id TEXT UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'authorized', 'captured', 'released', 'failed')),
    captured_minor BIGINT NOT NULL DEFAULT 0 CHECK (captured_minor >= 0 AND captured_minor <= amount_minor),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX payment_holds_subject_idx ON payment_holds (subject_id, created_at);

CREATE TABLE bookings (
    id TEXT PRIMARY KEY NOT NULL,
    expert_id TEXT NOT NULL REFERENCES users(id),
    learner_id TEXT NOT NULL REFERENCES users(id),
    starts_at TIMESTAMP NOT NULL,
    minutes INTEGER NOT NULL CHECK (minutes > 0),
    extra_minutes INTEGER NOT NULL DEFAULT 0 CHECK (extra_minutes >= 0),
    rate_per_minute_minor BIGINT NOT NULL CHECK (rate_per_minute_minor > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending_payment', 'confirmed', 'in_progress', 'completed',
        'declined', 'canceled', 'expired', 'payment_failed', 'expert_no_show', 'learner_no_show')),
    billable_seconds BIGINT NOT NULL DEFAULT 0 CHECK (billable_seconds >= 0),
    charged_minor BIGINT NOT NULL DEFAULT 0 CHECK (charged_minor >= 0),
    expert_joined_at TIMESTAMP,
    learner_joined_at TIMESTAMP,
    ended_at TIMESTAMP,
    settled_at TIMESTAMP,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX bookings_expert_idx ON bookings (expert_id, starts_at);
CREATE INDEX bookings_learner_idx ON bookings (learner_id, starts_at);
CREATE INDEX bookings_status_idx ON bookings (status, starts_at);

CREATE TABLE booking_slots (
    expert_id TEXT NOT NULL REFERENCES users(id),
    slot_at TIMESTAMP NOT NULL,
    booking_id TEXT NOT NULL REFERENCES bookings(id),
    PRIMARY KEY (expert_id, slot_at)
);
CREATE INDEX booking_slots_booking_idx ON booking_slots (booking_id);

CREATE TABLE consult_intervals (
    id TEXT PRIMARY KEY NOT NULL,
    booking_id TEXT NOT NULL REFERENCES bookings(id),
    started_at TIMESTAMP NOT NULL,
    checkpoint_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP
);
CREATE INDEX consult_intervals_booking_idx ON consult_intervals (booking_id, started_at);
-- At most one interval running per booking.
CREATE UNIQUE INDEX consult_intervals_open_idx ON consult_intervals (booking_id) WHERE ended_at IS NULL;
