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
use docent_core::config::Config;
use docent_core::domain::PlanLimits;
use serde_json::{Value, json};

#[derive(Args)]
pub struct IngestArgs {
    /// Directory of .html files with an index.html to start from.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/usr/share/doc/postgresql-doc-15/html"
    )]
    corpus: PathBuf,
    /// `hash` or `local` (all-MiniLM-L6-v2 from --model-dir).
    #[arg(long, default_value = "hash")]
    embedder: String,
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".tools/models/all-MiniLM-L6-v2"
    )]
    model_dir: PathBuf,
    /// Pages to crawl at most.
    #[arg(long, default_value_t = 1200)]
    max_pages: usize,
    /// In-process ingestion workers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.corpus.join("index.html").is_file(),
        "no index.html in {} (apt-get install postgresql-doc-15)",
        args.corpus.display()
    );
    let site = serve_dir(args.corpus.clone()).await?;
    let dir = tempfile::tempdir()?;
    let mut config = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.path().to_path_buf(),
        embedder: Some(args.embedder.clone()),
        embed_model_dir: Some(args.model_dir.clone()),
        worker_concurrency: args.workers,
        crawl_concurrency: 4,
        crawl_delay_ms: 0,
        rate_limit_credential_per_minute: 1_000_000,
        rate_limit_ip_per_minute: 1_000_000,
        ..Config::default()
    };
    // The whole manual is more documents than the free plan holds.
    config.plans.free = PlanLimits::UNLIMITED;
    let app = docent_api::App::build(config).await?;
    let root = format!("http://{}", app.local_addr());
    let base = format!("{root}/api/v1");
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let until = move || {
        let mut rx = stopped.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let _workers = app.spawn_workers(until());
    tokio::spawn(app.run(until()));

    let http = reqwest::Client::new();
    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut req = http.post(format!("{base}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let res = req.send().await?;
            let status = res.status();
            let body: Value = res.json().await?;
            anyhow::ensure!(status.is_success(), "{status}: {body}");
            anyhow::Ok(body)
        }
    };
    let signup = post(
        "/tenants",
        None,
        json!({"name": "Bench", "email": "bench@example.com", "password": "password123"}),
    )
    .await?;
    let token = signup["access_token"]
        .as_str()
        .context("token")?
        .to_string();
    let bot = post("/bots", Some(&token), json!({"name": "manual"})).await?;
    let bot = bot["id"].as_str().context("bot id")?.to_string();

    let started = Instant::now();
    post(
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
