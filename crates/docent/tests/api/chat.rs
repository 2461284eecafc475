//! Chat over HTTP: grounded, cited answers from a fake OpenAI-compatible model
//! and, without one, extractive answers; "I don't know"; history in the
//! prompt; sessions and messages; isolation of bodies that carry ids.

use docent_testkit::{FakeOpenAi, Script};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Tenant, TestApp, spawn_app, spawn_app_with};

async fn seeded(app: &TestApp) -> (Tenant, String) {
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    app.add_text(
        &owner.token,
        &bot,
        "Refund policy",
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
    (owner, bot)
}

async fn ask(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, answer) = app.post("/api/v1/chat", token, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn markers(answer: &str) -> Vec<u64> {
    answer
        .split('[')
        .skip(1)
        .filter_map(|s| s.split(']').next()?.parse().ok())
        .collect()
}

#[tokio::test]
async fn without_a_model_answers_are_extractive_and_cited() {
    let app = spawn_app().await;
    let (owner, bot) = seeded(&app).await;
    let answer = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "How many days do refunds take?"}),
    )
    .await;
    assert_eq!(answer["mode"], "extractive");
    let text = answer["answer"].as_str().unwrap();
    assert!(
        text.contains("Refunds are granted within thirty days of purchase."),
        "{text}"
    );
    let citations = answer["citations"].as_array().unwrap();
    assert!(!citations.is_empty());
    let ns: Vec<u64> = citations.iter().map(|c| c["n"].as_u64().unwrap()).collect();
    for n in markers(text) {
        assert!(ns.contains(&n), "[{n}] has no citation: {answer}");
    }
    let refund = citations
        .iter()
        .find(|c| c["title"] == "Refund policy")
        .expect("refund passage cited");
    for field in [
        "n",
        "document_id",
        "chunk_id",
        "title",
        "source_url",
        "snippet",
        "score",
    ] {
        assert!(refund.get(field).is_some(), "{field}: {refund}");
    }
    assert_eq!(answer["usage"]["prompt_tokens"], 0);
    assert!(answer["session_id"].is_string() && answer["message_id"].is_string());
}

