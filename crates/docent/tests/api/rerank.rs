//! Reranking: with a rerank API configured (here the fake model server's
//! `/rerank`, speaking the Cohere/Jina API), searches and chat score the
//! fused candidates again and its relevance orders and floors them; a
//! failing reranker leaves the fused order; `rerank: false` skips it, and
//! asking for it on a server without one is refused.

use docent_testkit::{FakeOpenAi, Script};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn the_reranker_scores_order_and_floor_the_candidates() {
    let fake = FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| {
        c.rerank.base_url = Some(base);
        c.rerank.model = Some("bge-reranker-base".into());
    })
    .await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    for (title, text) in [
        (
            "Refunds",
            "Refunds are granted within thirty days of purchase.",
        ),
        ("Shipping", "Parcels ship within three working days."),
        ("Hours", "Support answers on weekdays from nine to five."),
    ] {
        app.add_text(&owner.token, &bot, title, text).await;
    }
    let search = |body: serde_json::Value| {
        let (app, token, bot) = (&app, owner.token.clone(), bot.clone());
        async move {
            app.post(&format!("/api/v1/bots/{bot}/search"), &token, body)
                .await
        }
    };
    let (status, body) =
        search(json!({"query": "refunds granted within thirty days", "min_score": 0.0})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["title"], "Refunds", "{body}");
    // The fake's relevance: every query word.
    assert_eq!(results[0]["score"], 1.0, "{body}");
    let sent = fake.rerank_requests().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "bge-reranker-base");
    assert_eq!(sent[0]["query"], "refunds granted within thirty days");
    assert!(
        sent[0]["documents"].as_array().unwrap().len() >= 2,
        "{sent:?}"
    );

    // The default floor applies to the reranker's relevance.
    let (_, body) = search(json!({"query": "refunds granted within thirty days"})).await;
    let titles: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Refunds"], "{body}");

    // Turned off per search, and per bot.
    let before = fake.rerank_requests().await.len();
    let (_, body) =
        search(json!({"query": "refunds granted within thirty days", "rerank": false})).await;
    assert_eq!(body["results"][0]["title"], "Refunds", "{body}");
    assert_eq!(fake.rerank_requests().await.len(), before);
    let (status, _) = app
        .patch(
            &format!("/api/v1/bots/{bot}"),
            &owner.token,
            json!({"retrieval": {"mode": "hybrid", "top_k": 5, "min_score": null, "rerank": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let before = fake.rerank_requests().await.len();
    let (status, answer) = app
        .post(
            "/api/v1/chat",
            &owner.token,
            json!({"bot_id": bot, "message": "How many days do refunds take?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(fake.rerank_requests().await.len(), before);

    // A failing reranker leaves the fused order: still an answer, no 5xx.
    fake.set_script(Script {
        fail_first: usize::MAX,
        fail_status: 503,
        ..Script::default()
    })
    .await;
    let (status, body) =
        search(json!({"query": "refunds granted within thirty days", "rerank": true})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["title"], "Refunds", "{body}");
}

#[tokio::test]
async fn asking_for_reranking_without_a_reranker_is_refused() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/bots/{bot}/search"),
            &owner.token,
            json!({"query": "refunds", "rerank": true}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reranker"),
        "{body}"
    );
    let (status, _) = app
        .post(
            &format!("/api/v1/bots/{bot}/search"),
            &owner.token,
            json!({"query": "refunds", "rerank": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}
