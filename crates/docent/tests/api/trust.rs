//! Trustworthy answers over HTTP: the bot declines with `answered: false` and
//! no model call when nothing is relevant (with the default, calibrated
//! floor), cites what it answers from even when the model writes no
//! markers, lists the passages it was given as `sources`, and reports an
//! answer cut at `max_tokens` as `finish_reason: "length"` on every
//! transport.

use docent_testkit::{FakeOpenAi, Script};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Tenant, TestApp, spawn_app, spawn_app_with};

/// The three-document knowledge base of a small shop.
async fn shop(app: &TestApp) -> (Tenant, String) {
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    for (title, text) in [
        (
            "Refund policy",
            "Refunds are granted within thirty days of purchase. Send the receipt with the returned item.",
        ),
        (
            "Shipping",
            "Parcels ship within three working days to every country. Tracking numbers arrive by email.",
        ),
        (
            "Support hours",
            "Our support team answers from 9 to 17 on weekdays. Weekend messages are answered on Monday.",
        ),
    ] {
        app.add_text(&owner.token, &bot, title, text).await;
    }
    (owner, bot)
}

async fn ask(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, answer) = app.post("/api/v1/chat", token, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

#[tokio::test]
async fn out_of_scope_questions_are_declined_without_calling_the_model() {
    let fake = FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| c.llm.base_url = Some(base)).await;
    let (owner, bot) = shop(&app).await;
    let (_, config) = app.get(&format!("/api/v1/bots/{bot}"), &owner.token).await;
    assert_eq!(config["retrieval"]["min_score"], Value::Null, "{config}");

    for question in [
        "Who won the 1998 football world cup?",
        "What is the capital of Peru?",
    ] {
        let answer = ask(
            &app,
            &owner.token,
            json!({"bot_id": bot, "message": question}),
        )
        .await;
        assert_eq!(answer["answered"], false, "{question}: {answer}");
        assert_eq!(answer["answer"], docent_service::DONT_KNOW);
        assert_eq!(answer["citations"], json!([]));
        assert_eq!(answer["sources"], json!([]));
    }
    assert!(
        fake.chat_requests().await.is_empty(),
        "the model was called"
    );

    // The stored message says so too.
    let answer = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "Who won the 1998 football world cup?"}),
    )
    .await;
    let session = answer["session_id"].as_str().unwrap();
    let (_, messages) = app
        .get(
            &format!("/api/v1/chat/sessions/{session}/messages"),
            &owner.token,
        )
        .await;
    assert_eq!(messages["messages"][1]["answered"], false, "{messages}");

    // In scope: answered, cited, and the model saw the relevant passage.
    let answer = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "How many days do I have to get a refund?"}),
    )
    .await;
    assert_eq!(answer["answered"], true, "{answer}");
    assert_eq!(answer["citations"][0]["title"], "Refund policy", "{answer}");
    let sources = answer["sources"].as_array().unwrap();
    assert_eq!(sources[0]["title"], "Refund policy", "{answer}");
    assert_eq!(fake.chat_requests().await.len(), 1);
}

#[tokio::test]
async fn scores_are_calibrated_relevance_and_keywords_win_on_the_fallback() {
    let app = spawn_app().await;
    let (owner, bot) = shop(&app).await;
    for mode in ["keyword", "vector", "hybrid"] {
        let (status, body) = app
            .post(
                &format!("/api/v1/bots/{bot}/search"),
                &owner.token,
                json!({"query": "How many days do I have to get a refund?", "mode": mode}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let results = body["results"].as_array().unwrap();
        for r in results {
            let score = r["score"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&score), "{mode}: {r}");
        }
        if mode != "vector" {
            assert_eq!(results[0]["title"], "Refund policy", "{mode}: {body}");
        }
    }
}

#[tokio::test]
async fn extractive_answers_decline_or_quote_only_answering_sentences() {
    let app = spawn_app().await;
    let (owner, bot) = shop(&app).await;
    let answer = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "How many days do I have to get a refund?"}),
    )
    .await;
    assert_eq!(answer["mode"], "extractive");
    assert_eq!(answer["answered"], true);
    assert_eq!(
        answer["answer"],
        "From the knowledge base: \"Refunds are granted within thirty days of purchase.\" [1]"
    );
    assert_eq!(answer["citations"].as_array().unwrap().len(), 1);
    let answer = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "Who won the 1998 football world cup?"}),
    )
    .await;
    assert_eq!(answer["answered"], false, "{answer}");
    assert_eq!(answer["citations"], json!([]));
}

