//! Sign-up, sign-in and sign-out pages. They call the same services as
//! `POST /tenants` and `POST /auth/login`, with the same sign-in limits.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use docent_service::{Login, LoginOutcome, MfaLogin, ServiceError, Signup};
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{csrf_field, explain, notice, page};
use super::session::{self, Console, REFRESH};
use crate::app::AppState;
use crate::error::ApiError;
use crate::extractors::Client;
use crate::routes::auth::SignInGuard;

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn login_form(csrf: &str, email: &str, error: Option<&str>) -> Markup {
    html! {
        section class="narrow" {
            h1 { "Sign in" }
            (notice(error, None))
            form method="post" action="/app/login" class="stack" {
                (csrf_field(csrf))
                label for="email" { "Email" }
                input id="email" name="email" type="email" autocomplete="username" required value=(email);
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
            p { a href="/app/reset/request" { "Forgot your password?" } }
            p { "New here? " a href="/app/signup" { "Create an account" } }
        }
    }
}

fn signup_form(csrf: &str, name: &str, email: &str, error: Option<&str>) -> Markup {
    html! {
        section class="narrow" {
            h1 { "Create your account" }
            p { "Your organisation gets its own bots, knowledge and team." }
            (notice(error, None))
            form method="post" action="/app/signup" class="stack" {
                (csrf_field(csrf))
                label for="name" { "Organisation" }
                input id="name" name="name" required maxlength="200" autocomplete="organization" value=(name);
                label for="email" { "Email" }
                input id="email" name="email" type="email" autocomplete="username" required value=(email);
                label for="password" { "Password (at least 8 characters)" }
                input id="password" name="password" type="password" autocomplete="new-password" minlength="8" required;
                button type="submit" { "Create account" }
            }
            p { "Have an account? " a href="/app/login" { "Sign in" } }
        }
    }
}

pub async fn home(console: Result<Console, Response>) -> Redirect {
    match console {
        Ok(_) => Redirect::to("/app/bots"),
        Err(_) => Redirect::to("/app/login"),
    }
}

pub async fn login_page(State(state): State<AppState>, jar: CookieJar) -> Response {
    let (jar, csrf) = session::with_csrf(&state, jar);
    (jar, page("Sign in", None, login_form(&csrf, "", None))).into_response()
}

pub async fn signup_page(State(state): State<AppState>, jar: CookieJar) -> Response {
    let (jar, csrf) = session::with_csrf(&state, jar);
    (
        jar,
        page(
            "Create your account",
            None,
            signup_form(&csrf, "", "", None),
        ),
    )
        .into_response()
}

/// A sign-in or sign-up form this server's own page sent: the CSRF cookie's
/// token, which the form carries, and the right origin. The token, to
/// render the form again with.
pub(super) fn trusted(
    jar: &CookieJar,
    headers: &axum::http::HeaderMap,
    form: &str,
) -> Option<String> {
    let expected = jar.get(session::CSRF)?.value().to_string();
    (session::csrf_ok(&expected, form) && session::same_origin(headers)).then_some(expected)
}

/// A new session's cookies, and the way to the bots.
pub(super) fn welcome(
    state: &AppState,
    jar: CookieJar,
    session: &docent_service::TenantSession,
) -> Response {
    let jar = session::signed_in(state, jar, session);
    (jar, Redirect::to("/app/bots")).into_response()
}

/// The answer to a form a request could not be trusted with.
fn stale_form(state: &AppState, jar: CookieJar) -> Response {
    let (jar, csrf) = session::with_csrf(state, jar);
    let body = login_form(&csrf, "", Some("The form expired; please sign in again."));
    (StatusCode::FORBIDDEN, jar, page("Sign in", None, body)).into_response()
}

pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let Some(expected) = trusted(&jar, &headers, &form.csrf) else {
        return stale_form(&state, jar);
    };
    let guard = SignInGuard::new(&state, client.ip.as_deref(), Some(&form.email));
    let result = match guard.refuse_if_locked().await {
        Err(e) => Err(e),
        Ok(()) => {
            let req = Login {
                email: form.email.clone(),
                password: form.password,
            };
            match state.services.login(req, client).await {
                Err(ServiceError::Unauthorized) => {
                    guard.failed().await;
                    Err(ApiError::from(ServiceError::Unauthorized))
                }
                other => other.map_err(ApiError::from),
            }
        }
    };
    match result {
        Ok(LoginOutcome::Session(session)) => welcome(&state, jar, &session),
        Ok(LoginOutcome::Mfa(challenge)) => {
            let body = mfa_form(&expected, &challenge.mfa_token, None);
            page("Sign in", None, body).into_response()
        }
        Err(e) => {
            let message = if e.status == StatusCode::UNAUTHORIZED {
                "Wrong email or password.".to_string()
            } else {
                explain(&e)
            };
            let body = login_form(&expected, &form.email, Some(&message));
            (e.status, page("Sign in", None, body)).into_response()
        }
    }
}

