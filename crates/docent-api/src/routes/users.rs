//! Users of a tenant (owner/admin).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use docent_core::domain::User;
use docent_core::ids::UserId;
use docent_service::{CreateUser, UpdateUser};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiResult, Created, created};
use crate::app::AppState;
use crate::error::ErrorBody;
use crate::extractors::{Auth, Id, Paging};

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<User>,
    pub next_cursor: Option<String>,
}

/// Adds a user to the caller's tenant.
#[utoipa::path(post, path = "/users", tag = "users", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = User), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<CreateUser>,
) -> ApiResult<Created<User>> {
    Ok(created(state.services.create_user(&ctx, req).await?))
}

#[utoipa::path(get, path = "/users", tag = "users", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = UserList), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    paging: Paging,
) -> ApiResult<Json<UserList>> {
    let page = state.services.list_users(&ctx, &paging.page()?).await?;
    Ok(Json(UserList {
        users: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Changes a user's role.
#[utoipa::path(patch, path = "/users/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path)), request_body = UpdateUser,
    responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "would leave the tenant without an owner", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<UserId>,
    Json(req): Json<UpdateUser>,
) -> ApiResult<Json<User>> {
    Ok(Json(state.services.update_user(&ctx, id, req).await?))
}

#[utoipa::path(delete, path = "/users/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<UserId>,
) -> ApiResult<StatusCode> {
    state.services.delete_user(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