#[tokio::test]
async fn answers_without_markers_are_attributed_to_their_passage() {
    let fake = FakeOpenAi::start_with(Script {
        reply: Some("You can ask for a refund within thirty days of purchase.".into()),
        ..Script::default()
    })
    .await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| c.llm.base_url = Some(base)).await;
    let (owner, bot) = shop(&app).await;
    let answer = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "How many days do I have to get a refund?"}),
    )
    .await;
    let text = answer["answer"].as_str().unwrap();
    let citations = answer["citations"].as_array().unwrap();
    assert_eq!(citations.len(), 1, "{answer}");
    assert_eq!(citations[0]["title"], "Refund policy");
    let n = citations[0]["n"].as_u64().unwrap();
    assert_eq!(
        text,
        format!("You can ask for a refund within thirty days of purchase. [{n}]")
    );
}

#[tokio::test]
async fn answers_cut_at_max_tokens_say_length_on_every_transport() {
    let fake = FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| {
        c.llm.base_url = Some(base);
        c.llm.max_tokens = Some(400);
    })
    .await;
    let (owner, bot) = shop(&app).await;
    let question = "How many days do I have to get a refund?";

    // The instance default reaches the model; the bot's own bound wins.
    let answer = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": question}),
    )
    .await;
    assert_eq!(answer["finish_reason"], "stop", "{answer}");
    assert_eq!(
        fake.chat_requests().await.last().unwrap()["max_tokens"],
        400
    );
    let (status, body) = app
        .patch(
            &format!("/api/v1/bots/{bot}"),
            &owner.token,
            json!({"max_tokens": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["max_tokens"], 3);
    let (status, body) = app
        .patch(
            &format!("/api/v1/bots/{bot}"),
            &owner.token,
            json!({"max_tokens": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let answer = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": question}),
    )
    .await;
    assert_eq!(answer["finish_reason"], "length", "{answer}");
    // Cut after three words; still attributed to its passage.
    assert_eq!(answer["answer"], "Refunds are granted [1]", "{answer}");
    assert_eq!(fake.chat_requests().await.last().unwrap()["max_tokens"], 3);
    let session = answer["session_id"].as_str().unwrap();
    let (_, messages) = app
        .get(
            &format!("/api/v1/chat/sessions/{session}/messages"),
            &owner.token,
        )
        .await;
    assert_eq!(messages["messages"][1]["finish_reason"], "length");

    // Server-sent events: `done` carries it.
    let res = app
        .client
        .post(app.url("/api/v1/chat"))
        .bearer_auth(&owner.token)
        .json(&json!({"bot_id": bot, "message": question, "stream": true}))
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    let done = body
        .split("\n\n")
        .find(|f| f.contains("event: done"))
        .and_then(|f| f.lines().find_map(|l| l.strip_prefix("data:")))
        .map(|d| serde_json::from_str::<Value>(d.trim()).unwrap())
        .unwrap_or_else(|| panic!("no done event: {body}"));
    assert_eq!(done["finish_reason"], "length", "{done}");
    assert_eq!(done["answered"], true);
    assert!(!done["sources"].as_array().unwrap().is_empty());

    // WebSocket: the `done` frame.
    let url = format!("ws://{}/api/v1/chat/ws?token={}", app.addr, owner.token);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::Text(
        json!({"type": "message", "bot_id": bot, "message": question})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let mut done = Value::Null;
    while let Some(Ok(Message::Text(text))) = ws.next().await {
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["type"] == "done" || frame["type"] == "error" {
            done = frame;
            break;
        }
    }
    assert_eq!(done["type"], "done", "{done}");
    assert_eq!(done["finish_reason"], "length", "{done}");

    // The OpenAI-compatible endpoint, plain and streamed.
    let (status, body) = app
        .post(
            "/v1/chat/completions",
            &owner.token,
            json!({"model": bot, "messages": [{"role": "user", "content": question}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["choices"][0]["finish_reason"], "length", "{body}");
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&owner.token)
        .json(&json!({"model": bot, "stream": true, "messages": [{"role": "user", "content": question}]}))
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(body.contains("\"finish_reason\":\"length\""), "{body}");
}

#[tokio::test]
async fn uploaded_html_is_titled_by_its_page_and_keeps_its_file_name() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    let page = b"<html><head><title>Plans and prices</title></head><body>\
        <div class=\"navheader\">Prev | Up | Next</div>\
        <main><p>The team plan costs twelve euros per seat and month.</p></main></body></html>";
    let (status, body) = app
        .upload(&owner.token, &bot, "pricing-page.html", page.to_vec())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job = app
        .wait_job(&owner.token, body["job_id"].as_str().unwrap())
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let (status, body) = app
        .post(
            &format!("/api/v1/bots/{bot}/search"),
            &owner.token,
            json!({"query": "How much does the team plan cost per seat?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = &body["results"][0];
    assert_eq!(first["title"], "Plans and prices", "{body}");
    assert_eq!(first["filename"], "pricing-page.html", "{body}");
    assert!(!first["text"].as_str().unwrap().contains("Prev"), "{body}");
}
