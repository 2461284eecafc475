//! Sending one webhook delivery: an attempt per run of its job, signed as
//! Standard Webhooks says (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`: HMAC-SHA256 of `id.timestamp.body` with the
//! endpoint's secret, through the specification's own library), posted
//! through the outbound network guard without following redirects. A
//! non-2xx answer or a network failure is retried with the queue's backoff
//! until the job's last attempt; an address the guard refuses is not.

use chrono::Utc;
use docent_core::domain::{DeliveryAttempt, Job};
use docent_core::ids::DeliveryId;
use docent_core::store::StoreError;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

use super::{JobContext, JobError};

/// What the worker needs to deliver webhooks.
#[derive(Clone, Debug)]
pub struct WebhookDelivery {
    /// The guarded client, redirects not followed.
    pub http: docent_crawl::GuardedClient,
    pub timeout: std::time::Duration,
    /// Failed attempts in a row that disable an endpoint.
    pub disable_after: u32,
}

fn header(value: &str) -> Result<HeaderValue, JobError> {
    HeaderValue::from_str(value).map_err(|e| JobError::Fatal(format!("bad header value: {e}")))
}

#[tracing::instrument(
    name = "webhook",
    skip_all,
    fields(tenant_id = %job.tenant_id, delivery_id = %delivery_id)
)]
pub(super) async fn run(
    ctx: &JobContext,
    job: &Job,
    delivery_id: DeliveryId,
) -> Result<(), JobError> {
    let tenant = job.tenant_id;
    // Deleted with its endpoint while queued: nothing to send.
    let delivery = match ctx.store.get_delivery(tenant, delivery_id).await {
        Ok(d) => d,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let endpoint = match ctx.store.get_webhook(tenant, delivery.endpoint_id).await {
        Ok(e) => e,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let settings = &ctx.webhooks;
    let mut last = job.attempts >= job.max_attempts;
    let outcome = if endpoint.enabled {
        send(ctx, &endpoint, &delivery).await?
    } else {
        last = true;
        (None, Some("the endpoint is disabled".to_string()), false)
    };
    let (response_status, error, retryable) = outcome;
    let last = last || !retryable;
    let attempt = DeliveryAttempt {
        at: Utc::now(),
        response_status,
        error: error.clone(),
        last,
    };
    let reason = format!(
        "disabled after {} failed deliveries in a row",
        settings.disable_after
    );
    let disabled = ctx
        .store
        .record_attempt(
            tenant,
            delivery.id,
            &attempt,
            settings.disable_after,
            &reason,
        )
        .await?;
    if disabled {
        tracing::warn!(webhook = %endpoint.id, %reason, "webhook endpoint disabled");
        let entry = crate::webhooks::disabled_entry(endpoint.id, &reason);
        if let Err(error) = ctx.store.append_audit(tenant, &entry).await {
            tracing::warn!(error = %crate::ErrorChain(&error), "cannot audit the disabled endpoint");
        }
    }
    metrics::counter!("docent_webhook_attempts_total",
        "outcome" => if error.is_none() { "delivered" } else { "failed" })
    .increment(1);
    match error {
        None => Ok(()),
        Some(error) if last => Err(JobError::Fatal(error)),
        Some(error) => Err(JobError::Retry(error)),
    }
}

/// One signed POST: the status the endpoint answered, the failure if it
/// was one, and whether trying again could help.
async fn send(
    ctx: &JobContext,
    endpoint: &docent_core::domain::WebhookEndpoint,
    delivery: &docent_core::domain::WebhookDelivery,
) -> Result<(Option<u16>, Option<String>, bool), JobError> {
    let secret = ctx
        .store
        .webhook_secret(endpoint.tenant_id, endpoint.id)
        .await?;
    let body = serde_json::to_vec(&delivery.payload)
        .map_err(|e| JobError::Fatal(format!("cannot encode the payload: {e}")))?;
    let timestamp = Utc::now().timestamp();
    let signature = standardwebhooks::Webhook::new(&secret)
        .and_then(|w| w.sign(&delivery.message_id, timestamp, &body))
        .map_err(|e| JobError::Fatal(format!("cannot sign the delivery: {e}")))?;
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("webhook-id", header(&delivery.message_id)?);
    headers.insert("webhook-timestamp", header(&timestamp.to_string())?);
    headers.insert("webhook-signature", header(&signature)?);
    let url = url::Url::parse(&endpoint.url)
        .map_err(|e| JobError::Fatal(format!("the endpoint URL is invalid: {e}")))?;
    let timeout = ctx.webhooks.timeout;
    Ok(
        match ctx.webhooks.http.post(&url, headers, body, timeout).await {
            Ok(res) => {
                let code = res.status().as_u16();
                if res.status().is_success() {
                    (Some(code), None, false)
                } else {
                    (
                        Some(code),
                        Some(format!("the endpoint answered {code}")),
                        true,
                    )
                }
            }
            Err(e) => (None, Some(e.to_string()), !e.is_refused()),
        },
    )
}
