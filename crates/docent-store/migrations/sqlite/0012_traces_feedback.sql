-- Show your work: the retrieval trace of each answer (JSON, read whole and
-- never queried inside), deleted with its message; and the latest thumbs up
-- or down on an answer.
CREATE TABLE chat_traces (
    message_id  TEXT PRIMARY KEY REFERENCES chat_messages(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    trace       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

ALTER TABLE chat_messages ADD COLUMN feedback TEXT CHECK (feedback IN ('up', 'down'));
ALTER TABLE chat_messages ADD COLUMN feedback_comment TEXT;
ALTER TABLE chat_messages ADD COLUMN feedback_at TEXT;

-- Analytics and export read a bot's conversations by time.
CREATE INDEX chat_sessions_by_bot_time ON chat_sessions (tenant_id, bot_id, created_at);
