//! Plans, quotas and usage: exact limits under concurrency, nothing left
//! behind by a refusal, monthly rollover, the usage report and its roles.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use docent_core::clock::ManualClock;
use docent_testkit::FakeOpenAi;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app_with, spawn_app_with_clock};

async fn bot_with_text(app: &TestApp, token: &str) -> String {
    let bot = app.create_bot(token, "Support").await;
    app.add_text(
        token,
        &bot,
        "Refunds",
        "Refunds are granted within thirty days of purchase.",
    )
    .await;
    bot
}

/// Files kept in the data dir's object store (sources of documents).
fn stored_files(dir: &std::path::Path) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() { walk(&path) } else { 1 }
                })
                .sum()
        })
    }
    walk(&dir.join("files"))
}

#[tokio::test]
async fn message_limit_holds_exactly_under_concurrency() {
    let fake = FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| {
        c.plans.free.messages_per_month = Some(5);
        c.llm.base_url = Some(base);
        c.auth.admin_token = Some(docent_core::config::Secret::new(
            "operator-token-0123456789",
        ));
    })
    .await;
    let owner = app.signup("o@a.io").await;
    let bot = bot_with_text(&app, &owner.token).await;

    let asks = (0..6).map(|i| {
        app.post(
            "/api/v1/chat",
            &owner.token,
            json!({"bot_id": bot, "message": format!("How long do refunds take{}?", " please".repeat(i))}),
        )
    });
    let answers = futures::future::join_all(asks).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::PAYMENT_REQUIRED)
        .map(|(_, b)| b)
        .collect();
    assert_eq!((ok, refused.len()), (5, 1), "{answers:?}");
    assert_error(refused[0], "quota_exceeded");
    assert!(
        refused[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("5 messages")
    );

    // The refused question left nothing: five conversations of two messages.
    let (_, sessions) = app.get("/api/v1/chat/sessions", &owner.token).await;
    let sessions = sessions["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 5);
    assert!(sessions.iter().all(|s| s["message_count"] == 2));
    // Streams and the OpenAI-compatible endpoint count against the same limit.
    let (status, body) = app
        .post(
            "/v1/chat/completions",
            &owner.token,
            json!({"model": bot, "messages": [{"role": "user", "content": "refunds?"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");

    let (status, usage) = app.get("/api/v1/admin/usage", &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["plan"], "free");
    assert_eq!(usage["limits"]["messages_per_month"], 5);
    assert_eq!(usage["usage"]["messages"], 5);
    assert!(usage["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert!(usage["usage"]["embedding_tokens"].as_u64().unwrap() > 0);
    assert_eq!(usage["usage"]["documents"], 1);
    assert!(usage["usage"]["chunks"].as_u64().unwrap() >= 1);
    let events = usage["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in [
        "messages",
        "prompt_tokens",
        "completion_tokens",
        "embedding_tokens",
        "documents",
    ] {
        assert!(kinds.contains(&kind), "no {kind} event: {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "messages").count(), 5);

    // Per-tenant figures for Prometheus, with the operator's token.
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("operator-token-0123456789")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("docent_usage_total")
                && l.contains(&owner.id)
                && l.contains("kind=\"messages\"")
        })
        .unwrap_or_else(|| panic!("no usage metric for the tenant:\n{metrics}"));
    assert!(line.ends_with(" 5"), "{line}");
}

#[tokio::test]
async fn document_limit_holds_under_concurrency_and_refusals_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let app = spawn_app_with(|c| {
        c.server.data_dir = data;
        c.plans.free.documents = Some(3);
    })
    .await;
    let owner = app.signup("o@a.io").await;
    let bot = app.create_bot(&owner.token, "Docs").await;

    let posts = (0..4).map(|i| {
        app.post(
            "/api/v1/docs",
            &owner.token,
            json!({"bot_id": bot, "title": format!("Doc {i}"), "text": format!("Text number {i}.")}),
        )
    });
    let answers = futures::future::join_all(posts).await;
    let statuses: Vec<StatusCode> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::ACCEPTED)
            .count(),
        3,
        "{answers:?}"
    );
    let (_, refused) = answers
        .iter()
        .find(|(s, _)| *s == StatusCode::PAYMENT_REQUIRED)
        .expect("one refusal");
    assert_error(refused, "quota_exceeded");

    // Uploads are refused the same way, before anything is stored.
    let (status, body) = app
        .upload(&owner.token, &bot, "notes.txt", b"More notes.".to_vec())
        .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    let (_, docs) = app.get("/api/v1/docs", &owner.token).await;
    assert_eq!(docs["documents"].as_array().unwrap().len(), 3);
    // (Local storage only: the scale-out run keeps sources in S3.)
    if !crate::helpers::scaled_out() {
        assert_eq!(
            stored_files(dir.path()),
            3,
            "no source of a refused document is kept"
        );
    }

    // Deleting frees a place.
    let id = docs["documents"][0]["id"].as_str().unwrap();
    let (status, _) = app
        .delete(&format!("/api/v1/docs/{id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .upload(&owner.token, &bot, "notes.txt", b"More notes.".to_vec())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, usage) = app.get("/api/v1/admin/usage", &owner.token).await;
    assert_eq!(usage["usage"]["documents"], 3);

    // Deleting the bot frees all of its documents and bytes.
    let (status, _) = app
        .delete(&format!("/api/v1/bots/{bot}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, usage) = app.get("/api/v1/admin/usage", &owner.token).await;
    assert_eq!(usage["usage"]["documents"], 0);
    assert_eq!(usage["usage"]["storage_bytes"], 0);
    app.wait_idle().await;
}

#[tokio::test]
async fn stored_bytes_are_limited_and_freed() {
    let app = spawn_app_with(|c| c.plans.free.storage_bytes = Some(100)).await;
    let owner = app.signup("o@a.io").await;
    let bot = app.create_bot(&owner.token, "Docs").await;
    let post = |text: String| {
        app.post(
            "/api/v1/docs",
            &owner.token,
            json!({"bot_id": bot, "title": "t", "text": text}),
        )
    };
    let (status, first) = post("a".repeat(80)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = post("b".repeat(30)).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("100 bytes")
    );
    let (status, _) = post("c".repeat(20)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "what fits still fits");
    let id = first["document"]["id"].as_str().unwrap();
    app.delete(&format!("/api/v1/docs/{id}"), &owner.token)
        .await;
    let (status, _) = post("b".repeat(30)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, usage) = app.get("/api/v1/admin/usage", &owner.token).await;
    assert_eq!(usage["usage"]["storage_bytes"], 50);
    assert_eq!(usage["limits"]["storage_bytes"], 100);
    app.wait_idle().await;
}

#[tokio::test]
async fn monthly_allowances_roll_over_at_the_utc_month() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 31, 23, 59, 0).unwrap(),
    ));
    let app =
        spawn_app_with_clock(|c| c.plans.free.messages_per_month = Some(2), clock.clone()).await;
    let owner = app.signup("o@a.io").await;
    let bot = bot_with_text(&app, &owner.token).await;
    let ask = || {
        app.post(
            "/api/v1/chat",
            &owner.token,
            json!({"bot_id": bot, "message": "refunds?"}),
        )
    };
    assert_eq!(ask().await.0, StatusCode::OK);
    assert_eq!(ask().await.0, StatusCode::OK);
    let (status, body) = ask().await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2026-02-01")
    );
    let (_, usage) = app.get("/api/v1/admin/usage", &owner.token).await;
    assert_eq!(usage["period_start"], "2026-01-01T00:00:00Z");
    assert_eq!(usage["period_end"], "2026-02-01T00:00:00Z");

    clock.set(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 1).unwrap());
    assert_eq!(ask().await.0, StatusCode::OK);
    let (_, usage) = app.get("/api/v1/admin/usage", &owner.token).await;
    assert_eq!(usage["period_start"], "2026-02-01T00:00:00Z");
    assert_eq!(usage["usage"]["messages"], 1);
    // Held amounts do not roll over.
    assert_eq!(usage["usage"]["documents"], 1);
}

#[tokio::test]
async fn crawls_stop_at_the_page_allowance() {
    let site = crate::crawl::numbered_site(6).await;
    let app = spawn_app_with(|c| {
        c.plans.free.crawl_pages_per_month = Some(2);
        c.crawl.delay_ms = 0;
    })
    .await;
    app.expect_failed_jobs();
    let owner = app.signup("o@a.io").await;
    let bot = app.create_bot(&owner.token, "Site").await;
    let path = format!("/api/v1/bots/{bot}/crawl");
    let start = || {
        app.post(
            &path,
            &owner.token,
            json!({"url": site.clone(), "max_pages": 6}),
        )
    };
    let (status, body) = start().await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job = app
        .wait_job(&owner.token, body["job_id"].as_str().unwrap())
        .await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("stopped after 2 pages"),
        "{job}"
    );
    let (_, docs) = app.get("/api/v1/docs", &owner.token).await;
    assert_eq!(docs["documents"].as_array().unwrap().len(), 2);

    let (status, body) = start().await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    let (_, usage) = app.get("/api/v1/admin/usage", &owner.token).await;
    assert_eq!(usage["usage"]["crawl_pages"], 2);
    app.wait_idle().await;
}

#[tokio::test]
async fn enterprise_is_unlimited_and_the_report_is_for_owners_and_admins() {
    let app = spawn_app_with(|c| {
        c.plans.free.documents = Some(0);
        c.auth.admin_token = Some(docent_core::config::Secret::new(
            "operator-token-0123456789",
        ));
    })
    .await;
    let owner = app.signup("o@a.io").await;
    let bot = app.create_bot(&owner.token, "Docs").await;
    let doc = json!({"bot_id": bot, "title": "t", "text": "Some text."});
    let (status, _) = app.post("/api/v1/docs", &owner.token, doc.clone()).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/platform/tenants/{}/plan", owner.id),
            Some("operator-token-0123456789"),
            Some(json!({"plan": "enterprise"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post("/api/v1/docs", &owner.token, doc).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, usage) = app.get("/api/v1/admin/usage", &owner.token).await;
    assert_eq!(usage["plan"], "enterprise");
    assert_eq!(
        usage["limits"],
        json!({"messages_per_month": null, "documents": null, "storage_bytes": null, "crawl_pages_per_month": null, "leads_per_month": null})
    );

    let admin = app.user_with_role(&owner, "ad@a.io", "admin").await;
    let editor = app.user_with_role(&owner, "ed@a.io", "editor").await;
    assert_eq!(
        app.get("/api/v1/admin/usage", &admin).await.0,
        StatusCode::OK
    );
    let (status, body) = app.get("/api/v1/admin/usage", &editor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "forbidden");
    // Tenants are metered apart.
    let other = app.signup("x@b.io").await;
    let (_, theirs) = app.get("/api/v1/admin/usage", &other.token).await;
    assert_eq!(theirs["usage"]["documents"], 0);
    assert!(theirs["events"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn daily_usage_puts_each_event_on_its_day_for_admins_only() {
    let app = spawn_app_with(|_| {}).await;
    let owner = app.signup("ann@acme.io").await;
    let bot = bot_with_text(&app, &owner.token).await;
    let (status, _) = app
        .post(
            "/api/v1/chat",
            &owner.token,
            json!({"bot_id": bot, "message": "How many days do I have for a refund?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Tokens spent three days ago, as the ledger holds them.
    let three_days_ago = Utc::now() - chrono::Duration::days(3);
    app.store
        .record_usage(&[docent_core::domain::UsageEvent {
            tenant_id: owner.id.parse().unwrap(),
            bot_id: None,
            kind: docent_core::domain::UsageKind::PromptTokens,
            quantity: 1234,
            created_at: three_days_ago,
        }])
        .await
        .unwrap();

    let (status, body) = app.get("/api/v1/admin/usage/daily", &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let days = body["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "30 days by default");
    let today = Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(days[29]["date"], today.as_str());
    assert_eq!(days[29]["messages"], 1);
    assert_eq!(days[29]["documents"], 1);
    let then = three_days_ago.format("%Y-%m-%d").to_string();
    assert_eq!(days[26]["date"], then.as_str());
    assert_eq!(days[26]["prompt_tokens"], 1234);
    assert_eq!(days[26]["messages"], 0);
    assert!(
        days[..26]
            .iter()
            .all(|d| d["messages"] == 0 && d["prompt_tokens"] == 0)
    );

    let (status, body) = app
        .get("/api/v1/admin/usage/daily?days=7", &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["days"].as_array().unwrap().len(), 7);
    for bad in ["days=0", "days=367"] {
        let (status, body) = app
            .get(&format!("/api/v1/admin/usage/daily?{bad}"), &owner.token)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_error(&body, "invalid_request");
    }
    for hostile in [
        "days=abc",
        "days=-1",
        "days=99999999999999999999",
        "days=%00",
    ] {
        let (status, body) = app
            .get(
                &format!("/api/v1/admin/usage/daily?{hostile}"),
                &owner.token,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{hostile}: {body}");
    }
    let editor = app.user_with_role(&owner, "ed@acme.io", "editor").await;
    let (status, _) = app.get("/api/v1/admin/usage/daily", &editor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
