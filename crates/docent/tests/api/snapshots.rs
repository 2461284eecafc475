//! Snapshots of what clients are written against: the OpenAPI document and
//! the error bodies. A change to either shows up as a diff of the files in
//! `snapshots/` (review and accept it with `cargo insta review`, or
//! `INSTA_UPDATE=always`); CI never writes them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

#[tokio::test]
async fn the_openapi_document_is_pinned() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    insta::assert_json_snapshot!("openapi", doc);
}

/// One request's status and body, as a snapshot case.
async fn case(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &str)>,
) -> Value {
    let mut req = app.client.request(method, app.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some((content_type, body)) = body {
        req = req
            .header("content-type", content_type)
            .body(body.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    json!({"status": status, "body": body})
}

#[tokio::test]
async fn the_error_bodies_are_pinned() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let viewer = app.user_with_role(&owner, "vic@acme.io", "viewer").await;
    let token = Some(owner.token.as_str());
    let json = "application/json";
    let missing_bot = "/api/v1/bots/01900000-0000-7000-8000-000000000000";
    let cases = json!({
        "400 malformed json": case(&app, Method::POST, "/api/v1/bots", token, Some((json, "{"))).await,
        "401 no credential": case(&app, Method::GET, "/api/v1/bots", None, None).await,
        "401 bad credential": case(&app, Method::GET, "/api/v1/bots", Some("nope"), None).await,
        "403 viewer writes": case(&app, Method::POST, "/api/v1/bots", Some(&viewer), Some((json, r#"{"name": "x"}"#))).await,
        "404 unknown bot": case(&app, Method::GET, missing_bot, token, None).await,
        "404 unknown route": case(&app, Method::GET, "/api/v1/nothing-here", token, None).await,
        "405 wrong method": case(&app, Method::DELETE, "/api/v1/health", None, None).await,
        "409 email taken": case(&app, Method::POST, "/api/v1/tenants", None, Some((json, r#"{"name": "B", "email": "ann@acme.io", "password": "password123"}"#))).await,
        "415 not json": case(&app, Method::POST, "/api/v1/bots", token, Some(("text/plain", "name=x"))).await,
        "422 invalid field": case(&app, Method::POST, "/api/v1/bots", token, Some((json, r#"{"name": ""}"#))).await,
    });
    insta::assert_json_snapshot!("error_bodies", cases, {
        ".*.body.error.request_id" => "[request id]",
    });
}
