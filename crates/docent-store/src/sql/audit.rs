//! The audit trail: append-only rows, read newest first by id
//! (UUIDv7, so creation order) with optional action and time filters.

use async_trait::async_trait;
use chrono::Utc;
use docent_core::domain::{AuditEntry, AuditQuery, NewAuditEntry};
use docent_core::ids::{AuditId, TenantId};
use docent_core::store::{AuditStore, StoreResult};

use super::{Dialect, Row, SqlStore, query};

fn read_entry<D: Dialect>(r: Row<'_, D>) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: r.id("id")?,
        tenant_id: r.id("tenant_id")?,
        actor_type: r.text("actor_type")?,
        actor_id: r.opt_text("actor_id")?,
        action: r.text("action")?,
        resource_type: r.text("resource_type")?,
        resource_id: r.opt_text("resource_id")?,
        ip: r.opt_text("ip")?,
        user_agent: r.opt_text("user_agent")?,
        changes: r.opt_json("changes")?,
        created_at: r.time("created_at")?,
    })
}

#[async_trait]
impl<D: Dialect> AuditStore for SqlStore<D> {
    async fn append_audit(&self, tenant: TenantId, e: &NewAuditEntry) -> StoreResult<()> {
        let sql =
            "INSERT INTO audit_log (id, tenant_id, actor_type, actor_id, action, resource_type,
                 resource_id, ip, user_agent, changes, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        query::<D>("append_audit", sql)
            .bind((AuditId::new(), tenant, e.actor_type))
            .bind((&e.actor_id, e.action, e.resource_type, &e.resource_id))
            .bind((
                &e.ip,
                &e.user_agent,
                e.changes.as_ref().map(|c| c.to_string()),
            ))
            // The application's clock, not the server's `now()`: the `since` and
            // `until` filters callers pass come from the same clock.
            .bind(Utc::now())
            .run(self.pool())
            .await
    }

    async fn list_audit(&self, tenant: TenantId, q: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let sql =
            "SELECT id, tenant_id, actor_type, actor_id, action, resource_type, resource_id, ip,
                    user_agent, changes, created_at
             FROM audit_log
             WHERE tenant_id = $1
               AND ($2 IS NULL OR action = $2)
               AND ($3 IS NULL OR created_at >= $3)
               AND ($4 IS NULL OR created_at < $4)
               AND ($5 IS NULL OR id < $5)
             ORDER BY id DESC LIMIT $6";
        query::<D>("list_audit", sql)
            .bind((tenant, &q.action, q.since, q.until))
            .bind((q.before, q.limit as i64))
            .fetch_all(self.pool(), read_entry)
            .await
    }
}
