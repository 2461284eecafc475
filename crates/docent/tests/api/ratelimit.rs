//! Rate limits: strict per-IP limits on signing in, per-credential limits on
//! the API, 429 with `Retry-After` and `X-RateLimit-*` headers.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn failed_logins_are_limited_per_account_with_retry_after() {
    let app = spawn_app_with(|c| c.limits.sign_in_per_minute = 3).await;
    app.signup("ann@acme.io").await;
    app.signup("bob@acme.io").await;
    // Good logins from one address are not throttled.
    for _ in 0..10 {
        let (status, _) = app.login("ann@acme.io", "password123").await;
        assert_eq!(status, StatusCode::OK);
    }
    for _ in 0..3 {
        let (status, _) = app.login("ann@acme.io", "wrong-password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Ann's failures are used up: refused even with the right password.
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "Ann@Acme.io ", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Bob, from the same address, still signs in.
    let (status, _) = app.login("bob@acme.io", "password123").await;
    assert_eq!(status, StatusCode::OK);
    // Guessing across many accounts from one address hits the address's
    // limit (five times the account's).
    let mut statuses = Vec::new();
    for i in 0..16 {
        let (status, _) = app.login(&format!("nobody{i}@acme.io"), "guess").await;
        statuses.push(status.as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count(),
        12,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        4,
        "{statuses:?}"
    );
    // Health checks are never limited.
    let (status, _) = app.get("/api/v1/health", "").await;
    assert_eq!(status, StatusCode::OK);
}

/// Refreshes are limited per login (token family), and unknown tokens count
/// as failed sign-ins of the address.
#[tokio::test]
async fn refreshes_are_limited_per_login() {
    let app = spawn_app_with(|c| c.limits.sign_in_per_minute = 3).await;
    // An address no other test signs in with: on the scale-out run every
    // app shares one Redis, where sign-in budgets are keyed by address.
    let ann = app.signup("ann.refresh@acme.io").await;
    let mut token = ann.refresh.clone();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, body) = app
            .call(
                reqwest::Method::POST,
                "/api/v1/auth/refresh",
                None,
                Some(json!({"refresh_token": token})),
            )
            .await;
        statuses.push(status.as_u16());
        if status == StatusCode::OK {
            token = body["refresh_token"].as_str().unwrap().to_string();
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    // Another login of the same user has its own budget.
    let (_, other) = app.login("ann.refresh@acme.io", "password123").await;
    let (status, _) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": other["refresh_token"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn each_credential_has_its_own_budget() {
    let app = spawn_app_with(|c| c.limits.credential_per_minute = 5).await;
    let ann = app.signup("ann@acme.io").await;
    let bob = app.signup("bob@acme.io").await;
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let res = app
            .client
            .get(app.url("/api/v1/bots"))
            .bearer_auth(&ann.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-ratelimit-limit"], "5");
        remaining.push(
            res.headers()["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .parse::<u32>()
                .unwrap(),
        );
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    let (status, _) = app.get("/api/v1/bots", &ann.token).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = app.get("/api/v1/bots", &bob.token).await;
    assert_eq!(status, StatusCode::OK, "another credential is not affected");
}

/// The same credential spelled differently shares one bucket; a junk bearer
/// counts against the caller's IP, as no credential would; and guesses at
/// the operator's token are limited per IP.
#[tokio::test]
async fn limits_key_on_the_parsed_credential_and_fall_back_to_the_ip() {
    let app = spawn_app_with(|c| {
        c.limits.credential_per_minute = 4;
        c.limits.ip_per_minute = 3;
        c.limits.sign_in_per_minute = 3;
        c.auth.admin_token = Some(docent_core::config::Secret::new(
            "operator-token-0123456789",
        ));
    })
    .await;
    let ann = app.signup("ann@acme.io").await;
    let spellings = [
        format!("Bearer {}", ann.token),
        format!("bEaReR {}", ann.token),
        format!("BEARER   {}  ", ann.token),
        format!("bearer {}", ann.token),
    ];
    for header in &spellings {
        let res = app
            .client
            .get(app.url("/api/v1/bots"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{header}");
    }
    let res = app
        .client
        .get(app.url("/api/v1/bots"))
        .header("authorization", format!("BeArEr {}", ann.token))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "one bucket for every spelling"
    );

    // Made-up bearers on an open route: each would be a fresh bucket if
    // keyed raw; they share the IP's budget of 3.
    let mut statuses = Vec::new();
    for i in 0..5 {
        let res = app
            .client
            .get(app.url("/api/v1/widget/00000000-0000-0000-0000-000000000000/config"))
            .header("authorization", format!("Bearer junk-{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        2,
        "{statuses:?}"
    );

    // Guessing the operator's token.
    let mut statuses = Vec::new();
    for i in 0..5 {
        let res = app
            .client
            .put(app.url("/api/v1/platform/tenants/00000000-0000-0000-0000-000000000000/plan"))
            .header("authorization", format!("Bearer guess-{i}"))
            .json(&json!({"plan": "pro"}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        2,
        "{statuses:?}"
    );
}
