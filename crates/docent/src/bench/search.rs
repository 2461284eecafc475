//! `docent bench search`: search latency per mode through the production
//! retriever, on SQLite (in-memory exact vector scan) or PostgreSQL (pgvector
//! HNSW), with recall@10 of the vector mode against an exact scan, and, on
//! PostgreSQL, the bare SQL of the vector query timed alone (the engine's
//! share).
//!
//! The corpus is synthetic: passages of 40 words drawn with a Zipf-like skew
//! from a 5,000-word vocabulary, embedded by the hashing embedder (384
//! dimensions), so keyword and vector search both have work to do. The bot
//! measured belongs to one tenant; another tenant holds `--others` passages
//! (as many again by default), so every query is filtered by tenant and bot.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use docent_core::domain::{
    Bot, Chunk, Document, DocumentStatus, Email, JobSpec, NewJob, Plan, RetrievalMode,
    RetrievalSettings, Role, SourceType, Tenant, User,
};
use docent_core::embed::Embedder;
use docent_core::ids::{BotId, ChunkId, DocumentId, TenantId, UserId};
use docent_core::store::Store;
use docent_llm::embed::HashEmbedder;
use docent_retrieval::retriever::Retriever;
use docent_retrieval::vector::FlatIndex;

#[derive(Args)]
pub struct SearchArgs {
    /// `sqlite` (a scratch file) or a PostgreSQL server URL
    /// (`postgres://USER@HOST:PORT/DB`), on which a scratch database is made.
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Passages in the measured bot, comma-separated sizes.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 100_000])]
    sizes: Vec<usize>,
    /// Passages of another tenant in the same tables (default: as many as
    /// the measured bot), so every search is filtered by tenant and bot.
    #[arg(long)]
    others: Option<usize>,
    #[arg(long, default_value_t = 200)]
    queries: usize,
    #[arg(long, default_value_t = 10)]
    top_k: usize,
}

const DIMS: usize = 384;
const VOCABULARY: usize = 5_000;
const WORDS: usize = 40;
const PER_DOCUMENT: usize = 500;

