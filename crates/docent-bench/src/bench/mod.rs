//! `docent bench`: self-contained performance scenarios. Each prints a table
//! and one JSON line per figure; with `--history FILE` those lines are also
//! appended to FILE with the date, machine and version, and
//! `scripts/bench_report.py` renders docs/BENCHMARKS.md from such files.
//! Figures are reported, never asserted.
//!
//! `embed`: on a directory of HTML pages (the PostgreSQL manual in the report),
//! times extraction (pages/s), chunking with the model's own tokenizer
//! (chunks/s), both on one thread, and local MiniLM embedding (chunks/s at a
//! batch size, one micro-batch per core as ingestion runs it), and writes the
//! chunk texts so another implementation can embed exactly the same inputs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use docent_core::embed::Embedder;
use docent_ingest::{ChunkConfig, Limits, SourceKind};
use docent_llm::embed::LocalEmbedder;

mod chat;
mod chunk;
mod console;
mod corpus;
mod ingest;
mod keyword;
mod search;
pub mod server;

#[derive(Args)]
pub struct BenchArgs {
    /// Also append every result to FILE (JSON lines with date and machine).
    #[arg(long, global = true, value_name = "FILE")]
    history: Option<PathBuf>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
pub enum Scenario {
    /// Crawl and ingest a directory of HTML pages through a real server.
    Ingest(ingest::IngestArgs),
    /// Extraction, chunking and local embedding throughput on HTML files.
    Embed(EmbedArgs),
    /// Chunking throughput in tokens and characters; writes the inputs for
    /// the LangChain comparison.
    Chunk(chunk::ChunkArgs),
    /// Exact vector top-k (the embedded index) at several index sizes, with
    /// the machine's memory read bandwidth measured in the same run.
    Vectors(VectorArgs),
    /// Search latency per mode and vector recall@10, on SQLite or PostgreSQL.
    Search(search::SearchArgs),
    /// Time the chat path adds before a model's first token reaches the client.
    Chat(chat::ChatArgs),
    /// The console's pages on a bot with 10,000 documents and conversations,
    /// and the size of its script and style.
    Console(console::ConsoleArgs),
    /// Every scenario above with the report's settings, one after another.
    All(AllArgs),
}

#[derive(Args)]
pub struct AllArgs {
    /// Also run the search scenario on this PostgreSQL server.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Largest search size on SQLite (and PostgreSQL), in passages.
    #[arg(long, default_value_t = 100_000)]
    max_passages: usize,
    /// Chunks to embed with the local model (0 skips the embedding scenario).
    #[arg(long, default_value_t = 500)]
    embed: usize,
}

/// Where `record` appends, and what it adds to every line.
static HISTORY: OnceLock<(PathBuf, serde_json::Value)> = OnceLock::new();

/// Prints one result as a JSON line and appends it, with the run's context,
/// to the history file if there is one.
fn record(mut value: serde_json::Value) {
    println!("{value}");
    let Some((path, context)) = HISTORY.get() else {
        return;
    };
    if let (Some(line), Some(context)) = (value.as_object_mut(), context.as_object()) {
        for (k, v) in context {
            line.insert(k.clone(), v.clone());
        }
    }
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| writeln!(f, "{value}"));
    if let Err(e) = appended {
        eprintln!("cannot append to {}: {e}", path.display());
    }
}

/// Date, machine and version, stamped on every history line.
fn context() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
        .map_or("unknown".to_string(), |m| m.trim().to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| (kb / 1048576.0).round());
    serde_json::json!({
        "date": chrono::Utc::now().format("%Y-%m-%d").to_string(),
        "machine": format!("{} vCPU {cpu}, {mem_gib} GiB", std::thread::available_parallelism().map_or(0, |n| n.get())),
        "version": commit().unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
    })
}

/// The checkout's commit, when run from one.
fn commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Starts a new peak-RSS measurement (Linux: writing 5 to clear_refs resets
/// VmHWM), so each scenario of `all` reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub async fn run(args: BenchArgs, launch: server::Launch) -> anyhow::Result<()> {
    server::set_launch(launch);
    if let Some(path) = args.history {
        HISTORY.get_or_init(|| (path, context()));
    }
    run_scenario(args.scenario).await
}

async fn run_scenario(scenario: Scenario) -> anyhow::Result<()> {
    match scenario {
        Scenario::Ingest(args) => ingest::run(args).await,
        Scenario::Embed(args) => embed(args).await,
        Scenario::Chunk(args) => chunk::run(args).await,
        Scenario::Vectors(args) => {
            vectors(&args);
            Ok(())
        }
        Scenario::Search(args) => search::run(args).await,
        Scenario::Chat(args) => chat::run(args).await,
        Scenario::Console(args) => console::run(args).await,
        Scenario::All(args) => all(args).await,
    }
}

