//! Sign-up (a tenant and its owner), login, refresh, logout, and `me`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use docent_service::{Login, Me, Signup, TenantSession};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ApiResult, Created, created};
use crate::app::AppState;
use crate::error::ErrorBody;
use crate::extract::{Auth, Client};

/// Creates a tenant and its owner, and signs the owner in.
#[utoipa::path(post, path = "/tenants", tag = "auth", request_body = Signup, responses(
    (status = 201, body = TenantSession),
    (status = 409, description = "email taken", body = ErrorBody),
    (status = 422, description = "invalid field, e.g. password under 8 characters", body = ErrorBody)))]
pub async fn signup(
    State(state): State<AppState>,
    Client(client): Client,
    Json(req): Json<Signup>,
) -> ApiResult<Created<TenantSession>> {
    Ok(created(state.services.signup(req, client).await?))
}

/// Signs a user in. Unknown email and wrong password get the same 401.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = Login, responses(
    (status = 200, body = TenantSession), (status = 401, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    Json(req): Json<Login>,
) -> ApiResult<Json<TenantSession>> {
    Ok(Json(state.services.login(req, client).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchanges a refresh token for a new pair; the presented one is revoked.
/// Presenting a revoked token revokes every token of its login.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TenantSession), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> ApiResult<Json<TenantSession>> {
    Ok(Json(state.services.refresh(&req.refresh_token).await?))
}

/// Ends the login the refresh token belongs to.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> ApiResult<StatusCode> {
    state.services.logout(&req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller: user (or API key) and tenant.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, Auth(ctx): Auth) -> ApiResult<Json<Me>> {
    Ok(Json(state.services.me(&ctx.actor).await?))
}
