//! The OpenAI-compatible surface, spoken as the OpenAI SDKs speak it: an API
//! key as bearer, a bot id as `model`, full conversations in `messages`.

use docent_testkit::FakeOpenAi;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

async fn setup(app: &TestApp) -> (String, String) {
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    app.add_text(
        &owner.token,
        &bot,
        "Refund policy",
        "Refunds are granted within thirty days of purchase.",
    )
    .await;
    let (_, key) = app.api_key(&owner.token, "viewer").await;
    (key, bot)
}

async fn completions(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn non_streamed_completions_are_openai_shaped() {
    let app = spawn_app().await;
    let (key, bot) = setup(&app).await;
    let res = completions(
        &app,
        &key,
        json!({"model": bot, "messages": [
        {"role": "system", "content": "ignored: the bot has its own"},
        {"role": "user", "content": "How long do refunds take?"}]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], bot.as_str());
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(body["created"].is_i64());
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert!(
        choice["message"]["content"]
            .as_str()
            .unwrap()
            .contains("thirty days"),
        "{body}"
    );
    assert_eq!(choice["finish_reason"], "stop");
    for field in ["prompt_tokens", "completion_tokens", "total_tokens"] {
        assert!(body["usage"][field].is_u64(), "{field}: {body}");
    }
}

#[tokio::test]
async fn streamed_completions_end_with_done() {
    let fake = FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| c.llm.base_url = Some(base)).await;
    let (key, bot) = setup(&app).await;
    let res = completions(
        &app,
        &key,
        json!({"model": bot, "stream": true, "messages": [
        {"role": "user", "content": "Do you ship abroad?"},
        {"role": "assistant", "content": "Yes, everywhere."},
        {"role": "user", "content": [{"type": "text", "text": "How long do refunds take?"}]}]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let data: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Refunds are granted within thirty days [1].");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(last["usage"]["total_tokens"].as_u64().unwrap() > 0);
    // The conversation the client sent reached the model.
    let sent = fake.chat_requests().await.last().cloned().unwrap();
    let contents: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert!(
        contents.contains(&"Do you ship abroad?") && contents.contains(&"Yes, everywhere."),
        "{contents:?}"
    );
}

#[tokio::test]
async fn models_are_the_tenants_bots_and_others_are_not_found() {
    let app = spawn_app().await;
    let (key, bot) = setup(&app).await;
    let res = app
        .client
        .get(app.url("/v1/models"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [bot.as_str()]);
    assert_eq!(list["data"][0]["object"], "model");

    let other = app.signup("eve@evil.io").await;
    let (_, other_key) = app.api_key(&other.token, "owner").await;
    let res = completions(
        &app,
        &other_key,
        json!({"model": bot, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .client
        .get(app.url("/v1/models"))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    let list: Value = res.json().await.unwrap();
    assert!(list["data"].as_array().unwrap().is_empty());
    let res = completions(
        &app,
        &key,
        json!({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = completions(
        &app,
        &key,
        json!({"model": bot, "messages": [{"role": "assistant", "content": "hi"}]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.client.get(app.url("/v1/models")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
