//! Real files of every supported format through upload → extraction →
//! chunks, with their citation metadata; broken files fail cleanly.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app_with};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../docent-ingest/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Uploads a fixture and waits for its job; returns the job and the document detail.
async fn ingest(app: &TestApp, token: &str, bot: &str, name: &str) -> (Value, Value) {
    let (status, body) = app.upload(token, bot, name, fixture(name)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{name}: {body}");
    let job = app.wait_job(token, body["job_id"].as_str().unwrap()).await;
    let doc = body["document"]["id"].as_str().unwrap();
    let (_, detail) = app.get(&format!("/api/v1/docs/{doc}"), token).await;
    (job, detail)
}

#[tokio::test]
async fn every_format_is_extracted_with_its_citation_metadata() {
    let app = spawn_app_with(|c| c.jobs.max_attempts = 1).await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Formats").await;

    let (job, pdf) = ingest(&app, &owner.token, &bot, "two_pages.pdf").await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(pdf["document"]["format"], "pdf");
    let pages: Vec<u64> = pdf["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["page"].as_u64().unwrap())
        .collect();
    assert!(pages.contains(&1) && pages.contains(&2), "{pdf}");

    let (job, html) = ingest(&app, &owner.token, &bot, "page.html").await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let chunks = html["chunks"].as_array().unwrap();
    assert!(chunks.iter().any(|c| c["heading"] == "Billing"), "{html}");
    assert!(
        chunks
            .iter()
            .all(|c| !c["text"].as_str().unwrap().contains("NOISE"))
    );

    for (name, format, needle) in [
        ("headings.docx", "docx", ""),
        ("people.csv", "csv", "name: Grace Hopper"),
        ("catalog.json", "json", "books[0].title: Rust in Action"),
        ("guide.md", "markdown", "keep secrets out"),
        ("notes.txt", "text", "Version 1.3 adds CSV support."),
    ] {
        let (job, detail) = ingest(&app, &owner.token, &bot, name).await;
        assert_eq!(job["status"], "succeeded", "{name}: {job}");
        assert_eq!(detail["document"]["format"], format);
        let all: String = detail["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["text"].as_str().unwrap())
            .collect();
        assert!(!all.is_empty() && all.contains(needle), "{name}: {all}");
    }
}

#[tokio::test]
async fn corrupt_and_encrypted_files_fail_with_a_clear_error() {
    let app = spawn_app_with(|c| c.jobs.max_attempts = 3).await;
    app.expect_failed_jobs();
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Broken").await;
    for (name, expected) in [("encrypted.pdf", "encrypted"), ("truncated.pdf", "pdf")] {
        let (job, detail) = ingest(&app, &owner.token, &bot, name).await;
        assert_eq!(job["status"], "failed", "{name}: {job}");
        // A broken file is not retried: another attempt would fail the same way.
        assert_eq!(job["attempts"], 1, "{job}");
        let error = job["error"].as_str().unwrap();
        assert!(error.to_lowercase().contains(expected), "{name}: {error}");
        assert_eq!(detail["document"]["status"], "failed");
        assert_eq!(detail["document"]["error"], job["error"]);
        assert!(detail["chunks"].as_array().unwrap().is_empty());
    }
}
