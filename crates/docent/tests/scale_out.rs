//! The scaled-out topology, end to end: two stateless API processes
//! (`serve --no-workers`) and two `docent worker` processes over one
//! PostgreSQL (pgvector), one Redis and one S3-compatible server. A crawl is
//! started through one API node and the bot answers through the other; plan
//! limits and rate limits hold across both nodes.
//!
//! Needs `DOCENT_TEST_POSTGRES_URL`, `DOCENT_TEST_REDIS_URL` and
//! `DOCENT_TEST_S3_URL` (with `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`), which
//! `scripts/test.sh` provides; skipped without them unless
//! `DOCENT_REQUIRE_BACKENDS` is set.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use serde_json::{Value, json};

struct Backends {
    database_url: String,
    redis_url: String,
    storage_url: String,
}

async fn backends() -> Option<Backends> {
    use docent_testkit::backends::{backend_url, fresh_postgres_database};
    let postgres = backend_url("DOCENT_TEST_POSTGRES_URL")?;
    let redis_url = backend_url("DOCENT_TEST_REDIS_URL")?;
    let storage_url = backend_url("DOCENT_TEST_S3_URL")?;
    Some(Backends {
        // A database of its own, so the run starts empty.
        database_url: fresh_postgres_database(&postgres, "docent_e2e").await,
        redis_url,
        storage_url,
    })
}

