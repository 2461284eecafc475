//! `docent eval`: retrieval and answer quality over a golden set, measured
//! through the HTTP API of a running server (`--server`) or of a fresh
//! in-process instance that ingests a corpus directory (`--corpus`).
//!
//! Per search mode: recall@1/5/10, MRR and nDCG@10 over the distinct
//! documents of the top 10 passages, and search latency. Through chat with
//! the bot's own retrieval: the share of out-of-scope questions declined
//! (no citation) and of in-scope questions answered with a right citation.
//! `--min-recall`, `--min-abstention` and `--min-answered` turn it into a
//! gate that exits non-zero. Quality is reported, and asserted only by
//! these gates; times are reported, never asserted.

mod golden;
mod grounding;
mod metrics;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};

use crate::bench::server;
use golden::Question;

#[derive(Args)]
pub struct EvalArgs {
    /// The golden set: JSON lines of `{question, documents, answerable?}`.
    #[arg(long, value_name = "FILE", required_unless_present = "grounding")]
    golden: Option<PathBuf>,
    /// Measure the grounding check instead (or as well): JSON lines of
    /// `{passage, sentence, supported, kind?, source?}`, checked with
    /// `--embedder`.
    #[arg(long, value_name = "FILE")]
    grounding: Option<PathBuf>,
    /// Fail unless the grounding check's precision (of the sentences it
    /// flags, the share truly unsupported) reaches this.
    #[arg(long, value_name = "SHARE", requires = "grounding")]
    min_grounding_precision: Option<f64>,
    /// Fail unless the grounding check flags this share of unsupported
    /// sentences.
    #[arg(long, value_name = "SHARE", requires = "grounding")]
    min_grounding_recall: Option<f64>,
    /// Upload every file of DIR into a fresh in-process instance and
    /// evaluate its bot.
    #[arg(long, value_name = "DIR", conflicts_with = "server")]
    corpus: Option<PathBuf>,
    /// Evaluate a bot of a running server instead: its base URL
    /// (`http://HOST:PORT`); needs --bot and a token.
    #[arg(long, value_name = "URL", requires = "bot")]
    server: Option<String>,
    /// Access token or API key for --server.
    #[arg(long, env = "DOCENT_EVAL_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The bot to evaluate on --server.
    #[arg(long, value_name = "BOT_ID")]
    bot: Option<String>,
    /// Embedder of the in-process instance: `hash` or `local`.
    #[arg(long, default_value = "hash")]
    embedder: String,
    /// Measure the in-process instance on PostgreSQL: a server URL
    /// (`postgres://USER@HOST:PORT/DB`) on which a scratch database named
    /// for the process is made (and kept, for inspection); default: SQLite in
    /// a scratch dir.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Model directory for `--embedder local` (default: DOCENT_EMBED_MODEL_DIR).
    #[arg(long, value_name = "DIR", env = "DOCENT_EMBED_MODEL_DIR")]
    model_dir: Option<PathBuf>,
    /// Search modes to measure; `MODE+rerank` measures it with the server's
    /// reranker (a server without one refuses it).
    #[arg(long, value_delimiter = ',', default_value = "keyword,vector,hybrid")]
    modes: Vec<String>,
    /// Fail unless recall@5 of hybrid search (the bots' default) reaches this.
    #[arg(long, value_name = "SHARE")]
    min_recall: Option<f64>,
    /// Fail unless this share of out-of-scope questions is declined.
    #[arg(long, value_name = "SHARE")]
    min_abstention: Option<f64>,
    /// Fail unless this share of in-scope questions is answered with a right citation.
    #[arg(long, value_name = "SHARE")]
    min_answered: Option<f64>,
    /// Also write, per question, the candidates of keyword, vector and
    /// hybrid search with the signals each stage measured (JSON lines): the
    /// data fusion weights and floors are tuned on (scripts/tune_fusion.py).
    #[arg(long, value_name = "FILE")]
    signals: Option<PathBuf>,
}

/// Where questions are asked.
struct Target {
    base: String,
    token: String,
    bot: String,
    http: reqwest::Client,
    /// Keeps an in-process instance alive.
    _server: Option<server::Server>,
}

