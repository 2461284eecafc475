//! `docent bench ingest`: ingestion throughput end to end on a real corpus.
//! A directory of HTML pages (the PostgreSQL manual in the report) is served
//! on loopback; a real server in this process (SQLite, local disk, in-process
//! workers) crawls it from `index.html`, and every page is fetched, stored,
//! extracted, chunked, embedded and indexed. Timed from the crawl request
//! until no job is queued or running.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use clap::Args;
use serde_json::{Value, json};

#[derive(Args)]
pub struct IngestArgs {
    #[command(flatten)]
    inputs: super::Inputs,
    /// `hash` or `local` (all-MiniLM-L6-v2 from --model-dir).
    #[arg(long, default_value = "hash")]
    embedder: String,
    /// Pages to crawl at most.
    #[arg(long, default_value_t = 1200)]
    max_pages: usize,
    /// In-process ingestion workers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.inputs.corpus.join("index.html").is_file(),
        "no index.html in {} (apt-get install postgresql-doc-15)",
        args.inputs.corpus.display()
    );
    let site = serve_dir(args.inputs.corpus.clone()).await?;
    let embedder: docent_core::config::EmbedderKind = args.embedder.parse()?;
    let server = super::server::start(|config| {
        config.embedder.kind = Some(embedder);
        config.embedder.model_dir = Some(args.inputs.model_dir.clone());
        config.jobs.worker_concurrency = args.workers;
        config.crawl.concurrency = 4;
        config.crawl.delay_ms = 0;
    })
    .await?;
    let (root, base) = (&server.root, &server.base);
    let http = reqwest::Client::new();
    let token = server.sign_up(&http).await?;
    let bot = server
        .post(&http, "/bots", Some(&token), json!({"name": "manual"}))
        .await?;
    let bot = bot["id"].as_str().context("bot id")?.to_string();

    let started = Instant::now();
    server
        .post(
            &http,
            &format!("/bots/{bot}/crawl"),
            Some(&token),
            json!({"url": format!("{site}/index.html"), "max_pages": args.max_pages, "max_depth": 20}),
        )
        .await?;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let metrics = http
            .get(format!("{root}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let gauge = |name: &str| {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        if gauge("docent_jobs_queued ") == 0.0 && gauge("docent_jobs_running ") == 0.0 {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();

    let (mut pages, mut failed, mut chunks, mut cursor) = (0usize, 0usize, 0u64, None::<String>);
    loop {
        let mut url = format!("{base}/docs?bot_id={bot}&limit=100");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = http
            .get(url)
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        for d in page["documents"].as_array().context("documents")? {
            if d["status"] == "ready" {
                pages += 1;
                chunks += d["chunk_count"].as_u64().unwrap_or(0);
            } else {
                failed += 1;
            }
        }
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    let rss = super::peak_rss_mib();
    println!(
        "{:<8} {:>7} {:>7} {:>8} {:>9} {:>8} {:>9} {:>9}",
        "embedder", "workers", "pages", "chunks", "seconds", "pages/s", "chunks/s", "RSS MiB"
    );
    println!(
        "{:<8} {:>7} {pages:>7} {chunks:>8} {secs:>9.1} {:>8.1} {:>9.0} {rss:>9.0}",
        args.embedder,
        args.workers,
        pages as f64 / secs,
        chunks as f64 / secs
    );
    if failed > 0 {
        println!("({failed} documents not ready)");
    }
    super::record(json!({"scenario": "ingest", "embedder": args.embedder,
        "workers": args.workers, "pages": pages, "not_ready": failed, "chunks": chunks,
        "seconds": secs, "pages_per_s": pages as f64 / secs,
        "chunks_per_s": chunks as f64 / secs, "peak_rss_mib": rss}));
    Ok(())
}

/// Serves the corpus directory on loopback and returns its base URL. A
/// handler of a few lines rather than a static-file crate: the crawl asks
/// only for existing `.html` pages by name (no ranges, no listings, no other
/// types), and nothing outside the directory is reachable (one path segment,
/// no separators).
async fn serve_dir(dir: PathBuf) -> anyhow::Result<String> {
    async fn page(State(dir): State<PathBuf>, UrlPath(name): UrlPath<String>) -> impl IntoResponse {
        if name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(StatusCode::NOT_FOUND);
        }
        match tokio::fs::read(dir.join(&name)).await {
            Ok(body) => Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body)),
            Err(_) => Err(StatusCode::NOT_FOUND),
        }
    }
    let router = axum::Router::new()
        .route("/{name}", axum::routing::get(page))
        .with_state(dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(format!("http://{addr}"))
}
