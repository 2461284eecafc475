//! The console's page frame and the small pieces every page uses, written
//! with maud: markup checked at compile time, every interpolated value
//! escaped.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::session::Console;
use crate::error::ApiError;

/// A whole page: the frame, the navigation when someone is signed in, and
/// `body`.
pub fn page(title: &str, who: Option<&Console>, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Docent" }
                link rel="stylesheet" href="/app/assets/console.css";
                script src="/app/assets/console.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/app" { "Docent" }
                    @if let Some(who) = who {
                        nav aria-label="Main" {
                            a href="/app/bots" { "Bots" }
                            @if who.role >= docent_core::domain::Role::Editor { a href="/app/leads" { "Leads" } }
                            @if who.role >= docent_core::domain::Role::Admin {
                                a href="/app/usage" { "Usage" }
                                a href="/app/team" { "Team" }
                                a href="/app/audit" { "Audit log" }
                            }
                        }
                        div class="who" {
                            a href="/app/account" { "Account" }
                            span class="role" { (who.role.as_str()) }
                            form method="post" action="/app/logout" {
                                (csrf_field(&who.csrf))
                                button type="submit" class="link" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    };
    Html(markup.into_string())
}

/// The hidden field that carries the session's CSRF token.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A notice above a form: an error (`role=alert`) or a confirmation.
pub fn notice(error: Option<&str>, done: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { p class="notice error" role="alert" { (e) } }
        @if let Some(d) = done { p class="notice done" role="status" { (d) } }
    }
}

/// What a failed service call says to a console user: the API's own message
/// with words for the cases a person acts on.
pub fn explain(e: &ApiError) -> String {
    match e.status {
        StatusCode::PAYMENT_REQUIRED => format!("Your plan's limit is reached: {}", e.message),
        StatusCode::FORBIDDEN => format!("Your role does not allow this: {}", e.message),
        StatusCode::TOO_MANY_REQUESTS => match e.retry_after {
            Some(s) => format!("Too many attempts; try again in {s} s."),
            None => "Too many attempts; try again in a minute.".into(),
        },
        StatusCode::NOT_FOUND => "It is not there (or no longer).".into(),
        _ => e.message.clone(),
    }
}

/// A page answering `status` with a message and a way back.
pub fn problem(status: StatusCode, who: Option<&Console>, message: &str) -> Response {
    let body = html! {
        h1 { (status.canonical_reason().unwrap_or("Error")) }
        p role="alert" { (message) }
        p { a href="/app/bots" { "Back to your bots" } }
    };
    (status, page("Problem", who, body)).into_response()
}

pub fn forbidden(message: &str) -> Response {
    problem(StatusCode::FORBIDDEN, None, message)
}

/// The page's answer to a failed service call.
pub fn failed(who: &Console, e: ApiError) -> Response {
    let status = e.status;
    problem(status, Some(who), &explain(&e))
}

const CSS: &str = include_str!("../../assets/console.css");
const JS: &str = include_str!("../../assets/console.js");

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CSS,
    )
}

pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        JS,
    )
}
