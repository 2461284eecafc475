//! Crawling a real (local) website through the API: pages become documents,
//! robots.txt and the sitemap are used, and a re-crawl updates changed pages
//! and skips unchanged ones.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

type Pricing = Arc<Mutex<String>>;

async fn site(pricing: Pricing) -> String {
    let page = |title: &'static str, body: &'static str| {
        move || async move {
            Html(format!(
                "<html><head><title>{title}</title></head><body><main>{body}</main></body></html>"
            ))
        }
    };
    let app = Router::new()
        .route("/", get(page("Home", r#"<h1>Welcome</h1><p>Docent answers from your docs.</p>
            <a href="/guide">Guide</a> <a href="/pricing#plans">Pricing</a> <a href="/private/notes">Notes</a>
            <a href="https://elsewhere.example/">Elsewhere</a>"#)))
        .route("/guide", get(page("Guide", r#"<p>Install the binary and run serve.</p><a href="/">Home</a>"#)))
        .route("/pricing", get(|State(p): State<Pricing>| async move {
            let body = p.lock().unwrap().clone();
            Html(format!("<html><head><title>Pricing</title></head><body><main><p>{body}</p></main></body></html>"))
        }))
        .route("/private/notes", get(page("Secret", "<p>Internal notes must not be crawled.</p>")))
        .route("/orphan", get(page("Orphan", "<p>Only the sitemap links to this page.</p>")))
        .route("/robots.txt", get(|| async { "User-agent: *\nDisallow: /private/\n" }))
        .route("/sitemap.xml", get(|| async {
            ([("content-type", "application/xml")], r#"<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>/orphan</loc></url></urlset>"#)
        }))
        .with_state(pricing);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn crawl(app: &TestApp, token: &str, bot: &str, url: &str) -> Value {
    let (status, body) = app
        .post(
            &format!("/api/v1/bots/{bot}/crawl"),
            token,
            json!({"url": url, "max_pages": 20, "max_depth": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job = app.wait_job(token, body["job_id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["kind"], "crawl");
    job
}

/// Waits until every document of the bot is ready; returns them by URL path.
async fn ready_docs(app: &TestApp, token: &str, bot: &str) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, list) = app.get(&format!("/api/v1/docs?bot_id={bot}"), token).await;
        let docs = list["documents"].as_array().unwrap().clone();
        if !docs.is_empty() && docs.iter().all(|d| d["status"] == "ready") {
            let mut docs = docs;
            docs.sort_by_key(|d| d["source_url"].as_str().unwrap().to_string());
            return docs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "documents not ready: {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_crawl_indexes_the_site_and_a_recrawl_only_updates_what_changed() {
    let pricing: Pricing = Arc::new(Mutex::new("The Pro plan costs nine euros.".into()));
    let base = site(pricing.clone()).await;
    let app = spawn_app_with(|c| c.crawl.delay_ms = 5).await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Site").await;

    let job = crawl(&app, &owner.token, &bot, &format!("{base}/")).await;
    assert_eq!(job["progress"]["done"], 4, "{job}");
    let docs = ready_docs(&app, &owner.token, &bot).await;
    let urls: Vec<&str> = docs
        .iter()
        .map(|d| d["source_url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            format!("{base}/"),
            format!("{base}/guide"),
            format!("{base}/orphan"),
            format!("{base}/pricing")
        ],
        "robots.txt keeps /private out, the sitemap brings /orphan in, fragments are dropped"
    );
    let titles: Vec<&str> = docs.iter().map(|d| d["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Home", "Guide", "Orphan", "Pricing"]);
    assert!(docs.iter().all(|d| d["source_type"] == "crawl"));

    // The site changes one page; a re-crawl touches only that one.
    *pricing.lock().unwrap() = "The Pro plan now costs twelve euros.".into();
    crawl(&app, &owner.token, &bot, &format!("{base}/")).await;
    let again = ready_docs(&app, &owner.token, &bot).await;
    assert_eq!(again.len(), 4, "no duplicates: {again:?}");
    for (before, after) in docs.iter().zip(&again) {
        assert_eq!(before["id"], after["id"]);
        let changed = before["source_url"].as_str().unwrap().ends_with("/pricing");
        assert_eq!(
            before["updated_at"] != after["updated_at"],
            changed,
            "{before} → {after}"
        );
    }
    let pricing_doc = again[3]["id"].as_str().unwrap();
    let (_, detail) = app
        .get(&format!("/api/v1/docs/{pricing_doc}"), &owner.token)
        .await;
    let text = detail["chunks"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("twelve euros") && !text.contains("nine"),
        "{text}"
    );
}

#[tokio::test]
async fn crawling_an_unreachable_site_fails_the_job_with_its_reason() {
    let app = spawn_app_with(|c| {
        c.crawl.delay_ms = 5;
        c.jobs.max_attempts = 1;
    })
    .await;
    app.expect_failed_jobs();
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Site").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/bots/{bot}/crawl"),
            &owner.token,
            json!({"url": "http://127.0.0.1:9/"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let job = app
        .wait_job(&owner.token, body["job_id"].as_str().unwrap())
        .await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(!job["error"].as_str().unwrap().is_empty());
}

/// A site of `n` pages: `/` links to `/p/1` … `/p/{n-1}`, each with its own text.
pub async fn numbered_site(n: usize) -> String {
    let app = Router::new()
        .route(
            "/",
            get(move || async move {
                let links: String = (1..n)
                    .map(|i| format!(r#"<a href="/p/{i}">Page {i}</a> "#))
                    .collect();
                Html(format!(
                    "<html><head><title>Home</title></head><body><main><p>Index of pages.</p>{links}</main></body></html>"
                ))
            }),
        )
        .route(
            "/p/{i}",
            get(|axum::extract::Path(i): axum::extract::Path<usize>| async move {
                Html(format!(
                    "<html><head><title>Page {i}</title></head><body><main><p>This is page number {i}.</p></main></body></html>"
                ))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// With private networks not allowed (the default), every spelling of a
/// loopback or private start URL is refused at once with 422, and nothing
/// is fetched: the local site counts no request.
#[tokio::test]
async fn crawls_into_private_networks_are_refused_by_default() {
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    let site = Router::new().fallback(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { Html("<p>internal</p>") }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });

    let app = spawn_app_with(|c| c.crawl.allow_private_networks = false).await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Site").await;
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0.0.0.0:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://user:secret@example.com/".to_string(),
    ] {
        let (status, body) = app
            .post(
                &format!("/api/v1/bots/{bot}/crawl"),
                &owner.token,
                json!({"url": url}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("refused"), "{url}: {message}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// A crawl is `running` until the pages it stored are searchable, and the
/// bot's status shows the work. With one worker slot the pages can only be
/// ingested once the crawl has let go of it, so a crawl that reported
/// success on storing its pages would leave them queued here.
#[tokio::test]
async fn a_crawl_runs_until_its_pages_are_ingested_and_the_bot_status_shows_it() {
    let base = site(Arc::new(Mutex::new(
        "The Pro plan costs nine euros.".into(),
    )))
    .await;
    let app = spawn_app_with(|c| {
        c.crawl.delay_ms = 5;
        c.jobs.worker_concurrency = 1;
    })
    .await;
    let owner = app.signup("status@acme.io").await;
    let bot = app.create_bot(&owner.token, "Site").await;
    let path = format!("/api/v1/bots/{bot}/status");
    let status_of = || app.get(&path, &owner.token);
    let (code, idle) = status_of().await;
    assert_eq!(code, StatusCode::OK, "{idle}");
    assert_eq!(idle["ready"], true, "{idle}");
    assert_eq!(
        idle["documents"],
        json!({"queued": 0, "processing": 0, "ready": 0, "failed": 0})
    );
    assert_eq!(idle["jobs"], json!([]));

    let (code, started) = app
        .post(
            &format!("/api/v1/bots/{bot}/crawl"),
            &owner.token,
            json!({"url": format!("{base}/"), "max_pages": 20, "max_depth": 3}),
        )
        .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{started}");
    let job_id = started["job_id"].as_str().unwrap();
    let (_, busy) = status_of().await;
    assert_eq!(busy["ready"], false, "{busy}");
    assert_eq!(busy["jobs"][0]["id"], job_id, "{busy}");
    assert_eq!(busy["jobs"][0]["kind"], "crawl");

    let job = app.wait_job(&owner.token, job_id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let (_, done) = status_of().await;
    assert_eq!(
        done["ready"], true,
        "the crawl ended before its pages were ingested: {done}"
    );
    assert_eq!(done["documents"]["ready"], 4, "{done}");
    assert_eq!(done["jobs"], json!([]));

    let stranger = app.signup("stranger@else.io").await;
    let (code, _) = app
        .get(&format!("/api/v1/bots/{bot}/status"), &stranger.token)
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    // Hostile ids are a plain 404 in the contract's error shape.
    for bad in ["not-an-id", "%27%20OR%201%3D1", "..%2F..%2Fetc"] {
        let (code, body) = app
            .get(&format!("/api/v1/bots/{bad}/status"), &owner.token)
            .await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{bad}: {body}");
    }
}

/// A crawl that obtains no page at all fails and says why.
#[tokio::test]
async fn a_crawl_that_gets_no_page_fails_with_the_reason() {
    let base = site(Arc::new(Mutex::new("Nine euros.".into()))).await;
    let app = spawn_app_with(|c| c.crawl.delay_ms = 5).await;
    let owner = app.signup("nopage@acme.io").await;
    let bot = app.create_bot(&owner.token, "Site").await;
    for (path, reason) in [("/missing", "404"), ("/private/notes", "robots.txt")] {
        let (code, started) = app
            .post(
                &format!("/api/v1/bots/{bot}/crawl"),
                &owner.token,
                json!({"url": format!("{base}{path}"), "max_pages": 5, "max_depth": 0}),
            )
            .await;
        assert_eq!(code, StatusCode::ACCEPTED, "{started}");
        let job = app
            .wait_job(&owner.token, started["job_id"].as_str().unwrap())
            .await;
        assert_eq!(job["status"], "failed", "{job}");
        let error = job["error"].as_str().unwrap();
        assert!(error.contains(reason) && error.contains(path), "{error}");
    }
    app.expect_failed_jobs();
}
