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
        assert_eq!(e.ip, Some(app.client_ip.to_string()), "{e:?}");
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

#[tokio::test]
async fn owners_and_admins_read_the_trail_with_filters_and_paging() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let mut bots = Vec::new();
    for i in 0..5 {
        bots.push(app.create_bot(&owner.token, &format!("bot {i}")).await);
    }
    app.delete(&format!("/api/v1/bots/{}", bots[0]), &owner.token)
        .await;

    let (status, page) = app.get("/api/v1/admin/audit-logs", &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries[0]["action"], "bot.delete", "newest first");
    let e = &entries[0];
    for field in [
        "id",
        "action",
        "resource_type",
        "resource_id",
        "ip",
        "user_agent",
        "created_at",
    ] {
        assert!(e.get(field).is_some(), "{field}: {e}");
    }
    assert_eq!(e["actor"]["type"], "user");
    assert_eq!(e["actor"]["id"], owner.user_id.as_str());
    assert_eq!(e["resource_id"], bots[0].as_str());
    assert_eq!(e["user_agent"], "docent-tests/1");

    let (_, created) = app
        .get("/api/v1/admin/audit-logs?action=bot.create", &owner.token)
        .await;
    assert_eq!(created["entries"].as_array().unwrap().len(), 5);
    // Paging visits every entry once.
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/admin/audit-logs?action=bot.create&limit=2&cursor={c}"),
            None => "/api/v1/admin/audit-logs?action=bot.create&limit=2".to_string(),
        };
        let (status, page) = app.get(&path, &owner.token).await;
        assert_eq!(status, StatusCode::OK);
        for e in page["entries"].as_array().unwrap() {
            assert!(seen.insert(e["id"].as_str().unwrap().to_string()));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    // Time filters.
    let (_, future) = app
        .get(
            "/api/v1/admin/audit-logs?since=2999-01-01T00:00:00Z",
            &owner.token,
        )
        .await;
    assert!(future["entries"].as_array().unwrap().is_empty());
    let (_, past) = app
        .get(
            "/api/v1/admin/audit-logs?until=2000-01-01T00:00:00Z",
            &owner.token,
        )
        .await;
    assert!(past["entries"].as_array().unwrap().is_empty());
    for bad in [
        "since=yesterday",
        "limit=0",
        "limit=201",
        "cursor=nope",
        "since=2030-01-01T00:00:00Z&until=2020-01-01T00:00:00Z",
    ] {
        let (status, _) = app
            .get(&format!("/api/v1/admin/audit-logs?{bad}"), &owner.token)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }

    // Editors and viewers may not read it; another tenant sees only its own.
    let editor = app.user_with_role(&owner, "ed@acme.io", "editor").await;
    let (status, _) = app.get("/api/v1/admin/audit-logs", &editor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin = app.user_with_role(&owner, "ad@acme.io", "admin").await;
    let (status, _) = app.get("/api/v1/admin/audit-logs", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let other = app.signup("eve@evil.io").await;
    let (_, theirs) = app.get("/api/v1/admin/audit-logs", &other.token).await;
    assert!(
        theirs["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["resource_id"] != bots[0].as_str() && e["action"] != "bot.create"),
        "{theirs}"
    );
}

/// What each mutating route writes to the trail, or why it writes nothing.
/// A route added later without an entry here fails
/// `every_mutating_route_is_accounted_for`.
const MUTATING_ROUTES: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/tenants", "tenant.create"),
    ("POST", "/api/v1/auth/login", "auth.login"),
    (
        "POST",
        "/api/v1/auth/refresh",
        "-: a token exchange, not a change",
    ),
    (
        "POST",
        "/api/v1/auth/logout",
        "-: ends the caller's own login",
    ),
    ("POST", "/api/v1/users", "user.create"),
    ("PATCH", "/api/v1/users/{user_id}", "user.update"),
    ("DELETE", "/api/v1/users/{user_id}", "user.delete"),
    ("POST", "/api/v1/api-keys", "api_key.create"),
    ("DELETE", "/api/v1/api-keys/{key_id}", "api_key.revoke"),
    ("POST", "/api/v1/bots", "bot.create"),
    ("PATCH", "/api/v1/bots/{bot_id}", "bot.update"),
    ("DELETE", "/api/v1/bots/{bot_id}", "bot.delete"),
    ("POST", "/api/v1/docs", "document.create"),
    ("DELETE", "/api/v1/docs/{doc_id}", "document.delete"),
    (
        "POST",
        "/api/v1/docs/{doc_id}/reingest",
        "document.reingest",
    ),
    ("POST", "/api/v1/bots/{bot_id}/files", "file.upload"),
    (
        "POST",
        "/api/v1/bots/{bot_id}/upload-url",
        "file.upload_url",
    ),
    (
        "PUT",
        "/api/v1/uploads/{file_id}",
        "-: bytes for a signed URL already audited",
    ),
    ("POST", "/api/v1/files/{file_id}/ingest", "file.ingest"),
    ("POST", "/api/v1/bots/{bot_id}/crawl", "crawl.start"),
    ("POST", "/api/v1/bots/{bot_id}/search", "-: a read"),
    (
        "POST",
        "/api/v1/chat",
        "-: kept as the conversation and in the usage ledger",
    ),
    (
        "POST",
        "/v1/chat/completions",
        "-: kept as the conversation and in the usage ledger",
    ),
    (
        "POST",
        "/api/v1/widget/{bot_id}/token",
        "-: anonymous; rate limited per IP",
    ),
    ("POST", "/api/v1/embed/token", "embed_token.create"),
    ("POST", "/api/v1/leads", "lead.create"),
    (
        "POST",
        "/api/v1/chat/messages/{message_id}/feedback",
        "-: kept with the answer, counted in analytics",
    ),
    (
        "PUT",
        "/api/v1/platform/tenants/{tenant_id}/plan",
        "tenant.plan.set",
    ),
    (
        "POST",
        "/api/v1/auth/password-reset",
        "user.password_reset_request",
    ),
    (
        "POST",
        "/api/v1/auth/password-reset/confirm",
        "user.password_reset",
    ),
    ("POST", "/api/v1/auth/verify-email", "user.email_verify"),
    (
        "POST",
        "/api/v1/auth/verify-email/resend",
        "-: mails a link; its use is audited",
    ),
    ("POST", "/api/v1/auth/mfa", "auth.login"),
    ("DELETE", "/api/v1/auth/mfa", "user.mfa_disable"),
    (
        "POST",
        "/api/v1/auth/mfa/setup",
        "-: a secret to confirm; nothing is in force until enabled",
    ),
    ("POST", "/api/v1/auth/mfa/enable", "user.mfa_enable"),
    ("POST", "/api/v1/invitations", "invitation.create"),
    ("POST", "/api/v1/invitations/accept", "invitation.accept"),
    ("POST", "/api/v1/webhooks", "webhook.create"),
    ("PATCH", "/api/v1/webhooks/{webhook_id}", "webhook.update"),
    ("DELETE", "/api/v1/webhooks/{webhook_id}", "webhook.delete"),
    (
        "POST",
        "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        "webhook.redeliver",
    ),
];

#[tokio::test]
async fn every_mutating_route_is_accounted_for() {
    let app = spawn_app().await;
    let spec: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut seen = HashSet::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") {
                continue;
            }
            assert!(
                MUTATING_ROUTES
                    .iter()
                    .any(|(m, p, _)| *m == method && p == path),
                "{method} {path} is not in MUTATING_ROUTES: say what it audits"
            );
            seen.insert((method, path.clone()));
        }
    }
    assert_eq!(
        seen.len(),
        MUTATING_ROUTES.len(),
        "stale MUTATING_ROUTES entries"
    );
}

