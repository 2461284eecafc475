use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{BotId, ChunkId, DocumentId, FileId, TenantId};

/// `queued` → `processing` → `ready` or `failed` (with `error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    Queued,
    Processing,
    Ready,
    Failed,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "processing" => Some(Self::Processing),
            "ready" => Some(Self::Ready),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// How many of a bot's documents are in each status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct DocumentCounts {
    pub queued: u64,
    pub processing: u64,
    pub ready: u64,
    pub failed: u64,
}

impl DocumentCounts {
    /// Documents not yet searchable and not failed.
    pub fn pending(&self) -> u64 {
        self.queued + self.processing
    }

    pub fn add(&mut self, status: DocumentStatus, n: u64) {
        match status {
            DocumentStatus::Queued => self.queued += n,
            DocumentStatus::Processing => self.processing += n,
            DocumentStatus::Ready => self.ready += n,
            DocumentStatus::Failed => self.failed += n,
        }
    }
}

/// Where a document came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceType {
    /// An uploaded file.
    File,
    /// Text posted to `/docs`.
    Text,
    /// JSON content posted to `/docs`.
    Json,
    /// A page found by a crawl.
    Crawl,
}

impl SourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Text => "text",
            Self::Json => "json",
            Self::Crawl => "crawl",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "file" => Some(Self::File),
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            "crawl" => Some(Self::Crawl),
            _ => None,
        }
    }
}

/// One item of a bot's knowledge base. Its source bytes live in the blob store
/// under `object_key`; its searchable form is its chunks.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Document {
    pub id: DocumentId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub bot_id: BotId,
    pub title: String,
    pub status: DocumentStatus,
    pub source_type: SourceType,
    pub source_url: Option<String>,
    /// Detected format: `pdf`, `docx`, `html`, `markdown`, `text`, `csv`, `json`.
    pub format: String,
    pub file_id: Option<FileId>,
    #[serde(skip)]
    pub object_key: String,
    /// SHA-256 of the source bytes (hex).
    pub content_hash: String,
    pub size_bytes: u64,
    pub chunk_count: u32,
    pub error: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An uploaded file, before and after its bytes arrive.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StoredFile {
    pub id: FileId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub bot_id: BotId,
    pub filename: String,
    pub content_type: String,
    /// Declared size for a pending upload; actual size once uploaded.
    pub size_bytes: u64,
    pub sha256: Option<String>,
    #[serde(skip)]
    pub object_key: String,
    /// Detected format once uploaded.
    pub format: Option<String>,
    pub uploaded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A passage of a document, as indexed for search.
#[derive(Clone, Debug)]
pub struct Chunk {
    pub id: ChunkId,
    pub tenant_id: TenantId,
    pub bot_id: BotId,
    pub document_id: DocumentId,
    pub index: u32,
    pub text: String,
    pub token_count: u32,
    pub page: Option<u32>,
    pub heading: Option<String>,
    /// SHA-256 of what was embedded (title, heading and `text`), to reuse
    /// the embedding of an identical passage.
    pub text_hash: String,
    pub embedder_id: String,
    pub embedding: Vec<f32>,
}

/// A chunk as the document detail shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChunkView {
    pub id: ChunkId,
    pub index: u32,
    pub text: String,
    pub token_count: u32,
    pub page: Option<u32>,
    pub heading: Option<String>,
}
