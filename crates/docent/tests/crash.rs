//! Durability of the job queue across a hard crash: the server is killed with
//! SIGKILL in the middle of an ingestion, started again on the same data dir,
//! and the job finishes exactly once, with no duplicate chunks.

mod support;

use std::time::{Duration, Instant};

use docent_testkit::{FakeOpenAi, Script};
use serde_json::json;
use support::{Server, call, job};

fn start(data: &std::path::Path, embed_url: &str) -> Server {
    start_with(data, embed_url, &[])
}

fn start_with(data: &std::path::Path, embed_url: &str, extra: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("DOCENT_EMBEDDER", "openai"),
        ("DOCENT_EMBED_BASE_URL", embed_url),
        ("DOCENT_EMBED_DIMS", "384"),
        ("DOCENT_JOB_LEASE_SECS", "2"),
        ("DOCENT_JOB_BACKOFF_BASE_MS", "50"),
    ];
    env.extend_from_slice(extra);
    Server::start(data, &env)
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

    let detail = support::document(&client, &second, &token, &doc_id).await;
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

/// A job whose worker dies on every attempt (here: killed mid-job each time)
/// fails for good once its attempts are used up, and its document says why,
/// instead of taking every restarted server down again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_killing_its_worker_fails_for_good_after_its_attempts() {
    let data = tempfile::tempdir().unwrap();
    let fake = FakeOpenAi::start_with(Script {
        delay: Duration::from_secs(3600),
        ..Script::default()
    })
    .await;
    let client = reqwest::Client::new();
    let settings = [("DOCENT_JOB_MAX_ATTEMPTS", "2")];
    let mut server = start_with(data.path(), &fake.base_url(), &settings);
    let (token, bot) = support::tenant_with_bot(&client, &server).await;
    let accepted = call(
        &client,
        reqwest::Method::POST,
        format!("{}/docs", server.base),
        Some(&token),
        Some(json!({"bot_id": bot, "title": "Poison", "text": "Some text to embed."})),
    )
    .await;
    let job_id = accepted["job_id"].as_str().unwrap().to_string();
    let doc_id = accepted["document"]["id"].as_str().unwrap().to_string();

    for attempt in 1..=2u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let j = job(&client, &server, &token, &job_id).await;
            if j["status"] == "running"
                && j["attempts"] == attempt
                && fake.requests() as u64 >= attempt
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "attempt {attempt} never started: {j}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.kill();
        server = start_with(data.path(), &fake.base_url(), &settings);
    }
    let finished =
        support::finished_job(&client, &server, &token, &job_id, Duration::from_secs(30)).await;
    assert_eq!(finished["status"], "failed", "{finished}");
    let error = finished["error"].as_str().unwrap();
    assert!(error.contains("stopped"), "{error}");
    let detail = support::document(&client, &server, &token, &doc_id).await;
    assert_eq!(detail["document"]["status"], "failed", "{detail}");
    assert_eq!(detail["document"]["error"], error);
    // Nothing runs it again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        job(&client, &server, &token, &job_id).await["status"],
        "failed"
    );
    assert!(server.alive());
    server.kill();
}
