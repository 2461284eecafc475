//! Bots: create, list, read, patch, delete, and the status of their knowledge.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use docent_core::domain::{Bot, BotPatch, DocumentCounts, Job, NewBot};
use docent_core::ids::BotId;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiResult, Created, created};
use crate::app::AppState;
use crate::error::ErrorBody;
use crate::extractors::{Auth, Id, Paging};

#[derive(Serialize, ToSchema)]
pub struct BotList {
    pub bots: Vec<Bot>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(post, path = "/bots", tag = "bots", security(("bearer" = [])), request_body = NewBot,
    responses((status = 201, body = Bot), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<NewBot>,
) -> ApiResult<Created<Bot>> {
    Ok(created(state.services.create_bot(&ctx, req).await?))
}

#[utoipa::path(get, path = "/bots", tag = "bots", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = BotList)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    paging: Paging,
) -> ApiResult<Json<BotList>> {
    let page = state.services.list_bots(&ctx, &paging.page()?).await?;
    Ok(Json(BotList {
        bots: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(get, path = "/bots/{bot_id}", tag = "bots", security(("bearer" = [])),
    params(("bot_id" = String, Path)),
    responses((status = 200, body = Bot), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<BotId>,
) -> ApiResult<Json<Bot>> {
    Ok(Json(state.services.get_bot(&ctx, id).await?))
}

/// What a bot's knowledge is doing.
#[derive(Serialize, ToSchema)]
pub struct BotStatus {
    pub bot_id: BotId,
    /// True once nothing is pending: no document queued or processing and
    /// no job queued or running. Failed documents do not hold it back (see
    /// `documents.failed` and `GET /docs?status=failed`).
    pub ready: bool,
    pub documents: DocumentCounts,
    /// Jobs still queued or running, oldest first, with their progress. A
    /// crawl stays `running` until the pages it stored are ingested.
    pub jobs: Vec<Job>,
}

/// Whether the bot's knowledge is searchable yet: documents by status and
/// the jobs still at work. Poll it after an upload or a crawl until `ready`.
#[utoipa::path(get, path = "/bots/{bot_id}/status", tag = "bots", security(("bearer" = [])),
    params(("bot_id" = String, Path)),
    responses((status = 200, body = BotStatus), (status = 404, body = ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<BotId>,
) -> ApiResult<Json<BotStatus>> {
    let (documents, jobs) = state.services.bot_status(&ctx, id).await?;
    Ok(Json(BotStatus {
        bot_id: id,
        ready: documents.pending() == 0 && jobs.is_empty(),
        documents,
        jobs,
    }))
}

/// Changes the fields given; `null` clears a nullable field.
#[utoipa::path(patch, path = "/bots/{bot_id}", tag = "bots", security(("bearer" = [])),
    params(("bot_id" = String, Path)), request_body = BotPatch,
    responses((status = 200, body = Bot), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<BotId>,
    Json(patch): Json<BotPatch>,
) -> ApiResult<Json<Bot>> {
    Ok(Json(state.services.update_bot(&ctx, id, patch).await?))
}

/// Deletes the bot and everything that belongs to it.
#[utoipa::path(delete, path = "/bots/{bot_id}", tag = "bots", security(("bearer" = [])),
    params(("bot_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<BotId>,
) -> ApiResult<StatusCode> {
    state.services.delete_bot(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
