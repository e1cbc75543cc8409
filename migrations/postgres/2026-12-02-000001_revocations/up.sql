-- Access revocations: an append-only log every node follows ("id > last seen"), so logouts,
-- role changes, disabled accounts and lost entitlements reach open sockets and HTTP checks on
-- every node within a second; and the accounts an administrator disabled.
CREATE TABLE revocations (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('session', 'role', 'disabled', 'enabled', 'entitlement')),
    user_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX revocations_created_idx ON revocations (created_at);

CREATE TABLE disabled_accounts (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    disabled_by TEXT NOT NULL,
    disabled_at TIMESTAMP NOT NULL
);
