//! Outbound webhooks against a real receiver on loopback that checks every
//! signature with the Standard Webhooks library: events of documents,
//! conversations, feedback and leads arrive signed; failed attempts are
//! retried with the same `webhook-id`; an endpoint that keeps failing is
//! disabled with an audit entry, and redelivered once enabled again; the
//! private-address guard applies; endpoints are for owners and admins of
//! their own tenant.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

/// What the receiver was sent: headers and body of each request.
pub struct Receiver {
    pub url: String,
    received: Arc<std::sync::Mutex<Vec<(HeaderMap, Bytes)>>>,
    /// Requests still to answer 500 (`usize::MAX`: all of them).
    failing: Arc<AtomicUsize>,
}

impl Receiver {
    pub async fn start() -> Self {
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let failing = Arc::new(AtomicUsize::new(0));
        let (r, f) = (received.clone(), failing.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (r, f) = (r.clone(), f.clone());
                async move {
                    r.lock().unwrap().push((headers, body));
                    let fail = f
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
                            0 => None,
                            usize::MAX => Some(usize::MAX),
                            n => Some(n - 1),
                        })
                        .is_ok();
                    if fail {
                        AxumStatus::INTERNAL_SERVER_ERROR
                    } else {
                        AxumStatus::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            received,
            failing,
        }
    }

    pub fn fail_next(&self, n: usize) {
        self.failing.store(n, Ordering::SeqCst);
    }

    /// The requests received, once there are at least `n` (10 s at most).
    pub async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        for _ in 0..400 {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!(
            "the receiver got {} requests, not {n}",
            self.received.lock().unwrap().len()
        );
    }

    /// The bodies of verified requests of one event type.
    pub fn events(&self, secret: &str, kind: &str) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(headers, body)| verified(secret, headers, body))
            .filter(|v| v["type"] == kind)
            .collect()
    }
}

/// The body of a request whose signature the Standard Webhooks library
/// accepts; panics on any other.
fn verified(secret: &str, headers: &HeaderMap, body: &[u8]) -> Value {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(body, headers)
        .expect("a valid Standard Webhooks signature");
    serde_json::from_slice(body).unwrap()
}

async fn app_for_hooks(disable_after: u32, max_attempts: u32) -> TestApp {
    spawn_app_with(|c| {
        // The receiver is on loopback.
        c.crawl.allow_private_networks = true;
        c.jobs.backoff_base_ms = 20;
        c.webhooks.disable_after = disable_after;
        c.webhooks.max_attempts = max_attempts;
    })
    .await
}

