//! Usage counters and the usage ledger. A reservation is one transaction of
//! conditional updates (`used + amount <= limit`). SQLite runs one writer at
//! a time; on PostgreSQL (READ COMMITTED) concurrent updates of one counter
//! queue on its row lock and re-check the condition against the committed
//! value. Either way, of N racing requests for the last M units exactly M
//! succeed.

use async_trait::async_trait;
use chrono::NaiveDate;
use docent_core::domain::{Charge, UsageEvent, UsageKind};
use docent_core::ids::TenantId;
use docent_core::store::{StoreError, StoreResult, UsageStore};
use sqlx::{AssertSqlSafe, Transaction};

use super::{Dialect, SqlStore, amount, commit, query};

/// A UTC day as `usage_days` keys it (text on both backends, so ranges
/// compare as strings).
fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The distinct counters `charges` touch, in one global order. Every
/// transaction takes counter rows in this order, so two reservations naming
/// the same counters in different orders wait for each other instead of
/// deadlocking.
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
async fn lock_counters<D: Dialect>(
    tx: &mut Transaction<'static, D>,
    tenant: &str,
    keys: &[(&str, &str)],
) -> StoreResult<()> {
    let lock = format!(
        "SELECT 1 FROM usage_counters WHERE tenant_id = $1 AND period = $2 AND kind = $3{}",
        D::FOR_UPDATE
    );
    for (period, kind) in keys {
        let sql =
            "INSERT INTO usage_counters (tenant_id, period, kind, used) VALUES ($1, $2, $3, 0)
             ON CONFLICT DO NOTHING";
        query::<D>("lock_counters", sql)
            .bind((tenant, *period, *kind))
            .execute(&mut *tx)
            .await?;
        // SQLite's write transaction already excludes every other writer:
        // no lock statement, no extra round trip on every reservation.
        if D::FOR_UPDATE.is_empty() {
            continue;
        }
        query::<D>("lock_counters", AssertSqlSafe(lock.clone()))
            .bind((tenant, *period, *kind))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl<D: Dialect> UsageStore for SqlStore<D> {
    async fn reserve(&self, tenant: TenantId, charges: &[Charge]) -> StoreResult<()> {
        if charges.is_empty() {
            return Ok(());
        }
        let tenant = tenant.to_string();
        let mut tx = self.write_tx().await?;
        // Locking first only orders the waits; the conditional updates below,
        // in the caller's order, are what keep the limits exact and name the
        // first charge that would pass its limit.
        lock_counters(&mut tx, &tenant, &lock_order(charges)).await?;
        for c in charges {
            let sql = "UPDATE usage_counters SET used = used + $1
                       WHERE tenant_id = $2 AND period = $3 AND kind = $4
                         AND ($5 IS NULL OR used + $1 <= $5)";
            let changed = query::<D>("reserve", sql)
                .bind((amount(c.amount), &tenant, &c.period, c.kind.as_str()))
                .bind(c.limit.map(amount))
                .changed(&mut tx)
                .await?;
            if changed == 0 {
                // Dropping `tx` rolls back the charges already made.
                return Err(StoreError::QuotaExceeded(c.kind));
            }
        }
        commit(tx, "reserve").await
    }

    async fn release(&self, tenant: TenantId, charges: &[Charge]) -> StoreResult<()> {
        let tenant = tenant.to_string();
        let mut tx = self.write_tx().await?;
        // In lock order, as `reserve` takes the rows (see `lock_order`).
        let mut ordered: Vec<&Charge> = charges.iter().collect();
        ordered.sort_by_key(|&c| (c.period.as_str(), c.kind.as_str()));
        for c in ordered {
            let sql =
                "UPDATE usage_counters SET used = CASE WHEN used > $1 THEN used - $1 ELSE 0 END
                 WHERE tenant_id = $2 AND period = $3 AND kind = $4";
            query::<D>("release", sql)
                .bind((amount(c.amount), &tenant, &c.period, c.kind.as_str()))
                .execute(&mut tx)
                .await?;
        }
        commit(tx, "release").await
    }

    async fn usage_counters(
        &self,
        tenant: TenantId,
        periods: &[&str],
    ) -> StoreResult<Vec<(UsageKind, String, u64)>> {
        let mut out = Vec::new();
        for period in periods {
            let sql = "SELECT kind, used FROM usage_counters WHERE tenant_id = $1 AND period = $2
                       ORDER BY kind";
            let counters = query::<D>("usage_counters", sql)
                .bind((tenant, *period))
                .fetch_all(self.pool(), |r| {
                    Ok((
                        r.name("kind", UsageKind::parse)?,
                        period.to_string(),
                        r.size("used")?,
                    ))
                })
                .await?;
            out.extend(counters);
        }
        Ok(out)
    }

    async fn record_usage(&self, events: &[UsageEvent]) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        for e in events {
            let sql = "INSERT INTO usage_events (tenant_id, bot_id, kind, quantity, created_at)
                       VALUES ($1, $2, $3, $4, $5)";
            query::<D>("record_usage", sql)
                .bind((e.tenant_id, e.bot_id, e.kind.as_str(), amount(e.quantity)))
                .bind(e.created_at)
                .execute(&mut tx)
                .await?;
            let sql = "INSERT INTO usage_days (tenant_id, day, kind, quantity)
                       VALUES ($1, $2, $3, $4)
                       ON CONFLICT (tenant_id, day, kind)
                       DO UPDATE SET quantity = usage_days.quantity + excluded.quantity";
            query::<D>("record_usage", sql)
                .bind((e.tenant_id, day_key(e.created_at.date_naive())))
                .bind((e.kind.as_str(), amount(e.quantity)))
                .execute(&mut tx)
                .await?;
        }
        commit(tx, "record_usage").await
    }

    async fn usage_by_day(
        &self,
        tenant: TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<(NaiveDate, UsageKind, u64)>> {
        let sql = "SELECT day, kind, quantity FROM usage_days
                   WHERE tenant_id = $1 AND day >= $2 AND day < $3 ORDER BY day, kind";
        query::<D>("usage_by_day", sql)
            .bind((tenant, day_key(from), day_key(to)))
            .fetch_all(self.pool(), |r| {
                let day = r.name("day", |d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())?;
                Ok((day, r.name("kind", UsageKind::parse)?, r.size("quantity")?))
            })
            .await
    }

    async fn recent_usage(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<UsageEvent>> {
        // `id` is a sequence: the order events were recorded.
        let sql = "SELECT bot_id, kind, quantity, created_at FROM usage_events
                   WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2";
        query::<D>("recent_usage", sql)
            .bind((tenant, i64::from(limit)))
            .fetch_all(self.pool(), |r| {
                Ok(UsageEvent {
                    tenant_id: tenant,
                    bot_id: r.opt_id("bot_id")?,
                    kind: r.name("kind", UsageKind::parse)?,
                    quantity: r.size("quantity")?,
                    created_at: r.time("created_at")?,
                })
            })
            .await
    }

    async fn count_chunks(&self, tenant: TenantId) -> StoreResult<u64> {
        let sql = "SELECT count(*) AS n FROM chunks WHERE tenant_id = $1";
        query::<D>("count_chunks", sql)
            .bind(tenant)
            .fetch_one(self.pool(), |r| r.size("n"))
            .await
    }
}
