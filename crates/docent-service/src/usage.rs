//! Metering: plan limits enforced by reserve-then-commit, the usage ledger,
//! and the tenant's usage report.
//!
//! A billable request first reserves what it will use (an atomic conditional
//! update per counter: of N racing requests for the last M units exactly M
//! succeed), then does its work, and gives the reservation back if the work
//! fails, so a refused or failed request leaves nothing behind. Monthly
//! counters are keyed by the UTC month of the injected clock, so periods roll
//! over by themselves, without a scheduled job.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use docent_core::clock::Clock;
use docent_core::config::Plans;
use docent_core::domain::{
    Charge, HELD_PERIOD, Period, Plan, PlanLimits, Role, UsageEvent, UsageKind,
};
use docent_core::ids::{BotId, TenantId};
use docent_core::store::{Store, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Ctx, ServiceError, ServiceResult, Services};

/// Ledger events shown in the usage report.
const RECENT_EVENTS: u32 = 50;

/// Reservations and the ledger, shared by the services and the workers.
#[derive(Clone)]
pub struct Meter {
    store: Arc<dyn Store>,
    plans: Arc<Plans>,
    clock: Arc<dyn Clock>,
    /// The limits this process has told webhooks about (`usage.limit_reached`
    /// once per tenant, kind and period, not on every refused request).
    noticed: Arc<std::sync::Mutex<std::collections::HashSet<(TenantId, UsageKind, String)>>>,
    webhook_max_attempts: u32,
}

/// Limit notices remembered before the set starts afresh.
const MAX_NOTICES: usize = 10_000;

