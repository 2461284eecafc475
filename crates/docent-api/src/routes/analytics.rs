//! What a bot's conversations say: its report per day, and the
//! conversations themselves, exported.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use docent_core::ids::BotId;
use docent_service::{BotAnalytics, ExportFormat};
use futures::TryStreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiResult;
use crate::app::AppState;
use crate::error::ErrorBody;
use crate::extractors::{Auth, Id};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    /// First day (`2026-11-01`, UTC) or instant (RFC 3339) included;
    /// default: 30 days before `to`.
    pub from: Option<String>,
    /// Last day included (`2026-11-30`) or instant excluded; default: now.
    /// A range spans at most 366 days.
    pub to: Option<String>,
}

/// A bot's report over a range of days: conversations, messages, questions,
/// declined questions, feedback and answer latency percentiles per day and
/// in total; the most cited documents; the questions most often declined,
/// grouped by their words. Editors and stronger.
#[utoipa::path(get, path = "/bots/{bot_id}/analytics", tag = "analytics", security(("bearer" = [])),
    params(("bot_id" = String, Path), Range),
    responses((status = 200, body = BotAnalytics), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn bot_analytics(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(bot): Id<BotId>,
    Query(range): Query<Range>,
) -> ApiResult<Json<BotAnalytics>> {
    Ok(Json(
        state
            .services
            .bot_analytics(&ctx, bot, range.from.as_deref(), range.to.as_deref())
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Conversations started from this day or instant (as for analytics).
    pub from: Option<String>,
    pub to: Option<String>,
    /// `jsonl` (default: one conversation per line, with its messages) or
    /// `csv` (one message per row).
    pub format: Option<String>,
}

/// A bot's conversations started in the range, streamed as JSON lines or
/// CSV (cells a spreadsheet would run as formulas get a leading `'`).
/// Owners and admins; audited.
#[utoipa::path(get, path = "/bots/{bot_id}/conversations/export", tag = "analytics", security(("bearer" = [])),
    params(("bot_id" = String, Path), ExportQuery),
    responses((status = 200, description = "The conversations, as `application/x-ndjson` or `text/csv`"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export_conversations(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(bot): Id<BotId>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let format = ExportFormat::parse(q.format.as_deref())?;
    let stream = state
        .services
        .export_conversations(&ctx, bot, q.from.as_deref(), q.to.as_deref(), format)
        .await?
        .inspect_err(|error| {
            tracing::error!(error = %docent_service::ErrorChain(error), "a conversation export failed midway");
        });
    let filename = format!("conversations-{bot}.{}", format.extension());
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
