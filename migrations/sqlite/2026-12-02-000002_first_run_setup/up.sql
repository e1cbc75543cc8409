-- First-run setup (create the first admin, or load the demo data) may happen once: the single
-- row this table can hold is the claim, so two racing setups cannot both pass.
CREATE TABLE setup_claim (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    kind TEXT NOT NULL CHECK (kind IN ('admin', 'demo')),
    claimed_at TIMESTAMP NOT NULL
);
