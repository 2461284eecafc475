//! The tenant's administration views: usage against the plan, and the audit
//! trail.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use docent_core::domain::{AuditEntry, AuditQuery};
use docent_core::ids::AuditId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiResult;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::Auth;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this action, e.g. `bot.create`.
    pub action: Option<String>,
    /// RFC 3339; entries at or after.
    pub since: Option<String>,
    /// RFC 3339; entries at or before.
    pub until: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Actor {
    /// `user`, `api_key`, `visitor` or `operator`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: AuditId,
    pub actor: Actor,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What the action changed, field by field: `{"name": {"old": "A",
    /// "new": "B"}}` (a creation has only `new`, a deletion only `old`);
    /// secrets read `"[redacted]"`. Null when the action changes no field.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            actor: Actor {
                kind: e.actor_type,
                id: e.actor_id,
            },
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            ip: e.ip,
            user_agent: e.user_agent,
            changes: e.changes,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditView>,
    pub next_cursor: Option<String>,
}

fn time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ApiError::invalid(format!("`{name}` must be an RFC 3339 time")))
        })
        .transpose()
}

/// Who did what to which resource, from where, newest first (owner/admin).
#[utoipa::path(get, path = "/admin/audit-logs", tag = "admin", security(("bearer" = [])), params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn audit_logs(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Query(p): Query<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("`limit` must be between 1 and 200"));
    }
    let before = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(
            c.parse::<AuditId>()
                .map_err(|_| ApiError::invalid("`cursor` is not a cursor of this list"))?,
        ),
        None => None,
    };
    let query = AuditQuery {
        action: p.action.filter(|a| !a.is_empty()),
        since: time("since", p.since.as_deref())?,
        until: time("until", p.until.as_deref())?,
        before,
        // One more than asked, to learn whether another page follows.
        limit: limit + 1,
    };
    let mut entries = state.services.audit_logs(&ctx, &query).await?;
    let next_cursor = if entries.len() > limit as usize {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(Json(AuditPage {
        entries: entries.into_iter().map(AuditView::from).collect(),
        next_cursor,
    }))
}

/// The plan, its limits, this month's usage (UTC calendar month; documents,
/// chunks and stored bytes are what is held now) and the newest usage events.
/// Owner and admin only.
#[utoipa::path(get, path = "/admin/usage", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = docent_service::UsageReport), (status = 403, body = ErrorBody)))]
pub async fn usage(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> ApiResult<Json<docent_service::UsageReport>> {
    Ok(Json(state.services.usage_report(&ctx).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DailyQuery {
    /// Days up to today (UTC), 1–366; default 30.
    pub days: Option<u32>,
}

/// The usage ledger per UTC day (messages, prompt and completion tokens,
/// documents added), oldest first, today last, days without use as zeros:
/// the console's chart. Owner and admin only.
#[utoipa::path(get, path = "/admin/usage/daily", tag = "admin", security(("bearer" = [])),
    params(DailyQuery),
    responses((status = 200, body = docent_service::DailyUsage), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn usage_daily(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<DailyQuery>,
) -> ApiResult<Json<docent_service::DailyUsage>> {
    let days = q.days.unwrap_or(30);
    Ok(Json(state.services.usage_daily(&ctx, days).await?))
}
