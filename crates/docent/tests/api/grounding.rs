//! The grounding check: every sentence of a generated answer against the
//! passages it cites, flagged or dropped as the bot says, on every
//! transport, stored with the message and shown in its trace.

use docent_testkit::{FakeOpenAi, Script};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Tenant, TestApp, spawn_app_with};

const SUPPORTED: &str = "Refunds are granted within thirty days of purchase [1].";
const INVENTED: &str = "Orders ship to the moon for free on Sundays [1].";

async fn app_replying(reply: &str) -> (TestApp, FakeOpenAi) {
    let fake = FakeOpenAi::start_with(Script {
        reply: Some(reply.to_string()),
        ..Script::default()
    })
    .await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| c.llm.base_url = Some(base)).await;
    (app, fake)
}

async fn seeded(app: &TestApp, unsupported: &str) -> (Tenant, String) {
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    let (status, body) = app
        .patch(
            &format!("/api/v1/bots/{bot}"),
            &owner.token,
            json!({"unsupported_sentences": unsupported}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["unsupported_sentences"], unsupported);
    app.add_text(
        &owner.token,
        &bot,
        "Refund policy",
        "Refunds are granted within thirty days of purchase.",
    )
    .await;
    (owner, bot)
}

const QUESTION: &str = "How many days do I have to get a refund?";

async fn ask(app: &TestApp, token: &str, bot: &str) -> Value {
    let (status, answer) = app
        .post(
            "/api/v1/chat",
            token,
            json!({"bot_id": bot, "message": QUESTION}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// The deltas' text and the `done` event of a streamed answer.
async fn ask_streamed(app: &TestApp, token: &str, bot: &str) -> (String, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/chat"))
        .bearer_auth(token)
        .json(&json!({"bot_id": bot, "message": QUESTION, "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    let mut text = String::new();
    let mut done = Value::Null;
    for frame in body.split("\n\n") {
        let name = frame.lines().find_map(|l| l.strip_prefix("event:"));
        let data = frame.lines().find_map(|l| l.strip_prefix("data:"));
        let (Some(name), Some(data)) = (name, data) else {
            continue;
        };
        let data: Value = serde_json::from_str(data.trim()).unwrap();
        match name.trim() {
            "delta" => text.push_str(data["text"].as_str().unwrap()),
            "done" => done = data,
            other => assert_ne!(other, "error", "{data}"),
        }
    }
    (text, done)
}

async fn stored_answer(app: &TestApp, token: &str, session: &Value) -> Value {
    let path = format!(
        "/api/v1/chat/sessions/{}/messages",
        session.as_str().unwrap()
    );
    let (status, messages) = app.get(&path, token).await;
    assert_eq!(status, StatusCode::OK, "{messages}");
    messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|m| m["role"] == "assistant")
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn unsupported_sentences_are_flagged_in_the_answer_the_message_and_the_trace() {
    let (app, _fake) = app_replying(&format!("{SUPPORTED} {INVENTED} Thanks!")).await;
    let (owner, bot) = seeded(&app, "flag").await;

    let answer = ask(&app, &owner.token, &bot).await;
    assert!(
        answer["answer"].as_str().unwrap().contains("moon"),
        "{answer}"
    );
    let g = &answer["grounding"];
    assert_eq!(g["supported"], 1, "{answer}");
    assert_eq!(g["unsupported"], json!([1]), "{answer}");
    assert_eq!(g["action"], "flag");
    assert_eq!(g["flagged"], json!([INVENTED]));
    let score = g["score"].as_f64().unwrap();
    assert!(score > 0.0 && score < 1.0, "{g}");

    let stored = stored_answer(&app, &owner.token, &answer["session_id"]).await;
    assert_eq!(stored["grounding"], *g);

    let path = format!(
        "/api/v1/chat/messages/{}/trace",
        answer["message_id"].as_str().unwrap()
    );
    let (status, trace) = app.get(&path, &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    let sentences = trace["grounding"]["sentences"].as_array().unwrap();
    assert_eq!(sentences.len(), 3, "{trace}");
    assert_eq!(sentences[0]["supported"], true);
    assert_eq!(sentences[0]["cites"], json!([1]));
    assert_eq!(sentences[0]["passage"], 1);
    assert_eq!(sentences[1]["supported"], false);
    assert!(
        sentences[1]["score"].as_f64().unwrap() < trace["grounding"]["threshold"].as_f64().unwrap()
    );
    // "Thanks!" makes no claim: it is not judged.
    assert_eq!(sentences[2]["supported"], Value::Null);
    assert!(trace["timings_ms"]["grounding"].as_f64().unwrap() >= 0.0);

    // The stream's `done` carries the same check.
    let (text, done) = ask_streamed(&app, &owner.token, &bot).await;
    assert!(text.contains("moon"));
    assert_eq!(done["grounding"]["unsupported"], json!([1]), "{done}");
    assert_eq!(done["grounding"]["flagged"], json!([INVENTED]));
}

#[tokio::test]
async fn a_bot_that_drops_unsupported_sentences_never_sends_them() {
    let (app, _fake) = app_replying(&format!("{SUPPORTED} {INVENTED} Thanks!")).await;
    let (owner, bot) = seeded(&app, "drop").await;
    let kept = format!("{SUPPORTED} Thanks!");

    let answer = ask(&app, &owner.token, &bot).await;
    assert_eq!(answer["answer"], kept.as_str(), "{answer}");
    assert_eq!(answer["answered"], true);
    assert_eq!(answer["grounding"]["action"], "drop");
    assert_eq!(answer["grounding"]["unsupported"], json!([1]));
    assert_eq!(answer["grounding"]["flagged"], json!([]));
    assert_eq!(answer["citations"].as_array().unwrap().len(), 1);

    // Streamed word by word, the invented sentence is held back, checked
    // and never sent; what was sent is what is stored.
    let (text, done) = ask_streamed(&app, &owner.token, &bot).await;
    assert_eq!(text, kept, "{done}");
    assert_eq!(done["grounding"]["unsupported"], json!([1]), "{done}");
    let session = answer["session_id"].clone();
    let stored = stored_answer(&app, &owner.token, &session).await;
    assert_eq!(stored["content"], kept.as_str());
    assert_eq!(stored["grounding"], answer["grounding"]);
    let path = format!(
        "/api/v1/chat/messages/{}/trace",
        done["message_id"].as_str().unwrap()
    );
    let (_, trace) = app.get(&path, &owner.token).await;
    let sentences = trace["grounding"]["sentences"].as_array().unwrap();
    assert_eq!(sentences[1]["dropped"], true, "{trace}");
    assert_eq!(sentences[0]["dropped"], false);
}

#[tokio::test]
async fn when_every_sentence_is_dropped_the_bot_says_it_does_not_know() {
    let (app, _fake) = app_replying(INVENTED).await;
    let (owner, bot) = seeded(&app, "drop").await;
    for answer in [ask(&app, &owner.token, &bot).await, {
        let (text, mut done) = ask_streamed(&app, &owner.token, &bot).await;
        done["answer"] = json!(text);
        done
    }] {
        assert_eq!(answer["answered"], false, "{answer}");
        assert!(
            answer["answer"]
                .as_str()
                .unwrap()
                .starts_with("I don't know")
        );
        assert!(!answer["answer"].as_str().unwrap().contains("moon"));
        assert_eq!(answer["citations"], json!([]));
        assert_eq!(answer["grounding"]["unsupported"], json!([0]));
    }
}
