use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{BotId, DeliveryId, DocumentId, JobId, TenantId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// What a job does: a serialisable value, stored as the job's payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobSpec {
    /// Extract, chunk, embed and index one document.
    IngestDocument { document_id: DocumentId },
    /// Crawl a website into documents of a bot.
    Crawl {
        bot_id: BotId,
        url: String,
        max_pages: u32,
        max_depth: u32,
        #[serde(default)]
        include: Vec<String>,
        #[serde(default)]
        exclude: Vec<String>,
        /// Where the crawl stood when last checkpointed (the crawler's own
        /// format): a crawl run again after a stop or a crash goes on from
        /// there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<serde_json::Value>,
    },
    /// Send one webhook delivery (an attempt per run).
    DeliverWebhook { delivery_id: DeliveryId },
}

impl JobSpec {
    /// The bot a crawl fills; an ingest job's bot is its document's.
    pub fn bot_id(&self) -> Option<BotId> {
        match self {
            Self::Crawl { bot_id, .. } => Some(*bot_id),
            Self::IngestDocument { .. } | Self::DeliverWebhook { .. } => None,
        }
    }

    pub fn document_id(&self) -> Option<DocumentId> {
        match self {
            Self::IngestDocument { document_id } => Some(*document_id),
            Self::Crawl { .. } | Self::DeliverWebhook { .. } => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::IngestDocument { .. } => "ingest_document",
            Self::Crawl { .. } => "crawl",
            Self::DeliverWebhook { .. } => "deliver_webhook",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Job {
    pub id: JobId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// `ingest_document`, `crawl` or `deliver_webhook`.
    pub kind: String,
    #[serde(skip)]
    pub spec: Option<JobSpec>,
    pub status: JobStatus,
    pub attempts: u32,
    pub max_attempts: u32,
    /// The last failure, kept while retrying and after giving up.
    pub error: Option<String>,
    pub progress: Progress,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Earliest time the job may run (later than creation while backing off).
    pub run_at: DateTime<Utc>,
}

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub id: JobId,
    pub tenant_id: TenantId,
    pub spec: JobSpec,
    pub max_attempts: u32,
}

impl NewJob {
    pub fn new(tenant_id: TenantId, spec: JobSpec) -> Self {
        Self {
            id: JobId::new(),
            tenant_id,
            spec,
            max_attempts: 5,
        }
    }
}
