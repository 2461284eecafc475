//! Tenant isolation: every route of the OpenAPI document that names a resource
//! is tried with a second tenant's credentials against the first tenant's
//! resources, and must answer 404 and change nothing. Walking the generated
//! spec means a route added later is covered without editing this test.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

struct Victim {
    ids: HashMap<&'static str, String>,
    token: String,
}

async fn victim(app: &TestApp) -> Victim {
    let owner = app.signup("victim@a.io").await;
    let bot = app.create_bot(&owner.token, "secret bot").await;
    let (status, user) = app
        .post(
            "/api/v1/users",
            &owner.token,
            json!({"email": "staff@a.io", "password": "password123", "role": "editor"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (key_id, _) = app.api_key(&owner.token, "viewer").await;
    // A webhook endpoint (on a receiver of this test) told of the document.
    let receiver = crate::webhooks::Receiver::start().await;
    let (status, hook) = app
        .post(
            "/api/v1/webhooks",
            &owner.token,
            json!({"url": receiver.url, "events": ["document.ready"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let webhook_id = hook["id"].as_str().unwrap().to_string();
    let (doc_id, job) = app
        .add_text(&owner.token, &bot, "secret doc", "The vault code is 1234.")
        .await;
    let (status, ticket) = app
        .post(
            &format!("/api/v1/bots/{bot}/upload-url"),
            &owner.token,
            json!({"filename": "a.txt", "content_type": "text/plain", "size_bytes": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    let (status, chat) = app
        .post(
            "/api/v1/chat",
            &owner.token,
            json!({"bot_id": bot, "message": "What is the vault code?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{chat}");
    let (status, lead) = app
        .post(
            "/api/v1/leads",
            &owner.token,
            json!({"session_id": chat["session_id"], "email": "lead@victim.io"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{lead}");
    receiver.wait_for(1).await;
    let (_, deliveries) = app
        .get(
            &format!("/api/v1/webhooks/{webhook_id}/deliveries"),
            &owner.token,
        )
        .await;
    let delivery_id = deliveries["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids = HashMap::from([
        ("tenant_id", owner.id.clone()),
        ("webhook_id", webhook_id),
        ("delivery_id", delivery_id),
        (
            "session_id",
            chat["session_id"].as_str().unwrap().to_string(),
        ),
        (
            "message_id",
            chat["message_id"].as_str().unwrap().to_string(),
        ),
        ("bot_id", bot),
        ("user_id", user["id"].as_str().unwrap().to_string()),
        ("key_id", key_id),
        ("doc_id", doc_id),
        ("job_id", job["id"].as_str().unwrap().to_string()),
        ("file_id", ticket["file_id"].as_str().unwrap().to_string()),
    ]);
    Victim {
        ids,
        token: owner.token,
    }
}

fn body_for(method: &Method) -> Option<Value> {
    match *method {
        Method::POST | Method::PATCH | Method::PUT => {
            // Valid for every route that takes a body, so a 404 cannot hide
            // behind a 422.
            Some(json!({
                "name": "pwned", "role": "viewer", "url": "http://127.0.0.1:9/",
                "filename": "a.txt", "content_type": "text/plain", "size_bytes": 10, "query": "refunds",
                "rating": "up",
            }))
        }
        _ => None,
    }
}

#[tokio::test]
async fn every_resource_route_answers_404_across_tenants() {
    let app = spawn_app().await;
    let victim = victim(&app).await;
    let attacker = app.signup("attacker@b.io").await;
    let (_, attacker_key) = app.api_key(&attacker.token, "owner").await;

    let spec: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut tried = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        let mut concrete = path.clone();
        for (param, id) in &victim.ids {
            concrete = concrete.replace(&format!("{{{param}}}"), id);
        }
        assert!(
            !concrete.contains('{'),
            "no resource of the victim tenant for {path}: extend `victim()`"
        );
        for (method, op) in ops.as_object().unwrap() {
            // Routes without bearer security (signed upload URLs) authenticate
            // by signature, not by tenant credential; they have their own tests.
            if op.get("security").is_none() {
                continue;
            }
            let method: Method = method.to_uppercase().parse().unwrap();
            for credential in [&attacker.token, &attacker_key] {
                let (status, body) = app
                    .call(
                        method.clone(),
                        &concrete,
                        Some(credential),
                        body_for(&method),
                    )
                    .await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
                assert_eq!(body["error"]["code"], "not_found");
                tried += 1;
            }
        }
    }
    assert!(tried >= 24, "only {tried} cross-tenant calls were made");

    // Nothing of the victim's changed.
    let (status, bot) = app
        .get(
            &format!("/api/v1/bots/{}", victim.ids["bot_id"]),
            &victim.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bot["name"], "secret bot");
    let (_, users) = app.get("/api/v1/users", &victim.token).await;
    assert_eq!(users["users"].as_array().unwrap().len(), 2);
    let (_, keys) = app.get("/api/v1/api-keys", &victim.token).await;
    assert_eq!(keys["api_keys"].as_array().unwrap().len(), 1);
    let (status, doc) = app
        .get(
            &format!("/api/v1/docs/{}", victim.ids["doc_id"]),
            &victim.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["document"]["status"], "ready");
}

#[tokio::test]
async fn lists_show_only_the_callers_tenant() {
    let app = spawn_app().await;
    let victim = victim(&app).await;
    let attacker = app.signup("attacker@b.io").await;
    for path in [
        "/api/v1/bots",
        "/api/v1/users",
        "/api/v1/api-keys",
        "/api/v1/auth/me",
        "/api/v1/leads",
        "/api/v1/chat/sessions",
        "/api/v1/webhooks",
    ] {
        let (status, body) = app.get(path, &attacker.token).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let text = body.to_string();
        for id in victim.ids.values() {
            assert!(
                !text.contains(id.as_str()),
                "{path} shows another tenant's {id}"
            );
        }
        assert!(
            !text.contains("victim@a.io")
                && !text.contains("staff@a.io")
                && !text.contains("lead@victim.io"),
            "{path}"
        );
    }
}
