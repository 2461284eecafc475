-- Docent on PostgreSQL (15+, with pgvector >= 0.7): the same tables as the
-- SQLite backend. Ids are the same UUIDv7 strings (TEXT), so id order is
-- creation order for keyset paging; times are TIMESTAMPTZ; opaque JSON
-- payloads (settings, citations, metadata) are TEXT as in SQLite, since no
-- query looks inside them.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    plan        TEXT NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'enterprise')),
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_by_tenant ON users (tenant_id, id);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    prefix        TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    created_by    TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);

CREATE TABLE bots (
    id                           TEXT PRIMARY KEY,
    tenant_id                    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                         TEXT NOT NULL,
    description                  TEXT,
    system_prompt                TEXT,
    welcome_message              TEXT,
    model                        TEXT,
    temperature                  DOUBLE PRECISION,
    public                       BOOLEAN NOT NULL DEFAULT FALSE,
    allowed_origins              TEXT NOT NULL DEFAULT '[]',
    retrieval                    TEXT NOT NULL,
    theme                        TEXT NOT NULL DEFAULT '{}',
    visitor_messages_per_minute  BIGINT NOT NULL DEFAULT 20,
    index_version                BIGINT NOT NULL DEFAULT 0,
    created_at                   TIMESTAMPTZ NOT NULL,
    updated_at                   TIMESTAMPTZ NOT NULL
);
CREATE INDEX bots_by_tenant ON bots (tenant_id, id);

CREATE TABLE audit_log (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    actor_type     TEXT NOT NULL,
    actor_id       TEXT,
    action         TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT,
    ip             TEXT,
    user_agent     TEXT,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_log_by_action ON audit_log (tenant_id, action, id);

CREATE TABLE files (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    bot_id        TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    sha256        TEXT,
    object_key    TEXT NOT NULL,
    format        TEXT,
    uploaded_at   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX files_by_tenant ON files (tenant_id, id);

CREATE TABLE documents (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    bot_id        TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    title         TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
    source_type   TEXT NOT NULL CHECK (source_type IN ('file', 'text', 'json', 'crawl')),
    source_url    TEXT,
    format        TEXT NOT NULL,
    file_id       TEXT REFERENCES files(id) ON DELETE SET NULL,
    object_key    TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    chunk_count   BIGINT NOT NULL DEFAULT 0,
    error         TEXT,
    metadata      TEXT NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX documents_by_tenant ON documents (tenant_id, id);
CREATE INDEX documents_by_bot ON documents (tenant_id, bot_id, id);
CREATE INDEX documents_by_source ON documents (bot_id, source_url);
-- One document per uploaded file: ingesting it twice is a conflict.
CREATE UNIQUE INDEX documents_by_file ON documents (file_id);

-- Passages with their vector and keyword index. `embedding` has no fixed
-- dimension (instances switch embedders); `dims` records it, and the HNSW
-- index is built per dimension on `embedding::vector(dims)` (see
-- `prepare_vector_index`).
CREATE TABLE chunks (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    bot_id        TEXT NOT NULL,
    document_id   TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    idx           BIGINT NOT NULL,
    text          TEXT NOT NULL,
    token_count   BIGINT NOT NULL,
    page          BIGINT,
    heading       TEXT,
    text_hash     TEXT NOT NULL,
    embedder_id   TEXT NOT NULL,
    dims          INTEGER NOT NULL,
    embedding     vector NOT NULL,
    tsv           tsvector GENERATED ALWAYS AS (
                      setweight(to_tsvector('english', coalesce(heading, '')), 'A')
                      || to_tsvector('english', text)
                  ) STORED
);
CREATE INDEX chunks_by_document ON chunks (document_id, idx);
CREATE INDEX chunks_by_bot ON chunks (tenant_id, bot_id);
CREATE INDEX chunks_by_text_hash ON chunks (tenant_id, embedder_id, text_hash);
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    max_attempts    BIGINT NOT NULL,
    error           TEXT,
    progress_done   BIGINT NOT NULL DEFAULT 0,
    progress_total  BIGINT NOT NULL DEFAULT 0,
    run_at          TIMESTAMPTZ NOT NULL,
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ,
    claimed_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ
);
CREATE INDEX jobs_runnable ON jobs (status, run_at);
CREATE INDEX jobs_by_tenant_claimed ON jobs (tenant_id, claimed_at);
CREATE INDEX jobs_by_tenant_status ON jobs (tenant_id, status);

CREATE TABLE chat_sessions (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    bot_id           TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    visitor          TEXT,
    message_count    BIGINT NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    last_message_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX chat_sessions_by_tenant ON chat_sessions (tenant_id, id);
CREATE INDEX chat_sessions_by_bot ON chat_sessions (tenant_id, bot_id, id);
CREATE INDEX chat_sessions_by_visitor ON chat_sessions (tenant_id, bot_id, visitor, id);

CREATE TABLE chat_messages (
    -- The order appended (SQLite's rowid).
    seq                BIGSERIAL UNIQUE,
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    session_id         TEXT NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,
    role               TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content            TEXT NOT NULL,
    citations          TEXT NOT NULL DEFAULT '[]',
    mode               TEXT,
    prompt_tokens      BIGINT NOT NULL DEFAULT 0,
    completion_tokens  BIGINT NOT NULL DEFAULT 0,
    latency_ms         BIGINT,
    partial            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX chat_messages_by_session ON chat_messages (session_id, seq);

CREATE TABLE leads (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    bot_id      TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    session_id  TEXT REFERENCES chat_sessions(id) ON DELETE SET NULL,
    email       TEXT NOT NULL,
    name        TEXT,
    phone       TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    visitor     TEXT,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX leads_by_bot ON leads (tenant_id, bot_id, id);
CREATE INDEX leads_by_tenant ON leads (tenant_id, id);

CREATE TABLE usage_counters (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    period     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    used       BIGINT NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (tenant_id, period, kind)
);

CREATE TABLE usage_events (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    bot_id      TEXT,
    kind        TEXT NOT NULL,
    quantity    BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX usage_events_by_tenant ON usage_events (tenant_id, created_at);

-- Held amounts follow the documents table, as in SQLite.
CREATE FUNCTION usage_documents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE usage_counters SET used = GREATEST(used - 1, 0)
         WHERE tenant_id = OLD.tenant_id AND period = 'held' AND kind = 'documents';
        UPDATE usage_counters SET used = GREATEST(used - OLD.size_bytes, 0)
         WHERE tenant_id = OLD.tenant_id AND period = 'held' AND kind = 'storage_bytes';
        RETURN OLD;
    END IF;
    IF NEW.size_bytes <> OLD.size_bytes THEN
        INSERT INTO usage_counters (tenant_id, period, kind, used)
        VALUES (NEW.tenant_id, 'held', 'storage_bytes', 0)
        ON CONFLICT DO NOTHING;
        UPDATE usage_counters SET used = GREATEST(used + NEW.size_bytes - OLD.size_bytes, 0)
         WHERE tenant_id = NEW.tenant_id AND period = 'held' AND kind = 'storage_bytes';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER usage_documents_deleted AFTER DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION usage_documents_changed();
CREATE TRIGGER usage_documents_resized AFTER UPDATE OF size_bytes ON documents
    FOR EACH ROW EXECUTE FUNCTION usage_documents_changed();
