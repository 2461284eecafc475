-- The widget: a per-bot visitor message limit, leads, and visitor-scoped
-- session listing.

ALTER TABLE bots ADD COLUMN visitor_messages_per_minute INTEGER NOT NULL DEFAULT 20;

CREATE INDEX chat_sessions_by_visitor ON chat_sessions (tenant_id, bot_id, visitor, id);

CREATE TABLE leads (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    bot_id      TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    -- A lead outlives the conversation it came from.
    session_id  TEXT REFERENCES chat_sessions(id) ON DELETE SET NULL,
    email       TEXT NOT NULL,
    name        TEXT,
    phone       TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    visitor     TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX leads_by_bot ON leads (tenant_id, bot_id, id);
CREATE INDEX leads_by_tenant ON leads (tenant_id, id);
