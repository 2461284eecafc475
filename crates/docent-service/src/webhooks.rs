//! Outbound webhooks: endpoints a tenant's owners and admins manage, the
//! events the product emits to them, and redelivery. Deliveries are jobs
//! of the durable queue (`pipeline::webhook` sends them), signed as the
//! Standard Webhooks specification says.

use std::sync::Arc;

use base64::Engine;
use chrono::Utc;
use docent_core::domain::{
    DeliveryStatus, NewAuditEntry, NewJob, Role, WebhookDelivery, WebhookEndpoint, WebhookEvent,
    changes,
};
use docent_core::ids::{DeliveryId, TenantId, WebhookId};
use docent_core::store::{Page, PageRequest, Store};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{Ctx, ServiceError, ServiceResult, Services};

/// Endpoints a tenant may have.
pub const MAX_WEBHOOKS: usize = 20;
/// Longest endpoint URL.
const MAX_URL_CHARS: usize = 2_000;

/// Body of `POST /webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    pub url: String,
    /// The event names to deliver (`document.ready`, `lead.created`, …).
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// Body of `PATCH /webhooks/{webhook_id}`: the fields to change.
/// `enabled: true` re-enables an endpoint and clears its failures.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// A new endpoint and its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookEndpoint,
    /// `whsec_` and the base64 key: what Standard Webhooks libraries take.
    pub secret: String,
}

/// A fresh signing secret: 32 random bytes, as Standard Webhooks writes it.
fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// A message id for the `webhook-id` header.
fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

fn parse_events(names: &[String]) -> ServiceResult<Vec<WebhookEvent>> {
    if names.is_empty() {
        return Err(ServiceError::Invalid(
            "`events` must name at least one event".into(),
        ));
    }
    let mut events = Vec::new();
    for name in names {
        let event = WebhookEvent::parse(name).ok_or_else(|| {
            let known: Vec<&str> = WebhookEvent::ALL.iter().map(|e| e.as_str()).collect();
            let shown: String = name.chars().take(60).collect();
            ServiceError::Invalid(format!(
                "unknown event `{shown}`; events are {}",
                known.join(", ")
            ))
        })?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    Ok(events)
}

fn description(d: Option<String>) -> ServiceResult<Option<String>> {
    let d = d.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
    if d.as_ref().is_some_and(|d| d.chars().count() > 500) {
        return Err(ServiceError::Invalid(
            "`description` holds at most 500 characters".into(),
        ));
    }
    Ok(d)
}

impl Services {
    /// An endpoint URL: http(s), no credentials, and (unless the operator
    /// allows private networks) not a private address; delivery checks the
    /// addresses its name resolves to again, on every attempt.
    fn webhook_url(&self, raw: &str) -> ServiceResult<String> {
        let raw = raw.trim();
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(ServiceError::Invalid(format!(
                "`url` holds at most {MAX_URL_CHARS} characters"
            )));
        }
        let url = url::Url::parse(raw)
            .map_err(|e| ServiceError::Invalid(format!("`url` is not a URL: {e}")))?;
        docent_crawl::guard::check_url(&url, self.settings.crawl_allow_private_networks)
            .map_err(|r| ServiceError::Invalid(format!("`url` cannot be delivered to: {r}")))?;
        Ok(url.to_string())
    }

    pub async fn create_webhook(
        &self,
        ctx: &Ctx,
        req: CreateWebhook,
    ) -> ServiceResult<CreatedWebhook> {
        ctx.actor.require(Role::Admin)?;
        let tenant = ctx.actor.tenant_id;
        let url = self.webhook_url(&req.url)?;
        let events = parse_events(&req.events)?;
        let description = description(req.description)?;
        if self.store.list_webhooks(tenant).await?.len() >= MAX_WEBHOOKS {
            return Err(ServiceError::Invalid(format!(
                "a tenant has at most {MAX_WEBHOOKS} webhook endpoints"
            )));
        }
        let now = Utc::now();
        let webhook = WebhookEndpoint {
            id: WebhookId::new(),
            tenant_id: tenant,
            url,
            description,
            events,
            enabled: true,
            disabled_reason: None,
            consecutive_failures: 0,
            created_at: now,
            updated_at: now,
        };
        let secret = new_secret();
        self.store.create_webhook(&webhook, &secret).await?;
        self.audit_change(
            ctx,
            "webhook.create",
            "webhook",
            Some(webhook.id.to_string()),
            changes(None, Some(&webhook)),
        )
        .await;
        Ok(CreatedWebhook { webhook, secret })
    }

    pub async fn list_webhooks(&self, ctx: &Ctx) -> ServiceResult<Vec<WebhookEndpoint>> {
        ctx.actor.require(Role::Admin)?;
        Ok(self.store.list_webhooks(ctx.actor.tenant_id).await?)
    }

    pub async fn get_webhook(&self, ctx: &Ctx, id: WebhookId) -> ServiceResult<WebhookEndpoint> {
        ctx.actor.require(Role::Admin)?;
        Ok(self.store.get_webhook(ctx.actor.tenant_id, id).await?)
    }

    pub async fn update_webhook(
        &self,
        ctx: &Ctx,
        id: WebhookId,
        req: UpdateWebhook,
    ) -> ServiceResult<WebhookEndpoint> {
        ctx.actor.require(Role::Admin)?;
        let old = self.store.get_webhook(ctx.actor.tenant_id, id).await?;
        let mut new = old.clone();
        if let Some(url) = &req.url {
            new.url = self.webhook_url(url)?;
        }
        if let Some(events) = &req.events {
            new.events = parse_events(events)?;
        }
        if req.description.is_some() {
            new.description = description(req.description)?;
        }
        if let Some(enabled) = req.enabled {
            new.enabled = enabled;
            if enabled {
                new.disabled_reason = None;
                new.consecutive_failures = 0;
            }
        }
        new.updated_at = Utc::now();
        self.store.update_webhook(&new).await?;
        self.audit_change(
            ctx,
            "webhook.update",
            "webhook",
            Some(id.to_string()),
            changes(Some(&old), Some(&new)),
        )
        .await;
        Ok(new)
    }

    pub async fn delete_webhook(&self, ctx: &Ctx, id: WebhookId) -> ServiceResult<()> {
        ctx.actor.require(Role::Admin)?;
        self.store.delete_webhook(ctx.actor.tenant_id, id).await?;
        self.audit(ctx, "webhook.delete", "webhook", Some(id.to_string()))
            .await;
        Ok(())
    }

    pub async fn list_deliveries(
        &self,
        ctx: &Ctx,
        id: WebhookId,
        page: &PageRequest,
    ) -> ServiceResult<Page<WebhookDelivery>> {
        ctx.actor.require(Role::Admin)?;
        let tenant = ctx.actor.tenant_id;
        // 404 for an endpoint of another tenant, not an empty list.
        self.store.get_webhook(tenant, id).await?;
        Ok(self.store.list_deliveries(tenant, id, page).await?)
    }

    /// Sends a delivery again, with its message id and body; the endpoint
    /// must be enabled (409 otherwise: enable it first).
    pub async fn redeliver(
        &self,
        ctx: &Ctx,
        id: WebhookId,
        delivery: DeliveryId,
    ) -> ServiceResult<WebhookDelivery> {
        ctx.actor.require(Role::Admin)?;
        let tenant = ctx.actor.tenant_id;
        let endpoint = self.store.get_webhook(tenant, id).await?;
        let found = self.store.get_delivery(tenant, delivery).await?;
        if found.endpoint_id != id {
            return Err(ServiceError::NotFound);
        }
        if !endpoint.enabled {
            return Err(ServiceError::Conflict(
                "the endpoint is disabled: enable it before redelivering".into(),
            ));
        }
        let job = delivery_job(tenant, delivery, self.settings.webhook_max_attempts);
        self.store.redeliver(tenant, delivery, &job).await?;
        self.audit(
            ctx,
            "webhook.redeliver",
            "webhook_delivery",
            Some(delivery.to_string()),
        )
        .await;
        Ok(self.store.get_delivery(tenant, delivery).await?)
    }

    /// Tells the tenant's endpoints that want `event`; never fails the
    /// action that caused it (a failure to enqueue is logged).
    pub(crate) async fn emit(&self, tenant: TenantId, event: WebhookEvent, data: Value) {
        emit(
            &self.store,
            tenant,
            event,
            data,
            self.settings.webhook_max_attempts,
        )
        .await;
    }
}

