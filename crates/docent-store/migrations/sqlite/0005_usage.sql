-- Usage: counters that limits are checked against, and the append-only
-- ledger of billable events.

-- One row per (tenant, period, kind). `period` is `YYYY-MM` for monthly
-- kinds and 'held' for amounts held (documents, stored bytes), which never
-- roll over. Reservations are conditional updates of these rows.
CREATE TABLE usage_counters (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    period     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (tenant_id, period, kind)
) WITHOUT ROWID;

CREATE TABLE usage_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    bot_id      TEXT,
    kind        TEXT NOT NULL,
    quantity    INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX usage_events_by_tenant ON usage_events (tenant_id, created_at);

-- Held amounts follow the documents table: whatever removes a document
-- (its own delete, or its bot's, by cascade) or changes its size (a
-- re-crawled page) moves the counters in the same transaction.
CREATE TRIGGER usage_documents_deleted AFTER DELETE ON documents BEGIN
    UPDATE usage_counters SET used = MAX(used - 1, 0)
     WHERE tenant_id = OLD.tenant_id AND period = 'held' AND kind = 'documents';
    UPDATE usage_counters SET used = MAX(used - OLD.size_bytes, 0)
     WHERE tenant_id = OLD.tenant_id AND period = 'held' AND kind = 'storage_bytes';
END;

CREATE TRIGGER usage_documents_resized AFTER UPDATE OF size_bytes ON documents
WHEN NEW.size_bytes <> OLD.size_bytes BEGIN
    INSERT INTO usage_counters (tenant_id, period, kind, used)
    VALUES (NEW.tenant_id, 'held', 'storage_bytes', 0)
    ON CONFLICT DO NOTHING;
    UPDATE usage_counters SET used = MAX(used + NEW.size_bytes - OLD.size_bytes, 0)
     WHERE tenant_id = NEW.tenant_id AND period = 'held' AND kind = 'storage_bytes';
END;

-- What existing installations already hold.
INSERT INTO usage_counters (tenant_id, period, kind, used)
SELECT tenant_id, 'held', 'documents', COUNT(*) FROM documents GROUP BY tenant_id;
INSERT INTO usage_counters (tenant_id, period, kind, used)
SELECT tenant_id, 'held', 'storage_bytes', SUM(size_bytes) FROM documents GROUP BY tenant_id;
