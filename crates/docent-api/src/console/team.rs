//! Team and keys (owners and admins, as the API's user and key routes):
//! the users with their roles, a new user with a password (invitations by
//! email come with the identity work), role changes, removal; API keys
//! created (the secret shown once, on the page that answers the form) and
//! revoked.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use docent_core::domain::{ApiKey, Role, User};
use docent_core::ids::{ApiKeyId, UserId};
use docent_core::store::PageRequest;
use docent_service::{CreateApiKey, CreateUser, UpdateUser};
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{csrf_field, explain, failed, notice, page, problem};
use super::session::{Console, csrf_ok};
use crate::app::AppState;
use crate::error::ApiError;

const ROLES: [Role; 4] = [Role::Viewer, Role::Editor, Role::Admin, Role::Owner];

async fn render(
    state: &AppState,
    who: &Console,
    error: Option<&str>,
    done: Option<&str>,
    secret: Option<&str>,
    status: StatusCode,
) -> Response {
    let all = PageRequest {
        limit: 200,
        after: None,
    };
    let users = match state.services.list_users(&who.ctx, &all).await {
        Ok(u) => u.items,
        Err(e) => return failed(who, e.into()),
    };
    let keys = match state.services.list_api_keys(&who.ctx, &all).await {
        Ok(k) => k.items,
        Err(e) => return failed(who, e.into()),
    };
    let body = body(who, &users, &keys, error, done, secret);
    (status, page("Team and keys", Some(who), body)).into_response()
}

fn role_select(id: &str, name: &str, current: Role) -> Markup {
    html! {
        select id=(id) name=(name) {
            @for r in ROLES {
                option value=(r.as_str()) selected[r == current] { (r.as_str()) }
            }
        }
    }
}

