//! `docent bench chat`: what the chat path adds to a model's own latency.
//! A real server (in this process, on loopback, SQLite, hashing embedder)
//! answers over SSE through an OpenAI-compatible fake model whose first
//! token comes after a fixed delay; the figure is the time from sending the
//! question to reading the first `delta` event, minus that delay, at several
//! numbers of concurrent streams.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use docent_testkit::{FakeOpenAi, Script};
use futures::StreamExt;
use serde_json::{Value, json};

#[derive(Args)]
pub struct ChatArgs {
    /// Concurrent SSE streams, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 50, 200])]
    streams: Vec<usize>,
    /// The fake model's time to first token, in ms.
    #[arg(long, default_value_t = 50)]
    first_token_ms: u64,
    /// Rounds per stream count (each round starts all streams at once).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

pub async fn run(args: ChatArgs) -> anyhow::Result<()> {
    let delay = Duration::from_millis(args.first_token_ms);
    let fake = FakeOpenAi::start_with(Script {
        delay,
        ..Script::default()
    })
    .await;
    let server = super::server::start(|config| config.llm.base_url = Some(fake.base_url())).await?;
    let base = server.base.clone();

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()?;
    let (token, bot) = seed(&http, &server).await?;

    println!(
        "{:>8} {:>14} {:>14} {:>12} {:>10}",
        "streams", "overhead p50", "overhead p99", "TTFT p50", "answers/s"
    );
    for &n in &args.streams {
        let mut overheads = Vec::new();
        let mut firsts = Vec::new();
        let start = Instant::now();
        for _ in 0..args.rounds {
            let asks = (0..n).map(|i| first_delta(&http, &base, &token, &bot, i));
            for ttft in futures::future::join_all(asks).await {
                let ttft = ttft?;
                firsts.push(ttft.as_secs_f64() * 1e3);
                overheads.push(ttft.saturating_sub(delay).as_secs_f64() * 1e3);
            }
        }
        let rate = (n * args.rounds) as f64 / start.elapsed().as_secs_f64();
        let (p50, p99) = super::search::percentiles(&mut overheads);
        let (ttft50, _) = super::search::percentiles(&mut firsts);
        println!("{n:>8} {p50:>11.1} ms {p99:>11.1} ms {ttft50:>9.1} ms {rate:>10.1}");
        super::record(
            json!({"scenario": "chat", "streams": n, "rounds": args.rounds,
                "model_first_token_ms": args.first_token_ms, "overhead_p50_ms": p50,
                "overhead_p99_ms": p99, "ttft_p50_ms": ttft50, "answers_per_s": rate,
                "peak_rss_mib": super::peak_rss_mib()}),
        );
    }
    trace_cost(&http, &server, &token).await
}

/// Passages of the bot whose answers' traces are measured: enough that
/// every retriever's list is full (its depth is 20 at the default top_k).
const TRACE_PASSAGES: usize = 60;
/// Answers whose traces are measured.
const TRACE_ANSWERS: usize = 50;

/// What a retrieval trace costs an answer: its size (read back through the
/// trace route) and the time to encode and store it (the server's
/// `docent_chat_trace_write_seconds`), over answers from a bot whose
/// keyword and vector lists are full, so traces are as large as the
/// default settings make them.
async fn trace_cost(
    http: &reqwest::Client,
    server: &super::server::Server,
    token: &str,
) -> anyhow::Result<()> {
    let bot = server
        .post(http, "/bots", Some(token), json!({"name": "Traced"}))
        .await?;
    let bot = bot["id"].as_str().context("bot id")?.to_string();
    let mut docs = Vec::new();
    for i in 0..TRACE_PASSAGES {
        let text = format!(
            "Policy {i}: refunds for order class {i} are granted within {} days; parcels of \
             class {i} ship within {} business days and support answers within {} hours.",
            10 + i,
            1 + i % 5,
            4 + i % 20
        );
        let doc = server
            .post(
                http,
                "/docs",
                Some(token),
                json!({"bot_id": bot, "title": format!("Policy {i}"), "text": text}),
            )
            .await?;
        docs.push(
            doc["document"]["id"]
                .as_str()
                .context("doc id")?
                .to_string(),
        );
    }
    for id in &docs {
        wait_ready(http, &server.base, token, id).await?;
    }
    let before = trace_metrics(http, server).await?;
    let mut bytes = Vec::new();
    for i in 0..TRACE_ANSWERS {
        let answer = server
            .post(
                http,
                "/chat",
                Some(token),
                json!({"bot_id": bot, "message": format!("How many days do refunds of class {i} take?")}),
            )
            .await?;
        let id = answer["message_id"].as_str().context("message id")?;
        let trace = http
            .get(format!("{}/chat/messages/{id}/trace", server.base))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        bytes.push(trace.len() as f64);
    }
    let after = trace_metrics(http, server).await?;
    let writes = after.1 - before.1;
    anyhow::ensure!(writes as usize == TRACE_ANSWERS, "{writes} traces written");
    let write_ms = (after.0 - before.0) / writes * 1e3;
    let (bytes_p50, _) = super::search::percentiles(&mut bytes.clone());
    let max = bytes.iter().copied().fold(0.0, f64::max);
    println!(
        "trace per answer: {bytes_p50:.0} bytes median, {max:.0} max; {write_ms:.3} ms to encode and store ({TRACE_PASSAGES} passages, {TRACE_ANSWERS} answers)"
    );
    super::record(json!({"scenario": "chat_trace", "passages": TRACE_PASSAGES,
        "answers": TRACE_ANSWERS, "trace_bytes_p50": bytes_p50, "trace_bytes_max": max,
        "trace_write_ms_mean": write_ms}));
    Ok(())
}

/// The trace-write histogram's sum (seconds) and count, from `/metrics`.
async fn trace_metrics(
    http: &reqwest::Client,
    server: &super::server::Server,
) -> anyhow::Result<(f64, f64)> {
    let text = http
        .get(format!("{}/metrics", server.root))
        .send()
        .await?
        .text()
        .await?;
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((
        value("docent_chat_trace_write_seconds_sum"),
        value("docent_chat_trace_write_seconds_count"),
    ))
}

async fn wait_ready(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let detail: Value = http
            .get(format!("{base}/docs/{id}"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        if detail["document"]["status"] == "ready" {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "the document was not ingested");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn seed(
    http: &reqwest::Client,
    server: &super::server::Server,
) -> anyhow::Result<(String, String)> {
    let token = server.sign_up(http).await?;
    let bot = server
        .post(http, "/bots", Some(&token), json!({"name": "Support"}))
        .await?;
    let bot = bot["id"].as_str().context("bot id")?.to_string();
    let text = "Refunds are granted within thirty days of purchase. Orders ship within two \
                business days. Support answers email within one business day.";
    let doc = server
        .post(
            http,
            "/docs",
            Some(&token),
            json!({"bot_id": bot, "title": "Policies", "text": text}),
        )
        .await?;
    let id = doc["document"]["id"]
        .as_str()
        .context("doc id")?
        .to_string();
    wait_ready(http, &server.base, &token, &id).await?;
    Ok((token, bot))
}

/// Sends a question as SSE and returns the time until the first `delta`
/// event has arrived, then reads the stream to its end.
async fn first_delta(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    bot: &str,
    i: usize,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let res = http
        .post(format!("{base}/chat"))
        .bearer_auth(token)
        .json(&json!({"bot_id": bot, "message": format!("How long do refunds take? ({i})"), "stream": true}))
        .send()
        .await?
        .error_for_status()?;
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    let mut first = None;
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk?));
        if first.is_none() && seen.contains("event: delta") {
            first = Some(start.elapsed());
        }
    }
    anyhow::ensure!(
        seen.contains("event: done"),
        "the stream did not finish: {seen}"
    );
    first.context("no delta event")
}