pub async fn run(args: EvalArgs, launch: server::Launch) -> anyhow::Result<()> {
    server::set_launch(launch);
    if let Some(path) = &args.grounding {
        let embedder = grounding::embedder(&args.embedder, args.model_dir.as_ref())?;
        let report =
            grounding::run(path, &args.embedder, embedder, args.signals.as_deref()).await?;
        println!("{report}");
        let mut failed = Vec::new();
        for (flag, field, min) in [
            (
                "--min-grounding-precision",
                "precision",
                args.min_grounding_precision,
            ),
            (
                "--min-grounding-recall",
                "recall",
                args.min_grounding_recall,
            ),
        ] {
            let got = report["figures"][field].as_f64().unwrap_or_default();
            if let Some(min) = min.filter(|&m| got < m) {
                failed.push(format!("grounding {field} {got:.3} < {min} ({flag})"));
            }
        }
        anyhow::ensure!(
            failed.is_empty(),
            "quality gate failed: {}",
            failed.join("; ")
        );
    }
    let Some(golden_path) = &args.golden else {
        return Ok(());
    };
    let questions = golden::load(golden_path)?;
    for mode in &args.modes {
        anyhow::ensure!(
            matches!(
                mode.trim_end_matches("+rerank"),
                "keyword" | "vector" | "hybrid"
            ),
            "--modes: `{mode}` is not keyword, vector or hybrid (with or without +rerank)"
        );
    }
    let target = match (&args.corpus, &args.server) {
        (Some(dir), None) => in_process(dir, &args).await?,
        (None, Some(url)) => Target {
            base: format!("{}/api/v1", url.trim_end_matches('/')),
            token: args
                .token
                .clone()
                .context("--server needs --token (or DOCENT_EVAL_TOKEN)")?,
            bot: args.bot.clone().context("--server needs --bot")?,
            http: reqwest::Client::new(),
            _server: None,
        },
        _ => anyhow::bail!("give --corpus DIR or --server URL"),
    };
    let in_scope: Vec<&Question> = questions.iter().filter(|q| q.answerable).collect();
    let out_of_scope: Vec<&Question> = questions.iter().filter(|q| !q.answerable).collect();
    println!(
        "golden set {}: {} in-scope, {} out-of-scope questions",
        golden_path.display(),
        in_scope.len(),
        out_of_scope.len()
    );

    let mut report = json!({
        "scenario": "eval",
        "eval": golden_path.file_name().map(|n| n.to_string_lossy().to_string()),
        "in_scope": in_scope.len(),
        "out_of_scope": out_of_scope.len(),
        "embedder": if args.corpus.is_some() { args.embedder.clone() } else { "server".to_string() },
        "backend": match (&args.corpus, &args.database) {
            (None, _) => "server",
            (Some(_), Some(_)) => "postgres",
            (Some(_), None) => "sqlite",
        },
        "modes": {},
    });
    println!(
        "{:<8} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8}",
        "mode", "R@1", "R@5", "R@10", "MRR", "nDCG@10", "p50 ms", "p95 ms"
    );
    for mode in &args.modes {
        let figures = measure_mode(&target, mode, &in_scope).await?;
        println!(
            "{:<8} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>8.3} {:>8.1} {:>8.1}",
            mode,
            figures["recall@1"].as_f64().unwrap_or_default(),
            figures["recall@5"].as_f64().unwrap_or_default(),
            figures["recall@10"].as_f64().unwrap_or_default(),
            figures["mrr"].as_f64().unwrap_or_default(),
            figures["ndcg@10"].as_f64().unwrap_or_default(),
            figures["p50_ms"].as_f64().unwrap_or_default(),
            figures["p95_ms"].as_f64().unwrap_or_default(),
        );
        report["modes"][mode] = figures;
    }
    if let Some(path) = &args.signals {
        write_signals(&target, &questions, path).await?;
        println!("signals of every candidate written to {}", path.display());
    }
    let chat = measure_chat(&target, &in_scope, &out_of_scope).await?;
    println!(
        "chat (the bot's retrieval): declined {:.3} of out-of-scope, answered with a right citation {:.3} of in-scope; p50 {:.1} ms, p95 {:.1} ms",
        chat["declined"].as_f64().unwrap_or_default(),
        chat["answered_right"].as_f64().unwrap_or_default(),
        chat["p50_ms"].as_f64().unwrap_or_default(),
        chat["p95_ms"].as_f64().unwrap_or_default(),
    );
    report["chat"] = chat;
    println!("{report}");

    let mut failed = Vec::new();
    if let Some(min) = args.min_recall {
        let mode = if args.modes.iter().any(|m| m == "hybrid") {
            "hybrid"
        } else {
            args.modes[0].as_str()
        };
        let got = report["modes"][mode]["recall@5"]
            .as_f64()
            .unwrap_or_default();
        if got < min {
            failed.push(format!("{mode} recall@5 {got:.3} < {min}"));
        }
    }
    for (flag, field, min) in [
        ("--min-abstention", "declined", args.min_abstention),
        ("--min-answered", "answered_right", args.min_answered),
    ] {
        if let Some(min) = min {
            match report["chat"][field].as_f64() {
                Some(got) if got < min => failed.push(format!("{field} {got:.3} < {min} ({flag})")),
                None => failed.push(format!(
                    "{flag}: the golden set has no question to measure it"
                )),
                _ => {}
            }
        }
    }
    anyhow::ensure!(
        failed.is_empty(),
        "quality gate failed: {}",
        failed.join("; ")
    );
    Ok(())
}

