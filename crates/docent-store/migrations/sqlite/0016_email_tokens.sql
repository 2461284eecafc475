-- Email flows: a user's address proven theirs, and the single-use tokens
-- of verification, password reset and invitation links (stored as the
-- SHA-256 of the secret the link carries).
ALTER TABLE users ADD COLUMN email_verified_at TEXT;

CREATE TABLE email_tokens (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify', 'reset', 'invite')),
    token_hash  TEXT NOT NULL UNIQUE,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX email_tokens_by_tenant ON email_tokens (tenant_id, id);
