//! The OpenAI-compatible surface: each bot is a "model", so the official
//! OpenAI SDKs and tools talk to Docent unchanged (base URL `…/v1`, an API key
//! as the bearer). Answers go through the same retrieval and citation rules
//! as `/api/v1/chat`; every call starts a new stored session, and earlier
//! turns come from the request, as OpenAI clients resend them.

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use docent_core::domain::MessageRole;
use docent_core::ids::BotId;
use docent_core::store::PageRequest;
use docent_service::{AnswerEvent, AskRequest};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::ApiResult;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::Auth;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CompletionRequest {
    /// A bot id.
    pub model: String,
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Value>,
    #[serde(default)]
    pub stream: bool,
}

/// Chat Completions, answered by the bot named in `model`.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", security(("bearer" = [])),
    request_body = CompletionRequest,
    responses((status = 200, description = "OpenAI `chat.completion` (or `chat.completion.chunk` events)", body = Object),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn chat_completions(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<CompletionRequest>,
) -> ApiResult<Response> {
    let bot: BotId = req.model.parse().map_err(|_| ApiError::not_found())?;
    let mut turns: Vec<(MessageRole, String)> = Vec::new();
    for m in &req.messages {
        let role = match m["role"].as_str() {
            Some("user") => MessageRole::User,
            Some("assistant") => MessageRole::Assistant,
            // System prompts come from the bot; tool turns are not used.
            Some(_) => continue,
            None => return Err(ApiError::invalid("every message needs a `role`")),
        };
        let content = content_text(&m["content"])
            .ok_or_else(|| ApiError::invalid("message `content` must be text"))?;
        turns.push((role, content));
    }
    let question = match turns.pop() {
        Some((MessageRole::User, q)) => q,
        _ => return Err(ApiError::invalid("the last message must be the user's")),
    };
    let ask = AskRequest {
        bot_id: bot,
        message: question,
        session_id: None,
        stream: req.stream,
        history: turns,
    };
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = Utc::now().timestamp();
    let model = req.model.clone();
    if !req.stream {
        let answer = state.services.ask(&ctx, ask).await?;
        let usage = answer.usage;
        let finish = answer.finish_reason.as_deref().unwrap_or("stop");
        return Ok(Json(json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer}, "finish_reason": finish}],
            "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.prompt_tokens + usage.completion_tokens},
            "citations": answer.citations,
            "sources": answer.sources,
            "answered": answer.answered,
            "grounding": answer.grounding,
        }))
        .into_response());
    }
    let events = state.services.ask_stream(&ctx, ask).await?;
    let chunk = move |delta: Value, finish: Option<&str>, usage: Option<Value>| {
        let mut c = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        if let Some(u) = usage {
            c["usage"] = u;
        }
        Event::default().data(c.to_string())
    };
    let stream = futures::stream::unfold((events, false), move |(mut rx, finished)| {
        let chunk = chunk.clone();
        async move {
            if finished {
                return None;
            }
            let event = match rx.recv().await {
                None => {
                    return Some((
                        Ok::<_, std::convert::Infallible>(Event::default().data("[DONE]")),
                        (rx, true),
                    ));
                }
                Some(e) => e,
            };
            let out = match event {
                AnswerEvent::Meta { .. } => {
                    chunk(json!({"role": "assistant", "content": ""}), None, None)
                }
                AnswerEvent::Delta { text } => chunk(json!({"content": text}), None, None),
                AnswerEvent::Done {
                    usage,
                    finish_reason,
                    ..
                } => chunk(
                    json!({}),
                    Some(finish_reason.as_deref().unwrap_or("stop")),
                    Some(
                        json!({"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                        "total_tokens": usage.prompt_tokens + usage.completion_tokens}),
                    ),
                ),
                AnswerEvent::Error { error } => Event::default().data(
                    json!({"error": {"message": error.message, "code": error.code}}).to_string(),
                ),
            };
            Some((Ok(out), (rx, false)))
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Text of an OpenAI `content`: a string, or the text parts of an array.
fn content_text(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter(|p| p["type"] == "text")
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}

/// The tenant's bots, as OpenAI models.
#[utoipa::path(get, path = "/v1/models", tag = "openai", security(("bearer" = [])),
    responses((status = 200, description = "OpenAI model list", body = Object)))]
pub async fn models(State(state): State<AppState>, Auth(ctx): Auth) -> ApiResult<Json<Value>> {
    let mut data = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .services
            .list_bots(&ctx, &PageRequest { limit: 200, after })
            .await?;
        data.extend(page.items.iter().map(|b| {
            json!({"id": b.id, "object": "model", "created": b.created_at.timestamp(), "owned_by": "docent", "name": b.name})
        }));
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    Ok(Json(json!({"object": "list", "data": data})))
}
