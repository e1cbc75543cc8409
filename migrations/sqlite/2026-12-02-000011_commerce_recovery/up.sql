-- Recovery after a crash (issue 12, items 7 and 8).
-- A claimed Idempotency-Key names the order it created and holds a lease: a retry after the
-- lease ran out takes the checkout over (a conditional update on lease_until) and finishes it.
ALTER TABLE idempotency_keys ADD COLUMN order_id TEXT;
ALTER TABLE idempotency_keys ADD COLUMN lease_until TIMESTAMP;
CREATE INDEX idempotency_keys_order_idx ON idempotency_keys (order_id);
-- A refund is recorded as pending before the provider is called; at most one is in flight per
-- order, and pending ones are reconciled by the sweep, the refund webhook, or a retry.
CREATE UNIQUE INDEX refunds_one_pending_idx ON refunds (order_id) WHERE status = 'pending';
CREATE INDEX refunds_status_idx ON refunds (status, created_at);
