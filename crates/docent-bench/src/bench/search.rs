//! `docent bench search`: search latency per mode through the production
//! retriever, on SQLite (exact scan for small bots, the embedded HNSW graph
//! for large ones) or PostgreSQL (pgvector HNSW), with recall@10 of the
//! vector mode against an exact scan, and, on PostgreSQL, the bare SQL of the
//! vector query timed alone (the engine's share). The exact answers for
//! recall are computed after the product's searches, so the resident memory
//! recorded with them (`rss_mib`) is the product's, not the benchmark's.
//!
//! The corpus is synthetic (`--corpus`, see `corpus.rs`): by default
//! passages of 40 words in topics, with vectors clustered by topic (384
//! dimensions), so keyword and vector search both have work to do and the
//! vectors have neighbourhoods as real embeddings do; `hash` is the earlier
//! corpus of Zipf-skewed words and hashing vectors. The bot measured belongs
//! to one tenant; another tenant holds `--others` passages (as many again by
//! default), so every query is filtered by tenant and bot.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use docent_core::config::VectorQuantization;
use docent_core::domain::{
    Bot, Chunk, Document, DocumentStatus, Email, JobSpec, NewJob, Plan, RetrievalMode,
    RetrievalSettings, Role, SourceType, Tenant, User,
};
use docent_core::embed::Embedder;
use docent_core::ids::{BotId, ChunkId, DocumentId, TenantId, UserId};
use docent_core::store::Store;
use docent_retrieval::retriever::Retriever;
use docent_retrieval::vector::FlatIndex;
use docent_store::sqlite::SqliteStore;

use super::corpus::{Corpus, CorpusKind, DIMS};

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
    /// Keep the scratch PostgreSQL databases (to look at plans in psql).
    #[arg(long)]
    keep: bool,
    /// The synthetic corpus: `clustered` (topics, vectors with
    /// neighbourhoods) or `hash` (the earlier one, hashing vectors).
    #[arg(long, value_enum, default_value = "clustered")]
    corpus: CorpusKind,
    /// SQLite: how the vector graph of large bots holds its vectors
    /// (`i8`, `f16`, `f32`, as `DOCENT_VECTOR_QUANTIZATION`); rows of a
    /// non-default one are named after it (`vector f32`).
    #[arg(long, default_value = "i8")]
    quantization: VectorQuantization,
}

const WORDS: usize = 40;
const PER_DOCUMENT: usize = 500;