/// A running docent process, killed when dropped.
struct Node {
    child: Child,
    base: Option<String>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `docent ARGS` on the shared backends and waits until it is up: an
/// API node until it listens, a worker until its components are ready.
fn start(b: &Backends, args: &[&str], data: &std::path::Path) -> Node {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_docent"));
    for (key, _) in std::env::vars() {
        if key.starts_with("DOCENT_") && key != "DOCENT_LOG" {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("DOCENT_LOG_FORMAT", "json")
        .env("DOCENT_DATABASE_URL", &b.database_url)
        .env("DOCENT_REDIS_URL", &b.redis_url)
        .env("DOCENT_STORAGE_URL", &b.storage_url)
        .env("DOCENT_JWT_SECRET", "scale-out-test-secret-scale-out-test")
        .env("DOCENT_EMBEDDER", "hash")
        .env("DOCENT_CRAWL_DELAY_MS", "0")
        .env("DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS", "true")
        .env("DOCENT_PLAN_FREE_MESSAGES_PER_MONTH", "4")
        .env("DOCENT_RATE_LIMIT_SIGN_IN_PER_MINUTE", "6")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = loop {
        assert!(Instant::now() < deadline, "docent {args:?} did not start");
        let line = lines.next().expect("docent exited early").unwrap();
        let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if event["message"] == "listening" {
            break Some(format!("http://{}/api/v1", event["addr"].as_str().unwrap()));
        }
        if args[0] == "worker" && event["message"] == "components ready" {
            break None;
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Node { child, base }
}

async fn site() -> String {
    let page = |title: &'static str, body: &'static str| {
        move || async move {
            Html(format!(
                "<html><head><title>{title}</title></head><body><main>{body}</main></body></html>"
            ))
        }
    };
    let app = Router::new()
        .route("/", get(page("Acme docs", r#"<p>Welcome to the Acme documentation.</p>
            <a href="/returns">Returns</a> <a href="/shipping">Shipping</a> <a href="/warranty">Warranty</a>"#)))
        .route("/returns", get(page("Returns", "<p>Acme accepts returns within 30 days of purchase with the receipt.</p>")))
        .route("/shipping", get(page("Shipping", "<p>Orders ship from Rotterdam within two business days.</p>")))
        .route("/warranty", get(page("Warranty", "<p>Every Acme kettle carries a five year warranty.</p>")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_api_nodes_and_two_workers_share_postgres_redis_and_s3() {
    let Some(b) = backends().await else { return };
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let api1 = start(
        &b,
        &["serve", "--no-workers", "--listen", "127.0.0.1:0"],
        dirs[0].path(),
    );
    let api2 = start(
        &b,
        &["serve", "--no-workers", "--listen", "127.0.0.1:0"],
        dirs[1].path(),
    );
    let _w1 = start(&b, &["worker"], dirs[2].path());
    let _w2 = start(&b, &["worker"], dirs[3].path());
    let (one, two) = (api1.base.clone().unwrap(), api2.base.clone().unwrap());
    let http = reqwest::Client::new();
    use reqwest::Method;

    // Sign up and configure through node one.
    let (status, signup) = call(
        &http,
        Method::POST,
        format!("{one}/tenants"),
        None,
        Some(json!({"name": "Acme", "email": "ann@acme.io", "password": "password123"})),
    )
    .await;
    assert_eq!(status, 201, "{signup}");
    let token = signup["access_token"].as_str().unwrap().to_string();
    let (_, bot) = call(
        &http,
        Method::POST,
        format!("{one}/bots"),
        Some(&token),
        Some(json!({"name": "Support"})),
    )
    .await;
    let bot = bot["id"].as_str().unwrap().to_string();
    let site = site().await;
    let (status, crawl) = call(
        &http,
        Method::POST,
        format!("{one}/bots/{bot}/crawl"),
        Some(&token),
        Some(json!({"url": site, "max_pages": 10})),
    )
    .await;
    assert_eq!(status, 202, "{crawl}");

    // The workers do the crawl and the ingestion; node two sees it all.
    let job = crawl["job_id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, j) = call(
            &http,
            Method::GET,
            format!("{two}/jobs/{job}"),
            Some(&token),
            None,
        )
        .await;
        let (_, docs) = call(
            &http,
            Method::GET,
            format!("{two}/docs"),
            Some(&token),
            None,
        )
        .await;
        let ready = docs["documents"]
            .as_array()
            .map_or(0, |d| d.iter().filter(|d| d["status"] == "ready").count());
        if j["status"] == "succeeded" && ready == 4 {
            break;
        }
        assert!(j["status"] != "failed", "{j}");
        assert!(
            Instant::now() < deadline,
            "crawl did not finish: {j} {docs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Node two answers from what node one's crawl put in Postgres and S3.
    let (status, answer) = call(
        &http,
        Method::POST,
        format!("{two}/chat"),
        Some(&token),
        Some(json!({"bot_id": bot, "message": "How many days do I have for returns?"})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["answer"].as_str().unwrap().contains("30 days"),
        "{answer}"
    );
    assert_eq!(answer["citations"][0]["title"], "Returns", "{answer}");
    let (status, search) = call(
        &http,
        Method::POST,
        format!("{one}/bots/{bot}/search"),
        Some(&token),
        Some(json!({"query": "kettle warranty", "mode": "vector"})),
    )
    .await;
    assert_eq!(status, 200, "{search}");
    assert!(!search["results"].as_array().unwrap().is_empty());

    // The plan's 4 messages a month hold across both nodes at once: one was
    // used above; of 4 more, sent to both nodes together, exactly 3 pass.
    let asks = (0..4).map(|i| {
        let base = if i % 2 == 0 { &one } else { &two };
        call(
            &http,
            Method::POST,
            format!("{base}/chat"),
            Some(&token),
            Some(json!({"bot_id": bot, "message": format!("Where do orders ship from? {i}")})),
        )
    });
    let mut statuses: Vec<u16> = futures::future::join_all(asks)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 200, 402]);

    // Failed sign-ins are counted per account across both nodes (Redis):
    // six wrong passwords alternating nodes, then even the right one is
    // refused; successful logins before them were never limited.
    let login = |base: String, password: &'static str| {
        let http = http.clone();
        async move {
            call(
                &http,
                Method::POST,
                format!("{base}/auth/login"),
                None,
                Some(json!({"email": "ann@acme.io", "password": password})),
            )
            .await
            .0
        }
    };
    for i in 0..8 {
        let base = if i % 2 == 0 { &one } else { &two };
        assert_eq!(
            login(base.clone(), "password123").await,
            200,
            "good login {i}"
        );
    }
    let mut statuses = Vec::new();
    for i in 0..7 {
        let base = if i % 2 == 0 { &one } else { &two };
        statuses.push(
            login(
                base.clone(),
                if i < 6 {
                    "wrong-password"
                } else {
                    "password123"
                },
            )
            .await,
        );
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 401, 429]);
}
