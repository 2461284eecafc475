//! Hostile or careless input at the HTTP boundary: visitor ids posing as
//! widget visitors, script URLs, oversized themes, another tenant's bot in a
//! filter, `Host`-derived upload URLs, and model failures that must reach
//! clients as a plain 503 with nothing stored or billed.

use std::time::Duration;

use docent_testkit::{FakeOpenAi, Script};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn visitor_ids_cannot_pose_as_widget_visitors() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    for id in [
        "anon:0123456789abcdef0123456789abcdef",
        " anon:0123456789abcdef0123456789abcdef",
        "\tANON:0123456789abcdef0123456789abcdef",
        "Anon:x",
        "   ",
    ] {
        let (status, body) = app
            .post(
                "/api/v1/embed/token",
                &owner.token,
                json!({"bot_id": bot, "visitor": {"id": id}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{id:?}: {body}");
    }
    let (status, body) = app
        .post(
            "/api/v1/embed/token",
            &owner.token,
            json!({"bot_id": bot, "visitor": {"id": " user-42 "}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["visitor_id"], "user-42");
}

#[tokio::test]
async fn source_urls_are_http_and_themes_are_small() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    for url in [
        "javascript:alert(1)",
        "data:text/html,hi",
        "not a url",
        "file:///etc/passwd",
    ] {
        let (status, body) = app
            .post(
                "/api/v1/docs",
                &owner.token,
                json!({"bot_id": bot, "title": "T", "text": "hello", "source_url": url}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
    }
    let (status, body) = app
        .post(
            "/api/v1/docs",
            &owner.token,
            json!({"bot_id": bot, "title": "T", "text": "hello", "source_url": "https://acme.io/faq"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    let huge = "x".repeat(1 << 20);
    for theme in [
        json!({"primary_color": huge}),
        json!({"anything": huge}),
        json!({"primary_color": {"nested": true}}),
        json!({"launcher_label": "a label that is far longer than forty characters"}),
        json!({"custom": [1, 2, 3]}),
    ] {
        let (status, body) = app
            .call(
                reqwest::Method::PATCH,
                &format!("/api/v1/bots/{bot}"),
                Some(&owner.token),
                Some(json!({"theme": theme})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let (status, body) = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/bots/{bot}"),
            Some(&owner.token),
            Some(json!({"theme": {"primary_color": "#0f766e", "position": "bottom-left"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.wait_idle().await;
}

#[tokio::test]
async fn listing_documents_of_another_tenants_bot_is_404() {
    let app = spawn_app().await;
    let ann = app.signup("ann@acme.io").await;
    let bob = app.signup("bob@other.io").await;
    let bobs_bot = app.create_bot(&bob.token, "Theirs").await;
    let (status, body) = app
        .get(&format!("/api/v1/docs?bot_id={bobs_bot}"), &ann.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = app
        .get(&format!("/api/v1/docs?bot_id={bobs_bot}"), &bob.token)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn upload_urls_never_come_from_the_host_header() {
    if crate::helpers::skip_unless_embedded(
        "the server's own signed uploads to local storage (S3's presigned PUTs: s3.rs)",
    ) {
        return;
    }
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Docs").await;
    let res = app
        .client
        .post(app.url(&format!("/api/v1/bots/{bot}/upload-url")))
        .bearer_auth(&owner.token)
        .header("host", "evil.example")
        .json(&json!({"filename": "a.md", "content_type": "text/markdown", "size_bytes": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let ticket: serde_json::Value = res.json().await.unwrap();
    let url = ticket["upload_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://{}/", app.addr)),
        "built from the listen address: {url}"
    );

    // A wildcard listen address names no host clients could use.
    let wildcard = spawn_app_with(|c| c.server.listen = "0.0.0.0:0".parse().unwrap()).await;
    let owner = wildcard.signup("ann@acme.io").await;
    let bot = wildcard.create_bot(&owner.token, "Docs").await;
    let (status, body) = wildcard
        .post(
            &format!("/api/v1/bots/{bot}/upload-url"),
            &owner.token,
            json!({"filename": "a.md", "content_type": "text/markdown", "size_bytes": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("DOCENT_PUBLIC_URL")
    );
}

/// A model that fails, drips past the answer deadline, or answers nothing:
/// the client gets 503 `unavailable` with a plain message (no upstream URL
/// or body), nothing is stored and the message is not billed.
#[tokio::test]
async fn model_failures_are_a_plain_503_with_nothing_stored_or_billed() {
    let fake = FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| {
        c.llm.base_url = Some(base);
        c.llm.answer_timeout_secs = 1;
    })
    .await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    app.add_text(
        &owner.token,
        &bot,
        "Refund policy",
        "Refunds are granted within thirty days of purchase.",
    )
    .await;
    let scripts = [
        Script {
            fail_first: 1000,
            fail_status: 400,
            ..Script::default()
        },
        Script {
            reply: Some("word ".repeat(100)),
            chunk_delay: Duration::from_millis(100),
            ..Script::default()
        },
        Script {
            reply: Some(String::new()),
            ..Script::default()
        },
    ];
    for script in scripts {
        fake.set_script(script.clone()).await;
        // A drip is bounded only without streaming (a stream shows its
        // tokens as they come).
        let transports: &[bool] = if script.chunk_delay.is_zero() {
            &[false, true]
        } else {
            &[false]
        };
        for &stream in transports {
            let res = app
                .client
                .post(app.url("/api/v1/chat"))
                .bearer_auth(&owner.token)
                .json(&json!({"bot_id": bot, "message": "How long do refunds take?", "stream": stream}))
                .send()
                .await
                .unwrap();
            let status = res.status();
            let text = res.text().await.unwrap();
            if stream && status == StatusCode::OK {
                assert!(text.contains("event: error"), "{text}");
                assert!(
                    text.contains("the assistant is unavailable, try again"),
                    "{text}"
                );
                assert!(!text.contains("event: done"), "{text}");
            } else {
                assert_eq!(
                    status,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "{script:?}: {text}"
                );
                let body: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(body["error"]["code"], "unavailable");
                assert_eq!(
                    body["error"]["message"],
                    "the assistant is unavailable, try again"
                );
                assert!(
                    body["error"]["request_id"]
                        .as_str()
                        .is_some_and(|r| !r.is_empty())
                );
            }
            assert!(
                !text.contains("127.0.0.1") && !text.contains("/v1/chat"),
                "{text}"
            );
        }
    }
    let (_, usage) = app.get("/api/v1/admin/usage", &owner.token).await;
    assert_eq!(usage["usage"]["messages"], 0, "nothing billed: {usage}");
    let (_, sessions) = app.get("/api/v1/chat/sessions", &owner.token).await;
    for session in sessions["sessions"].as_array().unwrap() {
        assert_eq!(session["message_count"], 0, "nothing stored: {session}");
    }
}

/// A question whose client leaves before the answer gives its reservation
/// back: with one message left in the plan, the next question is answered.
/// A tenant over its limit costs no model call.
#[tokio::test]
async fn a_cancelled_question_releases_its_reservation() {
    let fake = FakeOpenAi::start_with(Script {
        delay: Duration::from_secs(5),
        ..Script::default()
    })
    .await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| {
        c.llm.base_url = Some(base);
        c.plans.free.messages_per_month = Some(1);
    })
    .await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    app.add_text(
        &owner.token,
        &bot,
        "Refund policy",
        "Refunds are granted within thirty days of purchase.",
    )
    .await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let gone = impatient
        .post(app.url("/api/v1/chat"))
        .bearer_auth(&owner.token)
        .json(&json!({"bot_id": bot, "message": "How long do refunds take?"}))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fake.requests() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the model was never asked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fake.set_script(Script::default()).await;
    // The release runs once the server notices the client is gone.
    let mut answered = None;
    for _ in 0..50 {
        let (status, body) = app
            .post(
                "/api/v1/chat",
                &owner.token,
                json!({"bot_id": bot, "message": "How long do refunds take?"}),
            )
            .await;
        if status == StatusCode::OK {
            answered = Some(body);
            break;
        }
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        answered.is_some(),
        "the cancelled reservation was never released"
    );
    // Now the month's one message is used: refused before any model call.
    let before = fake.requests();
    let (status, _) = app
        .post(
            "/api/v1/chat",
            &owner.token,
            json!({"bot_id": bot, "message": "And shipping?"}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(fake.requests(), before, "no model call past the limit");
}
