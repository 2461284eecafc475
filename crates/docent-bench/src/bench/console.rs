//! `docent bench console`: the console's pages on a big bot. A real server
//! (in this process, on loopback, SQLite, hashing embedder, no model: the
//! answers are extractive) gets one bot with `--documents` text documents
//! and `--conversations` conversations, seeded through the API; then a
//! signed-in browser session (the console's own cookies, kept by hand)
//! times every main page, and the script and style a first visit loads are
//! measured gzip-compressed.
//!
//! The figure per page is the time from sending the request to reading the
//! last byte of the page, on loopback: the server's time plus a loopback
//! round trip.

use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use reqwest::header::{CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE};
use serde_json::{Value, json};

#[derive(Args)]
pub struct ConsoleArgs {
    /// Documents in the bot.
    #[arg(long, default_value_t = 10_000)]
    documents: usize,
    /// Conversations in the bot (one question each).
    #[arg(long, default_value_t = 10_000)]
    conversations: usize,
    /// Requests per page.
    #[arg(long, default_value_t = 50)]
    rounds: usize,
}

/// Requests in flight while seeding.
const SEED_CONCURRENCY: usize = 16;

pub async fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    let server = super::server::start(|_| {}).await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let token = server.sign_up(&http).await?;
    let bot = server
        .post(&http, "/bots", Some(&token), json!({"name": "Big"}))
        .await?;
    let bot = bot["id"].as_str().context("bot id")?.to_string();

    let started = Instant::now();
    let docs = futures::stream::iter(0..args.documents)
        .map(|i| {
            let body = json!({"bot_id": bot, "title": format!("Policy {i}"),
                "text": format!("Policy {i}: orders of class {i} may be returned within {} days.", 10 + i % 50)});
            let (server, http, token) = (&server, &http, &token);
            async move { server.post(http, "/docs", Some(token), body).await }
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    // Every request must have worked, or the figures are of another bot.
    let docs = docs.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let first_doc = docs
        .first()
        .and_then(|d| d["document"]["id"].as_str().map(str::to_string));
    wait_ingested(&http, &server, &token, &bot).await?;
    let sessions = futures::stream::iter(0..args.conversations)
        .map(|i| {
            let body = json!({"bot_id": bot, "message": format!("How long can I return an order of class {i}?")});
            let (server, http, token) = (&server, &http, &token);
            async move { server.post(http, "/chat", Some(token), body).await }
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let sessions = sessions.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let first_session = sessions
        .first()
        .and_then(|a| a["session_id"].as_str().map(str::to_string));
    println!(
        "seeded {} documents and {} conversations in {:.0} s",
        args.documents,
        args.conversations,
        started.elapsed().as_secs_f64()
    );

    let mut browser = Browser::sign_in(&server.root, http).await?;
    let mut pages = vec![
        ("bots", "/app/bots".to_string()),
        ("bot settings", format!("/app/bots/{bot}")),
        ("documents", format!("/app/bots/{bot}/knowledge")),
        (
            "documents, title filter",
            format!("/app/bots/{bot}/knowledge?q=Policy+4242"),
        ),
        (
            "documents, status filter (none match)",
            format!("/app/bots/{bot}/knowledge?status=failed"),
        ),
        ("conversations", format!("/app/bots/{bot}/conversations")),
        ("playground", format!("/app/bots/{bot}/playground")),
        ("usage", "/app/usage".to_string()),
        ("audit log", "/app/audit".to_string()),
        ("team", "/app/team".to_string()),
        ("leads", "/app/leads".to_string()),
    ];
    // A page deep in the documents: the 100th, through the "next" links.
    let mut deep = format!("/app/bots/{bot}/knowledge");
    for _ in 0..(args.documents / 50).clamp(1, 100) - 1 {
        let page = browser.get(&deep).await?;
        let Some(next) = next_link(&page) else { break };
        deep = next;
    }
    pages.insert(3, ("documents, a late page", deep));
    if let Some(doc) = first_doc {
        pages.push(("a document's passages", format!("/app/documents/{doc}")));
    }
    if let Some(session) = first_session {
        pages.push(("a transcript", format!("/app/conversations/{session}")));
    }

    println!("{:<40} {:>10} {:>10} {:>9}", "page", "p50", "p99", "KiB");
    for (name, path) in pages {
        let mut times = Vec::with_capacity(args.rounds);
        let mut bytes = 0;
        for _ in 0..args.rounds {
            let start = Instant::now();
            let body = browser.get(&path).await?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
            bytes = body.len();
        }
        let (p50, p99) = super::search::percentiles(&mut times);
        let kib = bytes as f64 / 1024.0;
        println!("{name:<40} {p50:>7.2} ms {p99:>7.2} ms {kib:>9.1}");
        super::record(json!({"scenario": "console_page", "page": name,
            "documents": args.documents, "conversations": args.conversations,
            "rounds": args.rounds, "p50_ms": p50, "p99_ms": p99, "bytes": bytes}));
    }

    // What a first visit loads besides the pages: the script and the style.
    let mut raw = 0;
    let mut gzipped = 0;
    for asset in ["/app/assets/console.css", "/app/assets/console.js"] {
        let body = browser.get(asset).await?;
        raw += body.len();
        gzipped += gzip_len(body.as_bytes())?;
    }
    println!(
        "script and style: {:.1} KiB, {:.1} KiB gzip-compressed",
        raw as f64 / 1024.0,
        gzipped as f64 / 1024.0
    );
    super::record(json!({"scenario": "console_assets", "bytes": raw, "gzip_bytes": gzipped}));
    Ok(())
}

/// Waits until no document of the bot is queued or processing.
async fn wait_ingested(
    http: &reqwest::Client,
    server: &super::server::Server,
    token: &str,
    bot: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + std::time::Duration::from_secs(1800);
    loop {
        let mut busy = false;
        for status in ["queued", "processing"] {
            let list: Value = http
                .get(format!(
                    "{}/docs?bot_id={bot}&status={status}&limit=1",
                    server.base
                ))
                .bearer_auth(token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            busy |= list["documents"].as_array().is_some_and(|d| !d.is_empty());
        }
        if !busy {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "the documents were not ingested");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

fn gzip_len(bytes: &[u8]) -> anyhow::Result<usize> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

/// The documents table's "next page" link, if there is one.
fn next_link(page: &str) -> Option<String> {
    let at = page.find("rel=\"next\" href=\"")?;
    let start = at + "rel=\"next\" href=\"".len();
    let end = start + page[start..].find('"')?;
    Some(page[start..end].replace("&amp;", "&"))
}

/// A browser session of the console: the cookies it was given.
struct Browser {
    root: String,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl Browser {
    /// Signs in through the console's form as the bench tenant's owner.
    async fn sign_in(root: &str, http: reqwest::Client) -> anyhow::Result<Self> {
        let mut browser = Self {
            root: root.to_string(),
            http,
            cookies: HashMap::new(),
        };
        browser.get("/app/login").await?;
        let csrf = browser
            .cookies
            .get("docent_csrf")
            .context("no CSRF cookie")?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("csrf", csrf.as_str()),
                ("email", "bench@example.com"),
                ("password", "password123"),
            ])
            .finish();
        let res = browser
            .http
            .post(format!("{root}/app/login"))
            .header(COOKIE, browser.cookie_header())
            .header(ORIGIN, root)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await?;
        anyhow::ensure!(res.status().is_redirection(), "sign-in: {}", res.status());
        browser.keep(&res);
        anyhow::ensure!(
            browser.cookies.contains_key("docent_access"),
            "not signed in"
        );
        Ok(browser)
    }

    fn keep(&mut self, res: &reqwest::Response) {
        for value in res.headers().get_all(SET_COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((name, v)) = pair.split_once('=') {
                self.cookies.insert(name.to_string(), v.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.join("; ")
    }

    /// GETs a page; anything but 200 is an error naming it.
    async fn get(&mut self, path: &str) -> anyhow::Result<String> {
        let res = self
            .http
            .get(format!("{}{path}", self.root))
            .header(COOKIE, self.cookie_header())
            .send()
            .await?;
        self.keep(&res);
        let status = res.status();
        let body = res.text().await?;
        anyhow::ensure!(status.is_success(), "{path}: {status}");
        Ok(body)
    }
}
