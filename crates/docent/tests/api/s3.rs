//! The upload-URL flow on S3 storage: the client PUTs straight to a
//! presigned URL of the S3-compatible server (at `DOCENT_TEST_S3_URL`), and
//! the server checks size and type from the stored bytes before ingesting.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app_with};

async fn s3_app() -> Option<TestApp> {
    let url = docent_testkit::backends::backend_url("DOCENT_TEST_S3_URL")?;
    let url = docent_core::config::StorageUrl::parse(&url).unwrap();
    Some(spawn_app_with(|c| c.storage.url = Some(url)).await)
}

async fn ticket(app: &TestApp, token: &str, bot: &str, name: &str, size: usize) -> Value {
    let (status, ticket) = app
        .post(
            &format!("/api/v1/bots/{bot}/upload-url"),
            token,
            json!({"filename": name, "content_type": "application/octet-stream", "size_bytes": size}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    ticket
}

async fn put(app: &TestApp, ticket: &Value, body: &[u8]) -> StatusCode {
    let mut req = app
        .client
        .put(ticket["upload_url"].as_str().unwrap())
        .body(body.to_vec());
    for (k, v) in ticket["headers"].as_object().unwrap() {
        req = req.header(k.as_str(), v.as_str().unwrap());
    }
    req.send().await.unwrap().status()
}

#[tokio::test]
async fn files_go_straight_to_s3_and_are_checked_before_ingest() {
    let Some(app) = s3_app().await else { return };
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let text = b"# Returns\n\nAcme accepts returns within 30 days of purchase.\n";

    let good = ticket(&app, &owner.token, &bot, "returns.md", text.len()).await;
    let url = good["upload_url"].as_str().unwrap();
    assert!(
        url.contains("X-Amz-Signature=") && !url.contains(&app.addr.to_string()),
        "a presigned S3 URL, not this server: {url}"
    );
    let ingest = |t: &Value| {
        let path = format!("/api/v1/files/{}/ingest", t["file_id"].as_str().unwrap());
        let token = owner.token.clone();
        let app = &app;
        async move { app.post(&path, &token, json!({})).await }
    };
    // Not uploaded yet.
    let (status, body) = ingest(&good).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(put(&app, &good, text).await, StatusCode::OK);
    let (status, accepted) = ingest(&good).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job = app
        .wait_job(&owner.token, accepted["job_id"].as_str().unwrap())
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let (_, found) = app
        .post(
            &format!("/api/v1/bots/{bot}/search"),
            &owner.token,
            json!({"query": "returns within 30 days", "mode": "keyword"}),
        )
        .await;
    assert_eq!(
        found["results"][0]["document_id"],
        accepted["document"]["id"]
    );

    // More bytes than declared: refused, and the object is removed.
    let big = ticket(&app, &owner.token, &bot, "big.md", 10).await;
    assert_eq!(put(&app, &big, text).await, StatusCode::OK);
    let (status, body) = ingest(&big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_error(&body, "payload_too_large");

    // Bytes that are no supported type, whatever the name says.
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
    let fake = ticket(&app, &owner.token, &bot, "report.pdf", png.len()).await;
    assert_eq!(put(&app, &fake, png).await, StatusCode::OK);
    let (status, body) = ingest(&fake).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (_, docs) = app.get("/api/v1/docs", &owner.token).await;
    assert_eq!(
        docs["documents"].as_array().unwrap().len(),
        1,
        "only the good file"
    );
}
