-- Large bots' vectors are searched through an approximate index kept next
-- to the database (HNSW, quantized). A bot is listed in `vector_indexed`
-- once such an index is built for it; from then on writers append the ids
-- of the chunks they insert or delete to `vector_log`, by trigger, in their
-- own transaction, and the searching process applies the log to the index.
-- Bots that are not listed log nothing: they are scanned exactly.
CREATE TABLE vector_indexed (
    bot_id    TEXT PRIMARY KEY
);

CREATE TABLE vector_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    bot_id    TEXT NOT NULL,
    chunk_id  TEXT NOT NULL
);
CREATE INDEX vector_log_by_bot ON vector_log (bot_id, seq);

CREATE TRIGGER vector_log_insert AFTER INSERT ON chunks
WHEN EXISTS (SELECT 1 FROM vector_indexed WHERE bot_id = new.bot_id) BEGIN
    INSERT INTO vector_log (bot_id, chunk_id) VALUES (new.bot_id, new.id);
END;
CREATE TRIGGER vector_log_delete AFTER DELETE ON chunks
WHEN EXISTS (SELECT 1 FROM vector_indexed WHERE bot_id = old.bot_id) BEGIN
    INSERT INTO vector_log (bot_id, chunk_id) VALUES (old.bot_id, old.id);
END;