#[tokio::test]
async fn with_a_model_the_prompt_is_grounded_and_the_answer_cited() {
    let fake = FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| {
        c.llm.base_url = Some(base);
        c.llm.allowed_models = Some("gpt-4o-mini, acme-model".into());
    })
    .await;
    let (owner, bot) = seeded(&app).await;
    // A model the operator does not allow is refused by name.
    let (status, body) = app
        .patch(
            &format!("/api/v1/bots/{bot}"),
            &owner.token,
            json!({"model": "o1-pro"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("acme-model")
    );
    app.patch(
        &format!("/api/v1/bots/{bot}"),
        &owner.token,
        json!({"system_prompt": "You are Acme's helper.", "model": "acme-model"}),
    )
    .await;
    let first = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "How long do refunds take?"}),
    )
    .await;
    assert_eq!(first["mode"], "generative");
    assert_eq!(
        first["answer"],
        "Refunds are granted within thirty days [1]."
    );
    let citations = first["citations"].as_array().unwrap();
    assert_eq!(citations.len(), 1);
    assert_eq!(citations[0]["n"], 1);
    assert!(first["usage"]["completion_tokens"].as_u64().unwrap() > 0);

    let sent = &fake.chat_requests().await[0];
    assert_eq!(sent["model"], "acme-model");
    let system = sent["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("You are Acme's helper.") && system.contains("[1]"),
        "{system}"
    );
    let knowledge = sent["messages"][1]["content"].as_str().unwrap();
    assert!(
        knowledge.starts_with("<knowledge>") && knowledge.contains("thirty days"),
        "{knowledge}"
    );
    assert_eq!(
        sent["messages"].as_array().unwrap().last().unwrap()["content"],
        "How long do refunds take?"
    );

    // A follow-up carries the conversation.
    let session = first["session_id"].as_str().unwrap();
    let second = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "session_id": session, "message": "And shipping?"}),
    )
    .await;
    assert_eq!(second["session_id"], session);
    let sent = fake.chat_requests().await.last().cloned().unwrap();
    let contents: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert!(
        contents.contains(&"How long do refunds take?"),
        "history in the prompt: {contents:?}"
    );
    assert!(contents.contains(&"Refunds are granted within thirty days [1]."));

    let (status, messages) = app
        .get(
            &format!("/api/v1/chat/sessions/{session}/messages"),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let messages = messages["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(messages[1]["citations"][0]["n"], 1);
    let (_, sessions) = app
        .get(&format!("/api/v1/chat/sessions?bot_id={bot}"), &owner.token)
        .await;
    assert_eq!(sessions["sessions"][0]["id"], session);
    assert_eq!(sessions["sessions"][0]["message_count"], 4);
    for field in [
        "id",
        "bot_id",
        "visitor",
        "message_count",
        "created_at",
        "last_message_at",
    ] {
        assert!(sessions["sessions"][0].get(field).is_some(), "{field}");
    }
}

#[tokio::test]
async fn the_model_cannot_cite_what_was_not_retrieved() {
    let fake = FakeOpenAi::start_with(Script {
        reply: Some("Thirty days [1], says a source [9].".into()),
        ..Script::default()
    })
    .await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| c.llm.base_url = Some(base)).await;
    let (owner, bot) = seeded(&app).await;
    let answer = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "refunds?"}),
    )
    .await;
    assert_eq!(answer["answer"], "Thirty days [1], says a source .");
    assert_eq!(answer["citations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn nothing_relevant_means_i_dont_know_without_calling_the_model() {
    let fake = FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| c.llm.base_url = Some(base)).await;
    let (owner, bot) = seeded(&app).await;
    app.patch(
        &format!("/api/v1/bots/{bot}"),
        &owner.token,
        json!({"retrieval": {"mode": "hybrid", "top_k": 5, "min_score": 0.95}}),
    )
    .await;
    let answer = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "What is the capital of Peru?"}),
    )
    .await;
    assert_eq!(answer["answer"], docent_service::DONT_KNOW);
    assert!(answer["citations"].as_array().unwrap().is_empty());
    assert!(fake.chat_requests().await.is_empty());
}

