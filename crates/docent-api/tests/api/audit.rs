use std::collections::HashSet;

use docent_core::domain::AuditQuery;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_mutating_action_is_recorded_with_actor_ip_and_user_agent() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    app.login("ann@acme.io", "password123").await;
    let bot = app.create_bot(&owner.token, "B").await;
    app.patch(
        &format!("/api/v1/bots/{bot}"),
        &owner.token,
        json!({"name": "C"}),
    )
    .await;
    app.delete(&format!("/api/v1/bots/{bot}"), &owner.token)
        .await;
    let (_, user) = app
        .post(
            "/api/v1/users",
            &owner.token,
            json!({"email": "b@acme.io", "password": "password123", "role": "viewer"}),
        )
        .await;
    let user_path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    app.patch(&user_path, &owner.token, json!({"role": "editor"}))
        .await;
    app.delete(&user_path, &owner.token).await;
    let (key_id, key) = app.api_key(&owner.token, "editor").await;
    let (status, _) = app
        .post("/api/v1/bots", &key, json!({"name": "by key"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.delete(&format!("/api/v1/api-keys/{key_id}"), &owner.token)
        .await;
    // A refused action is not recorded as done.
    let (status, _) = app
        .call(
            Method::DELETE,
            "/api/v1/bots/00000000-0000-0000-0000-000000000000",
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let tenant = owner.id.parse().unwrap();
    let entries = app
        .store
        .list_audit(
            tenant,
            &AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    let actions: HashSet<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    for expected in [
        "tenant.create",
        "auth.login",
        "bot.create",
        "bot.update",
        "bot.delete",
        "user.create",
        "user.update",
        "user.delete",
        "api_key.create",
        "api_key.revoke",
    ] {
        assert!(
            actions.contains(expected),
            "no audit entry for {expected}: {actions:?}"
        );
    }
    assert_eq!(
        entries.iter().filter(|e| e.action == "bot.delete").count(),
        1
    );
    for e in &entries {
        assert_eq!(e.ip.as_deref(), Some("127.0.0.1"), "{e:?}");
        assert_eq!(e.user_agent.as_deref(), Some("docent-tests/1"), "{e:?}");
        assert!(e.actor_id.is_some());
    }
    let by_key = entries
        .iter()
        .find(|e| e.action == "bot.create" && e.actor_type == "api_key");
    assert_eq!(by_key.unwrap().actor_id.as_deref(), Some(key_id.as_str()));
    assert!(
        entries.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
}
