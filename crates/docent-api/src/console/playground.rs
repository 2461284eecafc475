//! The playground: chat with a bot as a visitor would, the answer streamed
//! with its citations (each opens the cited passage), and under each answer
//! what retrieval did: the ranked candidates with every stage's score and
//! the outcome, from the answer's trace, and a vote (helpful or not, with a
//! comment) recorded as a visitor's feedback is. Streaming and the trace
//! need the page's script; without it the form gets the whole answer in a
//! page.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use docent_core::domain::{Bot, Citation, Rating};
use docent_core::ids::{BotId, MessageId, SessionId};
use docent_service::{AskRequest, ChatAnswer, FeedbackRequest};
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{csrf_field, explain, failed, notice, page, problem};
use super::session::{Console, csrf_ok};
use crate::app::AppState;
use crate::error::ApiError;

fn frame(bot: &Bot, who: &Console, content: Markup) -> Markup {
    html! {
        p class="crumbs" { a href="/app/bots" { "Bots" } " / " (bot.name) }
        h1 { (bot.name) }
        (super::bots::tabs(bot, "playground"))
        div class="playground" data-playground {
            ol class="log" aria-live="polite" { (content) }
            form method="post" action={ "/app/bots/" (bot.id) "/playground" } class="ask" {
                (csrf_field(&who.csrf))
                input type="hidden" name="session_id" value="";
                label for="message" { "Ask " (bot.name) }
                textarea id="message" name="message" rows="2" required maxlength="4000" {}
                button type="submit" { "Send" }
            }
        }
    }
}

pub async fn show(State(state): State<AppState>, who: Console, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<BotId>() else {
        return problem(StatusCode::NOT_FOUND, Some(&who), "There is no such bot.");
    };
    match state.services.get_bot(&who.ctx, id).await {
        Ok(bot) => {
            let intro = html! { li class="note" { "Ask what your visitors would ask. Each answer shows the passages retrieval ranked and why." } };
            page(
                &format!("{} · playground", bot.name),
                Some(&who),
                frame(&bot, &who, intro),
            )
            .into_response()
        }
        Err(e) => failed(&who, e.into()),
    }
}

#[derive(Deserialize)]
pub struct AskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    session_id: String,
}

/// One question: server-sent events for the page's script (`Accept:
/// text/event-stream`, the events of `POST /chat`), else a page with the
/// whole answer.
pub async fn ask(
    State(state): State<AppState>,
    who: Console,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<AskForm>,
) -> Response {
    if !csrf_ok(&who.csrf, &form.csrf) {
        return super::page::forbidden("The form expired; reload the page.");
    }
    let Ok(id) = id.parse::<BotId>() else {
        return problem(StatusCode::NOT_FOUND, Some(&who), "There is no such bot.");
    };
    let req = AskRequest {
        bot_id: id,
        message: form.message.clone(),
        session_id: form.session_id.parse::<SessionId>().ok(),
        stream: true,
        history: Vec::new(),
    };
    let streamed = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if streamed {
        return match state.services.ask_stream(&who.ctx, req).await {
            Ok(events) => crate::routes::chat::answer_events(events),
            Err(e) => {
                let e = ApiError::from(e);
                (e.status, Json(serde_json::json!({"message": explain(&e)}))).into_response()
            }
        };
    }
    let bot = match state.services.get_bot(&who.ctx, id).await {
        Ok(b) => b,
        Err(e) => return failed(&who, e.into()),
    };
    let content = match state.services.ask(&who.ctx, req).await {
        Ok(answer) => exchange(&form.message, &answer, &who.csrf),
        Err(e) => {
            let e = ApiError::from(e);
            html! { li { (notice(Some(&explain(&e)), None)) } }
        }
    };
    page(
        &format!("{} · playground", bot.name),
        Some(&who),
        frame(&bot, &who, content),
    )
    .into_response()
}

fn sources(citations: &[Citation]) -> Markup {
    html! {
        @if !citations.is_empty() {
            ol class="citations" {
                @for c in citations {
                    li {
                        details {
                            summary { "[" (c.n) "] " (c.title) @if let Some(p) = c.page { ", p. " (p) } " — score " (format!("{:.2}", c.score)) }
                            p class="passage" { (c.snippet) }
                        }
                    }
                }
            }
        }
    }
}

/// The vote under an answer: helpful or not, with an optional comment,
/// recorded as a visitor's feedback is (`POST /chat/messages/{id}/feedback`).
fn vote(message: MessageId, csrf: &str) -> Markup {
    html! {
        form method="post" action={ "/app/messages/" (message) "/feedback" } class="vote" data-vote {
            (csrf_field(csrf))
            label for={ "comment-" (message) } { "Comment (optional)" }
            input id={ "comment-" (message) } name="comment" maxlength="2000";
            button type="submit" name="rating" value="up" class="secondary" { "Helpful" }
            button type="submit" name="rating" value="down" class="secondary" { "Not helpful" }
        }
    }
}

/// A question and its answer, as the page without scripts shows them.
fn exchange(question: &str, answer: &ChatAnswer, csrf: &str) -> Markup {
    html! {
        li class="turn user" { (question) }
        li class="turn assistant" {
            p class="answer" { (answer.answer) }
            @if !answer.answered { p class="note" { "Declined: no passage was relevant enough." } }
            (sources(&answer.citations))
            p { a href={ "/app/messages/" (answer.message_id) "/trace" } { "What retrieval did (JSON)" } }
            (vote(answer.message_id, csrf))
        }
    }
}

#[derive(Deserialize)]
pub struct VoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    rating: String,
    #[serde(default)]
    comment: String,
}

/// A vote on an answer: JSON for the page's script (`Accept:
/// application/json`), else the conversation's transcript, where the vote
/// shows.
pub async fn feedback(
    State(state): State<AppState>,
    who: Console,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<VoteForm>,
) -> Response {
    if !csrf_ok(&who.csrf, &form.csrf) {
        return super::page::forbidden("The form expired; reload the page.");
    }
    let rating = match form.rating.as_str() {
        "up" => Rating::Up,
        "down" => Rating::Down,
        _ => {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&who),
                "Choose helpful or not helpful.",
            );
        }
    };
    let Ok(id) = id.parse::<MessageId>() else {
        return problem(
            StatusCode::NOT_FOUND,
            Some(&who),
            "There is no such answer.",
        );
    };
    let comment = Some(form.comment).filter(|c| !c.trim().is_empty());
    let json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    match state
        .services
        .message_feedback(&who.ctx, id, FeedbackRequest { rating, comment })
        .await
    {
        Ok(_) if json => Json(serde_json::json!({"rating": form.rating})).into_response(),
        Ok(message) => {
            axum::response::Redirect::to(&format!("/app/conversations/{}", message.session_id))
                .into_response()
        }
        Err(e) if json => {
            let e = ApiError::from(e);
            (e.status, Json(serde_json::json!({"message": explain(&e)}))).into_response()
        }
        Err(e) => failed(&who, e.into()),
    }
}

/// An answer's trace, for the playground's script (the same rules as
/// `GET /chat/messages/{id}/trace`).
pub async fn trace(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<MessageId>() else {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"message": "no such answer"})),
        )
            .into_response();
    };
    match state.services.message_trace(&who.ctx, id).await {
        Ok(trace) => Json(trace).into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            (e.status, Json(serde_json::json!({"message": explain(&e)}))).into_response()
        }
    }
}
