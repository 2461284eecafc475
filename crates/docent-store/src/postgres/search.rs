//! PostgreSQL's own search: keywords through the generated `tsvector`
//! column and its GIN index, vectors in pgvector columns on partial HNSW
//! indexes (cosine), one per dimension.

/// Free text as an OR of its words for `to_tsquery`, so passages with more of
/// the words rank higher and no input can be a syntax error. `None` when the
/// text holds no word at all.
pub(super) fn ts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(64)
        .map(str::to_lowercase)
        .collect();
    (!words.is_empty()).then(|| words.join(" | "))
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