pub async fn run(args: SearchArgs) -> anyhow::Result<()> {
    println!(
        "{:>9} {:>9} {:>16} {:>8} {:>8} {:>7} {:>9}",
        "backend", "passages", "mode", "p50 ms", "p99 ms", "QPS", "recall@10"
    );
    for &size in &args.sizes {
        let Opened {
            store,
            pg,
            lite,
            guard,
        } = open(&args.database, size, args.quantization).await?;
        let mut corpus = Corpus::new(args.corpus, size, 7);
        let embedder: Arc<dyn Embedder> = corpus.embedder();
        let t = Instant::now();
        let others = args.others.unwrap_or(size);
        let [(tenant, bot), (other_tenant, other_bot)] =
            load(&store, &mut corpus, embedder.as_ref(), size, others).await?;
        let load_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        store.prepare_vector_index(DIMS).await?;
        let index_s = t.elapsed().as_secs_f64();
        let backend = if pg.is_some() { "postgres" } else { "sqlite" };
        eprintln!(
            "{backend}: loaded {} passages of the {} corpus in {load_s:.1} s ({:.0}/s), vector index in {index_s:.1} s",
            size + others,
            args.corpus.name(),
            (size + others) as f64 / load_s
        );
        super::record(
            serde_json::json!({"scenario": "search_load", "backend": backend, "passages": size,
                "corpus": args.corpus.name(),
                "other_passages": others, "load_per_s": (size + others) as f64 / load_s,
                "index_build_s": index_s, "peak_rss_mib": super::peak_rss_mib()}),
        );

        if let Some(pg) = &pg {
            // What autovacuum would do shortly after a bulk load: without
            // statistics the planner guesses one row per bot.
            sqlx::query("ANALYZE chunks").execute(pg.pool()).await?;
        }

        let retriever = Arc::new(Retriever::new(store.clone(), embedder.clone()));
        let mut asking = Corpus::new(args.corpus, size, 99);
        let queries: Vec<String> = (0..args.queries).map(|_| asking.question()).collect();
        let measured = Measured { tenant, bot };
        // When the other tenant's bot is a small part of the table, its
        // filtered vector search must still fill top_k.
        let small = (others > 0 && others * 10 <= size + others).then_some(Measured {
            tenant: other_tenant,
            bot: other_bot,
        });

        if let Some(lite) = &lite {
            super::keyword::build(lite, (tenant, bot), size, args.corpus).await?;
            let built = (&store, embedder.as_ref(), (tenant, bot));
            vector_build(built, size, args.corpus, args.quantization).await?;
        }
        // Rows that search the graph of another quantization than the
        // default are named after it.
        let named = |mode: &str| match (&lite, args.quantization) {
            (Some(_), q) if q != VectorQuantization::default() && mode != "keyword" => {
                format!("{mode} {}", q.name())
            }
            _ => mode.to_string(),
        };
        let (mut keyword_p50, mut vector_p50) = (0.0, 0.0);
        let mut runs = Vec::new();
        for mode in [
            RetrievalMode::Keyword,
            RetrievalMode::Vector,
            RetrievalMode::Hybrid,
        ] {
            let run = measured.run(&retriever, &queries, mode, args.top_k).await?;
            match mode {
                RetrievalMode::Keyword => keyword_p50 = run.p50,
                RetrievalMode::Vector => vector_p50 = run.p50,
                RetrievalMode::Hybrid => {}
            }
            let name = named(&format!("{mode:?}").to_lowercase());
            runs.push((run, measured.clone(), (size, others), name));
        }
        if let Some(small) = small {
            let run = small
                .run(&retriever, &queries, RetrievalMode::Vector, args.top_k)
                .await?;
            runs.push((run, small, (others, size), named("vector, small bot")));
        }
        // Only now the exact answers, so the memory recorded with each run
        // is the product's.
        for (run, bot, (size, others), name) in runs {
            let truth = if run.found.is_empty() {
                Vec::new()
            } else {
                bot.truth(&store, embedder.as_ref(), &queries).await?
            };
            run.print(
                (backend, args.corpus),
                size,
                others,
                &name,
                args.top_k,
                &truth,
            );
        }
        if let Some(lite) = &lite {
            // As deep as the retriever asks (see `Retriever::search`).
            let depth = (args.top_k * 4).max(20) as u32;
            let row = (args.corpus, size, others);
            let engine = super::keyword::engine(lite, bot, &queries, depth).await?;
            engine.print(row, "keyword_engine", keyword_p50, None);
            super::keyword::fts5(lite, (tenant, bot), &queries, depth)
                .await?
                .print(row, "keyword_fts5", keyword_p50, Some(engine.p50));
        }
        if let Some(pg) = &pg {
            let bare =
                bare_vector_sql(pg, embedder.as_ref(), tenant, bot, &queries, args.top_k).await?;
            println!(
                "{backend:>9} {size:>9} {:>16} {bare:>8.2} {:>8} {:>7} {:>9}   API/engine = {:.2}",
                "bare SQL",
                "",
                "",
                "",
                vector_p50 / bare
            );
            super::record(
                serde_json::json!({"scenario": "search", "backend": backend, "passages": size,
                    "corpus": args.corpus.name(),
                    "other_passages": others, "mode": "vector_bare_sql", "p50_ms": bare, "retriever_over_sql": vector_p50 / bare}),
            );
        }
        if !args.keep {
            guard.finish(pg).await?;
        }
    }
    Ok(())
}

/// One bot under measurement.
#[derive(Clone)]
struct Measured {
    tenant: TenantId,
    bot: BotId,
}

/// Figures of one mode on one bot.
struct Run {
    p50: f64,
    p99: f64,
    qps: f64,
    /// The vector mode's top 10 per query, for recall.
    found: Vec<Vec<ChunkId>>,
    /// Fewest results any query returned (a filtered index scan may run dry).
    min_hits: usize,
    /// Resident memory after the searches.
    rss_mib: f64,
}