fn body(
    who: &Console,
    users: &[User],
    keys: &[ApiKey],
    error: Option<&str>,
    done: Option<&str>,
    secret: Option<&str>,
) -> Markup {
    html! {
        h1 { "Team and keys" }
        (notice(error, done))
        @if let Some(secret) = secret {
            div class="notice done" role="status" {
                p { strong { "The new key, shown this once:" } " store it now." }
                pre class="snippet" { code id="new-key" { (secret) } }
                button type="button" class="secondary" data-copy="new-key" { "Copy key" }
            }
        }
        h2 { "Users" }
        div class="scroll" {
            table class="list" data-users {
                thead { tr { th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Since" } th scope="col" { span class="hidden" { "Actions" } } } }
                tbody {
                    @for u in users {
                        tr {
                            td { (u.email.as_str()) }
                            td {
                                form method="post" action={ "/app/team/users/" (u.id) "/role" } class="inline" {
                                    (csrf_field(&who.csrf))
                                    label class="hidden" for={ "role-" (u.id) } { "Role of " (u.email.as_str()) }
                                    (role_select(&format!("role-{}", u.id), "role", u.role))
                                    button type="submit" class="secondary" { "Change" span class="hidden" { " the role of " (u.email.as_str()) } }
                                }
                            }
                            td { (u.created_at.format("%Y-%m-%d")) }
                            td {
                                form method="post" action={ "/app/team/users/" (u.id) "/delete" } data-confirm={ "Remove " (u.email.as_str()) "?" } {
                                    (csrf_field(&who.csrf))
                                    button type="submit" class="link danger" { "Remove" span class="hidden" { " " (u.email.as_str()) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add a user" }
        form method="post" action="/app/team/users" class="stack" {
            (csrf_field(&who.csrf))
            label for="user-email" { "Email" }
            input id="user-email" name="email" type="email" required autocomplete="off";
            label for="user-password" { "Their first password (at least 8 characters)" }
            input id="user-password" name="password" type="password" minlength="8" required autocomplete="new-password";
            label for="user-role" { "Role" }
            (role_select("user-role", "role", Role::Viewer))
            button type="submit" { "Add user" }
        }
        h2 { "API keys" }
        @if keys.is_empty() {
            p class="empty" { "No API key. A key calls the API with a role of its own." }
        } @else {
            div class="scroll" {
                table class="list" data-keys {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Key" } th scope="col" { "Role" } th scope="col" { "Last used" } th scope="col" { span class="hidden" { "Actions" } } } }
                    tbody {
                        @for k in keys {
                            tr {
                                td { (k.name) }
                                td { code { (k.prefix) "…" } }
                                td { (k.role.as_str()) }
                                td { (k.last_used_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "never".into())) }
                                td {
                                    form method="post" action={ "/app/team/keys/" (k.id) "/revoke" } data-confirm={ "Revoke " (k.name) "? Programs using it stop working." } {
                                        (csrf_field(&who.csrf))
                                        button type="submit" class="link danger" { "Revoke" span class="hidden" { " " (k.name) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "New API key" }
        form method="post" action="/app/team/keys" class="stack" {
            (csrf_field(&who.csrf))
            label for="key-name" { "Name" }
            input id="key-name" name="name" required maxlength="200";
            label for="key-role" { "Role" }
            (role_select("key-role", "role", Role::Viewer))
            button type="submit" { "Create key" }
        }
    }
}

pub async fn show(State(state): State<AppState>, who: Console) -> Response {
    render(&state, &who, None, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn role(raw: &str) -> Result<Role, ApiError> {
    Role::parse(raw)
        .ok_or_else(|| ApiError::invalid("`role` must be viewer, editor, admin or owner"))
}

/// The page again after an action: its notice, or the error with its status.
async fn after(state: &AppState, who: &Console, result: Result<&str, ApiError>) -> Response {
    match result {
        Ok(done) => render(state, who, None, Some(done), None, StatusCode::OK).await,
        Err(e) => render(state, who, Some(&explain(&e)), None, None, e.status).await,
    }
}

fn expired() -> Response {
    super::page::forbidden("The form expired; reload the page.")
}

pub async fn add_user(
    State(state): State<AppState>,
    who: Console,
    Form(form): Form<NewUserForm>,
) -> Response {
    if !csrf_ok(&who.csrf, &form.csrf) {
        return expired();
    }
    let result = async {
        let req = CreateUser {
            email: form.email,
            password: form.password,
            role: role(&form.role)?,
        };
        state.services.create_user(&who.ctx, req).await?;
        Ok("The user is added; give them their password.")
    };
    let result: Result<&str, ApiError> = result.await;
    after(&state, &who, result).await
}

pub async fn set_role(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Response {
    if !csrf_ok(&who.csrf, &form.csrf) {
        return expired();
    }
    let Ok(id) = id.parse::<UserId>() else {
        return problem(StatusCode::NOT_FOUND, Some(&who), "There is no such user.");
    };
    let result = async {
        let req = UpdateUser {
            role: role(&form.role)?,
        };
        state.services.update_user(&who.ctx, id, req).await?;
        Ok("The role is changed.")
    };
    let result: Result<&str, ApiError> = result.await;
    after(&state, &who, result).await
}

pub async fn remove_user(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    on_one(&state, &who, &form.csrf, &id, "user", async |id: UserId| {
        state.services.delete_user(&who.ctx, id).await?;
        Ok("The user is removed.")
    })
    .await
}

/// A form's action on one user or key: its token checked, its id parsed
/// (a malformed one is not there), the page again with the outcome.
async fn on_one<I: std::str::FromStr>(
    state: &AppState,
    who: &Console,
    csrf: &str,
    raw: &str,
    what: &str,
    action: impl AsyncFnOnce(I) -> Result<&'static str, docent_service::ServiceError>,
) -> Response {
    if !csrf_ok(&who.csrf, csrf) {
        return expired();
    }
    let Ok(id) = raw.parse::<I>() else {
        return problem(
            StatusCode::NOT_FOUND,
            Some(who),
            &format!("There is no such {what}."),
        );
    };
    let result = action(id).await.map_err(ApiError::from);
    after(state, who, result).await
}

pub async fn create_key(
    State(state): State<AppState>,
    who: Console,
    Form(form): Form<NewKeyForm>,
) -> Response {
    if !csrf_ok(&who.csrf, &form.csrf) {
        return expired();
    }
    let created = async {
        let req = CreateApiKey {
            name: form.name,
            role: role(&form.role)?,
        };
        Ok::<_, ApiError>(state.services.create_api_key(&who.ctx, req).await?)
    };
    match created.await {
        Ok(key) => render(&state, &who, None, None, Some(&key.key), StatusCode::OK).await,
        Err(e) => render(&state, &who, Some(&explain(&e)), None, None, e.status).await,
    }
}

pub async fn revoke_key(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    on_one(
        &state,
        &who,
        &form.csrf,
        &id,
        "key",
        async |id: ApiKeyId| {
            state.services.revoke_api_key(&who.ctx, id).await?;
            Ok("The key is revoked.")
        },
    )
    .await
}