/// Parses one scenario's command line, so `all` uses the same defaults.
#[derive(Parser)]
struct One {
    #[command(subcommand)]
    scenario: Scenario,
}

async fn all(args: AllArgs) -> anyhow::Result<()> {
    let sizes = [10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|&n| n <= args.max_passages)
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut runs: Vec<Vec<String>> = vec![
        vec!["ingest".into()],
        vec![
            "chunk".into(),
            "--sections-out".into(),
            "target/bench-sections.json".into(),
        ],
        vec!["vectors".into()],
        vec!["search".into(), "--sizes".into(), sizes.clone()],
        vec!["chat".into()],
        vec!["console".into()],
    ];
    if let Some(url) = &args.database {
        runs.push(vec![
            "search".into(),
            "--database".into(),
            url.clone(),
            "--sizes".into(),
            sizes,
        ]);
    }
    if args.embed > 0 {
        runs.push(vec![
            "embed".into(),
            "--embed".into(),
            args.embed.to_string(),
            "--texts-out".into(),
            "target/bench-texts.json".into(),
        ]);
    }
    for run in runs {
        println!("\n== docent bench {}", run.join(" "));
        let one = One::try_parse_from(std::iter::once("bench".to_string()).chain(run))?;
        reset_peak_rss();
        Box::pin(run_scenario(one.scenario)).await?;
    }
    Ok(())
}

#[derive(Args)]
pub struct VectorArgs {
    /// Index sizes (vectors of one bot), comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 100_000])]
    sizes: Vec<usize>,
    #[arg(long, default_value_t = 384)]
    dims: usize,
    #[arg(long, default_value_t = 200)]
    queries: usize,
    #[arg(long, default_value_t = 10)]
    top_k: usize,
}

/// The real corpus and the local model, shared by the scenarios that read them.
#[derive(Args)]
pub struct Inputs {
    /// Directory of .html pages (with an index.html for `ingest`).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/usr/share/doc/postgresql-doc-15/html"
    )]
    corpus: PathBuf,
    /// all-MiniLM-L6-v2 directory (config.json, tokenizer.json, model.safetensors).
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".tools/models/all-MiniLM-L6-v2"
    )]
    model_dir: PathBuf,
}

#[derive(Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Pages to read (0 = all).
    #[arg(long, default_value_t = 0)]
    pages: usize,
    /// Chunks to embed (0 = all); embedding is the slow part.
    #[arg(long, default_value_t = 2000)]
    embed: usize,
    /// Texts per embed call (0 = the embedder's own batch size, as ingestion uses).
    #[arg(long, default_value_t = 0)]
    batch: usize,
    /// Write the embedded chunk texts here as a JSON array.
    #[arg(long, value_name = "FILE")]
    texts_out: Option<PathBuf>,
}

/// Random unit vectors from a fixed seed (xorshift: no dependency needed for
/// benchmark noise).
fn unit_vectors(n: usize, dims: usize, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(n * dims);
    for _ in 0..n {
        let row: Vec<f32> = (0..dims)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        out.extend(row.iter().map(|x| x / norm));
    }
    out
}