impl Measured {
    /// The exact top 10 of each query: a flat scan of the bot's vectors,
    /// made and dropped.
    async fn truth(
        &self,
        store: &Arc<dyn Store>,
        embedder: &dyn Embedder,
        queries: &[String],
    ) -> anyhow::Result<Vec<Vec<ChunkId>>> {
        let all = store
            .bot_vectors(self.tenant, self.bot, embedder.id())
            .await?;
        let exact = FlatIndex {
            ids: all.ids,
            vectors: all.vectors,
            dims: all.dims,
        };
        let mut truth = Vec::with_capacity(queries.len());
        for q in queries {
            let qv = embedder.embed(std::slice::from_ref(q)).await?.remove(0);
            truth.push(
                exact
                    .search(&qv, 10)
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect(),
            );
        }
        Ok(truth)
    }

    async fn run(
        &self,
        retriever: &Arc<Retriever>,
        queries: &[String],
        mode: RetrievalMode,
        top_k: usize,
    ) -> anyhow::Result<Run> {
        let (tenant, bot) = (self.tenant, self.bot);
        // Warm caches (the in-memory index, the page cache) first.
        retriever
            .search(tenant, bot, &queries[0], params(mode, top_k))
            .await?;
        let mut times = Vec::with_capacity(queries.len());
        let (mut found, mut min_hits) = (Vec::new(), usize::MAX);
        for q in queries {
            let t = Instant::now();
            let hits = retriever
                .search(tenant, bot, q, params(mode, top_k))
                .await?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            min_hits = min_hits.min(hits.len());
            if mode == RetrievalMode::Vector {
                found.push(hits.iter().take(10).map(|h| h.passage.chunk_id).collect());
            }
        }
        let qps = throughput(retriever, (tenant, bot), queries, params(mode, top_k)).await?;
        let (p50, p99) = percentiles(&mut times);
        Ok(Run {
            p50,
            p99,
            qps,
            found,
            min_hits,
            rss_mib: super::rss_mib(),
        })
    }
}

