DROP INDEX refunds_status_idx;
DROP INDEX refunds_one_pending_idx;
DROP INDEX idempotency_keys_order_idx;
ALTER TABLE idempotency_keys DROP COLUMN lease_until;
ALTER TABLE idempotency_keys DROP COLUMN order_id;
