//! Durability of the job queue across a hard crash: the server is killed with
//! SIGKILL in the middle of an ingestion, started again on the same data dir,
//! and the job finishes exactly once, with no duplicate chunks.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use docent_testkit::{FakeOpenAi, Script};
use serde_json::{Value, json};

struct Server {
    child: Child,
    base: String,
}

fn start(data: &std::path::Path, embed_url: &str) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_docent"));
    for (key, _) in std::env::vars() {
        if key.starts_with("DOCENT_") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("DOCENT_LOG_FORMAT", "json")
        .env("DOCENT_EMBEDDER", "openai")
        .env("DOCENT_EMBED_BASE_URL", embed_url)
        .env("DOCENT_EMBED_DIMS", "384")
        .env("DOCENT_JOB_LEASE_SECS", "2")
        .env("DOCENT_JOB_BACKOFF_BASE_MS", "50")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        assert!(Instant::now() < deadline, "server did not start");
        let line = lines.next().expect("server exited early").unwrap();
        let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if event["message"] == "listening" {
            break event["addr"].as_str().unwrap().to_string();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base: format!("http://{addr}/api/v1"),
    }
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> Value {
    let mut req = client.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap().json().await.unwrap()
}

async fn job(client: &reqwest::Client, server: &Server, token: &str, id: &str) -> Value {
    call(
        client,
        reqwest::Method::GET,
        format!("{}/jobs/{id}", server.base),
        Some(token),
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_interrupted_by_a_crash_finishes_after_restart_without_duplicates() {
    let data = tempfile::tempdir().unwrap();
    // The embedding provider hangs, so the first attempt is mid-flight when
    // the server dies.
    let fake = FakeOpenAi::start_with(Script {
        delay: Duration::from_secs(3600),
        ..Script::default()
    })
    .await;
    let client = reqwest::Client::new();
    let mut first = start(data.path(), &fake.base_url());

    let signup = call(
        &client,
        reqwest::Method::POST,
        format!("{}/tenants", first.base),
        None,
        Some(json!({"name": "Acme", "email": "ann@acme.io", "password": "password123"})),
    )
    .await;
    let token = signup["access_token"].as_str().unwrap().to_string();
    let bot = call(
        &client,
        reqwest::Method::POST,
        format!("{}/bots", first.base),
        Some(&token),
        Some(json!({"name": "B"})),
    )
    .await;
    let text = (0..40)
        .map(|i| {
            format!("Paragraph {i} explains topic {i} in enough words to fill a chunk of its own. ")
        })
        .collect::<String>();
    let accepted = call(
        &client,
        reqwest::Method::POST,
        format!("{}/docs", first.base),
        Some(&token),
        Some(json!({"bot_id": bot["id"], "title": "Manual", "text": text})),
    )
    .await;
    let job_id = accepted["job_id"].as_str().unwrap().to_string();
    let doc_id = accepted["document"]["id"].as_str().unwrap().to_string();

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let j = job(&client, &first, &token, &job_id).await;
        if j["status"] == "running" && fake.requests() > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "job never started: {j}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.child.kill().unwrap(); // SIGKILL: no shutdown, no cleanup
    first.child.wait().unwrap();

    fake.set_script(Script::default()).await;
    let mut second = start(data.path(), &fake.base_url());
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        let j = job(&client, &second, &token, &job_id).await;
        if j["status"] == "succeeded" || j["status"] == "failed" {
            break j;
        }
        assert!(
            Instant::now() < deadline,
            "job did not finish after restart: {j}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(
        finished["attempts"], 2,
        "the lapsed lease was taken over once: {finished}"
    );

    let detail = call(
        &client,
        reqwest::Method::GET,
        format!("{}/docs/{doc_id}", second.base),
        Some(&token),
        None,
    )
    .await;
    let chunks = detail["chunks"].as_array().unwrap();
    assert_eq!(detail["document"]["status"], "ready");
    assert_eq!(
        detail["document"]["chunk_count"].as_u64().unwrap() as usize,
        chunks.len()
    );
    assert!(chunks.len() > 1, "the text spans several chunks");
    let indexes: std::collections::BTreeSet<u64> = chunks
        .iter()
        .map(|c| c["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes.len(), chunks.len(), "no duplicate chunks");
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}