async fn create_hook(app: &TestApp, token: &str, url: &str, events: Value) -> (String, String) {
    let (status, hook) = app
        .post(
            "/api/v1/webhooks",
            token,
            json!({"url": url, "events": events, "description": "CRM"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (hook["id"].as_str().unwrap().to_string(), secret)
}

#[tokio::test]
async fn events_arrive_signed_and_failed_attempts_are_retried_with_the_same_id() {
    let app = app_for_hooks(40, 5).await;
    let receiver = Receiver::start().await;
    let owner = app.signup("ann@acme.io").await;
    let events = json!([
        "document.ready",
        "conversation.started",
        "message.feedback",
        "lead.created"
    ]);
    let (hook, secret) = create_hook(&app, &owner.token, &receiver.url, events).await;
    // The secret is shown once: reading the endpoint does not show it.
    let (status, read) = app
        .get(&format!("/api/v1/webhooks/{hook}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(read.get("secret").is_none(), "{read}");
    assert_eq!(read["events"].as_array().unwrap().len(), 4);

    // The first two attempts fail; the third is taken.
    receiver.fail_next(2);
    let bot = app.create_bot(&owner.token, "Help").await;
    let (doc, _) = app
        .add_text(
            &owner.token,
            &bot,
            "Refunds",
            "Refunds are granted within 30 days.",
        )
        .await;
    let got = receiver.wait_for(3).await;
    let ids: Vec<_> = got.iter().map(|(h, _)| h["webhook-id"].clone()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "one message, retried: {ids:?}"
    );
    for (headers, body) in &got {
        let event = verified(&secret, headers, body);
        assert_eq!(event["type"], "document.ready");
        assert_eq!(event["data"]["document_id"], doc.as_str());
        assert_eq!(event["data"]["bot_id"], bot.as_str());
        assert!(event["timestamp"].is_string());
    }
    app.wait_idle().await;
    let (status, log) = app
        .get(&format!("/api/v1/webhooks/{hook}/deliveries"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let delivery = &log["deliveries"][0];
    assert_eq!(delivery["status"], "succeeded", "{log}");
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["response_status"], 204);
    assert_eq!(delivery["event"], "document.ready");
    assert_eq!(delivery["message_id"], ids[0].to_str().unwrap());

    // A conversation, feedback on its answer, and a lead.
    let (status, answer) = app
        .post(
            "/api/v1/chat",
            &owner.token,
            json!({"bot_id": bot, "message": "How long do refunds take?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let message = answer["message_id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/chat/messages/{message}/feedback"),
            &owner.token,
            json!({"rating": "down", "comment": "too short"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post(
            "/api/v1/leads",
            &owner.token,
            json!({"session_id": answer["session_id"], "email": "pat@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    receiver.wait_for(6).await;
    let started = receiver.events(&secret, "conversation.started");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["data"]["session_id"], answer["session_id"]);
    let feedback = receiver.events(&secret, "message.feedback");
    assert_eq!(feedback[0]["data"]["message_id"], message);
    assert_eq!(feedback[0]["data"]["rating"], "down");
    assert_eq!(feedback[0]["data"]["comment"], "too short");
    let lead = receiver.events(&secret, "lead.created");
    assert_eq!(lead[0]["data"]["email"], "pat@example.com");
    // A second question in the same conversation starts nothing new.
    app.post(
        "/api/v1/chat",
        &owner.token,
        json!({"bot_id": bot, "session_id": answer["session_id"], "message": "And exchanges?"}),
    )
    .await;
    app.wait_idle().await;
    assert_eq!(receiver.events(&secret, "conversation.started").len(), 1);
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_and_redelivered_once_enabled() {
    let app = app_for_hooks(3, 2).await;
    app.expect_failed_jobs();
    let receiver = Receiver::start().await;
    receiver.fail_next(usize::MAX);
    let owner = app.signup("ann@acme.io").await;
    let (hook, secret) =
        create_hook(&app, &owner.token, &receiver.url, json!(["document.ready"])).await;
    let bot = app.create_bot(&owner.token, "Help").await;
    // Two documents, two attempts each: the third failure in a row
    // disables the endpoint, and the fourth attempt is not sent.
    app.add_text(&owner.token, &bot, "One", "First text.").await;
    app.wait_idle().await;
    app.add_text(&owner.token, &bot, "Two", "Second text.")
        .await;
    app.wait_idle().await;
    let (_, read) = app
        .get(&format!("/api/v1/webhooks/{hook}"), &owner.token)
        .await;
    assert_eq!(read["enabled"], false, "{read}");
    assert_eq!(read["consecutive_failures"], 3);
    assert!(
        read["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("3 failed"),
        "{read}"
    );
    assert_eq!(receiver.wait_for(3).await.len(), 3);
    let (_, log) = app
        .get(&format!("/api/v1/webhooks/{hook}/deliveries"), &owner.token)
        .await;
    let log = log["deliveries"].as_array().unwrap().clone();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|d| d["status"] == "failed"), "{log:?}");
    assert_eq!(log[1]["response_status"], 500, "{log:?}");
    assert_eq!(log[0]["error"], "the endpoint is disabled");
    // The notice: an audit entry of the system's.
    let (_, audit) = app
        .get(
            "/api/v1/admin/audit-logs?action=webhook.disabled",
            &owner.token,
        )
        .await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["actor"]["type"], "system", "{audit}");

    // Redelivery waits for the endpoint to be enabled again.
    let first = log[1]["id"].as_str().unwrap();
    let path = format!("/api/v1/webhooks/{hook}/deliveries/{first}/redeliver");
    let (status, body) = app.post(&path, &owner.token, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    receiver.fail_next(0);
    let (status, enabled) = app
        .patch(
            &format!("/api/v1/webhooks/{hook}"),
            &owner.token,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(enabled["consecutive_failures"], 0);
    assert!(enabled["disabled_reason"].is_null());
    let (status, pending) = app.post(&path, &owner.token, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
    assert_eq!(pending["status"], "pending");
    let got = receiver.wait_for(4).await;
    let (headers, body) = &got[3];
    verified(&secret, headers, body);
    assert_eq!(
        headers["webhook-id"], got[0].0["webhook-id"],
        "the same message"
    );
    app.wait_idle().await;
    let (_, delivery) = app
        .get(&format!("/api/v1/webhooks/{hook}/deliveries"), &owner.token)
        .await;
    assert_eq!(delivery["deliveries"][1]["status"], "succeeded");
    assert_eq!(delivery["deliveries"][1]["attempts"], 3);
}

#[tokio::test]
async fn endpoints_are_checked_guarded_and_for_owners_and_admins_only() {
    let guarded = spawn_app_with(|c| c.crawl.allow_private_networks = false).await;
    let owner = guarded.signup("ann@acme.io").await;
    for (url, why) in [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://169.254.169.254/latest", "link-local"),
        ("ftp://example.com/hook", "scheme"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("not a url", "parse"),
    ] {
        let (status, body) = guarded
            .post(
                "/api/v1/webhooks",
                &owner.token,
                json!({"url": url, "events": ["lead.created"]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {body}");
    }
    let (status, body) = guarded
        .post(
            "/api/v1/webhooks",
            &owner.token,
            json!({"url": "https://hooks.example.com/x", "events": ["lead.made"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("document.ready"),
        "{body}"
    );

    let (hook, _) = create_hook(
        &guarded,
        &owner.token,
        "https://hooks.example.com/x",
        json!(["lead.created"]),
    )
    .await;
    let editor = guarded.user_with_role(&owner, "ed@acme.io", "editor").await;
    let (status, _) = guarded.get("/api/v1/webhooks", &editor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = guarded
        .get(&format!("/api/v1/webhooks/{hook}"), &editor)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, list) = guarded.get("/api/v1/webhooks", &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 1);
    let (status, _) = guarded
        .delete(&format!("/api/v1/webhooks/{hook}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = guarded
        .get(&format!("/api/v1/webhooks/{hook}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_plan_limit_is_told_once_per_period() {
    let app = spawn_app_with(|c| {
        c.crawl.allow_private_networks = true;
        c.plans.free.documents = Some(1);
    })
    .await;
    let receiver = Receiver::start().await;
    let owner = app.signup("ann@acme.io").await;
    let (_, secret) = create_hook(
        &app,
        &owner.token,
        &receiver.url,
        json!(["usage.limit_reached"]),
    )
    .await;
    let bot = app.create_bot(&owner.token, "Help").await;
    app.add_text(&owner.token, &bot, "One", "First text.").await;
    for title in ["Two", "Three"] {
        let (status, body) = app
            .post(
                "/api/v1/docs",
                &owner.token,
                json!({"bot_id": bot, "title": title, "text": "More text."}),
            )
            .await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    }
    receiver.wait_for(1).await;
    app.wait_idle().await;
    let notices = receiver.events(&secret, "usage.limit_reached");
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["data"]["kind"], "documents");
    assert_eq!(notices[0]["data"]["limit"], 1);
    assert_eq!(notices[0]["data"]["plan"], "free");
}
