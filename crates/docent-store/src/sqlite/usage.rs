//! Usage counters and the usage ledger in SQLite. A reservation is one
//! transaction of conditional updates; SQLite runs one writer at a time, so
//! concurrent reservations are serialised and never both take the last unit.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::{Charge, UsageEvent, UsageKind};
use docent_core::ids::TenantId;
use docent_core::store::{StoreError, StoreResult, UsageStore};

use super::{SqliteStore, backend, map_err, parse_id, parse_ts, ts};

fn kind(s: &str) -> StoreResult<UsageKind> {
    UsageKind::parse(s).ok_or_else(|| backend(format!("unknown usage kind `{s}`")))
}

fn amount(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl UsageStore for SqliteStore {
    async fn reserve(&self, tenant: TenantId, charges: &[Charge]) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        for c in charges {
            sqlx::query(
                "INSERT INTO usage_counters (tenant_id, period, kind, used) VALUES (?, ?, ?, 0)
                 ON CONFLICT DO NOTHING",
            )
            .bind(tenant.to_string())
            .bind(&c.period)
            .bind(c.kind.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            let limit = c.limit.map(amount);
            let done = sqlx::query(
                "UPDATE usage_counters SET used = used + ?
                 WHERE tenant_id = ? AND period = ? AND kind = ? AND (? IS NULL OR used + ? <= ?)",
            )
            .bind(amount(c.amount))
            .bind(tenant.to_string())
            .bind(&c.period)
            .bind(c.kind.as_str())
            .bind(limit)
            .bind(amount(c.amount))
            .bind(limit)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            if done.rows_affected() == 0 {
                // Dropping `tx` rolls back the charges already made.
                return Err(StoreError::QuotaExceeded(c.kind));
            }
        }
        tx.commit().await.map_err(map_err)
    }

    async fn release(&self, tenant: TenantId, charges: &[Charge]) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        for c in charges {
            sqlx::query(
                "UPDATE usage_counters SET used = MAX(used - ?, 0)
                 WHERE tenant_id = ? AND period = ? AND kind = ?",
            )
            .bind(amount(c.amount))
            .bind(tenant.to_string())
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
                "SELECT kind, used FROM usage_counters WHERE tenant_id = ? AND period = ?",
            )
            .bind(tenant.to_string())
            .bind(period)
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
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(e.tenant_id.to_string())
            .bind(e.bot_id.map(|b| b.to_string()))
            .bind(e.kind.as_str())
            .bind(amount(e.quantity))
            .bind(ts(e.created_at))
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
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT kind, SUM(quantity) FROM usage_events
             WHERE tenant_id = ? AND created_at >= ? GROUP BY kind",
        )
        .bind(tenant.to_string())
        .bind(ts(since))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.into_iter()
            .map(|(k, n)| Ok((kind(&k)?, n.max(0) as u64)))
            .collect()
    }

    async fn recent_usage(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<UsageEvent>> {
        let rows: Vec<(Option<String>, String, i64, String)> = sqlx::query_as(
            "SELECT bot_id, kind, quantity, created_at FROM usage_events
             WHERE tenant_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(tenant.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.into_iter()
            .map(|(bot, k, quantity, created)| {
                Ok(UsageEvent {
                    tenant_id: tenant,
                    bot_id: bot.as_deref().map(parse_id).transpose()?,
                    kind: kind(&k)?,
                    quantity: quantity.max(0) as u64,
                    created_at: parse_ts(&created)?,
                })
            })
            .collect()
    }

    async fn count_chunks(&self, tenant: TenantId) -> StoreResult<u64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM chunks WHERE tenant_id = ?")
            .bind(tenant.to_string())
            .fetch_one(self.pool())
            .await
            .map_err(map_err)?;
        Ok(n.max(0) as u64)
    }
}