fn delivery_job(tenant: TenantId, delivery: DeliveryId, max_attempts: u32) -> NewJob {
    NewJob {
        max_attempts,
        ..NewJob::new(
            tenant,
            docent_core::domain::JobSpec::DeliverWebhook {
                delivery_id: delivery,
            },
        )
    }
}

/// Emits `event` to each endpoint of `tenant` that wants it: a pending
/// delivery and its job, each in one transaction. The services and the
/// workers (whose ingestion finishes documents) both emit through this.
pub async fn emit(
    store: &Arc<dyn Store>,
    tenant: TenantId,
    event: WebhookEvent,
    data: Value,
    max_attempts: u32,
) {
    let endpoints = match store.list_webhooks(tenant).await {
        Ok(endpoints) => endpoints,
        Err(error) => {
            tracing::warn!(%error, event = event.as_str(), "cannot read webhook endpoints; event not sent");
            return;
        }
    };
    let now = Utc::now();
    let payload = json!({
        "type": event.as_str(),
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    });
    for endpoint in endpoints.into_iter().filter(|e| e.wants(event)) {
        let delivery = WebhookDelivery {
            id: DeliveryId::new(),
            tenant_id: tenant,
            endpoint_id: endpoint.id,
            event,
            message_id: new_message_id(),
            payload: payload.clone(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            response_status: None,
            error: None,
            created_at: now,
            last_attempt_at: None,
            delivered_at: None,
        };
        let job = delivery_job(tenant, delivery.id, max_attempts);
        if let Err(error) = store.create_delivery(&delivery, &job).await {
            tracing::warn!(%error, event = event.as_str(), webhook = %endpoint.id, "cannot enqueue a webhook delivery");
        }
    }
}

/// A document's part of `document.ready` and `document.failed`.
pub fn document_data(doc: &docent_core::domain::Document) -> Value {
    json!({
        "document_id": doc.id,
        "bot_id": doc.bot_id,
        "title": doc.title,
        "status": doc.status,
        "source_url": doc.source_url,
        "chunk_count": doc.chunk_count,
        "error": doc.error,
    })
}

/// The audit entry of an endpoint disabled by its failures.
pub fn disabled_entry(endpoint: WebhookId, reason: &str) -> NewAuditEntry {
    NewAuditEntry {
        actor_type: "system",
        actor_id: None,
        action: "webhook.disabled",
        resource_type: "webhook",
        resource_id: Some(endpoint.to_string()),
        ip: None,
        user_agent: None,
        changes: Some(json!({"enabled": {"old": true, "new": false}, "reason": reason})),
    }
}