impl Meter {
    pub fn new(store: Arc<dyn Store>, plans: Plans, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            plans: Arc::new(plans),
            clock,
            noticed: Arc::default(),
            webhook_max_attempts: docent_core::config::WebhookSettings::default().max_attempts,
        }
    }

    /// Attempts given to the `usage.limit_reached` deliveries.
    pub fn with_webhook_attempts(mut self, attempts: u32) -> Self {
        self.webhook_max_attempts = attempts;
        self
    }

    /// Tells the tenant's webhooks, the first time this process refuses
    /// `kind` in this period, without holding up the refusal.
    fn notice(
        &self,
        tenant: TenantId,
        plan: Plan,
        limit: Option<u64>,
        kind: UsageKind,
        period: &Period,
    ) {
        let key = (tenant, kind, period.counter_key(kind).to_string());
        {
            let mut noticed = self.noticed.lock().unwrap_or_else(|p| p.into_inner());
            if noticed.len() >= MAX_NOTICES {
                noticed.clear();
            }
            if !noticed.insert(key.clone()) {
                return;
            }
        }
        let data = serde_json::json!({
            "kind": kind.as_str(), "limit": limit, "plan": plan, "period": key.2,
        });
        let (store, attempts) = (self.store.clone(), self.webhook_max_attempts);
        tokio::spawn(async move {
            let event = docent_core::domain::WebhookEvent::UsageLimitReached;
            crate::webhooks::emit(&store, tenant, event, data, attempts).await;
        });
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn plan(&self, tenant: TenantId) -> ServiceResult<(Plan, PlanLimits)> {
        let plan = self.store.get_tenant(tenant).await?.plan;
        Ok((plan, *self.plans.limits(plan)))
    }

    /// Reserves `items` against the tenant's plan, all or nothing; 402 with
    /// the limit named when one would be passed.
    pub async fn reserve(
        &self,
        tenant: TenantId,
        items: &[(UsageKind, u64)],
    ) -> ServiceResult<Vec<Charge>> {
        let (plan, limits) = self.plan(tenant).await?;
        let period = Period::containing(self.now());
        let charges: Vec<Charge> = items
            .iter()
            .map(|&(kind, amount)| Charge {
                kind,
                period: period.counter_key(kind).to_string(),
                amount,
                limit: limits.of(kind),
            })
            .collect();
        match self.store.reserve(tenant, &charges).await {
            Ok(()) => Ok(charges),
            Err(StoreError::QuotaExceeded(kind)) => {
                metrics::counter!("docent_quota_refusals_total", "kind" => kind.as_str())
                    .increment(1);
                self.notice(tenant, plan, limits.of(kind), kind, &period);
                Err(ServiceError::QuotaExceeded(refusal(
                    plan, &limits, kind, &period,
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// As [`Meter::reserve`], held by a guard that gives the reservation back
    /// unless it is committed: a request cancelled half-way (its client
    /// left, a timeout) drops the guard and releases what it held.
    pub async fn reserve_guarded(
        &self,
        tenant: TenantId,
        items: &[(UsageKind, u64)],
    ) -> ServiceResult<Reservation> {
        let charges = self.reserve(tenant, items).await?;
        Ok(Reservation {
            meter: self.clone(),
            tenant,
            charges,
            settled: false,
        })
    }

    /// Gives back part of what is held of `kind` (a signed upload that
    /// arrived smaller than declared).
    pub async fn give_back(&self, tenant: TenantId, kind: UsageKind, amount: u64) {
        if amount == 0 {
            return;
        }
        let period = Period::containing(self.now());
        let charge = Charge {
            kind,
            period: period.counter_key(kind).to_string(),
            amount,
            limit: None,
        };
        self.release(tenant, &[charge]).await;
    }

    /// Gives a reservation back after the work it was for failed. A failure
    /// here only over-counts, so it is logged, not raised.
    pub async fn release(&self, tenant: TenantId, charges: &[Charge]) {
        if let Err(error) = self.store.release(tenant, charges).await {
            tracing::error!(error = %crate::ErrorChain(&error), "a usage reservation could not be released");
        }
    }

    /// Appends billable events to the ledger and the per-tenant metrics.
    /// Zero quantities are left out.
    pub async fn record(&self, tenant: TenantId, bot: Option<BotId>, items: &[(UsageKind, u64)]) {
        let now = self.now();
        let events: Vec<UsageEvent> = items
            .iter()
            .filter(|(_, q)| *q > 0)
            .map(|&(kind, quantity)| UsageEvent {
                tenant_id: tenant,
                bot_id: bot,
                kind,
                quantity,
                created_at: now,
            })
            .collect();
        if events.is_empty() {
            return;
        }
        for e in &events {
            metrics::counter!("docent_usage_total", "tenant" => tenant.to_string(), "kind" => e.kind.as_str())
                .increment(e.quantity);
        }
        if let Err(error) = self.store.record_usage(&events).await {
            tracing::error!(error = %crate::ErrorChain(&error), "usage events could not be recorded");
        }
    }

    /// What is left of a limited kind this period; `None` when unlimited.
    pub async fn remaining(&self, tenant: TenantId, kind: UsageKind) -> ServiceResult<Option<u64>> {
        let (_, limits) = self.plan(tenant).await?;
        let Some(limit) = limits.of(kind) else {
            return Ok(None);
        };
        let period = Period::containing(self.now());
        let key = period.counter_key(kind);
        let used = self
            .store
            .usage_counters(tenant, &[key])
            .await?
            .into_iter()
            .find(|(k, _, _)| *k == kind)
            .map_or(0, |(_, _, used)| used);
        Ok(Some(limit.saturating_sub(used)))
    }
}

fn refusal(plan: Plan, limits: &PlanLimits, kind: UsageKind, period: &Period) -> String {
    let limit = limits.of(kind).unwrap_or_default();
    let what = match kind {
        UsageKind::Messages => format!("{limit} messages a month"),
        UsageKind::Documents => format!("{limit} documents"),
        UsageKind::StorageBytes => format!("{limit} bytes of stored sources"),
        UsageKind::CrawlPages => format!("{limit} crawled pages a month"),
        other => format!("{limit} {}", other.as_str()),
    };
    let when = if kind.is_held() {
        "delete some documents or move to a larger plan".to_string()
    } else {
        format!(
            "the allowance renews on {}, or move to a larger plan",
            period.end.format("%Y-%m-%d")
        )
    };
    format!("the {} plan allows {what}: {when}", plan.as_str())
}

/// `GET /admin/usage`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReport {
    pub plan: Plan,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// The plan's limits; `null` is unlimited.
    pub limits: PlanLimits,
    pub usage: UsageFigures,
    /// The newest ledger events, newest first.
    pub events: Vec<UsageEvent>,
}

/// A reservation against the plan that is released when dropped unless
/// [`Reservation::commit`] kept it.
pub struct Reservation {
    meter: Meter,
    tenant: TenantId,
    charges: Vec<Charge>,
    settled: bool,
}

impl Reservation {
    pub fn charges(&self) -> &[Charge] {
        &self.charges
    }

    /// Keeps the reservation: the work it was for is done.
    pub fn commit(mut self) {
        self.settled = true;
    }

    /// Gives the reservation back now (rather than when dropped).
    pub async fn release(mut self) {
        self.settled = true;
        self.meter.release(self.tenant, &self.charges).await;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        // Dropped without a decision: the request was cancelled. The release
        // is a database write, so it runs on the runtime, after the drop.
        let (meter, tenant, charges) = (
            self.meter.clone(),
            self.tenant,
            std::mem::take(&mut self.charges),
        );
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { meter.release(tenant, &charges).await });
            }
            Err(_) => tracing::error!("a usage reservation was dropped outside the runtime"),
        }
    }
}

/// Monthly figures are this period's; documents, chunks and bytes are what
/// is held now.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct UsageFigures {
    pub messages: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub embedding_tokens: u64,
    pub crawl_pages: u64,
    pub documents: u64,
    pub chunks: u64,
    pub storage_bytes: u64,
    /// Leads left this month.
    pub leads: u64,
}

impl Services {
    pub async fn usage_report(&self, ctx: &Ctx) -> ServiceResult<UsageReport> {
        ctx.actor.require(Role::Admin)?;
        let tenant = ctx.actor.tenant_id;
        let (plan, limits) = self.meter.plan(tenant).await?;
        let period = Period::containing(self.meter.now());
        let counters: HashMap<UsageKind, u64> = self
            .store
            .usage_counters(tenant, &[period.key.as_str(), HELD_PERIOD])
            .await?
            .into_iter()
            .map(|(kind, _, used)| (kind, used))
            .collect();
        let mut ledger: HashMap<UsageKind, u64> = HashMap::new();
        let days = self
            .store
            .usage_by_day(tenant, period.start.date_naive(), period.end.date_naive())
            .await?;
        for (_, kind, n) in days {
            *ledger.entry(kind).or_default() += n;
        }
        let counter = |k| counters.get(&k).copied().unwrap_or_default();
        let summed = |k| ledger.get(&k).copied().unwrap_or_default();
        Ok(UsageReport {
            plan,
            period_start: period.start,
            period_end: period.end,
            limits,
            usage: UsageFigures {
                messages: counter(UsageKind::Messages),
                prompt_tokens: summed(UsageKind::PromptTokens),
                completion_tokens: summed(UsageKind::CompletionTokens),
                embedding_tokens: summed(UsageKind::EmbeddingTokens),
                crawl_pages: counter(UsageKind::CrawlPages),
                documents: counter(UsageKind::Documents),
                chunks: self.store.count_chunks(tenant).await?,
                storage_bytes: counter(UsageKind::StorageBytes),
                leads: counter(UsageKind::Leads),
            },
            events: self.store.recent_usage(tenant, RECENT_EVENTS).await?,
        })
    }
}

/// Days `GET /admin/usage/daily` reports at most.
pub const MAX_USAGE_DAYS: u32 = 366;

/// `GET /admin/usage/daily`: the ledger per UTC day, oldest first, today
/// last; days without use are zeros.
#[derive(Debug, Serialize, ToSchema)]
pub struct DailyUsage {
    pub days: Vec<DayUsage>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayUsage {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    /// Questions answered.
    pub messages: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Documents added.
    pub documents: u64,
}

impl Services {
    /// The last `days` UTC days of the ledger (1–366), for charts.
    pub async fn usage_daily(&self, ctx: &Ctx, days: u32) -> ServiceResult<DailyUsage> {
        ctx.actor.require(Role::Admin)?;
        if !(1..=MAX_USAGE_DAYS).contains(&days) {
            return Err(ServiceError::Invalid(format!(
                "`days` must be between 1 and {MAX_USAGE_DAYS}"
            )));
        }
        let tenant = ctx.actor.tenant_id;
        let today = self.meter.now().date_naive();
        let first = today - chrono::Days::new(u64::from(days - 1));
        let mut sums: HashMap<(chrono::NaiveDate, UsageKind), u64> = HashMap::new();
        let rows = self
            .store
            .usage_by_day(tenant, first, today + chrono::Days::new(1))
            .await?;
        for (day, kind, n) in rows {
            sums.insert((day, kind), n);
        }
        let out = first
            .iter_days()
            .take(days as usize)
            .map(|day| {
                let get = |k| sums.get(&(day, k)).copied().unwrap_or_default();
                DayUsage {
                    date: day.format("%Y-%m-%d").to_string(),
                    messages: get(UsageKind::Messages),
                    prompt_tokens: get(UsageKind::PromptTokens),
                    completion_tokens: get(UsageKind::CompletionTokens),
                    documents: get(UsageKind::Documents),
                }
            })
            .collect();
        Ok(DailyUsage { days: out })
    }
}
