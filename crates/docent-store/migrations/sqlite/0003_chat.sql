-- Conversations with a bot and their messages. Citations are stored with the
-- answer as JSON: they are read with it and never queried on their own.

CREATE TABLE chat_sessions (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    bot_id           TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    visitor          TEXT,
    message_count    INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    last_message_at  TEXT NOT NULL
);
CREATE INDEX chat_sessions_by_tenant ON chat_sessions (tenant_id, id);
CREATE INDEX chat_sessions_by_bot ON chat_sessions (tenant_id, bot_id, id);

CREATE TABLE chat_messages (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    session_id         TEXT NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,
    role               TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content            TEXT NOT NULL,
    citations          TEXT NOT NULL DEFAULT '[]',
    mode               TEXT,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    latency_ms         INTEGER,
    -- 1: the answer stopped early (the client left, or the model failed midway)
    partial            INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL
);
CREATE INDEX chat_messages_by_session ON chat_messages (session_id, id);
