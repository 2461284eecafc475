use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

async fn raw(
    app: &crate::helpers::TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: &str,
    token: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .body(body.to_string());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

#[tokio::test]
async fn malformed_json_wrong_types_and_missing_fields_are_client_errors() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let json = Some("application/json");
    let post = reqwest::Method::POST;

    let (status, headers, body) = raw(
        &app,
        post.clone(),
        "/api/v1/bots",
        json,
        "{\"name\":",
        Some(&owner.token),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "invalid_request");
    assert_eq!(
        headers["x-request-id"].to_str().unwrap(),
        body["error"]["request_id"]
    );

    let (status, _, body) = raw(
        &app,
        post.clone(),
        "/api/v1/bots",
        json,
        "{\"name\": []}",
        Some(&owner.token),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("name"),
        "{body}"
    );

    let (status, _, body) = raw(
        &app,
        post.clone(),
        "/api/v1/tenants",
        json,
        "{\"name\": \"x\"}",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("email"),
        "{body}"
    );

    let (status, _, body) = raw(
        &app,
        post,
        "/api/v1/bots",
        None,
        "{\"name\": \"x\"}",
        Some(&owner.token),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&body, "unsupported_media_type");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let (status, _, body) = raw(&app, reqwest::Method::GET, "/api/v1/nope", None, "", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
    let (status, _, body) = raw(&app, reqwest::Method::PUT, "/api/v1/health", None, "", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&body, "invalid_request");
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = spawn_app_with(|c| c.server.max_json_body_bytes = 2048).await;
    let owner = app.signup("ann@acme.io").await;
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(10_000));
    let (status, _, body) = raw(
        &app,
        reqwest::Method::POST,
        "/api/v1/bots",
        Some("application/json"),
        &big,
        Some(&owner.token),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&body, "payload_too_large");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_given_one_is_kept() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/health",
        "/api/v1/bots",
        "/nope",
        "/metrics",
        "/openapi.json",
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert!(res.headers().contains_key("x-request-id"), "{path}");
    }
    let res = app
        .client
        .get(app.url("/api/v1/health"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn a_server_fault_answers_500_without_internals() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let app = spawn_app_with(|c| c.server.data_dir = data.clone()).await;
    let owner = app.signup("ann@acme.io").await;

    // Break the database under the running server.
    if app.database_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
        sqlx::query("DROP TABLE bots CASCADE")
            .execute(&pool)
            .await
            .unwrap();
    } else {
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&app.database_url)
            .await
            .unwrap();
        sqlx::query("DROP TABLE bots")
            .execute(&mut conn)
            .await
            .unwrap();
    }

    let (status, body) = app.get("/api/v1/bots", &owner.token).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_error(&body, "internal");
    let text = body.to_string().to_lowercase();
    for leak in ["sqlite", "table", "select", "bots", "/tmp", ".rs"] {
        assert!(!text.contains(leak), "500 body leaks `{leak}`: {body}");
    }
}
