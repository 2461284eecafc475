use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TEST_SECRET, assert_error, spawn_app, spawn_app_with};

const GUIDE: &str = "# Billing guide\n\nThe Pro plan costs nine euros per month.\n\n## Refunds\n\nRefunds are granted within thirty days of purchase.\n";

#[tokio::test]
async fn a_text_document_is_chunked_embedded_and_indexed() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let (status, accepted) = app
        .post(
            "/api/v1/docs",
            &owner.token,
            json!({"bot_id": bot, "title": "Billing", "text": GUIDE, "source_url": "https://acme.io/billing", "metadata": {"lang": "en"}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["document"]["status"], "queued");
    let job = app
        .wait_job(&owner.token, accepted["job_id"].as_str().unwrap())
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["kind"], "ingest_document");
    assert_eq!(job["attempts"], 1);
    for field in [
        "id",
        "max_attempts",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    ] {
        assert!(job.get(field).is_some(), "job lacks {field}: {job}");
    }
    assert!(job["progress"]["total"].as_u64().unwrap() >= 1);
    assert_eq!(job["progress"]["done"], job["progress"]["total"]);

    let doc_id = accepted["document"]["id"].as_str().unwrap();
    let (status, detail) = app
        .get(&format!("/api/v1/docs/{doc_id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    let doc = &detail["document"];
    assert_eq!(doc["status"], "ready");
    assert_eq!(doc["format"], "markdown");
    assert_eq!(doc["source_url"], "https://acme.io/billing");
    assert!(doc["error"].is_null());
    let chunks = detail["chunks"].as_array().unwrap();
    assert_eq!(doc["chunk_count"].as_u64().unwrap() as usize, chunks.len());
    let all: String = chunks
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        all.contains("nine euros") && all.contains("thirty days"),
        "{all}"
    );
    assert!(!all.contains("##"), "markdown syntax is stripped: {all}");
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c["index"], i);
        assert!(c["token_count"].as_u64().unwrap() > 0);
    }
    assert!(
        chunks
            .iter()
            .any(|c| c["heading"].as_str().is_some_and(|h| h.contains("Refunds"))),
        "{detail}"
    );

    let (status, list) = app
        .get(&format!("/api/v1/docs?bot_id={bot}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed = &list["documents"][0];
    for field in [
        "id",
        "bot_id",
        "title",
        "status",
        "source_type",
        "source_url",
        "chunk_count",
        "size_bytes",
        "error",
        "created_at",
        "updated_at",
    ] {
        assert!(listed.get(field).is_some(), "list item lacks {field}");
    }
    assert_eq!(listed["source_type"], "text");
    assert!(list["next_cursor"].is_null());
    let (_, ready) = app.get("/api/v1/docs?status=ready", &owner.token).await;
    assert_eq!(ready["documents"].as_array().unwrap().len(), 1);
    let (_, failed) = app.get("/api/v1/docs?status=failed", &owner.token).await;
    assert_eq!(failed["documents"].as_array().unwrap().len(), 0);
    let (status, _) = app.get("/api/v1/docs?status=weird", &owner.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn json_content_becomes_path_value_lines() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let (status, accepted) = app
        .post(
            "/api/v1/docs",
            &owner.token,
            json!({"bot_id": bot, "title": "FAQ", "content": {"shipping": {"days": 3, "countries": ["FR", "DE"]}}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let job = app
        .wait_job(&owner.token, accepted["job_id"].as_str().unwrap())
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let (_, detail) = app
        .get(
            &format!(
                "/api/v1/docs/{}",
                accepted["document"]["id"].as_str().unwrap()
            ),
            &owner.token,
        )
        .await;
    let text = detail["chunks"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("shipping.days") && text.contains('3'),
        "{text}"
    );
    assert_eq!(detail["document"]["source_type"], "json");
}

#[tokio::test]
async fn invalid_documents_are_refused_and_leave_nothing() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let cases = [
        json!({"bot_id": bot, "title": "t"}),
        json!({"bot_id": bot, "title": "t", "text": "a", "content": {}}),
        json!({"bot_id": bot, "title": "", "text": "a"}),
        json!({"bot_id": bot, "title": "t", "text": "   "}),
        json!({"bot_id": bot, "title": "t", "text": "a", "metadata": [1]}),
    ];
    for body in cases {
        let (status, err) = app.post("/api/v1/docs", &owner.token, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
    }
    let (status, _) = app
        .post(
            "/api/v1/docs",
            &owner.token,
            json!({"bot_id": "00000000-0000-7000-8000-000000000000", "title": "t", "text": "a"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/v1/docs", &owner.token).await;
    assert_eq!(list["documents"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn multipart_uploads_detect_the_type_from_the_content() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;

    let csv = "product,price\nPro,9\nTeam,29\n";
    let (status, body) = app
        .upload(&owner.token, &bot, "prices.csv", csv.as_bytes().to_vec())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body["file_id"].is_string());
    assert_eq!(body["document"]["format"], "csv");
    assert_eq!(body["document"]["source_type"], "file");
    assert_eq!(body["document"]["title"], "prices.csv");
    let job = app
        .wait_job(&owner.token, body["job_id"].as_str().unwrap())
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let (_, detail) = app
        .get(
            &format!("/api/v1/docs/{}", body["document"]["id"].as_str().unwrap()),
            &owner.token,
        )
        .await;
    let text = detail["chunks"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("product: Team") && text.contains("price: 29"),
        "{text}"
    );

    // HTML sent under a misleading name is still read as HTML.
    let html = "<!doctype html><html><head><title>Shipping</title></head><body><nav>Home | About</nav><main><h1>Shipping</h1><p>We ship in three days.</p></main><script>var x=1;</script></body></html>";
    let (status, body) = app
        .upload(&owner.token, &bot, "shipping.txt", html.as_bytes().to_vec())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["document"]["format"], "html");
    app.wait_job(&owner.token, body["job_id"].as_str().unwrap())
        .await;
    let (_, detail) = app
        .get(
            &format!("/api/v1/docs/{}", body["document"]["id"].as_str().unwrap()),
            &owner.token,
        )
        .await;
    let text = detail["chunks"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("three days") && !text.contains("var x") && !text.contains("About"),
        "{text}"
    );
}

#[tokio::test]
async fn unsupported_and_oversized_uploads_are_refused_and_leave_nothing() {
    let app = spawn_app_with(|c| c.storage.max_upload_bytes = 1024).await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;

    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    let (status, body) = app.upload(&owner.token, &bot, "notes.txt", png).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_error(&body, "unsupported_media_type");

    let (status, body) = app
        .upload(&owner.token, &bot, "big.txt", vec![b'a'; 4096])
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_error(&body, "payload_too_large");

    let (_, list) = app.get("/api/v1/docs", &owner.token).await;
    assert_eq!(list["documents"].as_array().unwrap().len(), 0);
}

async fn upload_ticket(
    app: &crate::helpers::TestApp,
    token: &str,
    bot: &str,
    size: usize,
) -> serde_json::Value {
    let (status, ticket) = app
        .post(
            &format!("/api/v1/bots/{bot}/upload-url"),
            token,
            json!({"filename": "guide.md", "content_type": "text/markdown", "size_bytes": size}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    ticket
}

async fn put(
    app: &crate::helpers::TestApp,
    url: &str,
    body: &[u8],
) -> (StatusCode, serde_json::Value) {
    let res = app
        .client
        .put(url)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn upload_url_flow_put_then_ingest() {
    if crate::helpers::skip_unless_embedded(
        "the server's own signed uploads to local storage (S3's presigned PUTs: s3.rs)",
    ) {
        return;
    }
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let ticket = upload_ticket(&app, &owner.token, &bot, GUIDE.len()).await;
    assert_eq!(ticket["method"], "PUT");
    assert!(ticket["expires_at"].is_string());
    assert!(ticket["headers"].is_object());
    let file_id = ticket["file_id"].as_str().unwrap();
    let ingest = format!("/api/v1/files/{file_id}/ingest");

    let (status, body) = app.post(&ingest, &owner.token, json!({})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "ingest before the bytes: {body}"
    );
    assert_error(&body, "conflict");

    let (status, body) = put(
        &app,
        ticket["upload_url"].as_str().unwrap(),
        GUIDE.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["format"], "markdown");
    let (status, _) = put(
        &app,
        ticket["upload_url"].as_str().unwrap(),
        GUIDE.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "a URL uploads once");

    let (status, accepted) = app.post(&ingest, &owner.token, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job = app
        .wait_job(&owner.token, accepted["job_id"].as_str().unwrap())
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let (status, _) = app.post(&ingest, &owner.token, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "a file is ingested once");
}

#[tokio::test]
async fn tampered_oversized_or_expired_upload_urls_are_refused() {
    if crate::helpers::skip_unless_embedded(
        "the server's own signed uploads to local storage (S3's presigned PUTs: s3.rs)",
    ) {
        return;
    }
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let ticket = upload_ticket(&app, &owner.token, &bot, 10).await;
    let url = ticket["upload_url"].as_str().unwrap().to_string();

    let bigger = url.replace("max=10", "max=999999");
    let (status, body) = put(&app, &bigger, GUIDE.as_bytes()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_error(&body, "forbidden");
    let mut bad_sig = url.clone();
    let last = bad_sig.pop().unwrap();
    bad_sig.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        put(&app, &bad_sig, b"short text").await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = put(&app, &url, GUIDE.as_bytes()).await;
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "more than declared: {body}"
    );

    // A URL signed correctly but already expired.
    use docent_core::auth::upload::{UploadGrant, UploadSigner};
    use docent_core::config::Secret;
    let file: docent_core::ids::FileId = ticket["file_id"].as_str().unwrap().parse().unwrap();
    let tenant: docent_core::ids::TenantId = owner.id.parse().unwrap();
    let grant = UploadGrant {
        tenant,
        file,
        max_bytes: 10,
        expires: chrono::Utc::now().timestamp() - 5,
    };
    let sig = UploadSigner::new(&Secret::new(TEST_SECRET)).sign(&grant);
    let expired = app.url(&format!(
        "/api/v1/uploads/{file}?tenant={tenant}&max=10&expires={}&sig={sig}",
        grant.expires
    ));
    let (status, body) = put(&app, &expired, b"short text").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );

    // None of it stored anything: ingest still finds no bytes.
    let (status, _) = app
        .post(
            &format!("/api/v1/files/{file}/ingest"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn delete_removes_chunks_and_reingest_does_not_duplicate() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let (doc, _) = app.add_text(&owner.token, &bot, "Billing", GUIDE).await;
    let tenant = owner.id.parse().unwrap();
    let bot_id = bot.parse().unwrap();
    let before = app
        .store
        .keyword_search(tenant, bot_id, "refunds", 10)
        .await
        .unwrap();
    assert_eq!(before.len(), 1);

    let (_, first) = app.get(&format!("/api/v1/docs/{doc}"), &owner.token).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/docs/{doc}/reingest"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let job = app
        .wait_job(&owner.token, body["job_id"].as_str().unwrap())
        .await;
    assert_eq!(job["status"], "succeeded");
    let (_, second) = app.get(&format!("/api/v1/docs/{doc}"), &owner.token).await;
    assert_eq!(
        first["chunks"].as_array().unwrap().len(),
        second["chunks"].as_array().unwrap().len()
    );
    assert_eq!(
        app.store
            .keyword_search(tenant, bot_id, "refunds", 10)
            .await
            .unwrap()
            .len(),
        1
    );

    let (status, _) = app
        .delete(&format!("/api/v1/docs/{doc}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        app.store
            .keyword_search(tenant, bot_id, "refunds", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        app.store
            .bot_vectors(tenant, bot_id, "hash-384")
            .await
            .unwrap()
            .ids
            .is_empty()
    );
    assert_eq!(
        app.get(&format!("/api/v1/docs/{doc}"), &owner.token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn viewers_read_documents_but_cannot_add_them() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let (doc, _) = app.add_text(&owner.token, &bot, "Billing", GUIDE).await;
    let viewer = app.user_with_role(&owner, "v@acme.io", "viewer").await;
    assert_eq!(
        app.get(&format!("/api/v1/docs/{doc}"), &viewer).await.0,
        StatusCode::OK
    );
    assert_eq!(app.get("/api/v1/docs", &viewer).await.0, StatusCode::OK);
    let (status, _) = app
        .post(
            "/api/v1/docs",
            &viewer,
            json!({"bot_id": bot, "title": "t", "text": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.delete(&format!("/api/v1/docs/{doc}"), &viewer).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = app
        .post(
            &format!("/api/v1/bots/{bot}/crawl"),
            &viewer,
            json!({"url": "http://127.0.0.1:1/"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn crawl_requests_are_validated() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let path = format!("/api/v1/bots/{bot}/crawl");
    for body in [
        json!({"url": "ftp://example.com"}),
        json!({"url": "not a url"}),
        json!({"url": "http://example.com", "max_pages": 0}),
        json!({"url": "http://example.com", "max_pages": 20000}),
        json!({"url": "http://example.com", "max_depth": 99}),
    ] {
        let (status, err) = app.post(&path, &owner.token, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
    }
}

#[tokio::test]
async fn deleting_a_bot_removes_its_documents() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let (doc, _) = app.add_text(&owner.token, &bot, "Billing", GUIDE).await;
    assert_eq!(
        app.delete(&format!("/api/v1/bots/{bot}"), &owner.token)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/v1/docs/{doc}"), &owner.token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

async fn storage_used(app: &crate::helpers::TestApp, token: &str) -> (u64, u64) {
    let (_, usage) = app.get("/api/v1/admin/usage", token).await;
    (
        usage["usage"]["storage_bytes"].as_u64().unwrap(),
        usage["usage"]["documents"].as_u64().unwrap(),
    )
}

/// Bytes count wherever they are stored: a signed upload URL holds its
/// declared size (so uploads cannot store past the plan), what arrives
/// settles it, the document takes it over, and deleting the document frees
/// both its bytes in the plan and its blob on disk.
#[tokio::test]
async fn signed_uploads_count_storage_and_deleting_frees_the_blob() {
    if crate::helpers::skip_unless_embedded(
        "the server's own signed uploads to local storage (S3's presigned PUTs: s3.rs)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app =
        crate::helpers::spawn_app_at(dir.path(), |c| c.plans.free.storage_bytes = Some(1000)).await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let ticket = upload_ticket(&app, &owner.token, &bot, 600).await;
    assert_eq!(
        storage_used(&app, &owner.token).await,
        (600, 0),
        "declared bytes held"
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/bots/{bot}/upload-url"),
            &owner.token,
            json!({"filename": "b.md", "content_type": "text/markdown", "size_bytes": 600}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    let (status, body) = put(
        &app,
        ticket["upload_url"].as_str().unwrap(),
        GUIDE.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let size = GUIDE.len() as u64;
    assert_eq!(
        storage_used(&app, &owner.token).await,
        (size, 0),
        "settled on receipt"
    );
    let file_id = ticket["file_id"].as_str().unwrap();
    let (status, accepted) = app
        .post(
            &format!("/api/v1/files/{file_id}/ingest"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job = app
        .wait_job(&owner.token, accepted["job_id"].as_str().unwrap())
        .await;
    assert_eq!(job["status"], "succeeded");
    assert_eq!(
        storage_used(&app, &owner.token).await,
        (size, 1),
        "the document took it over"
    );
    let on_disk = |id: &str| {
        walk(dir.path())
            .iter()
            .any(|p| p.to_string_lossy().contains(id))
    };
    assert!(on_disk(file_id));
    let doc = accepted["document"]["id"].as_str().unwrap();
    let (status, _) = app
        .delete(&format!("/api/v1/docs/{doc}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(storage_used(&app, &owner.token).await, (0, 0));
    assert!(!on_disk(file_id), "the blob went with its document");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Uploads never ingested expire and give their bytes back; a held counter
/// that drifted (a crash between reservation and release) is recounted.
#[tokio::test]
async fn expired_uploads_are_removed_and_held_counters_recounted() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.storage.upload_url_ttl_secs = 10;
        c.storage.upload_expiry_secs = 10;
        c.jobs.maintenance_interval_secs = 1;
    })
    .await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    app.add_text(&owner.token, &bot, "Kept", "A document that stays.")
        .await;
    let kept = storage_used(&app, &owner.token).await;
    let ticket = upload_ticket(&app, &owner.token, &bot, 500).await;
    assert_eq!(storage_used(&app, &owner.token).await.0, kept.0 + 500);
    // Drift: a reservation nobody will release.
    let tenant: docent_core::ids::TenantId = owner.id.parse().unwrap();
    let period = docent_core::domain::Period::containing(chrono::Utc::now());
    app.store
        .reserve(
            tenant,
            &[docent_core::domain::Charge {
                kind: docent_core::domain::UsageKind::Documents,
                period: period
                    .counter_key(docent_core::domain::UsageKind::Documents)
                    .to_string(),
                amount: 7,
                limit: None,
            }],
        )
        .await
        .unwrap();
    assert_eq!(storage_used(&app, &owner.token).await.1, kept.1 + 7);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if storage_used(&app, &owner.token).await == kept {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never recounted");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let file_id = ticket["file_id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/files/{file_id}/ingest"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the expired upload is gone");
}
