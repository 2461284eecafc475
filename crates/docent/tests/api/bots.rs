use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn bot_lifecycle_with_every_contract_field() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let (status, bot) = app
        .post(
            "/api/v1/bots",
            &owner.token,
            json!({
                "name": "Support",
                "description": "Answers support questions",
                "system_prompt": "Be brief.",
                "welcome_message": "Hi!",
                "model": "gpt-4o-mini",
                "temperature": 0.2,
                "public": true,
                "allowed_origins": ["https://acme.io", "https://*.acme.io"],
                "retrieval": {"mode": "keyword", "top_k": 8, "min_score": 0.1},
                "theme": {"primary": "#123456", "position": "left"}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bot}");
    let id = bot["id"].as_str().unwrap();
    assert_eq!(bot["retrieval"]["mode"], "keyword");
    assert_eq!(bot["retrieval"]["top_k"], 8);
    assert_eq!(bot["theme"]["primary"], "#123456");
    assert_eq!(bot["public"], true);
    assert!(bot["created_at"].is_string());

    let (status, fetched) = app.get(&format!("/api/v1/bots/{id}"), &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["system_prompt"], "Be brief.");
    assert_eq!(fetched["allowed_origins"][1], "https://*.acme.io");

    let (status, patched) = app
        .patch(
            &format!("/api/v1/bots/{id}"),
            &owner.token,
            json!({"name": "Helpdesk", "model": null, "retrieval": {"mode": "vector"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "Helpdesk");
    assert!(patched["model"].is_null());
    assert_eq!(
        patched["description"], "Answers support questions",
        "absent fields stay"
    );
    assert_eq!(patched["retrieval"]["mode"], "vector");
    assert_eq!(
        patched["retrieval"]["top_k"], 5,
        "retrieval is replaced with defaults filled"
    );

    let (status, list) = app.get("/api/v1/bots", &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["bots"].as_array().unwrap().len(), 1);

    let (status, _) = app
        .delete(&format!("/api/v1/bots/{id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get(&format!("/api/v1/bots/{id}"), &owner.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
}

#[tokio::test]
async fn defaults_are_filled_in() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let (_, bot) = app
        .post("/api/v1/bots", &owner.token, json!({"name": "B"}))
        .await;
    assert_eq!(bot["public"], false);
    assert_eq!(bot["allowed_origins"], json!([]));
    assert_eq!(
        bot["retrieval"],
        json!({"mode": "hybrid", "top_k": 5, "min_score": null, "rerank": null})
    );
    assert_eq!(bot["max_tokens"], json!(null));
    assert_eq!(bot["theme"], json!({}));
}

#[tokio::test]
async fn invalid_bots_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "temperature": 3.5}), "temperature"),
        (json!({"name": "x", "retrieval": {"top_k": 0}}), "top_k"),
        (
            json!({"name": "x", "allowed_origins": ["acme.io/path"]}),
            "allowed_origins",
        ),
        (json!({"name": "x", "theme": [1, 2]}), "theme"),
        (
            json!({"name": "x", "retrieval": {"mode": "psychic"}}),
            "mode",
        ),
        (json!({"name": 42}), "name"),
        (
            json!({"name": "x", "unsupported_sentences": "hide"}),
            "unsupported_sentences",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = app.post("/api/v1/bots", &owner.token, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_error(&err, "invalid_request");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(field),
            "{err}"
        );
    }
    let (_, list) = app.get("/api/v1/bots", &owner.token).await;
    assert_eq!(
        list["bots"].as_array().unwrap().len(),
        0,
        "nothing was stored"
    );
}

#[tokio::test]
async fn viewers_read_but_do_not_change_bots() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let id = app.create_bot(&owner.token, "B").await;
    let viewer = app.user_with_role(&owner, "v@acme.io", "viewer").await;
    let editor = app.user_with_role(&owner, "e@acme.io", "editor").await;
    let path = format!("/api/v1/bots/{id}");

    assert_eq!(app.get(&path, &viewer).await.0, StatusCode::OK);
    assert_eq!(app.get("/api/v1/bots", &viewer).await.0, StatusCode::OK);
    assert_eq!(
        app.post("/api/v1/bots", &viewer, json!({"name": "n"}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.patch(&path, &viewer, json!({"name": "n"})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.delete(&path, &viewer).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.patch(&path, &editor, json!({"name": "n"})).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn lists_page_with_limit_and_cursor() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.create_bot(&owner.token, &format!("bot {i}")).await);
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/bots?limit=2".to_string();
    loop {
        let (status, page) = app.get(&path, &owner.token).await;
        assert_eq!(status, StatusCode::OK);
        let bots = page["bots"].as_array().unwrap();
        assert!(bots.len() <= 2);
        seen.extend(bots.iter().map(|b| b["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/bots?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    for bad in ["limit=0", "limit=201", "cursor=nonsense"] {
        let (status, _) = app.get(&format!("/api/v1/bots?{bad}"), &owner.token).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let (status, _) = app.get("/api/v1/bots?limit=abc", &owner.token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