/// Queries per second with as many searches at once as there are cores (a
/// server's load), after the latencies were measured one at a time.
async fn throughput(
    retriever: &Arc<Retriever>,
    (tenant, bot): (TenantId, BotId),
    queries: &[String],
    params: docent_retrieval::Params,
) -> anyhow::Result<f64> {
    let clients = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let retriever = retriever.clone();
            let mine: Vec<String> = queries.iter().skip(c).step_by(clients).cloned().collect();
            tokio::spawn(async move {
                for q in &mine {
                    retriever.search(tenant, bot, q, params).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(queries.len() as f64 / start.elapsed().as_secs_f64())
}

impl Run {
    fn print(
        &self,
        (backend, corpus): (&str, CorpusKind),
        size: usize,
        others: usize,
        mode: &str,
        top_k: usize,
        truth: &[Vec<ChunkId>],
    ) {
        let Run {
            p50,
            p99,
            qps,
            found,
            min_hits,
            rss_mib,
        } = self;
        let recall = (!found.is_empty()).then(|| {
            let wanted: usize = truth.iter().map(Vec::len).sum();
            let recalled: usize = found
                .iter()
                .zip(truth)
                .map(|(f, t)| f.iter().filter(|id| t.contains(id)).count())
                .sum();
            recalled as f64 / wanted as f64
        });
        println!(
            "{backend:>9} {size:>9} {mode:>16} {p50:>8.2} {p99:>8.2} {qps:>7.0} {:>9}",
            recall.map_or("-".into(), |r| format!("{r:.3}"))
        );
        super::record(
            serde_json::json!({"scenario": "search", "backend": backend, "passages": size,
                "corpus": corpus.name(), "other_passages": others, "mode": mode, "top_k": top_k,
                "p50_ms": p50, "p99_ms": p99, "qps": qps, "recall_at_10": recall,
                "min_hits": min_hits, "rss_mib": rss_mib,
                "peak_rss_mib": super::peak_rss_mib()}),
        );
    }
}

pub(super) fn percentiles(times: &mut [f64]) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    (at(0.5), at(0.99))
}

/// The scratch database of one size: a SQLite directory removed on drop, or
/// a PostgreSQL database dropped by `finish`.
enum Guard {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Database { admin: sqlx::PgPool, name: String },
}

impl Guard {
    async fn finish(self, pg: Option<docent_store::postgres::PgStore>) -> anyhow::Result<()> {
        if let Guard::Database { admin, name } = self {
            if let Some(pg) = pg {
                pg.pool().close().await;
            }
            // FORCE: the retriever's clones of the pool may still hold
            // connections.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&admin)
            .await?;
        }
        Ok(())
    }
}

/// The scratch store of one size, and its backend's own handle for the
/// rows beside the product's.
struct Opened {
    store: Arc<dyn Store>,
    pg: Option<docent_store::postgres::PgStore>,
    lite: Option<SqliteStore>,
    guard: Guard,
}

async fn open(
    database: &str,
    size: usize,
    vector_quantization: VectorQuantization,
) -> anyhow::Result<Opened> {
    if database == "sqlite" {
        let dir = tempfile::tempdir()?;
        let url = docent_core::config::DatabaseUrl::Sqlite(dir.path().join("bench.db"));
        let options = docent_store::StoreOptions {
            vector_quantization,
        };
        let lite = SqliteStore::open_with(&url.url(), options).await?;
        return Ok(Opened {
            store: Arc::new(lite.clone()),
            pg: None,
            lite: Some(lite),
            guard: Guard::Dir(dir),
        });
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
    Ok(Opened {
        store: Arc::new(pg.clone()),
        pg: Some(pg),
        lite: None,
        guard: Guard::Database { admin, name },
    })
}

/// Times the first vector search of a bot large enough for a graph, which
/// builds it from the rows, and records it with the saved graph's size.
async fn vector_build(
    (store, embedder, (tenant, bot)): (&Arc<dyn Store>, &dyn Embedder, (TenantId, BotId)),
    size: usize,
    corpus: CorpusKind,
    quantization: VectorQuantization,
) -> anyhow::Result<()> {
    if (size as i64) < docent_store::sqlite::HNSW_MIN {
        return Ok(());
    }
    let q = embedder.embed(&["warm".to_string()]).await?.remove(0);
    let t = Instant::now();
    let graph = store
        .vector_search(tenant, bot, embedder.id(), &q, 1)
        .await?;
    let s = t.elapsed().as_secs_f64();
    anyhow::ensure!(graph.is_some(), "the bot of {size} passages got no graph");
    eprintln!(
        "sqlite: vector graph ({}) of {size} passages built in {s:.1} s ({:.0}/s)",
        quantization.name(),
        size as f64 / s
    );
    super::record(
        serde_json::json!({"scenario": "vector_index_build", "backend": "sqlite",
        "corpus": corpus.name(), "passages": size, "quantization": quantization.name(),
        "build_s": s, "per_s": size as f64 / s, "rss_mib": super::rss_mib()}),
    );
    Ok(())
}

/// Two tenants with one bot each, `size` and `others` passages; returns
/// both, the measured one first.
async fn load(
    store: &Arc<dyn Store>,
    corpus: &mut Corpus,
    embedder: &dyn Embedder,
    size: usize,
    others: usize,
) -> anyhow::Result<[(TenantId, BotId); 2]> {
    let mut loaded = Vec::with_capacity(2);
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
            email_verified_at: None,
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
            max_tokens: None,
            public: false,
            allowed_origins: Vec::new(),
            retrieval: RetrievalSettings::default(),
            theme: serde_json::json!({}),
            visitor_messages_per_minute: 20,
            unsupported_sentences: Default::default(),
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
            store.create_document(&doc, None, &job).await?;
            let texts: Vec<String> = (first..(first + PER_DOCUMENT).min(size))
                .map(|_| corpus.passage(WORDS))
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
        loaded.push((tenant.id, bot.id));
    }
    Ok([loaded[0], loaded[1]])
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
        let rows: Vec<(String, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
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

/// A search without a floor, so every query returns `top_k` passages.
fn params(mode: RetrievalMode, top_k: usize) -> docent_retrieval::Params {
    docent_retrieval::Params {
        mode,
        top_k,
        min_score: Some(0.0),
        rerank: false,
    }
}
