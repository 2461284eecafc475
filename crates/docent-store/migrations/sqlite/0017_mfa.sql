-- A user's TOTP second factor: the secret being set up, the one in force,
-- the last time step accepted (a code is good once), and the recovery
-- codes (stored as SHA-256, each good once).
CREATE TABLE user_mfa (
    user_id         TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    pending_secret  TEXT,
    secret          TEXT,
    enabled_at      TEXT,
    last_step       INTEGER
);

CREATE TABLE mfa_recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    used_at    TEXT,
    PRIMARY KEY (user_id, code_hash)
) WITHOUT ROWID;
