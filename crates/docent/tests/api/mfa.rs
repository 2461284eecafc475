//! The TOTP second factor: set up by an owner with a code from the secret,
//! then a password alone answers `{mfa_required, mfa_token}` and `POST
//! /auth/mfa` gives the pair for a right code, once; recovery codes work
//! once each; editors cannot set one up; a wrong code or a stale token is
//! 401; turning it off needs a code.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use totp_rs::{Builder, Secret};

use crate::helpers::{TestApp, spawn_app};

/// The code of `secret` for the time step `offset` steps from now.
fn code(secret: &str, offset: i64) -> String {
    let totp = Builder::new()
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let now = chrono::Utc::now().timestamp() + offset * 30;
    totp.generate(now as u64).to_string()
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    app.call(Method::POST, path, token, Some(body)).await
}

#[tokio::test]
async fn an_owner_with_a_second_factor_signs_in_with_a_code_once() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let (status, setup) = post(
        &app,
        "/api/v1/auth/mfa/setup",
        Some(&owner.token),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(
        setup["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Docent:")
    );
    // Until a code confirms it, nothing changes.
    let (_, login) = app.login("ann@acme.io", "password123").await;
    assert!(login["access_token"].is_string(), "{login}");
    let (status, _) = post(
        &app,
        "/api/v1/auth/mfa/enable",
        Some(&owner.token),
        json!({"code": "000000"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let first = code(&secret, 0);
    let (status, enabled) = post(
        &app,
        "/api/v1/auth/mfa/enable",
        Some(&owner.token),
        json!({"code": first}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    let recovery: Vec<String> = enabled["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);

    // A password alone: the challenge, no tokens.
    let (status, challenge) = app.login("ann@acme.io", "password123").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(challenge["mfa_required"], true, "{challenge}");
    assert!(challenge.get("access_token").is_none());
    let mfa_token = challenge["mfa_token"].as_str().unwrap();
    // The challenge's token opens nothing else.
    let (status, _) = app.get("/api/v1/auth/me", mfa_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post(
        &app,
        "/api/v1/auth/mfa",
        None,
        json!({"mfa_token": mfa_token, "code": "123456"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The code the setup used is spent; the next step's is good, once.
    let (status, _) = post(
        &app,
        "/api/v1/auth/mfa",
        None,
        json!({"mfa_token": mfa_token, "code": first}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a code is good once");
    let next = code(&secret, 1);
    let (status, session) = post(
        &app,
        "/api/v1/auth/mfa",
        None,
        json!({"mfa_token": mfa_token, "code": next}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let access = session["access_token"].as_str().unwrap().to_string();
    let (status, _) = app.get("/api/v1/auth/me", &access).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(
        &app,
        "/api/v1/auth/mfa",
        None,
        json!({"mfa_token": mfa_token, "code": next}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed");
    // A recovery code works once, in any case and spacing.
    let (_, challenge) = app.login("ann@acme.io", "password123").await;
    let mfa_token = challenge["mfa_token"].as_str().unwrap();
    let spaced = format!("{} {}", &recovery[0][..5], recovery[0][5..].to_uppercase());
    let (status, _) = post(
        &app,
        "/api/v1/auth/mfa",
        None,
        json!({"mfa_token": mfa_token, "code": spaced}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(
        &app,
        "/api/v1/auth/mfa",
        None,
        json!({"mfa_token": mfa_token, "code": recovery[0]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Off, with a code: a password signs in alone again.
    let (status, _) = app
        .call(
            Method::DELETE,
            "/api/v1/auth/mfa",
            Some(&access),
            Some(json!({"code": "nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .call(
            Method::DELETE,
            "/api/v1/auth/mfa",
            Some(&access),
            Some(json!({"code": recovery[1]})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, login) = app.login("ann@acme.io", "password123").await;
    assert!(login["access_token"].is_string(), "{login}");
    let (_, audit) = app
        .get("/api/v1/admin/audit-logs?action=user.mfa_enable", &access)
        .await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_second_factor_is_for_owners_and_admins() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let editor = app.user_with_role(&owner, "ed@acme.io", "editor").await;
    let (status, _) = post(&app, "/api/v1/auth/mfa/setup", Some(&editor), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, key) = app.api_key(&owner.token, "owner").await;
    let (status, _) = post(&app, "/api/v1/auth/mfa/setup", Some(&key), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a key has no second factor");
    let admin = app.user_with_role(&owner, "adm@acme.io", "admin").await;
    let (status, _) = post(&app, "/api/v1/auth/mfa/setup", Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::OK);
}
