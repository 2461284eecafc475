-- Knowledge: uploaded files, documents, chunks with their keyword index and
-- vectors, and the durable job queue.

ALTER TABLE bots ADD COLUMN index_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE files (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    bot_id        TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    sha256        TEXT,
    object_key    TEXT NOT NULL,
    format        TEXT,
    uploaded_at   TEXT,
    created_at    TEXT NOT NULL
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
    size_bytes    INTEGER NOT NULL,
    chunk_count   INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    metadata      TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX documents_by_tenant ON documents (tenant_id, id);
CREATE INDEX documents_by_bot ON documents (tenant_id, bot_id, id);
CREATE INDEX documents_by_source ON documents (bot_id, source_url);
-- One document per uploaded file: ingesting it twice is a conflict.
CREATE UNIQUE INDEX documents_by_file ON documents (file_id);

CREATE TABLE chunks (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    bot_id        TEXT NOT NULL,
    document_id   TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,
    text          TEXT NOT NULL,
    token_count   INTEGER NOT NULL,
    page          INTEGER,
    heading       TEXT,
    text_hash     TEXT NOT NULL,
    embedder_id   TEXT NOT NULL,
    -- little-endian f32 values, L2-normalised
    embedding     BLOB NOT NULL
);
CREATE INDEX chunks_by_document ON chunks (document_id, idx);
CREATE INDEX chunks_by_bot ON chunks (tenant_id, bot_id);
CREATE INDEX chunks_by_text_hash ON chunks (tenant_id, embedder_id, text_hash);

-- Keyword index. `bot` holds the bot id without dashes so that one indexed
-- token restricts a MATCH to one bot before ranking.
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    bot, heading, text,
    content = 'chunks', content_rowid = 'rowid',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, bot, heading, text)
    VALUES (new.rowid, replace(new.bot_id, '-', ''), coalesce(new.heading, ''), new.text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, bot, heading, text)
    VALUES ('delete', old.rowid, replace(old.bot_id, '-', ''), coalesce(old.heading, ''), old.text);
END;

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    error           TEXT,
    progress_done   INTEGER NOT NULL DEFAULT 0,
    progress_total  INTEGER NOT NULL DEFAULT 0,
    run_at          TEXT NOT NULL,
    lease_owner     TEXT,
    lease_until     TEXT,
    claimed_at      TEXT,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT
);
CREATE INDEX jobs_runnable ON jobs (status, run_at);
CREATE INDEX jobs_by_tenant_claimed ON jobs (tenant_id, claimed_at);
CREATE INDEX jobs_by_tenant_status ON jobs (tenant_id, status);
