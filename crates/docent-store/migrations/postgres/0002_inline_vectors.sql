-- Keep a passage's vector, text and tsvector in its row. A chunk row with a
-- 384-dim vector (1.5 KB), its text and its tsvector passes PostgreSQL's
-- default 2 KB TOAST threshold, and the toaster then moved the vector (or,
-- with the vector kept in, the tsvector) out to the TOAST table: an exact
-- vector scan (small bots, where the planner skips the HNSW index) read four
-- extra pages per passage (30 ms instead of ~6 ms for 10k), and keyword
-- ranking did the same for every tsvector it ranks. A row target of a whole
-- page keeps rows of any usual size inline; rows larger than a page still
-- move out, their text and tsvector first (MAIN: the vector goes last).
-- Applies to rows written from now on.
ALTER TABLE chunks SET (toast_tuple_target = 8160);
ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE MAIN;
