//! The audit trail: append-only rows, read newest first by id
//! (UUIDv7, so creation order) with optional action and time filters.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::{AuditEntry, AuditQuery, NewAuditEntry};
use docent_core::ids::{AuditId, TenantId};
use docent_core::store::{AuditStore, StoreError, StoreResult};

use sqlx::{ColumnIndex, Encode, Executor, Type};

use super::{Column, Dialect, SqlStore, Ts, Vector, map_err, parse_id};

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: String,
    tenant_id: String,
    actor_type: String,
    actor_id: Option<String>,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> StoreResult<Self> {
        Ok(AuditEntry {
            id: parse_id(&r.id)?,
            tenant_id: parse_id(&r.tenant_id)?,
            actor_type: r.actor_type,
            actor_id: r.actor_id,
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            ip: r.ip,
            user_agent: r.user_agent,
            created_at: r.created_at,
        })
    }
}

#[async_trait]
impl<D> AuditStore for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'r> &'r str: ColumnIndex<D::Row> + Encode<'r, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    for<'a> Option<&'a str>: Encode<'a, D> + Type<D>,
    String: Column<D>,
    Option<String>: Column<D>,
    i64: Column<D>,
    Option<i64>: Column<D>,
    Option<f64>: Column<D>,
    bool: Column<D>,
    Option<bool>: Column<D>,
    Ts: Column<D>,
    Option<Ts>: Column<D>,
    DateTime<Utc>: Column<D>,
    Option<DateTime<Utc>>: Column<D>,
    Vector: Column<D>,
{
    async fn append_audit(&self, tenant: TenantId, e: &NewAuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (id, tenant_id, actor_type, actor_id, action, resource_type,
                 resource_id, ip, user_agent, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(AuditId::new().to_string())
        .bind(tenant.to_string())
        .bind(e.actor_type)
        .bind(&e.actor_id)
        .bind(e.action)
        .bind(e.resource_type)
        .bind(&e.resource_id)
        .bind(&e.ip)
        .bind(&e.user_agent)
        // The application's clock, not the server's `now()`: the `since` and
        // `until` filters callers pass come from the same clock.
        .bind(Ts(Utc::now()))
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_audit(&self, tenant: TenantId, q: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query_as::<_, AuditRow>(
            "SELECT id, tenant_id, actor_type, actor_id, action, resource_type, resource_id, ip,
                    user_agent, created_at
             FROM audit_log
             WHERE tenant_id = $1
               AND ($2 IS NULL OR action = $2)
               AND ($3 IS NULL OR created_at >= $3)
               AND ($4 IS NULL OR created_at < $4)
               AND ($5 IS NULL OR id < $5)
             ORDER BY id DESC LIMIT $6",
        )
        .bind(tenant.to_string())
        .bind(&q.action)
        .bind(q.since.map(Ts))
        .bind(q.until.map(Ts))
        .bind(q.before.map(|id| id.to_string()))
        .bind(q.limit as i64)
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.into_iter().map(AuditEntry::try_from).collect()
    }
}
