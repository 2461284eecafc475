-- Keyword search moves from FTS5 to a tantivy index per bot (derived data
-- next to the database file). Writers append the ids of the chunks they
-- insert or delete to this log, by trigger, in their own transaction; the
-- searching process applies it to the index and drops what it applied.
-- Existing indexes are rebuilt from the rows on first search.
DROP TRIGGER chunks_fts_insert;
DROP TRIGGER chunks_fts_delete;
DROP TABLE chunks_fts;

CREATE TABLE keyword_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    bot_id    TEXT NOT NULL,
    chunk_id  TEXT NOT NULL
);
CREATE INDEX keyword_log_by_bot ON keyword_log (bot_id, seq);

CREATE TRIGGER keyword_log_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO keyword_log (bot_id, chunk_id) VALUES (new.bot_id, new.id);
END;
CREATE TRIGGER keyword_log_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO keyword_log (bot_id, chunk_id) VALUES (old.bot_id, old.id);
END;
