//! The operator's routes, authenticated by `Bearer $DOCENT_ADMIN_TOKEN`.

use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use docent_core::domain::{Plan, Tenant};
use docent_core::ids::TenantId;
use docent_service::Operator;
use serde::Deserialize;
use utoipa::ToSchema;

use super::ApiResult;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{Id, bearer, client_info};

#[derive(Debug, Deserialize, ToSchema)]
pub struct PlanRequest {
    /// `free`, `pro` or `enterprise`.
    pub plan: String,
}

/// Sets a tenant's plan. For the operator only: the bearer is
/// `DOCENT_ADMIN_TOKEN`; tenant credentials are refused.
#[utoipa::path(put, path = "/platform/tenants/{tenant_id}/plan", tag = "platform",
    params(("tenant_id" = String, Path)), request_body = PlanRequest,
    responses((status = 200, body = Tenant), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_plan(
    State(state): State<AppState>,
    parts: Parts,
    Id(tenant): Id<TenantId>,
    Json(req): Json<PlanRequest>,
) -> ApiResult<Json<Tenant>> {
    let plan = Plan::parse(&req.plan)
        .ok_or_else(|| ApiError::invalid("`plan` must be free, pro or enterprise"))?;
    let tenant = state
        .services
        .set_plan(
            Operator::Token(bearer(&parts)),
            &client_info(&parts),
            tenant,
            plan,
        )
        .await?;
    Ok(Json(tenant))
}
