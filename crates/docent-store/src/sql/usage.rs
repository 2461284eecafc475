//! Usage counters and the usage ledger. A reservation is one transaction of
//! conditional updates (`used + amount <= limit`). SQLite runs one writer at
//! a time; on PostgreSQL (READ COMMITTED) concurrent updates of one counter
//! queue on its row lock and re-check the condition against the committed
//! value. Either way, of N racing requests for the last M units exactly M
//! succeed.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::{Charge, UsageEvent, UsageKind};
use docent_core::ids::TenantId;
use docent_core::store::{StoreError, StoreResult, UsageStore};
use sqlx::{ColumnIndex, Encode, Executor, Type};

use super::{Column, Dialect, SqlStore, Ts, Vector, amount, backend, map_err, parse_id};

fn kind(s: &str) -> StoreResult<UsageKind> {
    UsageKind::parse(s).ok_or_else(|| backend(format!("unknown usage kind `{s}`")))
}

/// The distinct counters `charges` touch, in one global order. Every transaction takes counter rows in this order,
/// so two reservations naming the same counters in different orders wait
/// for each other instead of deadlocking.
fn lock_order(charges: &[Charge]) -> Vec<(&str, &'static str)> {
    let mut keys: Vec<_> = charges
        .iter()
        .map(|c| (c.period.as_str(), c.kind.as_str()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Creates any missing counters (at zero) and locks them, in lock order.
async fn lock_counters<D>(
    conn: &mut D::Connection,
    tenant: &str,
    keys: &[(&str, &str)],
) -> StoreResult<()>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'a> &'a str: Encode<'a, D> + Type<D>,
{
    let lock = format!(
        "SELECT 1 FROM usage_counters WHERE tenant_id = $1 AND period = $2 AND kind = $3{}",
        D::FOR_UPDATE
    );
    for (period, kind) in keys {
        sqlx::query(
            "INSERT INTO usage_counters (tenant_id, period, kind, used) VALUES ($1, $2, $3, 0)
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(*period)
        .bind(*kind)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
        sqlx::query(sqlx::AssertSqlSafe(lock.as_str()))
            .bind(tenant)
            .bind(*period)
            .bind(*kind)
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}

#[async_trait]
impl<D> UsageStore for SqlStore<D>
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
    async fn reserve(&self, tenant: TenantId, charges: &[Charge]) -> StoreResult<()> {
        if charges.is_empty() {
            return Ok(());
        }
        let tenant = tenant.to_string();
        let mut tx = self.write_tx().await?;
        // Locking first only orders the waits; the conditional updates below,
        // in the caller's order, are what keep the limits exact and name the
        // first charge that would pass its limit.
        lock_counters::<D>(&mut tx, &tenant, &lock_order(charges)).await?;
        for c in charges {
            let done = sqlx::query(
                "UPDATE usage_counters SET used = used + $1
                 WHERE tenant_id = $2 AND period = $3 AND kind = $4
                   AND ($5 IS NULL OR used + $1 <= $5)",
            )
            .bind(amount(c.amount))
            .bind(&tenant)
            .bind(&c.period)
            .bind(c.kind.as_str())
            .bind(c.limit.map(amount))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            if D::rows_affected(&done) == 0 {
                // Dropping `tx` rolls back the charges already made.
                return Err(StoreError::QuotaExceeded(c.kind));
            }
        }
        tx.commit().await.map_err(map_err)
    }

    async fn release(&self, tenant: TenantId, charges: &[Charge]) -> StoreResult<()> {
        let tenant = tenant.to_string();
        let mut tx = self.write_tx().await?;
        // In lock order, as `reserve` takes the rows (see `lock_order`).
        let mut ordered: Vec<&Charge> = charges.iter().collect();
        ordered.sort_by_key(|&c| (c.period.as_str(), c.kind.as_str()));
        for c in ordered {
            sqlx::query(
                "UPDATE usage_counters SET used = CASE WHEN used > $1 THEN used - $1 ELSE 0 END
                 WHERE tenant_id = $2 AND period = $3 AND kind = $4",
            )
            .bind(amount(c.amount))
            .bind(&tenant)
            .bind(&c.period)
            .bind(c.kind.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn usage_counters(
        &self,
        tenant: TenantId,
        periods: &[&str],
    ) -> StoreResult<Vec<(UsageKind, String, u64)>> {
        let mut out = Vec::new();
        for period in periods {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT kind, used FROM usage_counters WHERE tenant_id = $1 AND period = $2
                 ORDER BY kind",
            )
            .bind(tenant.to_string())
            .bind(*period)
            .fetch_all(self.pool())
            .await
            .map_err(map_err)?;
            for (k, used) in rows {
                out.push((kind(&k)?, period.to_string(), used.max(0) as u64));
            }
        }
        Ok(out)
    }

    async fn record_usage(&self, events: &[UsageEvent]) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        for e in events {
            sqlx::query(
                "INSERT INTO usage_events (tenant_id, bot_id, kind, quantity, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(e.tenant_id.to_string())
            .bind(e.bot_id.map(|b| b.to_string()))
            .bind(e.kind.as_str())
            .bind(amount(e.quantity))
            .bind(Ts(e.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn usage_since(
        &self,
        tenant: TenantId,
        since: DateTime<Utc>,
    ) -> StoreResult<HashMap<UsageKind, u64>> {
        // SUM of BIGINT is NUMERIC in PostgreSQL: cast back.
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT kind, CAST(SUM(quantity) AS BIGINT) FROM usage_events
             WHERE tenant_id = $1 AND created_at >= $2 GROUP BY kind",
        )
        .bind(tenant.to_string())
        .bind(Ts(since))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.into_iter()
            .map(|(k, n)| Ok((kind(&k)?, n.max(0) as u64)))
            .collect()
    }

    async fn recent_usage(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<UsageEvent>> {
        // `id` is a sequence: the order events were recorded.
        let rows: Vec<(Option<String>, String, i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT bot_id, kind, quantity, created_at FROM usage_events
             WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(tenant.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.into_iter()
            .map(|(bot, k, quantity, created_at)| {
                Ok(UsageEvent {
                    tenant_id: tenant,
                    bot_id: bot.as_deref().map(parse_id).transpose()?,
                    kind: kind(&k)?,
                    quantity: quantity.max(0) as u64,
                    created_at,
                })
            })
            .collect()
    }

    async fn count_chunks(&self, tenant: TenantId) -> StoreResult<u64> {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM chunks WHERE tenant_id = $1")
            .bind(tenant.to_string())
            .fetch_one(self.pool())
            .await
            .map_err(map_err)?;
        Ok(n.max(0) as u64)
    }
}
