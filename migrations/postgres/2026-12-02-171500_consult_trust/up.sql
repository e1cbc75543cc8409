-- Issue 12, items 4 and 13.
-- The sandbox binds each payment to its payer: only they may confirm or authenticate it.
-- Payments created before this column existed are bound to nobody (NULL matches no user).
ALTER TABLE sandbox_payments ADD COLUMN payer_id TEXT;

-- Unpaid bookings are capped per learner: each pending booking takes a numbered place among
-- the learner's unpaid bookings (0 .. cap) and among those with the same expert. The partial
-- unique indexes make two pending bookings on one place impossible on any backend, and a
-- booking gives its places back by leaving `pending_payment`, whatever moves it.
ALTER TABLE bookings ADD COLUMN unpaid_place INTEGER;
ALTER TABLE bookings ADD COLUMN unpaid_expert_place INTEGER;
CREATE UNIQUE INDEX bookings_unpaid_place_idx ON bookings (learner_id, unpaid_place)
    WHERE status = 'pending_payment';
CREATE UNIQUE INDEX bookings_unpaid_expert_place_idx ON bookings (learner_id, expert_id, unpaid_expert_place)
    WHERE status = 'pending_payment';