pub async fn signup(
    State(state): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    headers: axum::http::HeaderMap,
    Form(form): Form<SignupForm>,
) -> Response {
    let Some(expected) = trusted(&jar, &headers, &form.csrf) else {
        return stale_form(&state, jar);
    };
    // Counted per address, as `POST /tenants` is at the edge.
    let ip = client.ip.clone().unwrap_or_default();
    let per_minute = state.config.limits.sign_in_per_minute;
    let result = match crate::ratelimit::check(&state, "sign_in", &ip, per_minute).await {
        Err(e) => Err(e),
        Ok(()) => {
            let req = Signup {
                name: form.name.clone(),
                email: form.email.clone(),
                password: form.password,
            };
            state
                .services
                .signup(req, client)
                .await
                .map_err(ApiError::from)
        }
    };
    match result {
        Ok(session) => welcome(&state, jar, &session),
        Err(e) => {
            let message = if e.status == StatusCode::CONFLICT {
                "That email already has an account; sign in instead.".to_string()
            } else {
                explain(&e)
            };
            let body = signup_form(&expected, &form.name, &form.email, Some(&message));
            (e.status, page("Create your account", None, body)).into_response()
        }
    }
}

fn mfa_form(csrf: &str, mfa_token: &str, error: Option<&str>) -> Markup {
    html! {
        section class="narrow" {
            h1 { "Sign in" }
            (notice(error, None))
            form method="post" action="/app/login/mfa" class="stack" {
                (csrf_field(csrf))
                input type="hidden" name="mfa_token" value=(mfa_token);
                label for="code" { "Code from your authenticator app (or a recovery code)" }
                input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required;
                button type="submit" { "Sign in" }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct MfaForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mfa_token: String,
    #[serde(default)]
    code: String,
}

/// The second step of a sign-in with a second factor.
pub async fn login_mfa(
    State(state): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    headers: axum::http::HeaderMap,
    Form(form): Form<MfaForm>,
) -> Response {
    let Some(expected) = trusted(&jar, &headers, &form.csrf) else {
        return stale_form(&state, jar);
    };
    let guard = SignInGuard::new(&state, client.ip.as_deref(), None);
    let req = MfaLogin {
        mfa_token: form.mfa_token.clone(),
        code: form.code,
    };
    let result = match guard.refuse_if_locked().await {
        Err(e) => Err(e),
        Ok(()) => match state.services.mfa_login(req, client).await {
            Err(ServiceError::Unauthorized) => {
                guard.failed().await;
                Err(ApiError::from(ServiceError::Unauthorized))
            }
            other => other.map_err(ApiError::from),
        },
    };
    match result {
        Ok(session) => welcome(&state, jar, &session),
        Err(e) => {
            let message = if e.status == StatusCode::UNAUTHORIZED {
                "That code is not right, or the sign-in took too long.".to_string()
            } else {
                explain(&e)
            };
            let body = mfa_form(&expected, &form.mfa_token, Some(&message));
            (e.status, page("Sign in", None, body)).into_response()
        }
    }
}

/// Signs out: the refresh token's whole login is revoked, the cookies go.
pub async fn logout(
    State(state): State<AppState>,
    console: Console,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !session::csrf_ok(&console.csrf, &form.csrf) {
        return super::page::forbidden("The form expired; reload the page.");
    }
    if let Some(refresh) = jar.get(REFRESH).map(|c| c.value().to_string()) {
        let _ = state.services.logout(&refresh).await;
    }
    (session::signed_out(&state, jar), Redirect::to("/app/login")).into_response()
}
