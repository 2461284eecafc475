-- Who started a conversation that no visitor started (`user:<id>` or
-- `api_key:<id>`): viewers see only their own. Older rows have none, so only
-- editors and stronger see them.
ALTER TABLE chat_sessions ADD COLUMN started_by TEXT;
CREATE INDEX chat_sessions_by_starter ON chat_sessions (tenant_id, started_by, id);
