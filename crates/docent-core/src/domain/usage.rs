//! Plans, quotas and the usage ledger: what a tenant may use in a month, what
//! it has used, and the billable events behind the figures.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{BotId, TenantId};

/// What is metered. Messages, documents, storage, crawl pages and leads can
/// be limited by a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageKind {
    /// Questions answered (one per question, whatever the answer's length).
    Messages,
    /// Documents held (uploads, texts and crawled pages); deleting frees them.
    Documents,
    /// Bytes of source held; deleting frees them.
    StorageBytes,
    /// Pages fetched by crawls, per month.
    CrawlPages,
    PromptTokens,
    CompletionTokens,
    EmbeddingTokens,
    /// Leads left by visitors, per month.
    Leads,
}

impl UsageKind {
    pub const ALL: [UsageKind; 8] = [
        Self::Messages,
        Self::Documents,
        Self::StorageBytes,
        Self::CrawlPages,
        Self::PromptTokens,
        Self::CompletionTokens,
        Self::EmbeddingTokens,
        Self::Leads,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Documents => "documents",
            Self::StorageBytes => "storage_bytes",
            Self::CrawlPages => "crawl_pages",
            Self::PromptTokens => "prompt_tokens",
            Self::CompletionTokens => "completion_tokens",
            Self::EmbeddingTokens => "embedding_tokens",
            Self::Leads => "leads",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Held amounts (documents, bytes) are counted for all time and go down
    /// when things are deleted; the rest start again each month.
    pub fn is_held(self) -> bool {
        matches!(self, Self::Documents | Self::StorageBytes)
    }
}

/// A plan's limits; `None` is unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PlanLimits {
    pub messages_per_month: Option<u64>,
    pub documents: Option<u64>,
    pub storage_bytes: Option<u64>,
    pub crawl_pages_per_month: Option<u64>,
    pub leads_per_month: Option<u64>,
}

impl PlanLimits {
    pub const UNLIMITED: PlanLimits = PlanLimits {
        messages_per_month: None,
        documents: None,
        storage_bytes: None,
        crawl_pages_per_month: None,
        leads_per_month: None,
    };

    pub fn of(&self, kind: UsageKind) -> Option<u64> {
        match kind {
            UsageKind::Messages => self.messages_per_month,
            UsageKind::Documents => self.documents,
            UsageKind::StorageBytes => self.storage_bytes,
            UsageKind::CrawlPages => self.crawl_pages_per_month,
            UsageKind::Leads => self.leads_per_month,
            _ => None,
        }
    }
}

/// A calendar month in UTC: the period monthly counters belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    /// `YYYY-MM`.
    pub key: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Key of the counters of held amounts, which never roll over.
pub const HELD_PERIOD: &str = "held";

impl Period {
    pub fn containing(at: DateTime<Utc>) -> Self {
        let start = Utc
            .with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
            .single()
            .expect("the first of a month exists");
        let (y, m) = if at.month() == 12 {
            (at.year() + 1, 1)
        } else {
            (at.year(), at.month() + 1)
        };
        let end = Utc
            .with_ymd_and_hms(y, m, 1, 0, 0, 0)
            .single()
            .expect("the first of a month exists");
        Self {
            key: format!("{:04}-{:02}", at.year(), at.month()),
            start,
            end,
        }
    }

    /// The counter period of `kind` in this month.
    pub fn counter_key(&self, kind: UsageKind) -> &str {
        if kind.is_held() {
            HELD_PERIOD
        } else {
            &self.key
        }
    }
}

/// An amount to reserve against a limit, all-or-nothing with the others of
/// the same request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    pub kind: UsageKind,
    /// `YYYY-MM`, or [`HELD_PERIOD`].
    pub period: String,
    pub amount: u64,
    /// `None`: count without a limit.
    pub limit: Option<u64>,
}

/// One billable action, appended to the ledger and never changed.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct UsageEvent {
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub bot_id: Option<BotId>,
    pub kind: UsageKind,
    pub quantity: u64,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_roll_over_in_utc() {
        let p = Period::containing(Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap());
        assert_eq!(p.key, "2026-12");
        assert_eq!(p.end, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        let next = Period::containing(p.end);
        assert_eq!(next.key, "2027-01");
        assert_eq!(next.start, p.end);
        assert_eq!(p.counter_key(UsageKind::Documents), HELD_PERIOD);
        assert_eq!(p.counter_key(UsageKind::Messages), "2026-12");
    }

    #[test]
    fn kinds_round_trip() {
        for kind in UsageKind::ALL {
            assert_eq!(UsageKind::parse(kind.as_str()), Some(kind));
        }
    }
}