#[tokio::test]
async fn a_failing_model_answers_503_and_stores_nothing() {
    let fake = FakeOpenAi::start_with(Script {
        fail_first: 1000,
        fail_status: 500,
        ..Script::default()
    })
    .await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| c.llm.base_url = Some(base)).await;
    let (owner, bot) = seeded(&app).await;
    let (status, body) = app
        .post(
            "/api/v1/chat",
            &owner.token,
            json!({"bot_id": bot, "message": "refunds?"}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    let (_, sessions) = app.get("/api/v1/chat/sessions", &owner.token).await;
    assert!(sessions["sessions"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_questions_and_other_tenants_ids_are_refused() {
    let app = spawn_app().await;
    let (owner, bot) = seeded(&app).await;
    for body in [
        json!({"bot_id": bot, "message": "  "}),
        json!({"bot_id": bot, "message": "x".repeat(4001)}),
        json!({"bot_id": bot}),
    ] {
        let (status, err) = app.post("/api/v1/chat", &owner.token, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    }
    let session = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "refunds?"}),
    )
    .await["session_id"]
        .clone();

    let other = app.signup("eve@evil.io").await;
    let own_bot = app.create_bot(&other.token, "Mine").await;
    let (status, _) = app
        .post(
            "/api/v1/chat",
            &other.token,
            json!({"bot_id": bot, "message": "refunds?"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            "/api/v1/chat",
            &other.token,
            json!({"bot_id": own_bot, "session_id": session, "message": "hi"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(&format!("/api/v1/chat/sessions?bot_id={bot}"), &other.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, mine) = app.get("/api/v1/chat/sessions", &other.token).await;
    assert!(mine["sessions"].as_array().unwrap().is_empty());
    // A session of another bot of the same tenant cannot be continued either.
    let second_bot = app.create_bot(&owner.token, "Second").await;
    let (status, _) = app
        .post(
            "/api/v1/chat",
            &owner.token,
            json!({"bot_id": second_bot, "session_id": session, "message": "hi"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `(event, data)` pairs of a server-sent-events body.
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|frame| {
            let mut name = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = serde_json::from_str(v.trim()).ok();
                }
            }
            Some((name?, data?))
        })
        .collect()
}

async fn stream_body(app: &TestApp, token: &str, body: Value, accept: Option<&str>) -> String {
    let mut req = app
        .client
        .post(app.url("/api/v1/chat"))
        .bearer_auth(token)
        .json(&body);
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    res.text().await.unwrap()
}

#[tokio::test]
async fn streamed_answers_send_meta_deltas_then_done() {
    let fake = FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| c.llm.base_url = Some(base)).await;
    let (owner, bot) = seeded(&app).await;
    let body = stream_body(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "How long do refunds take?", "stream": true}),
        None,
    )
    .await;
    let events = sse_events(&body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"meta"), "{body}");
    assert_eq!(names.last(), Some(&"done"), "{body}");
    assert!(
        names[1..names.len() - 1].iter().all(|n| *n == "delta") && names.len() > 3,
        "{names:?}"
    );
    let (_, meta) = &events[0];
    let session = meta["session_id"].as_str().unwrap();
    assert!(!meta["citations"].as_array().unwrap().is_empty());
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "delta")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Refunds are granted within thirty days [1].");
    let (_, done) = events.last().unwrap();
    assert!(
        done["message_id"].is_string() && done["usage"]["completion_tokens"].as_u64().unwrap() > 0
    );
    let (_, messages) = app
        .get(
            &format!("/api/v1/chat/sessions/{session}/messages"),
            &owner.token,
        )
        .await;
    assert_eq!(messages["messages"][1]["content"], text);
    assert_eq!(messages["messages"][1]["id"], done["message_id"]);
    assert_eq!(messages["messages"][1]["partial"], false);
}

#[tokio::test]
async fn accept_event_stream_streams_extractive_answers_too() {
    let app = spawn_app().await;
    let (owner, bot) = seeded(&app).await;
    let body = stream_body(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "refunds?"}),
        Some("text/event-stream"),
    )
    .await;
    let names: Vec<String> = sse_events(&body).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["meta", "delta", "done"], "{body}");
}

#[tokio::test]
async fn a_model_timeout_ends_the_stream_with_an_error_event() {
    let fake = FakeOpenAi::start_with(Script {
        delay: std::time::Duration::from_secs(30),
        ..Script::default()
    })
    .await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| {
        c.llm.base_url = Some(base);
        c.llm.timeout_secs = 1;
    })
    .await;
    let (owner, bot) = seeded(&app).await;
    let body = stream_body(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "refunds?", "stream": true}),
        None,
    )
    .await;
    let events = sse_events(&body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["meta", "error"], "{body}");
    assert_eq!(events[1].1["error"]["code"], "unavailable");
}

