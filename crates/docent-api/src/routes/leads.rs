//! Leads: contact details visitors leave; editors read them.

use axum::Json;
use axum::extract::{Query, State};
use docent_core::domain::Lead;
use docent_core::ids::BotId;
use docent_service::NewLeadRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiResult, Created, created};
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{Auth, ChatAuth, Paging};

/// Leaves a lead. With an embed token the lead belongs to the token's bot and
/// visitor (and `session_id`, if given, must be the visitor's own); editors
/// and stronger name the bot with `bot_id` or `session_id`.
#[utoipa::path(post, path = "/leads", tag = "leads", security(("bearer" = [])),
    request_body = NewLeadRequest,
    responses((status = 201, body = Lead), (status = 402, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ChatAuth(ctx): ChatAuth,
    Json(req): Json<NewLeadRequest>,
) -> ApiResult<Created<Lead>> {
    // A visitor leaves a lead or two, not hundreds: per visitor, then per
    // bot (whoever sends them), before the plan's monthly count.
    if let Some(visitor) = ctx.actor.visitor() {
        let key = format!("{}:{}", visitor.bot_id, visitor.id);
        crate::ratelimit::check(&state, "lead_visitor", &key, LEADS_PER_VISITOR_PER_MINUTE).await?;
        let bot = visitor.bot_id.to_string();
        crate::ratelimit::check(&state, "lead_bot", &bot, LEADS_PER_BOT_PER_MINUTE).await?;
    }
    Ok(created(state.services.create_lead(&ctx, req).await?))
}

/// Leads one widget visitor may leave per minute.
const LEADS_PER_VISITOR_PER_MINUTE: u32 = 10;
/// Leads all visitors of one bot may leave per minute.
const LEADS_PER_BOT_PER_MINUTE: u32 = 120;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadFilter {
    /// Only this bot's leads.
    pub bot_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeadList {
    pub leads: Vec<Lead>,
    pub next_cursor: Option<String>,
}

/// Leads, newest first (editor and stronger).
#[utoipa::path(get, path = "/leads", tag = "leads", security(("bearer" = [])),
    params(LeadFilter, Paging),
    responses((status = 200, body = LeadList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Query(filter): Query<LeadFilter>,
    paging: Paging,
) -> ApiResult<Json<LeadList>> {
    let bot = match filter.bot_id.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<BotId>()
                .map_err(|_| ApiError::invalid("`bot_id` is not a bot id"))?,
        ),
    };
    let page = state
        .services
        .list_leads(&ctx, bot, &paging.page()?)
        .await?;
    Ok(Json(LeadList {
        leads: page.items,
        next_cursor: page.next_cursor,
    }))
}
