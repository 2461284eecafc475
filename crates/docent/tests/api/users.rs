use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn owner_adds_lists_changes_and_removes_users() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let (status, user) = app
        .post(
            "/api/v1/users",
            &owner.token,
            json!({"email": "bob@acme.io", "password": "password123", "role": "editor"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["role"], "editor");
    let id = user["id"].as_str().unwrap();

    let (status, list) = app.get("/api/v1/users", &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["users"].as_array().unwrap().len(), 2);
    assert!(list["next_cursor"].is_null());

    let (status, changed) = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &owner.token,
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(changed["role"], "viewer");

    let (status, _) = app
        .delete(&format!("/api/v1/users/{id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .delete(&format!("/api/v1/users/{id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn user_management_needs_admin_and_admins_cannot_touch_owners() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let editor = app.user_with_role(&owner, "ed@acme.io", "editor").await;
    let admin = app.user_with_role(&owner, "ad@acme.io", "admin").await;

    let new_user = json!({"email": "x@acme.io", "password": "password123", "role": "viewer"});
    let (status, body) = app.post("/api/v1/users", &editor, new_user.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "forbidden");
    let (status, _) = app.get("/api/v1/users", &editor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = app.post("/api/v1/users", &admin, new_user).await;
    assert_eq!(status, StatusCode::CREATED);
    let as_owner = json!({"email": "y@acme.io", "password": "password123", "role": "owner"});
    let (status, _) = app.post("/api/v1/users", &admin, as_owner).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let owner_path = format!("/api/v1/users/{}", owner.user_id);
    let (status, _) = app
        .patch(&owner_path, &admin, json!({"role": "viewer"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.delete(&owner_path, &admin).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_last_owner_cannot_be_demoted_or_removed() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let path = format!("/api/v1/users/{}", owner.user_id);
    let (status, body) = app
        .patch(&path, &owner.token, json!({"role": "admin"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "conflict");
    let (status, _) = app.delete(&path, &owner.token).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_demoted_or_deleted_user_loses_access_at_once() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let admin = app.user_with_role(&owner, "ad@acme.io", "admin").await;
    let (_, me) = app.get("/api/v1/auth/me", &admin).await;
    let id = me["user"]["id"].as_str().unwrap().to_string();

    let (status, _) = app.get("/api/v1/users", &admin).await;
    assert_eq!(status, StatusCode::OK);
    app.patch(
        &format!("/api/v1/users/{id}"),
        &owner.token,
        json!({"role": "viewer"}),
    )
    .await;
    let (status, _) = app.get("/api/v1/users", &admin).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "old token must carry the new role"
    );

    app.delete(&format!("/api/v1/users/{id}"), &owner.token)
        .await;
    let (status, _) = app.get("/api/v1/bots", &admin).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_role_is_a_validation_error() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let (status, body) = app
        .post(
            "/api/v1/users",
            &owner.token,
            json!({"email": "z@acme.io", "password": "password123", "role": "emperor"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "invalid_request");
}

/// Two owners demoting each other at once: one wins, the other gets 409, and
/// the tenant always keeps an owner.
#[tokio::test]
async fn concurrent_demotions_keep_an_owner() {
    let app = spawn_app().await;
    let ann = app.signup("ann@acme.io").await;
    for round in 0..5 {
        let email = format!("bea{round}@acme.io");
        let (status, bea) = app
            .post(
                "/api/v1/users",
                &ann.token,
                json!({"email": email, "password": "password123", "role": "owner"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{bea}");
        let bea_id = bea["id"].as_str().unwrap().to_string();
        let (_, login) = app.login(&email, "password123").await;
        let bea_token = login["access_token"].as_str().unwrap().to_string();
        let ann_path = format!("/api/v1/users/{}", ann.user_id);
        let bea_path = format!("/api/v1/users/{bea_id}");
        let (a, b) = tokio::join!(
            app.patch(&bea_path, &ann.token, json!({"role": "editor"})),
            app.patch(&ann_path, &bea_token, json!({"role": "editor"}))
        );
        // One wins; the other is refused: 409 when it reached the owner
        // check, 403 when the winner had already demoted its caller.
        let statuses = [a.0.as_u16(), b.0.as_u16()];
        assert_eq!(
            statuses.iter().filter(|&&s| s == 200).count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| [200, 403, 409].contains(s)),
            "round {round}: {statuses:?}"
        );
        let (_, users) = app.get("/api/v1/users", &bea_token).await;
        let (_, users_ann) = app.get("/api/v1/users", &ann.token).await;
        let owners = [users, users_ann]
            .iter()
            .filter_map(|u| u["users"].as_array().cloned())
            .next()
            .unwrap()
            .iter()
            .filter(|u| u["role"] == "owner")
            .count();
        assert_eq!(owners, 1, "round {round}: one owner left");
        if a.0 != StatusCode::OK {
            // Bea demoted Ann: hand ownership back to Ann for the next round.
            let (status, _) = app
                .patch(&ann_path, &bea_token, json!({"role": "owner"}))
                .await;
            assert_eq!(status, StatusCode::OK);
        }
        let (status, _) = app.delete(&bea_path, &ann.token).await;
        assert!(status == StatusCode::NO_CONTENT, "round {round}: {status}");
    }
}