/// Single-thread memory read bandwidth in GB/s, the limit of an exact scan
/// (which runs on one thread): the best of five passes summing a buffer far
/// larger than any cache, with eight accumulators so the loop is bound by
/// loads, not by the adds' latency.
fn read_bandwidth() -> f64 {
    let buffer = vec![1.0f32; 256 << 20]; // 1 GiB
    let mut best = 0.0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let mut acc = [0.0f32; 8];
        for block in buffer.chunks_exact(8) {
            for (a, x) in acc.iter_mut().zip(block) {
                *a += x;
            }
        }
        std::hint::black_box(acc);
        best = best.max((buffer.len() * 4) as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    best
}

fn vectors(args: &VectorArgs) {
    let limit = read_bandwidth();
    println!("memory read bandwidth, one thread: {limit:.1} GB/s");
    record(serde_json::json!({"scenario": "memory_bandwidth", "read_gb_per_s": limit}));
    println!(
        "{:>9} {:>5} {:>10} {:>10} {:>9} {:>9} {:>9}",
        "vectors", "dims", "p50 ms", "p99 ms", "QPS", "GB/s", "of limit"
    );
    for &n in &args.sizes {
        let index = docent_retrieval::vector::FlatIndex {
            ids: (0..n).map(|_| docent_core::ids::ChunkId::new()).collect(),
            vectors: unit_vectors(n, args.dims, 7),
            dims: args.dims,
        };
        let queries = unit_vectors(args.queries, args.dims, 11);
        let mut times = Vec::with_capacity(args.queries);
        let all = Instant::now();
        for q in queries.chunks_exact(args.dims) {
            let t = Instant::now();
            std::hint::black_box(index.search(q, args.top_k));
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let total = all.elapsed().as_secs_f64();
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
        let qps = args.queries as f64 / total;
        let gbs = qps * (n * args.dims * 4) as f64 / 1e9;
        println!(
            "{n:>9} {:>5} {:>10.2} {:>10.2} {qps:>9.0} {gbs:>9.1} {:>8.0}%",
            args.dims,
            pct(0.5),
            pct(0.99),
            gbs / limit * 100.0
        );
        record(
            serde_json::json!({"scenario": "vectors", "vectors": n, "dims": args.dims, "top_k": args.top_k,
                "p50_ms": pct(0.5), "p99_ms": pct(0.99), "qps": qps, "scan_gb_per_s": gbs,
                "read_limit_gb_per_s": limit}),
        );
    }
}

async fn embed(args: EmbedArgs) -> anyhow::Result<()> {
    let files = html_files(&args.inputs.corpus, args.pages)?;
    let embedder =
        LocalEmbedder::load(&args.inputs.model_dir).context("cannot load the local model")?;

    let started = Instant::now();
    let mut docs = Vec::with_capacity(files.len());
    let mut bytes = 0usize;
    for file in &files {
        let raw = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        bytes += raw.len();
        if let Ok(doc) = docent_ingest::extract(SourceKind::Html, &raw, &Limits::default()) {
            docs.push(doc);
        }
    }
    let extract_secs = started.elapsed().as_secs_f64();

    // The pipeline's defaults for this model: 200 tokens, 15% overlap.
    let config = ChunkConfig {
        max_tokens: 200,
        overlap_tokens: 30,
    };
    let tokens = embedder.tokens();
    let started = Instant::now();
    let chunks: Vec<String> = docs
        .iter()
        .flat_map(|doc| docent_ingest::chunk(doc, &config, tokens.as_ref()))
        .map(|c| c.text)
        .collect();
    let chunk_secs = started.elapsed().as_secs_f64();

    let n = if args.embed == 0 {
        chunks.len()
    } else {
        args.embed.min(chunks.len())
    };
    let texts = &chunks[..n];
    let batch = if args.batch == 0 {
        embedder.batch_size()
    } else {
        args.batch
    };
    embedder.embed(&texts[..batch.min(n)]).await?; // warm-up
    let started = Instant::now();
    for part in texts.chunks(batch) {
        embedder.embed(part).await?;
    }
    let embed_secs = started.elapsed().as_secs_f64();
    if let Some(path) = &args.texts_out {
        std::fs::write(path, serde_json::to_vec(texts)?)?;
    }

    let rss = peak_rss_mib();
    println!(
        "corpus      {} ({} pages, {:.1} MiB)",
        args.inputs.corpus.display(),
        files.len(),
        bytes as f64 / 1048576.0
    );
    println!(
        "extract     {:>9.1} pages/s   ({} pages in {extract_secs:.2} s)",
        docs.len() as f64 / extract_secs,
        docs.len()
    );
    println!(
        "chunk       {:>9.1} chunks/s  ({} chunks in {chunk_secs:.2} s, 200-token chunks, MiniLM tokenizer)",
        chunks.len() as f64 / chunk_secs,
        chunks.len()
    );
    println!(
        "embed       {:>9.1} chunks/s  ({n} chunks in {embed_secs:.2} s, batch {batch}, local MiniLM on CPU)",
        n as f64 / embed_secs
    );
    println!("peak RSS    {rss:>9.0} MiB");
    record(serde_json::json!({
        "scenario": "embed", "pages": docs.len(), "bytes": bytes,
        "extract_pages_per_s": docs.len() as f64 / extract_secs,
        "chunks": chunks.len(), "chunk_chunks_per_s": chunks.len() as f64 / chunk_secs,
        "embedded": n, "batch": batch, "embed_chunks_per_s": n as f64 / embed_secs,
        "peak_rss_mib": rss,
    }));
    Ok(())
}

fn html_files(dir: &Path, limit: usize) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| {
            format!(
                "cannot read corpus {} (apt-get install postgresql-doc-15)",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "html" || e == "htm"))
        .collect();
    files.sort();
    if limit > 0 {
        files.truncate(limit);
    }
    anyhow::ensure!(!files.is_empty(), "no .html files in {}", dir.display());
    Ok(files)
}

/// The process's peak resident set (Linux), in MiB; 0 where unknown.
fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// The process's resident set now (Linux), in MiB; 0 where unknown.
fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
