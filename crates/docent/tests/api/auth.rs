use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn signup_returns_tenant_owner_and_tokens() {
    let app = spawn_app().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/tenants",
            None,
            Some(json!({"name": "Acme", "email": "Ann@Acme.io", "password": "password123"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["tenant"]["name"], "Acme");
    assert_eq!(body["tenant"]["plan"], "free");
    assert_eq!(body["user"]["email"], "ann@acme.io");
    assert_eq!(body["user"]["role"], "owner");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["access_token"].as_str().unwrap().len() > 20);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("dcr_"));
    assert!(body["user"].get("password_hash").is_none());
}

#[tokio::test]
async fn signup_refuses_short_password_bad_email_and_taken_email() {
    let app = spawn_app().await;
    let signup = |email: &str, password: &str| {
        app.call(
            Method::POST,
            "/api/v1/tenants",
            None,
            Some(json!({"name": "Acme", "email": email, "password": password})),
        )
    };
    let (status, body) = signup("a@acme.io", "short").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "invalid_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("password")
    );

    let (status, _) = signup("not-an-email", "password123").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    app.signup("taken@acme.io").await;
    let (status, body) = signup("TAKEN@acme.io", "password123").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "conflict");
}

#[tokio::test]
async fn login_answers_unknown_email_and_wrong_password_identically() {
    let app = spawn_app().await;
    app.signup("ann@acme.io").await;

    let (status, body) = app.login("ann@acme.io", "password123").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["email"], "ann@acme.io");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());

    let (s1, mut wrong) = app.login("ann@acme.io", "wrong-password").await;
    let (s2, mut unknown) = app.login("nobody@acme.io", "password123").await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    wrong["error"]["request_id"] = json!(null);
    unknown["error"]["request_id"] = json!(null);
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let refresh = |token: &str| {
        app.call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": token})),
        )
    };

    let (status, first) = refresh(&owner.refresh).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let second_token = first["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second_token, owner.refresh);
    let (status, _) = app
        .get("/api/v1/auth/me", first["access_token"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);

    // The original token was revoked by its use: presenting it again is reuse.
    let (status, body) = refresh(&owner.refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized");

    // Reuse revoked the family, so the live descendant is dead too.
    let (status, _) = refresh(&second_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Another login is another family and is unaffected.
    let (_, other) = app.login("ann@acme.io", "password123").await;
    let (status, _) = refresh(other["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_use_of_one_refresh_token_yields_one_pair_at_most() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let body = json!({"refresh_token": owner.refresh});
    let (a, b) = tokio::join!(
        app.call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(body.clone())
        ),
        app.call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(body.clone())
        ),
    );
    let ok = [a.0, b.0].iter().filter(|s| **s == StatusCode::OK).count();
    assert!(ok <= 1, "both concurrent refreshes succeeded");
}

#[tokio::test]
async fn logout_ends_the_refresh_family_and_is_idempotent() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let body = json!({"refresh_token": owner.refresh});
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .call(Method::POST, "/api/v1/auth/logout", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn me_shows_user_and_tenant_and_requires_a_valid_token() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let (status, body) = app.get("/api/v1/auth/me", &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["id"], owner.user_id.as_str());
    assert_eq!(body["tenant"]["id"], owner.id.as_str());

    for bad in ["", "garbage", "Bearer", "eyJhbGciOiJIUzI1NiJ9.e30.x"] {
        let (status, body) = app
            .call(Method::GET, "/api/v1/auth/me", Some(bad), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "token {bad:?}");
        assert_error(&body, "unauthorized");
    }
    let (status, _) = app.call(Method::GET, "/api/v1/auth/me", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_for_a_real_user_signed_with_another_secret_is_refused() {
    use docent_core::auth::jwt::JwtKeys;
    use docent_core::config::Secret;
    use docent_core::domain::Role;

    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let (user, tenant) = (owner.user_id.parse().unwrap(), owner.id.parse().unwrap());
    let same = JwtKeys::new(&Secret::new("test-secret-test-secret-test-secret"));
    let forged = JwtKeys::new(&Secret::new("a-different-secret-a-different-secret"));

    let (status, _) = app
        .get(
            "/api/v1/auth/me",
            &same.issue_access(user, tenant, Role::Owner, 60),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "control: the right key is accepted");
    let (status, _) = app
        .get(
            "/api/v1/auth/me",
            &forged.issue_access(user, tenant, Role::Owner, 60),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_a_configured_secret_one_is_generated_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let app = crate::helpers::spawn_app_with(|c| {
        c.auth.jwt_secret = None;
        c.server.data_dir = data.clone();
    })
    .await;
    let owner = app.signup("ann@acme.io").await;
    let secret = std::fs::read_to_string(data.join("jwt_secret")).unwrap();
    assert!(secret.len() >= 32);
    // A second server over the same data dir accepts the first one's tokens.
    let again = crate::helpers::spawn_app_with(|c| {
        c.auth.jwt_secret = None;
        c.server.data_dir = data.clone();
    })
    .await;
    let (status, _) = again.get("/api/v1/auth/me", &owner.token).await;
    assert_eq!(status, StatusCode::OK);
}