/// Deterministic xorshift, so every run searches the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A word index skewed towards small ones (roughly Zipf).
    fn word(&mut self) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((VOCABULARY as f64).powf(u) as usize).min(VOCABULARY - 1)
    }

    fn text(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| format!("w{}", self.word()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub async fn run(args: SearchArgs) -> anyhow::Result<()> {
    println!(
        "{:>9} {:>9} {:>8} {:>8} {:>8} {:>7} {:>9}",
        "backend", "passages", "mode", "p50 ms", "p99 ms", "QPS", "recall@10"
    );
    for &size in &args.sizes {
        let (store, pg, _guard) = open(&args.database, size).await?;
        let embedder: Arc<dyn Embedder> = Arc::new(HashEmbedder::new(DIMS));
        let t = Instant::now();
        let others = args.others.unwrap_or(size);
        let (tenant, bot) = load(&store, embedder.as_ref(), size, others).await?;
        let load_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        store.prepare_vector_index(DIMS).await?;
        let index_s = t.elapsed().as_secs_f64();
        let backend = if pg.is_some() { "postgres" } else { "sqlite" };
        eprintln!(
            "{backend}: loaded {} passages in {load_s:.1} s ({:.0}/s), vector index in {index_s:.1} s",
            size + others,
            (size + others) as f64 / load_s
        );

        let retriever = Retriever::new(store.clone(), embedder.clone());
        let mut rng = Rng(99);
        let queries: Vec<String> = (0..args.queries).map(|_| rng.text(6)).collect();
        // The exact answer for recall: a flat scan of the bot's vectors.
        let all = store.bot_vectors(tenant, bot, embedder.id()).await?;
        let exact = FlatIndex {
            ids: all.ids,
            vectors: all.vectors,
            dims: all.dims,
        };
        let mut vector_p50 = 0.0;
        for mode in [
            RetrievalMode::Keyword,
            RetrievalMode::Vector,
            RetrievalMode::Hybrid,
        ] {
            // Warm caches (the in-memory index, the page cache) first.
            retriever
                .search(tenant, bot, &queries[0], mode, args.top_k, -1.0)
                .await?;
            let mut times = Vec::with_capacity(queries.len());
            let mut recalled = 0usize;
            let mut wanted = 0usize;
            let start = Instant::now();
            for q in &queries {
                let t = Instant::now();
                let hits = retriever
                    .search(tenant, bot, q, mode, args.top_k, -1.0)
                    .await?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
                if mode == RetrievalMode::Vector {
                    let qv = embedder.embed(std::slice::from_ref(q)).await?.remove(0);
                    let truth: Vec<ChunkId> = exact
                        .search(&qv, 10)
                        .into_iter()
                        .map(|(id, _)| id)
                        .collect();
                    wanted += truth.len();
                    recalled += hits
                        .iter()
                        .take(10)
                        .filter(|h| truth.contains(&h.chunk_id))
                        .count();
                }
            }
            let qps = queries.len() as f64 / start.elapsed().as_secs_f64();
            let (p50, p99) = percentiles(&mut times);
            let name = format!("{mode:?}").to_lowercase();
            let recall = (mode == RetrievalMode::Vector).then(|| recalled as f64 / wanted as f64);
            if mode == RetrievalMode::Vector {
                vector_p50 = p50;
            }
            println!(
                "{backend:>9} {size:>9} {name:>8} {p50:>8.2} {p99:>8.2} {qps:>7.0} {:>9}",
                recall.map_or("-".into(), |r| format!("{r:.3}"))
            );
            println!(
                "{}",
                serde_json::json!({"scenario": "search", "backend": backend, "passages": size,
                    "other_tenant_passages": others, "mode": name, "top_k": args.top_k,
                    "p50_ms": p50, "p99_ms": p99, "qps": qps, "recall_at_10": recall,
                    "load_per_s": (size + others) as f64 / load_s, "index_build_s": index_s,
                    "peak_rss_mib": super::peak_rss_mib()})
            );
        }
        if let Some(pg) = &pg {
            let bare =
                bare_vector_sql(pg, embedder.as_ref(), tenant, bot, &queries, args.top_k).await?;
            println!(
                "{backend:>9} {size:>9} {:>8} {bare:>8.2} {:>8} {:>7} {:>9}   API/engine = {:.2}",
                "bare SQL",
                "",
                "",
                "",
                vector_p50 / bare
            );
            println!(
                "{}",
                serde_json::json!({"scenario": "search", "backend": backend, "passages": size,
                    "mode": "vector_bare_sql", "p50_ms": bare, "retriever_over_sql": vector_p50 / bare})
            );
        }
    }
    Ok(())
}

pub(super) fn percentiles(times: &mut [f64]) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    (at(0.5), at(0.99))
}

/// Keeps a scratch SQLite directory alive while it is used.
enum Guard {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    None,
}

async fn open(
    database: &str,
    size: usize,
) -> anyhow::Result<(
    Arc<dyn Store>,
    Option<docent_store::postgres::PgStore>,
    Guard,
)> {
    if database == "sqlite" {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = docent_store::open(&url).await?;
        return Ok((store, None, Guard::Dir(dir)));
    }
    let name = format!("docent_bench_{size}_{}", std::process::id());
    let admin = sqlx::PgPool::connect(database).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await?;
    let mut url = url::Url::parse(database)?;
    url.set_path(&name);
    let pg = docent_store::postgres::PgStore::open(url.as_str()).await?;
    Ok((Arc::new(pg.clone()), Some(pg), Guard::None))
}

/// Two tenants with one bot each, `size` and `others` passages; returns the
/// measured (first) tenant and bot.
async fn load(
    store: &Arc<dyn Store>,
    embedder: &dyn Embedder,
    size: usize,
    others: usize,
) -> anyhow::Result<(TenantId, BotId)> {
    let mut rng = Rng(7);
    let mut measured = None;
    for (n, size) in [size, others].into_iter().enumerate() {
        let now = chrono::Utc::now();
        let tenant = Tenant {
            id: TenantId::new(),
            name: format!("bench {n}"),
            plan: Plan::Enterprise,
            created_at: now,
        };
        let owner = User {
            id: UserId::new(),
            tenant_id: tenant.id,
            email: Email::parse(&format!("bench{n}-{}@example.com", tenant.id))
                .map_err(anyhow::Error::msg)?,
            role: Role::Owner,
            created_at: now,
            password_hash: String::new(),
        };
        store.create_tenant_with_owner(&tenant, &owner).await?;
        let bot = Bot {
            id: BotId::new(),
            tenant_id: tenant.id,
            name: "bench".into(),
            description: None,
            system_prompt: None,
            welcome_message: None,
            model: None,
            temperature: None,
            public: false,
            allowed_origins: Vec::new(),
            retrieval: RetrievalSettings::default(),
            theme: serde_json::json!({}),
            visitor_messages_per_minute: 20,
            created_at: now,
            updated_at: now,
        };
        store.create_bot(&bot).await?;
        for first in (0..size).step_by(PER_DOCUMENT) {
            let id = DocumentId::new();
            let doc = Document {
                id,
                tenant_id: tenant.id,
                bot_id: bot.id,
                title: format!("doc {first}"),
                status: DocumentStatus::Queued,
                source_type: SourceType::Text,
                source_url: None,
                format: "text".into(),
                file_id: None,
                object_key: format!("bench/{id}"),
                content_hash: String::new(),
                size_bytes: 0,
                chunk_count: 0,
                error: None,
                metadata: serde_json::json!({}),
                created_at: now,
                updated_at: now,
            };
            let mut job = NewJob::new(tenant.id, JobSpec::IngestDocument { document_id: id });
            job.max_attempts = 1;
            store.create_document(&doc, &job).await?;
            let texts: Vec<String> = (first..(first + PER_DOCUMENT).min(size))
                .map(|_| rng.text(WORDS))
                .collect();
            let vectors = embedder.embed(&texts).await?;
            let chunks: Vec<Chunk> = texts
                .into_iter()
                .zip(vectors)
                .enumerate()
                .map(|(i, (text, embedding))| Chunk {
                    id: ChunkId::new(),
                    tenant_id: tenant.id,
                    bot_id: bot.id,
                    document_id: id,
                    index: i as u32,
                    token_count: WORDS as u32,
                    page: None,
                    heading: None,
                    text_hash: format!("{id}-{i}"),
                    embedder_id: embedder.id().to_string(),
                    embedding,
                    text,
                })
                .collect();
            store.replace_chunks(tenant.id, id, &chunks, None).await?;
        }
        measured.get_or_insert((tenant.id, bot.id));
    }
    Ok(measured.expect("two tenants were loaded"))
}

/// The vector query of `vector_search`, sent bare (same settings, same
/// SQL, one round trip each): the engine's part of a vector search.
async fn bare_vector_sql(
    pg: &docent_store::postgres::PgStore,
    embedder: &dyn Embedder,
    tenant: TenantId,
    bot: BotId,
    queries: &[String],
    top_k: usize,
) -> anyhow::Result<f64> {
    let sql = docent_store::postgres::vector_search_sql(DIMS, top_k as u32);
    let settings =
        docent_store::postgres::vector_search_settings(pg.iterative_scan(), top_k as u32);
    let mut times = Vec::new();
    for q in queries {
        let qv = embedder.embed(std::slice::from_ref(q)).await?.remove(0);
        let mut tx = pg.pool().begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(settings.clone()))
            .execute(&mut *tx)
            .await?;
        let t = Instant::now();
        let rows: Vec<(String, f32)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&qv)
            .bind(tenant.to_string())
            .bind(bot.to_string())
            .bind(embedder.id())
            .fetch_all(&mut *tx)
            .await?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(rows);
        tx.commit().await?;
    }
    Ok(percentiles(&mut times).0)
}
