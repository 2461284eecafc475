//! Searching a bot's knowledge base.

use axum::Json;
use axum::extract::State;
use docent_core::ids::BotId;
use docent_service::{SearchRequest, SearchResults};

use super::ApiResult;
use crate::app::AppState;
use crate::error::ErrorBody;
use crate::extractors::{Auth, Id};

/// The passages of the bot's knowledge base that best match a query:
/// `keyword` (BM25), `vector` (cosine similarity) or `hybrid` (both, the
/// default), scored by calibrated relevance in [0, 1] and cut at the bot's
/// floor (`min_score`, or the embedder's calibrated default when it is null).
#[utoipa::path(post, path = "/bots/{bot_id}/search", tag = "retrieval", security(("bearer" = [])),
    params(("bot_id" = String, Path)), request_body = SearchRequest,
    responses((status = 200, body = SearchResults), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(bot): Id<BotId>,
    Json(req): Json<SearchRequest>,
) -> ApiResult<Json<SearchResults>> {
    Ok(Json(state.services.search(&ctx, bot, req).await?))
}