#[tokio::test]
async fn knowledge_widget_and_operator_actions_are_audited() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.auth.admin_token = Some(docent_core::config::Secret::new(
            "operator-token-0123456789",
        ));
    })
    .await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let (doc, _) = app.add_text(&owner.token, &bot, "T", "Some text.").await;
    app.post(
        &format!("/api/v1/docs/{doc}/reingest"),
        &owner.token,
        json!({}),
    )
    .await;
    app.delete(&format!("/api/v1/docs/{doc}"), &owner.token)
        .await;
    let (status, _) = app
        .upload(&owner.token, &bot, "a.txt", b"Plain words.".to_vec())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, ticket) = app
        .post(
            &format!("/api/v1/bots/{bot}/upload-url"),
            &owner.token,
            json!({"filename": "b.txt", "content_type": "text/plain", "size_bytes": 5}),
        )
        .await;
    let res = app
        .client
        .put(ticket["upload_url"].as_str().unwrap())
        .body("hello")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let (status, _) = app
        .post(
            &format!(
                "/api/v1/files/{}/ingest",
                ticket["file_id"].as_str().unwrap()
            ),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.post(
        &format!("/api/v1/bots/{bot}/crawl"),
        &owner.token,
        json!({"url": "http://127.0.0.1:9/"}),
    )
    .await;
    app.post("/api/v1/embed/token", &owner.token, json!({"bot_id": bot}))
        .await;
    app.post(
        "/api/v1/leads",
        &owner.token,
        json!({"bot_id": bot, "email": "lead@x.io"}),
    )
    .await;
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/platform/tenants/{}/plan", owner.id),
            Some("operator-token-0123456789"),
            Some(json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A webhook endpoint told of a lead, redelivered, changed and deleted.
    let receiver = crate::webhooks::Receiver::start().await;
    let (_, hook) = app
        .post(
            "/api/v1/webhooks",
            &owner.token,
            json!({"url": receiver.url, "events": ["lead.created"]}),
        )
        .await;
    let hook = hook["id"].as_str().unwrap().to_string();
    app.post(
        "/api/v1/leads",
        &owner.token,
        json!({"bot_id": bot, "email": "second@x.io"}),
    )
    .await;
    receiver.wait_for(1).await;
    let (_, log) = app
        .get(&format!("/api/v1/webhooks/{hook}/deliveries"), &owner.token)
        .await;
    let delivery = log["deliveries"][0]["id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/webhooks/{hook}/deliveries/{delivery}/redeliver"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.patch(
        &format!("/api/v1/webhooks/{hook}"),
        &owner.token,
        json!({"description": "CRM"}),
    )
    .await;
    app.wait_idle().await;
    app.delete(&format!("/api/v1/webhooks/{hook}"), &owner.token)
        .await;

    let entries = app
        .store
        .list_audit(
            owner.id.parse().unwrap(),
            &AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    let actions: HashSet<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    let expected: Vec<&str> = MUTATING_ROUTES
        .iter()
        .map(|(_, _, action)| *action)
        .filter(|a| !a.starts_with('-'))
        .filter(|a| !a.starts_with("user.") && !a.starts_with("api_key."))
        // Driven through real mail in email.rs, which checks their entries.
        .filter(|a| !a.starts_with("invitation."))
        .collect();
    for action in expected {
        if matches!(action, "bot.update" | "bot.delete" | "auth.login") {
            continue; // covered by the test above
        }
        assert!(
            actions.contains(action),
            "no audit entry for {action}: {actions:?}"
        );
    }
    let plan = entries
        .iter()
        .find(|e| e.action == "tenant.plan.set")
        .unwrap();
    assert_eq!(plan.actor_type, "operator");
    // The crawl of a dead address fails; wait for it.
    app.expect_failed_jobs();
    app.wait_idle().await;
}

/// Entries say what changed: the fields of an update with their old and new
/// values, what a creation set and a deletion removed; never a secret.
#[tokio::test]
async fn entries_record_the_changed_fields_without_secrets() {
    let app = spawn_app().await;
    let owner = app.signup("changes@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    let (status, _) = app
        .patch(
            &format!("/api/v1/bots/{bot}"),
            &owner.token,
            serde_json::json!({"name": "Helpdesk", "public": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, key) = app
        .post(
            "/api/v1/api-keys",
            &owner.token,
            serde_json::json!({"name": "ci", "role": "editor"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, page) = app.get("/api/v1/admin/audit-logs", &owner.token).await;
    let entry = |action: &str| {
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {page}"))
            .clone()
    };
    let update = entry("bot.update");
    assert_eq!(
        update["changes"],
        serde_json::json!({
            "name": {"old": "Support", "new": "Helpdesk"},
            "public": {"old": false, "new": true},
        })
    );
    assert_eq!(
        entry("bot.create")["changes"]["name"],
        serde_json::json!({"new": "Support"})
    );
    let created_key = entry("api_key.create");
    assert_eq!(created_key["changes"]["name"]["new"], "ci");
    let trail = page.to_string();
    assert!(
        !trail.contains(key["key"].as_str().unwrap()),
        "the key itself is never audited"
    );
}
