//! The pages the emailed links open, signed out like sign-in: asking for a
//! password reset, choosing the new password, confirming an address, and
//! accepting an invitation. Each posts to the same services as the API's
//! email-flow routes, with the same limits; a link's token travels from
//! the page's query to its form, never into a cookie.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use docent_service::{PasswordResetRequest, TokenAndPassword};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{trusted, welcome};
use super::page::{csrf_field, explain, notice, page};
use super::session;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extractors::Client;

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// A flow's service call, once the address's sign-in budget allows it
/// (counted as the API's open email-flow routes are). The call is a future
/// not yet started, so a refused request does nothing.
async fn within_limit<T>(
    state: &AppState,
    ip: Option<String>,
    call: impl std::future::Future<Output = docent_service::ServiceResult<T>>,
) -> Result<T, ApiError> {
    let ip = ip.unwrap_or_default();
    crate::ratelimit::check(
        state,
        "sign_in",
        &ip,
        state.config.limits.sign_in_per_minute,
    )
    .await?;
    call.await.map_err(ApiError::from)
}

fn request_form(csrf: &str, error: Option<&str>, done: Option<&str>) -> Markup {
    html! {
        section class="narrow" {
            h1 { "Reset your password" }
            (notice(error, done))
            form method="post" action="/app/reset/request" class="stack" {
                (csrf_field(csrf))
                label for="email" { "Email" }
                input id="email" name="email" type="email" autocomplete="username" required;
                button type="submit" { "Send me a link" }
            }
            p { a href="/app/login" { "Back to sign in" } }
        }
    }
}

fn password_form(
    csrf: &str,
    action: &str,
    title: &str,
    token: &str,
    error: Option<&str>,
) -> Markup {
    html! {
        section class="narrow" {
            h1 { (title) }
            (notice(error, None))
            form method="post" action=(action) class="stack" {
                (csrf_field(csrf))
                input type="hidden" name="token" value=(token);
                label for="password" { "New password (at least 8 characters)" }
                input id="password" name="password" type="password" autocomplete="new-password" minlength="8" required;
                button type="submit" { "Save password" }
            }
        }
    }
}

pub async fn request_page(State(state): State<AppState>, jar: CookieJar) -> Response {
    let (jar, csrf) = session::with_csrf(&state, jar);
    (
        jar,
        page("Reset your password", None, request_form(&csrf, None, None)),
    )
        .into_response()
}

pub async fn request(
    State(state): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    headers: axum::http::HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    let Some(csrf) = trusted(&jar, &headers, &form.csrf) else {
        return super::page::forbidden("The form expired; reload the page.");
    };
    let ip = client.ip.clone();
    let outcome = within_limit(
        &state,
        ip,
        state
            .services
            .request_password_reset(PasswordResetRequest { email: form.email }, client),
    )
    .await;
    let body = match &outcome {
        Ok(()) => request_form(
            &csrf,
            None,
            Some(
                "If the address has an account, a link to choose a new password is on its way. It works for one hour.",
            ),
        ),
        Err(e) => request_form(&csrf, Some(&explain(e)), None),
    };
    let status = outcome.err().map_or(StatusCode::OK, |e| e.status);
    (status, page("Reset your password", None, body)).into_response()
}

pub async fn reset_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<LinkQuery>,
) -> Response {
    let (jar, csrf) = session::with_csrf(&state, jar);
    let body = password_form(&csrf, "/app/reset", "Choose a new password", &q.token, None);
    (jar, page("Choose a new password", None, body)).into_response()
}

pub async fn reset(
    State(state): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    headers: axum::http::HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    let Some(csrf) = trusted(&jar, &headers, &form.csrf) else {
        return super::page::forbidden("The form expired; reload the page.");
    };
    let req = TokenAndPassword {
        token: form.token.clone(),
        password: form.password,
    };
    let ip = client.ip.clone();
    let outcome = within_limit(
        &state,
        ip,
        state.services.confirm_password_reset(req, client),
    )
    .await;
    match outcome {
        Ok(()) => {
            let body = html! {
                section class="narrow" {
                    h1 { "Password saved" }
                    (notice(None, Some("Your new password is set, and every other session has ended.")))
                    p { a href="/app/login" { "Sign in" } }
                }
            };
            page("Password saved", None, body).into_response()
        }
        Err(e) => {
            let body = password_form(
                &csrf,
                "/app/reset",
                "Choose a new password",
                &form.token,
                Some(&explain(&e)),
            );
            (e.status, page("Choose a new password", None, body)).into_response()
        }
    }
}

pub async fn verify_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<LinkQuery>,
) -> Response {
    // A button, not the link itself, confirms: mail scanners open links.
    let (jar, csrf) = session::with_csrf(&state, jar);
    let body = html! {
        section class="narrow" {
            h1 { "Confirm your address" }
            form method="post" action="/app/verify" class="stack" {
                (csrf_field(&csrf))
                input type="hidden" name="token" value=(q.token);
                button type="submit" { "Confirm my address" }
            }
        }
    };
    (jar, page("Confirm your address", None, body)).into_response()
}

pub async fn verify(
    State(state): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    headers: axum::http::HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    if trusted(&jar, &headers, &form.csrf).is_none() {
        return super::page::forbidden("The form expired; reload the page.");
    }
    let ip = client.ip.clone();
    let outcome = within_limit(&state, ip, state.services.verify_email(&form.token, client)).await;
    let (status, message) = match outcome {
        Ok(()) => (StatusCode::OK, "Your address is confirmed.".to_string()),
        Err(e) => (e.status, explain(&e)),
    };
    let body = html! {
        section class="narrow" {
            h1 { "Confirm your address" }
            @if status.is_success() { (notice(None, Some(&message))) } @else { (notice(Some(&message), None)) }
            p { a href="/app/login" { "Go to the console" } }
        }
    };
    (status, page("Confirm your address", None, body)).into_response()
}

pub async fn invitation_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<LinkQuery>,
) -> Response {
    let (jar, csrf) = session::with_csrf(&state, jar);
    let body = password_form(
        &csrf,
        "/app/invitation",
        "Accept the invitation",
        &q.token,
        None,
    );
    (jar, page("Accept the invitation", None, body)).into_response()
}

pub async fn accept(
    State(state): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    headers: axum::http::HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    let Some(csrf) = trusted(&jar, &headers, &form.csrf) else {
        return super::page::forbidden("The form expired; reload the page.");
    };
    let req = TokenAndPassword {
        token: form.token.clone(),
        password: form.password,
    };
    let ip = client.ip.clone();
    let outcome = within_limit(&state, ip, state.services.accept_invitation(req, client)).await;
    match outcome {
        Ok(session) => welcome(&state, jar, &session),
        Err(e) => {
            let body = password_form(
                &csrf,
                "/app/invitation",
                "Accept the invitation",
                &form.token,
                Some(&explain(&e)),
            );
            (e.status, page("Accept the invitation", None, body)).into_response()
        }
    }
}
