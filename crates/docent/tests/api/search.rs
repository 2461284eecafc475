//! Searching a bot's knowledge base over HTTP: the three modes, the bot's
//! relevance floor, deletion, validation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};

async fn search(app: &TestApp, token: &str, bot: &str, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/bots/{bot}/search"), token, body)
        .await
}

async fn seeded() -> (TestApp, String, String, String) {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "B").await;
    let (refunds, _) = app
        .add_text(
            &owner.token,
            &bot,
            "Refunds",
            "Refunds are granted within thirty days of purchase.",
        )
        .await;
    app.add_text(
        &owner.token,
        &bot,
        "Shipping",
        "Parcels ship within three working days to every country.",
    )
    .await;
    app.add_text(
        &owner.token,
        &bot,
        "Security",
        "Passwords are hashed with argon2id and never logged.",
    )
    .await;
    (app, owner.token, bot, refunds)
}

#[tokio::test]
async fn every_mode_finds_the_matching_passage_first() {
    let (app, token, bot, refunds) = seeded().await;
    for mode in ["keyword", "vector", "hybrid"] {
        let (status, body) = search(
            &app,
            &token,
            &bot,
            // Ranking without a floor: the hashing fallback's calibrated
            // vector floor declines nearly everything (its cosine does not
            // separate related from unrelated passages).
            json!({"query": "how many days for refunds", "mode": mode, "min_score": 0.0}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["mode"], mode);
        let results = body["results"].as_array().unwrap();
        assert!(!results.is_empty(), "{mode}: {body}");
        let first = &results[0];
        assert_eq!(first["document_id"], refunds.as_str(), "{mode}: {body}");
        for field in [
            "chunk_id",
            "document_id",
            "title",
            "source_url",
            "text",
            "score",
        ] {
            assert!(first.get(field).is_some(), "{field} missing: {first}");
        }
        assert_eq!(first["title"], "Refunds");
        let scores: Vec<f64> = results
            .iter()
            .map(|r| r["score"].as_f64().unwrap())
            .collect();
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]),
            "{mode}: best first: {scores:?}"
        );
    }
    // The default mode is the bot's (hybrid); top_k bounds the results.
    let (_, body) = search(&app, &token, &bot, json!({"query": "days", "top_k": 1})).await;
    assert_eq!(body["mode"], "hybrid");
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_bots_floor_filters_weak_matches_and_deleted_documents_vanish() {
    let (app, token, bot, refunds) = seeded().await;
    let (status, _) = app
        .patch(
            &format!("/api/v1/bots/{bot}"),
            &token,
            json!({"retrieval": {"mode": "vector", "top_k": 5, "min_score": 0.99}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = search(&app, &token, &bot, json!({"query": "refunds"})).await;
    assert_eq!(body["mode"], "vector");
    assert!(body["results"].as_array().unwrap().is_empty(), "{body}");

    let (status, _) = app
        .patch(
            &format!("/api/v1/bots/{bot}"),
            &token,
            json!({"retrieval": {"mode": "hybrid", "top_k": 5, "min_score": 0.0}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.delete(&format!("/api/v1/docs/{refunds}"), &token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for mode in ["keyword", "vector", "hybrid"] {
        let (_, body) = search(
            &app,
            &token,
            &bot,
            json!({"query": "refunds thirty days", "mode": mode}),
        )
        .await;
        assert!(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["document_id"] != refunds.as_str()),
            "{mode}: {body}"
        );
    }
}

#[tokio::test]
async fn explain_shows_what_each_stage_measured() {
    let (app, token, bot, refunds) = seeded().await;
    let body = json!({"query": "how many days for refunds", "mode": "hybrid", "min_score": 0.0});
    let (status, plain) = search(&app, &token, &bot, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    assert!(plain["results"][0].get("signals").is_none(), "{plain}");

    let mut asked = body;
    asked["explain"] = json!(true);
    let (status, explained) = search(&app, &token, &bot, asked).await;
    assert_eq!(status, StatusCode::OK, "{explained}");
    let first = &explained["results"][0];
    assert_eq!(first["document_id"], refunds.as_str(), "{explained}");
    let s = &first["signals"];
    assert_eq!(s["keyword_rank"], 1, "{s}");
    assert!(s["keyword_score"].as_f64().unwrap() > 0.0, "{s}");
    // It holds "days" and "refunds" of the question's content words.
    let coverage = s["coverage"].as_f64().unwrap();
    assert!(coverage > 0.0 && coverage <= 1.0, "{s}");
    assert!(s["vector_rank"].as_u64().unwrap() >= 1, "{s}");
    assert!((-1.0..=1.0).contains(&s["cosine"].as_f64().unwrap()), "{s}");
    assert!(s["rerank"].is_null(), "no reranker: {s}");
    // The same results, in the same order, with or without the signals.
    let ids = |v: &Value| -> Vec<Value> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["chunk_id"].clone())
            .collect()
    };
    assert_eq!(ids(&plain), ids(&explained));

    // Keyword mode measures no vectors.
    let (_, keyword) = search(
        &app,
        &token,
        &bot,
        json!({"query": "refunds", "mode": "keyword", "explain": true}),
    )
    .await;
    let s = &keyword["results"][0]["signals"];
    assert!(
        s["cosine"].is_null() && s["vector_rank"].is_null(),
        "{keyword}"
    );
}

#[tokio::test]
async fn bad_searches_are_refused() {
    let (app, token, bot, _) = seeded().await;
    for body in [
        json!({"query": "   "}),
        json!({"query": "x", "top_k": 0}),
        json!({"query": "x", "top_k": 51}),
        json!({"query": "x".repeat(2001)}),
    ] {
        let (status, err) = search(&app, &token, &bot, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_error(&err, "invalid_request");
    }
    let (status, _) = search(&app, &token, &bot, json!({"query": "x", "mode": "fuzzy"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = search(&app, &token, &bot, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A query with FTS syntax characters is searched, not parsed.
    let (status, _) = search(&app, &token, &bot, json!({"query": "\"refunds* OR (NEAR"})).await;
    assert_eq!(status, StatusCode::OK);
}
