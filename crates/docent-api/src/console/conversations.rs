//! Conversations and leads: a bot's sessions (visitor, time, message
//! count), a transcript with its citations, feedback and flagged
//! sentences, and the tenant's leads with a CSV export. Viewers see the
//! conversations they started, editors and stronger all of them, as with
//! the API.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use docent_core::domain::{ChatMessage, ChatSession, MessageRole, Rating};
use docent_core::ids::SessionId;
use docent_core::store::PageRequest;
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{failed, page, problem};
use super::session::Console;
use crate::app::AppState;

const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct CursorQuery {
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
    Query(q): Query<CursorQuery>,
) -> Response {
    let bot = match super::bots::read_bot(&state, &who, &id).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = bot.id;
    let page_req = PageRequest {
        limit: PAGE,
        after: q.cursor,
    };
    let sessions = match state
        .services
        .list_sessions(&who.ctx, Some(id), &page_req)
        .await
    {
        Ok(s) => s,
        Err(e) => return failed(&who, e.into()),
    };
    let body = html! {
        p class="crumbs" { a href="/app/bots" { "Bots" } " / " (bot.name) }
        h1 { (bot.name) }
        (super::bots::tabs(&bot, "conversations"))
        @if sessions.items.is_empty() {
            p class="empty" { "No conversation yet. Ask in the playground, or put the widget on your site." }
        } @else {
            div class="scroll" {
                table class="list" data-conversations {
                    caption class="hidden" { "Conversations of " (bot.name) }
                    thead { tr {
                        th scope="col" { "Started" } th scope="col" { "Visitor" }
                        th scope="col" { "Messages" } th scope="col" { "Last message" }
                    } }
                    tbody {
                        @for s in &sessions.items { (row(s)) }
                    }
                }
            }
            @if let Some(next) = &sessions.next_cursor {
                p { a href={ "/app/bots/" (bot.id) "/conversations?cursor=" (next) } { "Next " (PAGE) " conversations" } }
            }
        }
    };
    page(&format!("{} · conversations", bot.name), Some(&who), body).into_response()
}

fn row(s: &ChatSession) -> Markup {
    html! {
        tr {
            td { a href={ "/app/conversations/" (s.id) } { (s.created_at.format("%Y-%m-%d %H:%M")) } }
            td { (s.visitor.as_deref().unwrap_or("a user of the tenant")) }
            td { (s.message_count) }
            td { (s.last_message_at.format("%Y-%m-%d %H:%M")) }
        }
    }
}

pub async fn transcript(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<SessionId>() else {
        return problem(
            StatusCode::NOT_FOUND,
            Some(&who),
            "There is no such conversation.",
        );
    };
    let messages = match state.services.session_messages(&who.ctx, id).await {
        Ok(m) => m,
        Err(e) => return failed(&who, e.into()),
    };
    let body = html! {
        p class="crumbs" { a href="/app/bots" { "Bots" } " / conversation" }
        h1 { "Conversation" }
        ol class="log" data-transcript {
            @for m in &messages { (message(m)) }
        }
    };
    page("Conversation", Some(&who), body).into_response()
}

fn message(m: &ChatMessage) -> Markup {
    let flagged: &[String] = m.grounding.as_ref().map_or(&[], |g| g.flagged.as_slice());
    html! {
        @match m.role {
            MessageRole::User => li class="turn user" { (m.content) },
            MessageRole::Assistant => li class="turn assistant" {
                p class="answer" { (m.content) }
                p class="note" {
                    (m.created_at.format("%Y-%m-%d %H:%M:%S"))
                    @if m.answered == Some(false) { " · declined" }
                    @if m.partial { " · cut off" }
                    @if let Some(ms) = m.latency_ms { " · " (ms) " ms" }
                    @if let Some(f) = &m.feedback {
                        " · " @match f.rating { Rating::Up => "helpful", Rating::Down => "not helpful" }
                        @if let Some(c) = &f.comment { ": “" (c) "”" }
                    }
                }
                @for f in flagged { p class="note flagged" { "Not found in the cited sources: " (f) } }
                @if !m.citations.is_empty() {
                    ol class="citations" {
                        @for c in &m.citations {
                            li { details {
                                summary { "[" (c.n) "] " (c.title) " — score " (format!("{:.2}", c.score)) }
                                p class="passage" { (c.snippet) }
                            } }
                        }
                    }
                }
            },
        }
    }
}

pub async fn leads(
    State(state): State<AppState>,
    who: Console,
    Query(q): Query<CursorQuery>,
) -> Response {
    let page_req = PageRequest {
        limit: PAGE,
        after: q.cursor,
    };
    let leads = match state.services.list_leads(&who.ctx, None, &page_req).await {
        Ok(l) => l,
        Err(e) => return failed(&who, e.into()),
    };
    let body = html! {
        h1 { "Leads" }
        p { "Contacts visitors left through the widget. " a href="/app/leads.csv" download { "Export all as CSV" } }
        @if leads.items.is_empty() {
            p class="empty" { "No lead yet: visitors leave their contact with the widget's “Leave your contact”." }
        } @else {
            div class="scroll" {
                table class="list" data-leads {
                    thead { tr {
                        th scope="col" { "Left" } th scope="col" { "Email" } th scope="col" { "Name" }
                        th scope="col" { "Phone" } th scope="col" { "Conversation" }
                    } }
                    tbody {
                        @for l in &leads.items {
                            tr {
                                td { (l.created_at.format("%Y-%m-%d %H:%M")) }
                                td { (l.email) }
                                td { (l.name.as_deref().unwrap_or("")) }
                                td { (l.phone.as_deref().unwrap_or("")) }
                                td { @if let Some(s) = l.session_id { a href={ "/app/conversations/" (s) } { "open" } } }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &leads.next_cursor {
                p { a href={ "/app/leads?cursor=" (next) } { "Next " (PAGE) " leads" } }
            }
        }
    };
    page("Leads", Some(&who), body).into_response()
}

pub async fn leads_csv(State(state): State<AppState>, who: Console) -> Response {
    match state.services.leads_csv(&who.ctx, None).await {
        Ok(csv) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"leads.csv\"",
                ),
            ],
            csv,
        )
            .into_response(),
        Err(e) => failed(&who, e.into()),
    }
}
