//! API keys (owner/admin). The key is in the creation response only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use docent_core::domain::ApiKey;
use docent_core::ids::ApiKeyId;
use docent_service::{CreateApiKey, CreatedApiKey};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiResult, Created, created};
use crate::app::AppState;
use crate::error::ErrorBody;
use crate::extractors::{Auth, Id, Paging};

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKey>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(post, path = "/api-keys", tag = "api-keys", security(("bearer" = [])),
    request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<CreateApiKey>,
) -> ApiResult<Created<CreatedApiKey>> {
    Ok(created(state.services.create_api_key(&ctx, req).await?))
}

/// Live keys of the tenant (revoked ones are not listed).
#[utoipa::path(get, path = "/api-keys", tag = "api-keys", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = ApiKeyList), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    paging: Paging,
) -> ApiResult<Json<ApiKeyList>> {
    let page = state.services.list_api_keys(&ctx, &paging.page()?).await?;
    Ok(Json(ApiKeyList {
        api_keys: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Revokes a key; it stops working at once.
#[utoipa::path(delete, path = "/api-keys/{key_id}", tag = "api-keys", security(("bearer" = [])),
    params(("key_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<ApiKeyId>,
) -> ApiResult<StatusCode> {
    state.services.revoke_api_key(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
