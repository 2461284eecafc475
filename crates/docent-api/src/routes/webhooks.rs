//! Outbound webhooks (owner/admin): endpoints, their delivery log, and
//! redelivery. The signing secret is in the creation response only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use docent_core::domain::{WebhookDelivery, WebhookEndpoint};
use docent_core::ids::{DeliveryId, WebhookId};
use docent_service::{CreateWebhook, CreatedWebhook, UpdateWebhook};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiResult, Created, created};
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{Auth, Id, Paging};

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookEndpoint>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<WebhookDelivery>,
    pub next_cursor: Option<String>,
}

/// A new endpoint for the events it names; its `secret` (`whsec_…`) signs
/// every delivery and is shown only here. The URL must be http(s) on a
/// public address (unless the operator allows private networks).
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhook,
    responses((status = 201, body = CreatedWebhook), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<CreateWebhook>,
) -> ApiResult<Created<CreatedWebhook>> {
    Ok(created(state.services.create_webhook(&ctx, req).await?))
}

/// The tenant's endpoints, oldest first (at most 20).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = WebhookList), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, Auth(ctx): Auth) -> ApiResult<Json<WebhookList>> {
    Ok(Json(WebhookList {
        webhooks: state.services.list_webhooks(&ctx).await?,
    }))
}

#[utoipa::path(get, path = "/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = String, Path)),
    responses((status = 200, body = WebhookEndpoint), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<WebhookId>,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(state.services.get_webhook(&ctx, id).await?))
}

/// Changes the URL, events, description or `enabled`; enabling an endpoint
/// that failures disabled clears its failure count.
#[utoipa::path(patch, path = "/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = String, Path)), request_body = UpdateWebhook,
    responses((status = 200, body = WebhookEndpoint), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<WebhookId>,
    Json(req): Json<UpdateWebhook>,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(state.services.update_webhook(&ctx, id, req).await?))
}

/// Deletes the endpoint and its delivery log; nothing more is sent to it.
#[utoipa::path(delete, path = "/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<WebhookId>,
) -> ApiResult<StatusCode> {
    state.services.delete_webhook(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's deliveries, newest first: each event's body, status,
/// attempts, the last answer's HTTP status and error.
#[utoipa::path(get, path = "/webhooks/{webhook_id}/deliveries", tag = "webhooks",
    security(("bearer" = [])), params(("webhook_id" = String, Path), Paging),
    responses((status = 200, body = DeliveryList), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<WebhookId>,
    paging: Paging,
) -> ApiResult<Json<DeliveryList>> {
    let page = state
        .services
        .list_deliveries(&ctx, id, &paging.page()?)
        .await?;
    Ok(Json(DeliveryList {
        deliveries: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Sends a delivery again, with the same `webhook-id` and body (a receiver
/// drops duplicates by that id); 409 while the endpoint is disabled.
#[utoipa::path(post, path = "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 202, body = WebhookDelivery), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn redeliver(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((webhook, delivery)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    let (Ok(webhook), Ok(delivery)) =
        (webhook.parse::<WebhookId>(), delivery.parse::<DeliveryId>())
    else {
        return Err(ApiError::not_found());
    };
    let sent = state.services.redeliver(&ctx, webhook, delivery).await?;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}
