DROP INDEX bookings_unpaid_expert_place_idx;
DROP INDEX bookings_unpaid_place_idx;
ALTER TABLE bookings DROP COLUMN unpaid_expert_place;
ALTER TABLE bookings DROP COLUMN unpaid_place;
ALTER TABLE sandbox_payments DROP COLUMN payer_id;
