-- A user's TOTP second factor, as in SQLite (0017).
CREATE TABLE user_mfa (
    user_id         TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    pending_secret  TEXT,
    secret          TEXT,
    enabled_at      TIMESTAMPTZ,
    last_step       BIGINT
);

CREATE TABLE mfa_recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);
