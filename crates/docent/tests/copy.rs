//! Moving an embedded instance to the scale-out backends: an instance is
//! used through the API on SQLite and local disk, stopped, copied with
//! `docent copy` to PostgreSQL and S3, and started there with everything in
//! place: logins, keys, documents, search, conversations, leads and usage.
//!
//! Needs `DOCENT_TEST_POSTGRES_URL` and `DOCENT_TEST_S3_URL` (see
//! scale_out.rs); skipped without them unless `DOCENT_REQUIRE_BACKENDS`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

const SECRET: &str = "copy-test-secret-copy-test-secret-xx";

struct Node(Child, String);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn docent(args: &[&str], data: &std::path::Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_docent"));
    for (key, _) in std::env::vars() {
        if key.starts_with("DOCENT_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("DOCENT_JWT_SECRET", SECRET)
        .env("DOCENT_EMBEDDER", "hash")
        .env("DOCENT_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .args(args)
        .arg("--data-dir")
        .arg(data);
    cmd
}

fn serve(data: &std::path::Path, env: &[(&str, &str)]) -> Node {
    let mut child = docent(&["serve", "--listen", "127.0.0.1:0"], data, env)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = loop {
        assert!(Instant::now() < deadline, "docent did not start");
        let line = lines.next().expect("docent exited early").unwrap();
        let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if event["message"] == "listening" {
            break format!("http://{}/api/v1", event["addr"].as_str().unwrap());
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Node(child, base)
}

async fn call(
    node: &Node,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", node.1));
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
async fn an_embedded_instance_moves_to_postgres_and_s3() {
    use docent_testkit::backends::{backend_url, fresh_postgres_database};
    let (Some(pg), Some(s3)) = (
        backend_url("DOCENT_TEST_POSTGRES_URL"),
        backend_url("DOCENT_TEST_S3_URL"),
    ) else {
        return;
    };
    let target = fresh_postgres_database(&pg, "docent_copy").await;
    // A bucket prefix of its own would need a second bucket; the objects'
    // keys start with the (fresh) tenant id, so they cannot collide.
    let dir = tempfile::tempdir().unwrap();

    // Use an embedded instance.
    let embedded = serve(dir.path(), &[]);
    let (status, signup) = call(
        &embedded,
        Method::POST,
        "/tenants",
        None,
        Some(json!({"name": "Acme", "email": "ann@acme.io", "password": "password123"})),
    )
    .await;
    assert_eq!(status, 201, "{signup}");
    let token = signup["access_token"].as_str().unwrap().to_string();
    let (_, key) = call(
        &embedded,
        Method::POST,
        "/api-keys",
        Some(&token),
        Some(json!({"name": "ci", "role": "viewer"})),
    )
    .await;
    let key = key["key"].as_str().unwrap().to_string();
    let (_, bot) = call(
        &embedded,
        Method::POST,
        "/bots",
        Some(&token),
        Some(json!({"name": "Support"})),
    )
    .await;
    let bot = bot["id"].as_str().unwrap().to_string();
    let (_, doc) = call(
        &embedded,
        Method::POST,
        "/docs",
        Some(&token),
        Some(json!({"bot_id": bot, "title": "Returns", "text": "Acme accepts returns within 30 days of purchase."})),
    )
    .await;
    let doc = doc["document"]["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while call(
        &embedded,
        Method::GET,
        &format!("/docs/{doc}"),
        Some(&token),
        None,
    )
    .await
    .1["document"]["status"]
        != "ready"
    {
        assert!(Instant::now() < deadline, "document not ingested");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, chat) = call(
        &embedded,
        Method::POST,
        "/chat",
        Some(&token),
        Some(json!({"bot_id": bot, "message": "How long for returns?"})),
    )
    .await;
    let session = chat["session_id"].as_str().unwrap().to_string();
    call(
        &embedded,
        Method::POST,
        "/leads",
        Some(&token),
        Some(json!({"bot_id": bot, "email": "lead@x.io"})),
    )
    .await;
    drop(embedded);

    // Copy it.
    let out = docent(
        &["copy", "--to-database", &target, "--to-storage", &s3],
        dir.path(),
        &[],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("chunks") && stdout.contains("objects"),
        "{stdout}"
    );

    // Start on the targets (an empty data dir: nothing comes from the old one).
    let fresh = tempfile::tempdir().unwrap();
    let scaled = serve(
        fresh.path(),
        &[
            ("DOCENT_DATABASE_URL", &target),
            ("DOCENT_STORAGE_URL", &s3),
        ],
    );
    let (status, login) = call(
        &scaled,
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"email": "ann@acme.io", "password": "password123"})),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    let token = login["access_token"].as_str().unwrap().to_string();
    let (status, _) = call(&scaled, Method::GET, "/bots", Some(&key), None).await;
    assert_eq!(status, 200, "the API key still works");
    let (_, detail) = call(
        &scaled,
        Method::GET,
        &format!("/docs/{doc}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(detail["document"]["status"], "ready");
    assert!(!detail["chunks"].as_array().unwrap().is_empty());
    for mode in ["keyword", "vector", "hybrid"] {
        let (status, found) = call(
            &scaled,
            Method::POST,
            &format!("/bots/{bot}/search"),
            Some(&token),
            Some(json!({"query": "returns within 30 days", "mode": mode})),
        )
        .await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(
            found["results"][0]["document_id"],
            doc.as_str(),
            "{mode}: {found}"
        );
    }
    let (_, messages) = call(
        &scaled,
        Method::GET,
        &format!("/chat/sessions/{session}/messages"),
        Some(&token),
        None,
    )
    .await;
    let roles: Vec<&str> = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant"]);
    let (_, leads) = call(&scaled, Method::GET, "/leads", Some(&token), None).await;
    assert_eq!(leads["leads"][0]["email"], "lead@x.io");
    let (_, usage) = call(&scaled, Method::GET, "/admin/usage", Some(&token), None).await;
    assert_eq!(usage["usage"]["messages"], 1);
    assert_eq!(usage["usage"]["documents"], 1);
    // Re-ingesting reads the source back from S3.
    let (status, again) = call(
        &scaled,
        Method::POST,
        &format!("/docs/{doc}/reingest"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 202, "{again}");
    let job = again["job_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, j) = call(
            &scaled,
            Method::GET,
            &format!("/jobs/{job}"),
            Some(&token),
            None,
        )
        .await;
        if j["status"] == "succeeded" {
            break;
        }
        assert!(j["status"] != "failed" && Instant::now() < deadline, "{j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(scaled);

    // A second copy into the now-used database is refused.
    let out = docent(&["copy", "--to-database", &target], dir.path(), &[])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds tenants"));
}
