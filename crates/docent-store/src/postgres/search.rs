//! PostgreSQL's own search: keywords through the generated `tsvector`
//! column and its GIN index, vectors in pgvector columns on partial HNSW
//! indexes (cosine), one per dimension.

/// Passages a query term is counted in at most, for its document
/// frequency: a term in more of a bot's passages than this weighs as if it
/// were in this many (its weight is small either way), so no search counts
/// more rows than this per term.
const DF_CAP: u32 = 2_000;

/// Candidates a search scores, about: the passages holding the query's
/// rarest terms, taken rarest first while their counts fit in this (the
/// rarest term always, up to this many of its passages). A passage holding
/// none of them could only score by the frequent terms, whose weight is
/// small: the pre-selection that keeps a search from ranking every match.
const CANDIDATES: u32 = 1_000;

/// Keyword search ranked by BM25 (k1 1.2, b 0.75) with FTS5's inverse
/// document frequency, as the embedded store ranks it, in one statement
/// (`ts_rank` knows no document frequency: a word found everywhere weighed
/// as much as a rare one, and it ranked every match). Binds: query text,
/// tenant, bot; the limit is written in, as the vector search's is. Terms
/// are the query's `english` lexemes, stop words dropped (at most 32);
/// heading words count twice (weight `A` in `tsv`); a passage's length is
/// its `token_count`, against the candidates' mean.
pub fn keyword_search_sql(limit: u32) -> String {
    format!(
        "WITH q AS (
           SELECT u.lexeme, format('%L', u.lexeme)::tsquery AS tq
           FROM unnest(to_tsvector('english', $1)) u
           WHERE strpos(u.lexeme, E'\\\\') = 0
           LIMIT 32
         ),
         n AS MATERIALIZED (
           SELECT greatest(coalesce(sum(chunk_count), 0), 1)::float8 AS n
           FROM documents WHERE tenant_id = $2 AND bot_id = $3
         ),
         w AS MATERIALIZED (
           SELECT q.lexeme, q.tq, d.df,
                  greatest(ln((n.n - d.df + 0.5) / (d.df + 0.5)), 1e-6) AS idf,
                  coalesce(sum(d.df) OVER (ORDER BY d.df, q.lexeme
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
           FROM q CROSS JOIN n
           CROSS JOIN LATERAL (
             SELECT count(*)::float8 AS df FROM (
               SELECT 1 FROM chunks c
               WHERE c.tsv @@ q.tq AND c.tenant_id = $2 AND c.bot_id = $3
               LIMIT {DF_CAP}
             ) m
           ) d
           WHERE d.df > 0
         ),
         cand AS MATERIALIZED (
           SELECT DISTINCT m.id FROM w
           CROSS JOIN LATERAL (
             SELECT c.id FROM chunks c
             WHERE c.tsv @@ w.tq AND c.tenant_id = $2 AND c.bot_id = $3
             LIMIT {CANDIDATES}
           ) m
           WHERE w.before = 0 OR w.before + w.df <= {CANDIDATES}
         ),
         tf AS MATERIALIZED (
           SELECT c.id, c.token_count::float8 AS dl, u.lexeme,
                  (cardinality(u.positions)
                   + cardinality(array_positions(u.weights, 'A')))::float8 AS tf
           FROM cand
           JOIN chunks c ON c.id = cand.id
           CROSS JOIN LATERAL unnest(c.tsv) u
           WHERE u.lexeme = ANY (ARRAY(SELECT lexeme FROM w))
         ),
         avgdl AS (SELECT greatest(avg(dl), 1) AS avgdl FROM tf)
         SELECT tf.id, sum(w.idf * tf.tf * 2.2
                           / (tf.tf + 1.2 * (0.25 + 0.75 * tf.dl / avgdl.avgdl)))::float8 AS score
         FROM tf JOIN w ON w.lexeme = tf.lexeme CROSS JOIN avgdl
         GROUP BY tf.id
         ORDER BY score DESC, tf.id
         LIMIT {limit}"
    )
}

/// The nearest-neighbour query of one bot for vectors of `dims` dimensions
/// (binds: query as `real[]`, tenant, bot, embedder). Its expression and
/// predicate match the partial HNSW index of that dimension, so the planner
/// can use it; the limit is written in, not bound: with `LIMIT $n` the
/// generic plan of the prepared statement assumes thousands of rows and
/// prefers an exact scan and sort (measured: 600 ms instead of 20 ms at
/// 100k passages). Public for the benchmark, which times it bare.
pub fn vector_search_sql(dims: usize, limit: u32) -> String {
    format!(
        "SELECT id, (1 - (embedding::vector({dims}) <=> $1::real[]::vector({dims})))::float8 AS score
         FROM chunks
         WHERE dims = {dims} AND tenant_id = $2 AND bot_id = $3 AND embedder_id = $4
         ORDER BY embedding::vector({dims}) <=> $1::real[]::vector({dims})
         LIMIT {limit}"
    )
}

/// The transaction-local settings of a vector search returning `limit`
/// rows, as one statement (`set_config(…, true)` is `SET LOCAL`), so a search
/// costs one round trip for them, not one per setting. A filtered HNSW scan
/// can run out of candidates before it has `limit` rows of the bot; iterative
/// scans (pgvector 0.8) keep searching until it has them. `relaxed_order` may
/// return them slightly out of order: callers sort again.
pub fn vector_search_settings(iterative_scan: bool, limit: u32) -> String {
    // The candidate list: pgvector's default of 40 found 63% of the true
    // top 10 on the benchmark's hash-embedded corpus at 100k passages, 100
    // found 76%, 400 87% (a hard case: near-uniform vectors). 10× the limit
    // keeps the latency at a few ms while lifting recall.
    let ef_search = (limit as usize * 10).clamp(100, 1000);
    let iterative = if iterative_scan {
        ", set_config('hnsw.iterative_scan', 'relaxed_order', true)"
    } else {
        ""
    };
    format!("SELECT set_config('hnsw.ef_search', '{ef_search}', true){iterative}")
}

/// Name of the HNSW index for one vector dimension.
pub(super) fn hnsw_index(dims: usize) -> String {
    format!("chunks_hnsw_{dims}")
}