#[tokio::test]
async fn a_client_that_leaves_cancels_the_model_and_keeps_the_partial_answer() {
    let fake = FakeOpenAi::start_with(Script {
        chunk_delay: std::time::Duration::from_millis(300),
        ..Script::default()
    })
    .await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| c.llm.base_url = Some(base)).await;
    let (owner, bot) = seeded(&app).await;
    let mut res = app
        .client
        .post(app.url("/api/v1/chat"))
        .bearer_auth(&owner.token)
        .json(&json!({"bot_id": bot, "message": "How long do refunds take?", "stream": true}))
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("event: delta") {
        let chunk = res.chunk().await.unwrap().expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let session = sse_events(&seen)[0].1["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    drop(res);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, messages) = app
            .get(
                &format!("/api/v1/chat/sessions/{session}/messages"),
                &owner.token,
            )
            .await;
        // The session is stored with the answer, so it may not exist yet.
        if let Some(answer) = messages["messages"].as_array().and_then(|m| m.get(1)) {
            assert_eq!(answer["partial"], true, "{answer}");
            let text = answer["content"].as_str().unwrap();
            assert!(
                !text.is_empty()
                    && text.len() < "Refunds are granted within thirty days [1].".len(),
                "{text}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no partial answer stored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    while fake.abandoned_streams() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the model request was not cancelled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn websocket_chat_sends_the_same_events_as_json_frames() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let fake = FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| c.llm.base_url = Some(base)).await;
    let (owner, bot) = seeded(&app).await;

    // Without a credential the upgrade is refused.
    let url = format!("ws://{}/api/v1/chat/ws", app.addr);
    assert!(
        tokio_tungstenite::connect_async(url.as_str())
            .await
            .is_err()
    );

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?token={}", owner.token))
        .await
        .unwrap();
    let next_answer = async |ws: &mut tokio_tungstenite::WebSocketStream<_>| -> Vec<Value> {
        let mut frames = Vec::new();
        while let Some(Ok(Message::Text(text))) = ws.next().await {
            let frame: Value = serde_json::from_str(&text).unwrap();
            let last = frame["type"] == "done" || frame["type"] == "error";
            frames.push(frame);
            if last {
                break;
            }
        }
        frames
    };
    ws.send(Message::Text(
        json!({"type": "message", "bot_id": bot, "message": "How long do refunds take?"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let frames = next_answer(&mut ws).await;
    let types: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"meta"));
    assert_eq!(types.last(), Some(&"done"), "{frames:?}");
    let text: String = frames
        .iter()
        .filter(|f| f["type"] == "delta")
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Refunds are granted within thirty days [1].");
    // The grounding check comes with `done`, as over SSE.
    let done = frames.last().unwrap();
    assert_eq!(done["grounding"]["supported"], 1, "{done}");
    assert_eq!(done["grounding"]["unsupported"], json!([]));
    let session = frames[0]["session_id"].clone();

    // The next message continues the same session without naming it.
    ws.send(Message::Text(
        json!({"type": "message", "message": "And shipping?"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let frames = next_answer(&mut ws).await;
    assert_eq!(frames[0]["session_id"], session);

    // Bad frames get an error frame and the socket stays usable.
    ws.send(Message::Text("not json".into())).await.unwrap();
    let frames = next_answer(&mut ws).await;
    assert_eq!(frames[0]["type"], "error");
    assert_eq!(frames[0]["error"]["code"], "invalid_request");
    let other = app.signup("eve@evil.io").await;
    let (mut ws2, _) = tokio_tungstenite::connect_async(format!("{url}?token={}", other.token))
        .await
        .unwrap();
    ws2.send(Message::Text(
        json!({"type": "message", "bot_id": bot, "message": "hi"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let frames = next_answer(&mut ws2).await;
    assert_eq!(frames[0]["error"]["code"], "not_found");
}

#[tokio::test]
async fn follow_ups_are_rewritten_by_the_model_and_a_500_is_retried() {
    // The first model call fails with 500 and is retried transparently.
    let fake = FakeOpenAi::start_with(Script {
        fail_first: 1,
        fail_status: 500,
        ..Script::default()
    })
    .await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| c.llm.base_url = Some(base)).await;
    let (owner, bot) = seeded(&app).await;
    let first = ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "message": "How long do refunds take?"}),
    )
    .await;
    assert_eq!(
        first["answer"],
        "Refunds are granted within thirty days [1]."
    );
    assert_eq!(
        fake.chat_requests().await.len(),
        1,
        "one question, one answer"
    );

    ask(
        &app,
        &owner.token,
        json!({"bot_id": bot, "session_id": first["session_id"], "message": "and for gifts?"}),
    )
    .await;
    let sent = fake.chat_requests().await;
    assert_eq!(
        sent.len(),
        3,
        "a follow-up is first rewritten, then answered"
    );
    let rewrite = sent[1]["messages"][1]["content"].as_str().unwrap();
    assert!(
        rewrite.contains("User: How long do refunds take?")
            && rewrite.ends_with("Last question: and for gifts?"),
        "{rewrite}"
    );
}
