//! Ingestion against an OpenAI-compatible embeddings provider that fails:
//! the job retries with backoff and then succeeds, or fails for good with the
//! reason kept on the job and the document.

use docent_testkit::{FakeOpenAi, Script};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn a_failing_provider_is_retried_then_the_job_succeeds() {
    // Three 503s exhaust the client's own tries within the first attempt; the
    // job's second attempt succeeds.
    let fake = FakeOpenAi::start_with(Script {
        fail_first: 3,
        fail_status: 503,
        ..Script::default()
    })
    .await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| {
        c.embedder.kind = Some(docent_core::config::EmbedderKind::OpenAi);
        c.embedder.base_url = Some(base);
        c.embedder.dims = Some(384);
    })
    .await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let (status, body) = app
        .post(
            "/api/v1/docs",
            &owner.token,
            json!({"bot_id": bot, "title": "T", "text": "Refunds take thirty days."}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let job = app
        .wait_job(&owner.token, body["job_id"].as_str().unwrap())
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(fake.requests(), 4);
    let (_, ready) = app.get("/api/v1/ready", "").await;
    assert_eq!(
        ready["checks"]["embedder"], "ok: openai:text-embedding-3-small:384",
        "{ready}"
    );
}

#[tokio::test]
async fn a_provider_that_never_recovers_fails_the_job_with_the_reason() {
    let fake = FakeOpenAi::start_with(Script {
        fail_first: 1000,
        fail_status: 500,
        ..Script::default()
    })
    .await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| {
        c.embedder.kind = Some(docent_core::config::EmbedderKind::OpenAi);
        c.embedder.base_url = Some(base);
        c.embedder.dims = Some(384);
        c.jobs.max_attempts = 2;
    })
    .await;
    app.expect_failed_jobs();
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let (_, body) = app
        .post(
            "/api/v1/docs",
            &owner.token,
            json!({"bot_id": bot, "title": "T", "text": "Some text."}),
        )
        .await;
    let job = app
        .wait_job(&owner.token, body["job_id"].as_str().unwrap())
        .await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["attempts"], 2);
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("500"), "{error}");
    let doc = body["document"]["id"].as_str().unwrap();
    let (_, detail) = app.get(&format!("/api/v1/docs/{doc}"), &owner.token).await;
    assert_eq!(detail["document"]["status"], "failed");
    assert_eq!(detail["document"]["error"], job["error"]);
}

#[tokio::test]
async fn identical_content_is_not_embedded_twice() {
    let fake = FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| {
        c.embedder.kind = Some(docent_core::config::EmbedderKind::OpenAi);
        c.embedder.base_url = Some(base);
        c.embedder.dims = Some(384);
    })
    .await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let text = "Refunds are granted within thirty days of purchase.";
    app.add_text(&owner.token, &bot, "First", text).await;
    let after_first = fake.requests();
    assert!(after_first > 0);
    // The same text under the same title again (a re-upload): indexed, but
    // its vectors are reused.
    let (doc, _) = app.add_text(&owner.token, &bot, "First", text).await;
    assert_eq!(
        fake.requests(),
        after_first,
        "identical chunks were embedded again"
    );
    // Under another title it is another passage to embed: the title is part
    // of what is embedded.
    app.add_text(&owner.token, &bot, "Copy", text).await;
    assert_eq!(fake.requests(), after_first + 1);
    let (_, detail) = app.get(&format!("/api/v1/docs/{doc}"), &owner.token).await;
    assert_eq!(detail["document"]["status"], "ready");
    assert_eq!(detail["document"]["chunk_count"], 1);
    // New text is embedded.
    app.add_text(&owner.token, &bot, "Other", "Shipping takes three days.")
        .await;
    assert_eq!(fake.requests(), after_first + 2);
}
