//! The signed-in user's account: a new password, given the current one.
//! Every other session of the user ends with it; this one continues on a
//! new token pair.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{csrf_field, explain, notice, page};
use super::session::{self, Console, csrf_ok};
use crate::app::AppState;
use crate::error::ApiError;

fn body(who: &Console, error: Option<&str>, done: Option<&str>) -> Markup {
    html! {
        section class="narrow" {
            h1 { "Your account" }
            (notice(error, done))
            h2 { "Change your password" }
            form method="post" action="/app/account/password" class="stack" {
                (csrf_field(&who.csrf))
                label for="current" { "Current password" }
                input id="current" name="current" type="password" autocomplete="current-password" required;
                label for="new" { "New password (at least 8 characters)" }
                input id="new" name="new" type="password" autocomplete="new-password" minlength="8" required;
                label for="confirm" { "New password again" }
                input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="8" required;
                button type="submit" { "Change password" }
            }
            p class="note" { "Changing it signs you out everywhere else." }
        }
    }
}

pub async fn show(who: Console) -> Response {
    page("Your account", Some(&who), body(&who, None, None)).into_response()
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    who: Console,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> Response {
    if !csrf_ok(&who.csrf, &form.csrf) {
        return super::page::forbidden("The form expired; reload the page.");
    }
    if form.new != form.confirm {
        let body = body(&who, Some("The two new passwords differ."), None);
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            page("Your account", Some(&who), body),
        )
            .into_response();
    }
    match state
        .services
        .change_password(&who.ctx, form.current, form.new)
        .await
    {
        Ok(session) => {
            let jar = session::signed_in(&state, jar, &session);
            let body = body(
                &who,
                None,
                Some("Password changed; your other sessions are signed out."),
            );
            (jar, page("Your account", Some(&who), body)).into_response()
        }
        Err(e) => {
            let e = ApiError::from(e);
            let body = body(&who, Some(&explain(&e)), None);
            (e.status, page("Your account", Some(&who), body)).into_response()
        }
    }
}
