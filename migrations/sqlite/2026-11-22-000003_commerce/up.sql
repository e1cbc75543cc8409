-- Commerce: orders with their payment, the audit trail of every state change, idempotency
-- keys, processed webhook events, coupons, refunds, the double-entry ledger, and the sandbox
-- provider's own books and webhook outbox.

CREATE TABLE orders (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    course_id TEXT NOT NULL REFERENCES courses(id),
    instructor_id TEXT NOT NULL REFERENCES users(id),
    status TEXT NOT NULL,
    list_price_minor BIGINT NOT NULL CHECK (list_price_minor >= 0),
    discount_minor BIGINT NOT NULL CHECK (discount_minor >= 0),
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    refunded_minor BIGINT NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor),
    currency TEXT NOT NULL,
    coupon_code TEXT,
    fee_bps INTEGER NOT NULL,
    payment_id TEXT UNIQUE,
    payment_status TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    paid_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX orders_user_idx ON orders (user_id, created_at);
CREATE INDEX orders_status_idx ON orders (status, expires_at);
-- At most one order awaiting payment per learner and course.
CREATE UNIQUE INDEX orders_one_pending_idx ON orders (user_id, course_id) WHERE status = 'pending_payment';

CREATE TABLE state_transitions (
    id TEXT PRIMARY KEY NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    cause TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX state_transitions_entity_idx ON state_transitions (entity, entity_id, created_at);

CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status INTEGER,
    response_body TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);

CREATE TABLE webhook_events (
    event_id TEXT PRIMARY KEY NOT NULL,
    event_type TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);

CREATE TABLE coupons (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    percent_bps INTEGER,
    amount_minor BIGINT,
    currency TEXT,
    course_id TEXT REFERENCES courses(id),
    expires_at TIMESTAMP,
    max_redemptions BIGINT,
    max_per_user BIGINT,
    redemptions BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    CHECK ((percent_bps IS NULL) <> (amount_minor IS NULL))
);

CREATE TABLE coupon_redemptions (
    id TEXT PRIMARY KEY NOT NULL,
    coupon_id TEXT NOT NULL REFERENCES coupons(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    order_id TEXT NOT NULL UNIQUE REFERENCES orders(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX coupon_redemptions_user_idx ON coupon_redemptions (coupon_id, user_id);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders(id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    reason TEXT NOT NULL,
    requested_by TEXT NOT NULL REFERENCES users(id),
    provider_refund_id TEXT UNIQUE,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX refunds_order_idx ON refunds (order_id);

CREATE TABLE ledger_transactions (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    reference TEXT NOT NULL,
    currency TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ledger_transactions_reference_idx ON ledger_transactions (reference);

CREATE TABLE ledger_entries (
    id TEXT PRIMARY KEY NOT NULL,
    transaction_id TEXT NOT NULL REFERENCES ledger_transactions(id),
    account TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account, created_at);
CREATE INDEX ledger_entries_transaction_idx ON ledger_entries (transaction_id);

CREATE TABLE sandbox_payments (
    id TEXT PRIMARY KEY NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    capture_method TEXT NOT NULL,
    status TEXT NOT NULL,
    captured_minor BIGINT NOT NULL DEFAULT 0,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    card_last4 TEXT,
    failure_code TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE sandbox_outbox (
    event_id TEXT PRIMARY KEY NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX sandbox_outbox_due_idx ON sandbox_outbox (delivered_at, next_attempt_at);

CREATE TABLE sandbox_refunds (
    refund_key TEXT PRIMARY KEY NOT NULL,
    payment_id TEXT NOT NULL REFERENCES sandbox_payments(id),
    amount_minor BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
