//! Chat: questions to a bot, and the stored conversations.

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use docent_core::domain::{ChatMessage, ChatSession, MessageTrace};
use docent_core::ids::{BotId, MessageId, SessionId};
use docent_service::{AskRequest, ChatAnswer, FeedbackRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiResult;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{ChatAuth, Credential, Id, Paging, WsAuth};
use crate::ratelimit;

/// Asks a bot. The answer is grounded in the bot's knowledge base and cites
/// its passages as `[n]` markers matching `citations[].n`; with nothing
/// relevant found, the bot says it does not know. With `stream: true` (or
/// `Accept: text/event-stream`) the answer comes as server-sent events:
/// `meta` (session and retrieved passages), `delta`s, then `done` (message id,
/// usage, cited passages) or `error`.
#[utoipa::path(post, path = "/chat", tag = "chat", security(("bearer" = [])), request_body = AskRequest,
    responses((status = 200, body = ChatAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ask(
    State(state): State<AppState>,
    ChatAuth(ctx): ChatAuth,
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
    Ok(answer_events(events))
}

/// A streamed answer as server-sent events, one per `AnswerEvent`, named
/// as it names itself (`meta`, `delta`, `done`, `error`).
pub fn answer_events(events: tokio::sync::mpsc::Receiver<docent_service::AnswerEvent>) -> Response {
    let stream = futures::stream::unfold(events, |mut rx| async move {
        let event = rx.recv().await?;
        let sse = Event::default().event(event.name()).json_data(&event);
        Some((sse, rx))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
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

/// Conversations, newest first. An embed token sees only its visitor's.
#[utoipa::path(get, path = "/chat/sessions", tag = "chat", security(("bearer" = [])),
    params(SessionFilter, Paging), responses((status = 200, body = SessionList), (status = 404, body = ErrorBody)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    ChatAuth(ctx): ChatAuth,
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
    ChatAuth(ctx): ChatAuth,
    Id(session): Id<SessionId>,
) -> ApiResult<Json<MessageList>> {
    Ok(Json(MessageList {
        messages: state.services.session_messages(&ctx, session).await?,
    }))
}

/// A frame from the client of `/chat/ws`.
#[derive(Debug, Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
    bot_id: Option<BotId>,
    session_id: Option<SessionId>,
    message: Option<String>,
}

/// Chat over a WebSocket: the client sends `{type:"message", bot_id?,
/// session_id?, message}`; the server answers with the SSE events as JSON
/// frames carrying `type` (`meta`, `delta`, `done`, `error`). The bot and
/// session carry over from one message to the next.
#[utoipa::path(get, path = "/chat/ws", tag = "chat", security(("bearer" = [])),
    params(("token" = Option<String>, Query, description = "access token or API key, for clients that cannot set headers")),
    responses((status = 101, description = "switching to WebSocket"), (status = 401, body = ErrorBody)))]
pub async fn chat_ws(
    State(state): State<AppState>,
    WsAuth(ctx, credential): WsAuth,
    ws: WebSocketUpgrade,
) -> Response {
    drop(ctx);
    ws.on_upgrade(move |socket| converse(state, credential, socket))
}

/// Each message is handled as a REST request would be: the credential is
/// verified again (a revoked key, a deleted user or an expired token closes
/// the socket with an `error` frame) and counted against the same limits.
async fn converse(state: AppState, credential: Credential, mut socket: WebSocket) {
    let mut bot: Option<BotId> = None;
    let mut session: Option<SessionId> = None;
    while let Some(Ok(frame)) = socket.recv().await {
        let text = match frame {
            Message::Text(text) => text,
            Message::Close(_) => return,
            _ => continue,
        };
        let request = match serde_json::from_str::<ClientFrame>(&text) {
            Ok(f) if f.kind == "message" => f,
            Ok(_) | Err(_) => {
                let error =
                    ApiError::invalid("send {\"type\":\"message\", \"bot_id\", \"message\"}");
                if send_error(&mut socket, error).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if request.bot_id.is_some() && request.bot_id != bot {
            bot = request.bot_id;
            session = None;
        }
        session = request.session_id.or(session);
        let Some(bot_id) = bot else {
            if send_error(
                &mut socket,
                ApiError::invalid("`bot_id` is required on the first message"),
            )
            .await
            .is_err()
            {
                return;
            }
            continue;
        };
        let ctx = match credential.authenticate(&state).await {
            Ok(ctx) => ctx,
            Err(e) => {
                let _ = send_error(&mut socket, e).await;
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        };
        if let Err(e) = ratelimit::credential_message(&state, &credential.token).await {
            if send_error(&mut socket, e).await.is_err() {
                return;
            }
            continue;
        }
        let ask = AskRequest {
            bot_id,
            message: request.message.unwrap_or_default(),
            session_id: session,
            stream: true,
            history: Vec::new(),
        };
        let mut events = match state.services.ask_stream(&ctx, ask).await {
            Ok(events) => events,
            Err(e) => {
                if send_error(&mut socket, e.into()).await.is_err() {
                    return;
                }
                continue;
            }
        };
        while let Some(event) = events.recv().await {
            if let docent_service::AnswerEvent::Meta { session_id, .. } = &event {
                session = Some(*session_id);
            }
            let mut frame = serde_json::to_value(&event).unwrap_or_default();
            frame["type"] = event.name().into();
            // A client gone mid-answer: dropping `events` cancels the model
            // request and the partial answer is stored.
            if socket
                .send(Message::Text(frame.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

async fn send_error(socket: &mut WebSocket, error: ApiError) -> Result<(), axum::Error> {
    let frame = serde_json::json!({"type": "error", "error": {"code": error.code, "message": error.message}});
    socket.send(Message::Text(frame.to_string().into())).await
}

/// The retrieval trace of an answer: the question and the search query,
/// each retriever's candidates with rank and raw score, fusion and rerank
/// scores, the floor and the decision, the passages and token counts sent
/// to the model, the model and its usage, per-stage timings. Readable by the
/// users and keys that may read the conversation; embed tokens get 403.
#[utoipa::path(get, path = "/chat/messages/{message_id}/trace", tag = "chat", security(("bearer" = [])),
    params(("message_id" = String, Path)),
    responses((status = 200, body = MessageTrace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn message_trace(
    State(state): State<AppState>,
    ChatAuth(ctx): ChatAuth,
    Id(message): Id<MessageId>,
) -> ApiResult<Json<MessageTrace>> {
    Ok(Json(state.services.message_trace(&ctx, message).await?))
}

/// Thumbs up or down on an answer, with an optional comment; a new verdict
/// replaces the previous one. Open to whoever may read the conversation,
/// the widget's visitor included. Returns the answer with its feedback.
#[utoipa::path(post, path = "/chat/messages/{message_id}/feedback", tag = "chat", security(("bearer" = [])),
    params(("message_id" = String, Path)), request_body = FeedbackRequest,
    responses((status = 200, body = ChatMessage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn message_feedback(
    State(state): State<AppState>,
    ChatAuth(ctx): ChatAuth,
    Id(message): Id<MessageId>,
    Json(req): Json<FeedbackRequest>,
) -> ApiResult<Json<ChatMessage>> {
    if let Some(visitor) = ctx.actor.visitor() {
        let key = format!("{}:{}", visitor.bot_id, visitor.id);
        ratelimit::check(
            &state,
            "feedback_visitor",
            &key,
            FEEDBACK_PER_VISITOR_PER_MINUTE,
        )
        .await?;
    }
    Ok(Json(
        state.services.message_feedback(&ctx, message, req).await?,
    ))
}

/// Verdicts one widget visitor may give per minute.
const FEEDBACK_PER_VISITOR_PER_MINUTE: u32 = 30;
