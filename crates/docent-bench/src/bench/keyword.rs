//! The embedded keyword rows of `docent bench search` beside the product's
//! own: the build of the bot's keyword index from its rows, the search
//! library alone (`keyword_engine`: the index without the store's tenant
//! check and log catch-up), and the FTS5 path the index replaced
//! (`keyword_fts5`: the same tokenizer settings and query the store ran
//! before, on an FTS5 table made in the scratch database), as the ratio
//! gained.

use std::time::Instant;

use docent_core::ids::{BotId, TenantId};
use docent_core::store::KnowledgeStore;
use docent_store::sqlite::SqliteStore;

use super::corpus::CorpusKind;
use super::search::percentiles;

/// The latencies of one row beside the product's keyword mode.
pub(super) struct Side {
    pub p50: f64,
    pub p99: f64,
}

/// Times the first keyword search of the bot, which builds its index from
/// the rows, and records it.
pub(super) async fn build(
    store: &SqliteStore,
    (tenant, bot): (TenantId, BotId),
    size: usize,
    corpus: CorpusKind,
) -> anyhow::Result<()> {
    let t = Instant::now();
    store.keyword_search(tenant, bot, "warm", 1).await?;
    let s = t.elapsed().as_secs_f64();
    eprintln!(
        "sqlite: keyword index of {size} passages built in {s:.1} s ({:.0}/s)",
        size as f64 / s
    );
    super::record(
        serde_json::json!({"scenario": "keyword_index_build", "backend": "sqlite",
        "corpus": corpus.name(), "passages": size, "build_s": s, "per_s": size as f64 / s,
        "peak_rss_mib": super::peak_rss_mib()}),
    );
    Ok(())
}

/// The search library alone, `depth` passages per query as the retriever
/// asks for.
pub(super) async fn engine(
    store: &SqliteStore,
    bot: BotId,
    queries: &[String],
    depth: u32,
) -> anyhow::Result<Side> {
    let mut times = Vec::with_capacity(queries.len());
    for q in queries {
        let t = Instant::now();
        std::hint::black_box(store.keyword_index_only(bot, q, depth).await?);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p99) = percentiles(&mut times);
    Ok(Side { p50, p99 })
}

/// The FTS5 query the embedded store ran before its keyword index (see the
/// migration that dropped `chunks_fts`), on a copy of that table.
pub(super) async fn fts5(
    store: &SqliteStore,
    (tenant, bot): (TenantId, BotId),
    queries: &[String],
    depth: u32,
) -> anyhow::Result<Side> {
    let pool = store.pool();
    let t = Instant::now();
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS bench_fts;
         CREATE VIRTUAL TABLE bench_fts USING fts5(
             bot, heading, text, content = '',
             tokenize = 'porter unicode61 remove_diacritics 2');
         INSERT INTO bench_fts (rowid, bot, heading, text)
             SELECT rowid, replace(bot_id, '-', ''), coalesce(heading, ''), text FROM chunks;",
    )
    .execute(pool)
    .await?;
    eprintln!(
        "sqlite: FTS5 table for the side row built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let sql = "SELECT c.id, -f.rank AS score
               FROM (SELECT rowid, bm25(bench_fts, 0.0, 2.0, 1.0) AS rank FROM bench_fts
                     WHERE bench_fts MATCH $1 ORDER BY rank LIMIT $4) AS f
               JOIN chunks c ON c.rowid = f.rowid
               WHERE c.tenant_id = $2 AND c.bot_id = $3
               ORDER BY f.rank";
    let mut times = Vec::with_capacity(queries.len());
    for q in queries {
        let Some(matched) = fts_query(bot, q) else {
            continue;
        };
        let t = Instant::now();
        let rows: Vec<(String, f64)> = sqlx::query_as(sql)
            .bind(matched)
            .bind(tenant.to_string())
            .bind(bot.to_string())
            .bind(i64::from(depth))
            .fetch_all(pool)
            .await?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(rows);
    }
    sqlx::query("DROP TABLE bench_fts").execute(pool).await?;
    let (p50, p99) = percentiles(&mut times);
    Ok(Side { p50, p99 })
}

/// The FTS5 query the store built: each word quoted, OR-ed, inside the bot.
fn fts_query(bot: BotId, text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(64)
        .map(|w| format!("\"{}\"", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| format!("bot:\"{}\" AND ({})", bot.0.simple(), words.join(" OR ")))
}

impl Side {
    /// Prints and records the row beside the product's keyword mode
    /// (`keyword_p50`) and, for the FTS5 row, the engine alone.
    pub(super) fn print(
        &self,
        (corpus, size, others): (CorpusKind, usize, usize),
        mode: &str,
        keyword_p50: f64,
        engine_p50: Option<f64>,
    ) {
        let Side { p50, p99 } = self;
        let ratio = match engine_p50 {
            Some(engine) => format!("this/engine p50 = {:.1}", p50 / engine),
            None => format!("this/keyword p50 = {:.2}", p50 / keyword_p50),
        };
        println!(
            "{:>9} {size:>9} {mode:>16} {p50:>8.2} {p99:>8.2} {:>7} {:>9}   {ratio}",
            "sqlite", "", ""
        );
        super::record(
            serde_json::json!({"scenario": "search", "backend": "sqlite",
            "passages": size, "corpus": corpus.name(), "other_passages": others, "mode": mode,
            "p50_ms": p50, "p99_ms": p99, "keyword_p50_ms": keyword_p50,
            "engine_p50_ms": engine_p50}),
        );
    }
}
