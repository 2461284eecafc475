-- Keep passage vectors in the row. pgvector's default storage (EXTERNAL)
-- moves a 384-dim vector (1.5 KB) out to the TOAST table whenever the row,
-- with its text and tsvector, passes 2 KB, so an exact scan (small bots,
-- where the planner skips the HNSW index) read four extra pages per passage:
-- 30 ms for 10k passages instead of ~6 ms inline. MAIN keeps it inline and
-- moves the text out first; a vector too large for a page still goes out.
-- Applies to rows written from now on.
ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE MAIN;