/// A new, empty database on the PostgreSQL server at `server`, named for
/// this process; its URL.
async fn scratch_database(server: &str) -> anyhow::Result<String> {
    let name = format!("docent_eval_{}", std::process::id());
    let admin = sqlx::PgPool::connect(server)
        .await
        .context("cannot reach --database")?;
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&admin)
            .await?;
    }
    let mut url = url::Url::parse(server)?;
    url.set_path(&name);
    Ok(url.to_string())
}

/// A fresh instance with one bot holding every file of `dir`.
async fn in_process(dir: &Path, args: &EvalArgs) -> anyhow::Result<Target> {
    anyhow::ensure!(
        matches!(args.embedder.as_str(), "hash" | "local"),
        "--embedder must be hash or local"
    );
    let embedder: docent_core::config::EmbedderKind = args.embedder.parse()?;
    let model_dir = args.model_dir.clone();
    let database = match &args.database {
        Some(server) => Some(scratch_database(server).await?),
        None => None,
    };
    let instance = server::start(move |c| {
        c.embedder.kind = Some(embedder);
        c.embedder.model_dir = model_dir;
        if let Some(url) = database {
            c.storage.database_url = Some(docent_core::config::DatabaseUrl::Postgres(url));
        }
    })
    .await?;
    let http = reqwest::Client::new();
    let token = instance.sign_up(&http).await?;
    let bot = instance
        .post(&http, "/bots", Some(&token), json!({"name": "Eval"}))
        .await?["id"]
        .as_str()
        .context("no bot id")?
        .to_string();
    let mut files = Vec::new();
    collect_files(dir, &mut files)?;
    files.sort();
    anyhow::ensure!(!files.is_empty(), "{} holds no file", dir.display());
    let started = Instant::now();
    let (mut uploaded, mut refused) = (0, 0);
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let part = reqwest::multipart::Part::bytes(std::fs::read(path)?).file_name(name);
        let res = http
            .post(format!("{}/bots/{bot}/files", instance.base))
            .bearer_auth(&token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await?;
        if res.status().is_success() {
            uploaded += 1;
        } else {
            refused += 1;
            eprintln!("skipped {}: {}", path.display(), res.status());
        }
    }
    let failed = settle(&http, &instance.base, &token, &bot).await?;
    println!(
        "corpus {}: {uploaded} files ingested ({failed} failed, {refused} refused) in {:.1} s with the {} embedder",
        dir.display(),
        started.elapsed().as_secs_f64(),
        args.embedder
    );
    Ok(Target {
        base: instance.base.clone(),
        token,
        bot,
        http,
        _server: Some(instance),
    })
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Waits until no document of the bot is queued or processing; returns how
/// many failed.
async fn settle(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    bot: &str,
) -> anyhow::Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let (mut pending, mut failed, mut cursor) = (0, 0, None::<String>);
        loop {
            let mut url = format!("{base}/docs?bot_id={bot}&limit=200");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page: Value = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            for doc in page["documents"].as_array().context("no document list")? {
                match doc["status"].as_str() {
                    Some("queued" | "processing") => pending += 1,
                    Some("failed") => failed += 1,
                    _ => {}
                }
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        if pending == 0 {
            return Ok(failed);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{pending} documents still pending after an hour"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn post(target: &Target, path: &str, body: Value) -> anyhow::Result<(Value, f64)> {
    let started = Instant::now();
    let res = target
        .http
        .post(format!("{}{path}", target.base))
        .bearer_auth(&target.token)
        .json(&body)
        .send()
        .await?;
    let status = res.status();
    let answer: Value = res.json().await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(status.is_success(), "{path}: {status}: {answer}");
    Ok((answer, ms))
}

/// Ranking figures of one mode over the in-scope questions.
async fn measure_mode(
    target: &Target,
    mode: &str,
    questions: &[&Question],
) -> anyhow::Result<Value> {
    let (mut r1, mut r5, mut r10, mut mrr, mut ndcg, mut times) =
        (0.0, 0.0, 0.0, 0.0, 0.0, Vec::new());
    for q in questions {
        let (answer, ms) = post(
            target,
            &format!("/bots/{}/search", target.bot),
            // Ranking is measured without a floor; the floor's effect is
            // what the chat figures measure.
            json!({
                "query": q.question, "top_k": 10, "min_score": 0.0,
                "mode": mode.trim_end_matches("+rerank"),
                "rerank": mode.ends_with("+rerank"),
            }),
        )
        .await?;
        times.push(ms);
        let relevant = distinct_documents(&answer["results"])
            .into_iter()
            .map(|names| q.accepts(&names))
            .collect::<Vec<_>>();
        r1 += metrics::recall_at(&relevant, 1);
        r5 += metrics::recall_at(&relevant, 5);
        r10 += metrics::recall_at(&relevant, 10);
        mrr += metrics::reciprocal_rank(&relevant);
        ndcg += metrics::ndcg_at_10(&relevant, q.documents.len());
    }
    let n = questions.len().max(1) as f64;
    Ok(json!({
        "recall@1": r1 / n, "recall@5": r5 / n, "recall@10": r10 / n,
        "mrr": mrr / n, "ndcg@10": ndcg / n,
        "p50_ms": metrics::quantile(&times, 0.5), "p95_ms": metrics::quantile(&times, 0.95),
    }))
}

/// The names (title, source URL, file name) of each document in the order
/// its first passage appears.
fn distinct_documents(results: &Value) -> Vec<Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for r in results.as_array().into_iter().flatten() {
        let id = r["document_id"].as_str().unwrap_or_default().to_string();
        if seen.insert(id) {
            out.push(names(r));
        }
    }
    out
}

/// What a search result or citation is known by.
fn names(r: &Value) -> Vec<String> {
    ["title", "source_url", "filename"]
        .iter()
        .filter_map(|k| r[*k].as_str().map(str::to_string))
        .collect()
}

/// Per question, the union of the top 50 keyword, vector and hybrid
/// candidates (by passage) with every signal known of them, whether their
/// document is an acceptable answer, and the server's hybrid score.
async fn write_signals(target: &Target, questions: &[Question], path: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
    );
    for q in questions {
        let mut candidates: Vec<Value> = Vec::new();
        let mut at: std::collections::HashMap<String, usize> = Default::default();
        for mode in ["hybrid", "keyword", "vector"] {
            let (answer, _) = post(
                target,
                &format!("/bots/{}/search", target.bot),
                json!({
                    "query": q.question, "top_k": 50, "min_score": 0.0,
                    "mode": mode, "rerank": false, "explain": true,
                }),
            )
            .await?;
            for r in answer["results"].as_array().into_iter().flatten() {
                let chunk = r["chunk_id"].as_str().unwrap_or_default().to_string();
                let i = *at.entry(chunk.clone()).or_insert_with(|| {
                    candidates.push(json!({
                        "chunk_id": chunk,
                        "document_id": r["document_id"],
                        "accepted": q.answerable && q.accepts(&names(r)),
                        "signals": {},
                    }));
                    candidates.len() - 1
                });
                if mode == "hybrid" {
                    candidates[i]["hybrid_score"] = r["score"].clone();
                }
                for (k, v) in r["signals"].as_object().into_iter().flatten() {
                    if !v.is_null() {
                        candidates[i]["signals"][k] = v.clone();
                    }
                }
            }
        }
        let line = json!({
            "question": q.question,
            "answerable": q.answerable,
            "candidates": candidates,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// Abstention through chat with the bot's own retrieval: declined means no
/// citation.
async fn measure_chat(
    target: &Target,
    in_scope: &[&Question],
    out_of_scope: &[&Question],
) -> anyhow::Result<Value> {
    let mut times = Vec::new();
    let mut ask = async |q: &Question| -> anyhow::Result<Vec<Vec<String>>> {
        let (answer, ms) = post(
            target,
            "/chat",
            json!({"bot_id": target.bot, "message": q.question}),
        )
        .await?;
        times.push(ms);
        Ok(answer["citations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(names)
            .collect())
    };
    let mut declined = 0;
    for q in out_of_scope {
        if ask(q).await?.is_empty() {
            declined += 1;
        }
    }
    let mut right = 0;
    for q in in_scope {
        if ask(q).await?.iter().any(|names| q.accepts(names)) {
            right += 1;
        }
    }
    let share = |n: usize, of: usize| (of > 0).then(|| n as f64 / of as f64);
    Ok(json!({
        "declined": share(declined, out_of_scope.len()),
        "answered_right": share(right, in_scope.len()),
        "p50_ms": metrics::quantile(&times, 0.5), "p95_ms": metrics::quantile(&times, 0.95),
    }))
}
