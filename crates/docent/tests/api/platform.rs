//! The operator's plan endpoint: only `DOCENT_ADMIN_TOKEN` may use it.

use docent_core::config::Secret;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

const OPERATOR: &str = "operator-token-0123456789";

#[tokio::test]
async fn the_operator_sets_plans_and_tenants_cannot() {
    let app = spawn_app_with(|c| c.auth.admin_token = Some(Secret::new(OPERATOR))).await;
    let owner = app.signup("ann@acme.io").await;
    let path = format!("/api/v1/platform/tenants/{}/plan", owner.id);

    let call = |token: String, plan: &'static str| {
        let req = app
            .client
            .put(app.url(&path))
            .bearer_auth(token)
            .json(&json!({"plan": plan}));
        async move { req.send().await.unwrap() }
    };
    let res = call(OPERATOR.into(), "pro").await;
    assert_eq!(res.status(), StatusCode::OK);
    let tenant: serde_json::Value = res.json().await.unwrap();
    assert_eq!(tenant["plan"], "pro");
    assert_eq!(tenant["id"], owner.id.as_str());
    let (_, me) = app.get("/api/v1/auth/me", &owner.token).await;
    assert_eq!(me["tenant"]["plan"], "pro", "{me}");

    // A tenant's own owner token, or a wrong token, may not.
    assert_eq!(
        call(owner.token.clone(), "enterprise").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call("operator-token-wrong".into(), "enterprise")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(OPERATOR.into(), "platinum").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let missing = format!("/api/v1/platform/tenants/{}/plan", uuid_like());
    let res = app
        .client
        .put(app.url(&missing))
        .bearer_auth(OPERATOR)
        .json(&json!({"plan": "pro"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let (_, logs) = app
        .get(
            "/api/v1/admin/audit-logs?action=tenant.plan.set",
            &owner.token,
        )
        .await;
    assert_eq!(logs["entries"][0]["actor"]["type"], "operator");
}

fn uuid_like() -> String {
    "0190a0a0-0000-7000-8000-000000000000".into()
}

#[tokio::test]
async fn without_an_admin_token_the_operator_api_is_off() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let (status, _) = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/platform/tenants/{}/plan", owner.id),
            Some(&owner.token),
            Some(json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
