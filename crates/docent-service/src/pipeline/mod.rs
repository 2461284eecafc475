//! Background work: the worker that leases jobs from the durable queue, and the
//! job handlers (ingesting a document, crawling a site).

mod crawl;
mod ingest;
pub mod maintenance;
mod webhook;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use docent_core::blob::BlobStore;
use docent_core::embed::Embedder;
use docent_core::store::Store;

pub use maintenance::MaintenanceSettings;
pub use webhook::WebhookDelivery;
pub use worker::{Worker, WorkerSettings};

/// Everything a job handler may use.
#[derive(Clone)]
pub struct JobContext {
    pub store: Arc<dyn Store>,
    pub blob: Arc<dyn BlobStore>,
    pub embedder: Arc<dyn Embedder>,
    pub settings: PipelineSettings,
    /// Every fetch a tenant can aim goes through the network guard.
    pub http: docent_crawl::GuardedClient,
    /// Crawled pages are billed and limited; embedding tokens recorded.
    pub meter: crate::Meter,
    /// How webhooks are sent, and the events jobs emit.
    pub webhooks: WebhookDelivery,
    /// Attempts given to the deliveries of events that jobs emit.
    pub webhook_max_attempts: u32,
}

#[derive(Clone, Debug)]
pub struct PipelineSettings {
    /// Where untrusted files are parsed: child processes under limits.
    pub sandbox: docent_ingest::Sandbox,
    /// Chunk size and overlap in the embedder's tokens; `None` = fitted to it.
    pub chunk_max_tokens: Option<usize>,
    pub chunk_overlap_tokens: Option<usize>,
    pub crawl_concurrency: usize,
    pub crawl_delay: Duration,
    /// Pages (and files linked from them) larger than this are skipped.
    pub max_page_bytes: usize,
    pub job_max_attempts: u32,
}

impl PipelineSettings {
    /// Chunk size and overlap: configured, or about 200 tokens (inside every
    /// embedder's window, a common sweet spot for passage retrieval) with 15%
    /// overlap.
    pub fn chunking(&self, embedder: &dyn Embedder) -> docent_ingest::ChunkConfig {
        let window = embedder.max_tokens().saturating_sub(2).max(16);
        let max_tokens = self.chunk_max_tokens.unwrap_or(200).min(window);
        let overlap_tokens = self
            .chunk_overlap_tokens
            .unwrap_or(max_tokens * 15 / 100)
            .min(max_tokens / 2);
        docent_ingest::ChunkConfig {
            max_tokens,
            overlap_tokens,
        }
    }
}

/// The HTTP client of the crawler: identifies itself (sites and robots.txt
/// rules address it as `DocentBot`), follows a few redirects, and reaches
/// private networks only when `allow_private`
/// (`DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS`).
pub fn crawler_client(allow_private: bool) -> docent_crawl::GuardedClient {
    docent_crawl::GuardedClient::new(
        concat!("DocentBot/", env!("CARGO_PKG_VERSION")),
        docent_crawl::NetworkPolicy::new(allow_private),
    )
}

/// The HTTP client of webhook deliveries: the crawler's guard, no
/// redirects followed.
pub fn webhook_client(allow_private: bool) -> docent_crawl::GuardedClient {
    docent_crawl::GuardedClient::without_redirects(
        concat!("Docent-Webhooks/", env!("CARGO_PKG_VERSION")),
        docent_crawl::NetworkPolicy::new(allow_private),
    )
}

/// How a job that did its part ends.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished {
    /// It succeeded.
    Done,
    /// A crawl that stored pages still being ingested: it stays `running`,
    /// held by no worker, until the last of them is (see
    /// `JobStore::await_ingestion`).
    AwaitingIngestion,
}

/// How a job ended when it did not succeed.
#[derive(Debug)]
pub enum JobError {
    /// Worth another attempt later (a provider or the database was unavailable).
    Retry(String),
    /// Another attempt would fail the same way (corrupt file, bad input).
    Fatal(String),
}

impl From<docent_core::store::StoreError> for JobError {
    fn from(e: docent_core::store::StoreError) -> Self {
        // The job's error names the operation; the cause is for the log.
        tracing::warn!(error = %crate::ErrorChain(&e), "storage failed during a job");
        JobError::Retry(format!("storage: {e}"))
    }
}

impl From<docent_core::blob::BlobError> for JobError {
    fn from(e: docent_core::blob::BlobError) -> Self {
        match e {
            docent_core::blob::BlobError::NotFound => {
                JobError::Fatal("the document's source is missing".into())
            }
            other => JobError::Retry(other.to_string()),
        }
    }
}

impl From<docent_core::embed::EmbedError> for JobError {
    fn from(e: docent_core::embed::EmbedError) -> Self {
        match e {
            docent_core::embed::EmbedError::Unavailable(m) => {
                JobError::Retry(format!("embedding: {m}"))
            }
            docent_core::embed::EmbedError::Failed(m) => JobError::Fatal(format!("embedding: {m}")),
        }
    }
}
