//! Chat: questions to a bot, and the stored conversations.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use docent_core::domain::{ChatMessage, ChatSession};
use docent_core::ids::{BotId, SessionId};
use docent_service::{AskRequest, ChatAnswer};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiResult;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, Id, Paging};

/// Asks a bot. The answer is grounded in the bot's knowledge base and cites
/// its passages as `[n]` markers matching `citations[].n`; with nothing
/// relevant found, the bot says it does not know. With `stream: true` (or
/// `Accept: text/event-stream`) the answer comes as server-sent events:
/// `meta` (session and retrieved passages), `delta`s, then `done` (message id,
/// usage, cited passages) or `error`.
#[utoipa::path(post, path = "/chat", tag = "chat", security(("bearer" = [])), request_body = AskRequest,
    responses((status = 200, body = ChatAnswer), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ask(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    Json(req): Json<AskRequest>,
) -> ApiResult<Response> {
    let wants_events = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !(req.stream || wants_events) {
        return Ok(Json(state.services.ask(&ctx, req).await?).into_response());
    }
    let events = state.services.ask_stream(&ctx, req).await?;
    let stream = futures::stream::unfold(events, |mut rx| async move {
        let event = rx.recv().await?;
        let sse = Event::default().event(event.name()).json_data(&event);
        Some((sse, rx))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionFilter {
    /// Only this bot's conversations.
    pub bot_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<ChatSession>,
    pub next_cursor: Option<String>,
}

/// Conversations, newest first.
#[utoipa::path(get, path = "/chat/sessions", tag = "chat", security(("bearer" = [])),
    params(SessionFilter, Paging), responses((status = 200, body = SessionList), (status = 404, body = ErrorBody)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Query(filter): Query<SessionFilter>,
    paging: Paging,
) -> ApiResult<Json<SessionList>> {
    let bot = match filter.bot_id.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<BotId>()
                .map_err(|_| ApiError::invalid("`bot_id` is not a bot id"))?,
        ),
    };
    let page = state
        .services
        .list_sessions(&ctx, bot, &paging.page()?)
        .await?;
    Ok(Json(SessionList {
        sessions: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    pub messages: Vec<ChatMessage>,
}

/// A conversation's messages, oldest first, answers with their citations.
#[utoipa::path(get, path = "/chat/sessions/{session_id}/messages", tag = "chat", security(("bearer" = [])),
    params(("session_id" = String, Path)), responses((status = 200, body = MessageList), (status = 404, body = ErrorBody)))]
pub async fn session_messages(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(session): Id<SessionId>,
) -> ApiResult<Json<MessageList>> {
    Ok(Json(MessageList {
        messages: state.services.session_messages(&ctx, session).await?,
    }))
}
