//! Webhook endpoints and deliveries. An endpoint's events are a JSON list;
//! a delivery's payload is the JSON body it sends.

use async_trait::async_trait;
use chrono::Utc;
use docent_core::domain::{
    DeliveryAttempt, DeliveryStatus, NewJob, WebhookDelivery, WebhookEndpoint, WebhookEvent,
};
use docent_core::ids::{DeliveryId, TenantId, WebhookId};
use docent_core::store::{Page, PageRequest, StoreResult, WebhookStore};

use super::{
    Dialect, Row, SqlStore, commit, corrupt, insert_job, json, limit_plus_one, page_of, query,
};

fn read_endpoint<D: Dialect>(r: Row<'_, D>) -> StoreResult<WebhookEndpoint> {
    let names: Vec<String> = r.json("events")?;
    let events = names
        .iter()
        .map(|n| {
            WebhookEvent::parse(n).ok_or_else(|| corrupt("read_webhook", format!("event `{n}`")))
        })
        .collect::<StoreResult<_>>()?;
    Ok(WebhookEndpoint {
        id: r.id("id")?,
        tenant_id: r.id("tenant_id")?,
        url: r.text("url")?,
        description: r.opt_text("description")?,
        events,
        enabled: r.flag("enabled")?,
        disabled_reason: r.opt_text("disabled_reason")?,
        consecutive_failures: r.count("consecutive_failures")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

fn read_delivery<D: Dialect>(r: Row<'_, D>) -> StoreResult<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: r.id("id")?,
        tenant_id: r.id("tenant_id")?,
        endpoint_id: r.id("endpoint_id")?,
        event: r.name("event", WebhookEvent::parse)?,
        message_id: r.text("message_id")?,
        payload: r.json("payload")?,
        status: r.name("status", DeliveryStatus::parse)?,
        attempts: r.count("attempts")?,
        response_status: r
            .opt_int("response_status")?
            .and_then(|s| u16::try_from(s).ok()),
        error: r.opt_text("error")?,
        created_at: r.time("created_at")?,
        last_attempt_at: r.opt_time("last_attempt_at")?,
        delivered_at: r.opt_time("delivered_at")?,
    })
}

fn event_names(endpoint: &WebhookEndpoint) -> String {
    json(
        &endpoint
            .events
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>(),
    )
}

#[async_trait]
impl<D: Dialect> WebhookStore for SqlStore<D> {
    async fn create_webhook(&self, e: &WebhookEndpoint, secret: &str) -> StoreResult<()> {
        let sql = "INSERT INTO webhooks (id, tenant_id, url, description, events, enabled,
                                         disabled_reason, consecutive_failures, created_at,
                                         updated_at, secret)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        query::<D>("create_webhook", sql)
            .bind((e.id, e.tenant_id, &e.url, &e.description, event_names(e)))
            .bind((
                e.enabled,
                &e.disabled_reason,
                i64::from(e.consecutive_failures),
            ))
            .bind((e.created_at, e.updated_at, secret))
            .run(self.pool())
            .await
    }

    async fn list_webhooks(&self, tenant: TenantId) -> StoreResult<Vec<WebhookEndpoint>> {
        let sql = select!(webhooks: "WHERE tenant_id = $1 ORDER BY id");
        query::<D>("list_webhooks", sql)
            .bind(tenant)
            .fetch_all(self.pool(), read_endpoint)
            .await
    }

    async fn get_webhook(&self, tenant: TenantId, id: WebhookId) -> StoreResult<WebhookEndpoint> {
        let sql = select!(webhooks: "WHERE tenant_id = $1 AND id = $2");
        query::<D>("get_webhook", sql)
            .bind((tenant, id))
            .fetch_one(self.pool(), read_endpoint)
            .await
    }

    async fn webhook_secret(&self, tenant: TenantId, id: WebhookId) -> StoreResult<String> {
        let sql = "SELECT secret FROM webhooks WHERE tenant_id = $1 AND id = $2";
        query::<D>("webhook_secret", sql)
            .bind((tenant, id))
            .fetch_one(self.pool(), |r| r.text("secret"))
            .await
    }

    async fn update_webhook(&self, e: &WebhookEndpoint) -> StoreResult<()> {
        let sql = "UPDATE webhooks SET url = $3, description = $4, events = $5, enabled = $6,
                          disabled_reason = $7, consecutive_failures = $8, updated_at = $9
                   WHERE tenant_id = $1 AND id = $2";
        query::<D>("update_webhook", sql)
            .bind((e.tenant_id, e.id, &e.url, &e.description, event_names(e)))
            .bind((
                e.enabled,
                &e.disabled_reason,
                i64::from(e.consecutive_failures),
            ))
            .bind(e.updated_at)
            .execute_found(self.pool())
            .await
    }

    async fn delete_webhook(&self, tenant: TenantId, id: WebhookId) -> StoreResult<()> {
        // Its deliveries go with it (ON DELETE CASCADE); a delivery job
        // still queued finds nothing and ends.
        let sql = "DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2";
        query::<D>("delete_webhook", sql)
            .bind((tenant, id))
            .execute_found(self.pool())
            .await
    }

    async fn create_delivery(&self, d: &WebhookDelivery, job: &NewJob) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let sql =
            insert!(webhook_deliveries: "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13");
        query::<D>("create_delivery", sql)
            .bind((
                d.id,
                d.tenant_id,
                d.endpoint_id,
                d.event.as_str(),
                &d.message_id,
            ))
            .bind((json(&d.payload), d.status.as_str(), i64::from(d.attempts)))
            .bind((d.response_status.map(i64::from), &d.error, d.created_at))
            .bind((d.last_attempt_at, d.delivered_at))
            .execute(&mut tx)
            .await?;
        insert_job(&mut tx, job, Utc::now()).await?;
        commit(tx, "create_delivery").await
    }

    async fn get_delivery(&self, tenant: TenantId, id: DeliveryId) -> StoreResult<WebhookDelivery> {
        let sql = select!(webhook_deliveries: "WHERE tenant_id = $1 AND id = $2");
        query::<D>("get_delivery", sql)
            .bind((tenant, id))
            .fetch_one(self.pool(), read_delivery)
            .await
    }

    async fn list_deliveries(
        &self,
        tenant: TenantId,
        endpoint: WebhookId,
        page: &PageRequest,
    ) -> StoreResult<Page<WebhookDelivery>> {
        let sql = select!(webhook_deliveries: "WHERE tenant_id = $1 AND endpoint_id = $2
                                                 AND ($3 IS NULL OR id < $3)
                                               ORDER BY id DESC LIMIT $4");
        let deliveries = query::<D>("list_deliveries", sql)
            .bind((tenant, endpoint, &page.after, limit_plus_one(page)))
            .fetch_all(self.pool(), read_delivery)
            .await?;
        Ok(page_of(deliveries, page, |d| d.id.to_string()))
    }

    async fn record_attempt(
        &self,
        tenant: TenantId,
        delivery: DeliveryId,
        attempt: &DeliveryAttempt,
        disable_after: u32,
        reason: &str,
    ) -> StoreResult<bool> {
        let ok = attempt.error.is_none();
        let status = match (ok, attempt.last) {
            (true, _) => DeliveryStatus::Succeeded,
            (false, true) => DeliveryStatus::Failed,
            (false, false) => DeliveryStatus::Pending,
        };
        let mut tx = self.write_tx().await?;
        let sql = "UPDATE webhook_deliveries
                   SET attempts = attempts + 1, status = $3, response_status = $4, error = $5,
                       last_attempt_at = $6, delivered_at = CASE WHEN $7 THEN $6 ELSE NULL END
                   WHERE tenant_id = $1 AND id = $2
                   RETURNING endpoint_id";
        let endpoint: WebhookId = query::<D>("record_attempt", sql)
            .bind((tenant, delivery, status.as_str()))
            .bind((
                attempt.response_status.map(i64::from),
                &attempt.error,
                attempt.at,
                ok,
            ))
            .fetch_one(&mut tx, |r| r.id("endpoint_id"))
            .await?;
        let disabled = if ok {
            let sql = "UPDATE webhooks SET consecutive_failures = 0
                       WHERE tenant_id = $1 AND id = $2";
            query::<D>("record_attempt", sql)
                .bind((tenant, endpoint))
                .run(&mut tx)
                .await?;
            false
        } else {
            // A delivery skipped because the endpoint is disabled is no
            // failure of the endpoint's.
            let sql = "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1
                       WHERE tenant_id = $1 AND id = $2 AND enabled";
            query::<D>("record_attempt", sql)
                .bind((tenant, endpoint))
                .run(&mut tx)
                .await?;
            // Disabled by this attempt: the one that reached the bound while
            // the endpoint was still enabled.
            let sql = "UPDATE webhooks SET enabled = FALSE, disabled_reason = $3, updated_at = $4
                       WHERE tenant_id = $1 AND id = $2 AND enabled
                         AND consecutive_failures >= $5";
            query::<D>("record_attempt", sql)
                .bind((tenant, endpoint, reason, attempt.at))
                .bind(i64::from(disable_after.max(1)))
                .changed_one(&mut tx)
                .await?
        };
        commit(tx, "record_attempt").await?;
        Ok(disabled)
    }

    async fn redeliver(
        &self,
        tenant: TenantId,
        delivery: DeliveryId,
        job: &NewJob,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let sql = "UPDATE webhook_deliveries SET status = 'pending', error = NULL
                   WHERE tenant_id = $1 AND id = $2";
        query::<D>("redeliver", sql)
            .bind((tenant, delivery))
            .execute_found(&mut tx)
            .await?;
        insert_job(&mut tx, job, Utc::now()).await?;
        commit(tx, "redeliver").await
    }
}
