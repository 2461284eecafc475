use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn a_key_is_shown_once_and_listed_without_its_secret() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let (status, created) = app
        .post(
            "/api/v1/api-keys",
            &owner.token,
            json!({"name": "ci", "role": "editor"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("dct_"));
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["role"], "editor");

    let (status, list) = app.get("/api/v1/api-keys", &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    let listed = &list["api_keys"][0];
    assert_eq!(listed["id"], created["id"]);
    assert!(listed.get("key").is_none());
    assert!(!list.to_string().contains(key), "secret leaked in list");
    for field in ["id", "name", "role", "prefix", "created_at", "last_used_at"] {
        assert!(listed.get(field).is_some(), "missing {field}");
    }
}

#[tokio::test]
async fn a_key_authenticates_with_its_role_and_records_use() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let (id, key) = app.api_key(&owner.token, "viewer").await;

    let (status, _) = app.get("/api/v1/bots", &key).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post("/api/v1/bots", &key, json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewer key cannot create");

    let (_, me) = app.get("/api/v1/auth/me", &key).await;
    assert!(me["user"].is_null());
    assert_eq!(me["api_key"]["id"], id.as_str());
    assert_eq!(me["role"], "viewer");

    let (_, list) = app.get("/api/v1/api-keys", &owner.token).await;
    assert!(list["api_keys"][0]["last_used_at"].is_string(), "{list}");
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let (id, key) = app.api_key(&owner.token, "editor").await;
    let (status, _) = app.get("/api/v1/bots", &key).await;
    assert_eq!(status, StatusCode::OK);

    let (status, _) = app
        .delete(&format!("/api/v1/api-keys/{id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/api/v1/bots", &key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized");
    let (status, _) = app
        .delete(&format!("/api/v1/api-keys/{id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/v1/api-keys", &owner.token).await;
    assert_eq!(list["api_keys"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn keys_need_admin_and_cannot_exceed_the_creators_role() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let editor = app.user_with_role(&owner, "ed@acme.io", "editor").await;
    let admin = app.user_with_role(&owner, "ad@acme.io", "admin").await;

    let (status, _) = app
        .post(
            "/api/v1/api-keys",
            &editor,
            json!({"name": "k", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            "/api/v1/api-keys",
            &admin,
            json!({"name": "k", "role": "owner"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            "/api/v1/api-keys",
            &admin,
            json!({"name": "k", "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .post(
            "/api/v1/api-keys",
            &admin,
            json!({"name": "  ", "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_made_up_key_is_refused() {
    let app = spawn_app().await;
    let (status, _) = app
        .get(
            "/api/v1/bots",
            "dct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Keys belong to their creator: a key acts at the lower of its own role and
/// its creator's current role, dies with its creator, and a key made by a
/// key belongs to the same person. An admin cannot revoke an owner's key.
#[tokio::test]
async fn keys_act_no_stronger_than_their_creator_and_die_with_them() {
    let app = crate::helpers::spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let (status, admin_user) = app
        .post(
            "/api/v1/users",
            &owner.token,
            json!({"email": "adam@acme.io", "password": "password123", "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let admin_id = admin_user["id"].as_str().unwrap().to_string();
    let (_, login) = app.login("adam@acme.io", "password123").await;
    let admin = login["access_token"].as_str().unwrap().to_string();
    let (_, admin_key) = app.api_key(&admin, "admin").await;
    // A key made with that key belongs to Adam too.
    let (_, child_key) = app.api_key(&admin_key, "editor").await;
    let (status, _) = app.get("/api/v1/users", &admin_key).await;
    assert_eq!(status, StatusCode::OK, "an admin's key acts as admin");

    // Adam is demoted to viewer: his keys act as viewers.
    let (status, _) = app
        .patch(
            &format!("/api/v1/users/{admin_id}"),
            &owner.token,
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/api/v1/users", &admin_key).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no longer admin");
    let (status, _) = app
        .post(
            "/api/v1/users",
            &admin_key,
            json!({"email": "eve@acme.io", "password": "password123", "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "cannot make a new admin");
    let (status, _) = app
        .post("/api/v1/bots", &child_key, json!({"name": "B"}))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the child key is a viewer too"
    );
    let (status, _) = app.get("/api/v1/bots", &admin_key).await;
    assert_eq!(status, StatusCode::OK, "still a viewer");

    // Adam is deleted: his keys stop working.
    let (status, _) = app
        .delete(&format!("/api/v1/users/{admin_id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for key in [&admin_key, &child_key] {
        let (status, _) = app.get("/api/v1/bots", key).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    // An admin cannot revoke the owner's key; the owner can.
    let (owner_key_id, _) = app.api_key(&owner.token, "owner").await;
    let (status, _) = app
        .post(
            "/api/v1/users",
            &owner.token,
            json!({"email": "ada@acme.io", "password": "password123", "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, login) = app.login("ada@acme.io", "password123").await;
    let ada = login["access_token"].as_str().unwrap().to_string();
    let (status, body) = app
        .delete(&format!("/api/v1/api-keys/{owner_key_id}"), &ada)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (owner_editor_key, _) = app.api_key(&owner.token, "editor").await;
    let (status, _) = app
        .delete(&format!("/api/v1/api-keys/{owner_editor_key}"), &ada)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nor any key the owner made");
    let (status, _) = app
        .delete(&format!("/api/v1/api-keys/{owner_key_id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
