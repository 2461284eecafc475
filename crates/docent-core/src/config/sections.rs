//! The settings, in the sections they are read in: each section is a table
//! of `docent.toml` (`[server]`, `[storage]`, …) and is handed as a whole to
//! the part of the system it configures. Each field's `DOCENT_*` name is in
//! `env::SETTINGS`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{DatabaseUrl, EmbedderKind, LogFormat, Secret, StorageUrl, VectorQuantization};
use crate::domain::{Plan, PlanLimits};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Directory for the embedded database, stored files and generated secrets.
    pub data_dir: PathBuf,
    /// Base URL clients reach this server at (for signed upload URLs); default:
    /// from the request's `Host` header.
    pub public_url: Option<String>,
    /// `text` (default) or `json` log lines.
    pub log_format: LogFormat,
    /// Largest JSON request body accepted, in bytes.
    pub max_json_body_bytes: usize,
    /// On SIGTERM or Ctrl-C, how long running requests and jobs may take to
    /// finish; jobs still running then go back to the queue, their attempt
    /// not counted. A second signal stops at once.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            public_url: None,
            log_format: LogFormat::Text,
            max_json_body_bytes: 2 * 1024 * 1024,
            shutdown_grace_secs: 30,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 key for access tokens. Generated once into the data dir when unset.
    pub jwt_secret: Option<Secret>,
    /// Bearer token of the operator for `/api/v1/platform/*`. Platform routes are
    /// disabled when unset.
    pub admin_token: Option<Secret>,
    /// Lifetime of access JWTs, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of refresh tokens, in seconds.
    pub refresh_token_ttl_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            admin_token: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// The database; default: `DATA_DIR/docent.db` (see `Config::database`).
    pub database_url: Option<DatabaseUrl>,
    /// The object storage of sources; default: `DATA_DIR/files`.
    pub url: Option<StorageUrl>,
    /// Largest uploaded file, in bytes.
    pub max_upload_bytes: u64,
    /// Lifetime of a signed upload URL, in seconds.
    pub upload_url_ttl_secs: u64,
    /// An upload (signed URL) not ingested within this many seconds is
    /// removed and its bytes given back to the plan.
    pub upload_expiry_secs: u64,
    /// How the embedded vector index of large bots holds its vectors.
    pub vector_quantization: VectorQuantization,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            database_url: None,
            url: None,
            max_upload_bytes: 50 * 1024 * 1024,
            upload_url_ttl_secs: 15 * 60,
            upload_expiry_secs: 24 * 3600,
            vector_quantization: VectorQuantization::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSettings {
    /// Time limit (wall clock and CPU) for extracting one document's text.
    pub extract_timeout_secs: u64,
    /// Memory limit of the child process that extracts one document, in MiB.
    pub extract_memory_mb: u64,
    /// Program run, with the argument `extract-sandbox`, to parse each
    /// untrusted file in a child process; default: this `docent` binary.
    pub extract_program: Option<PathBuf>,
    /// Chunk size in the embedder's tokens; default: fitted to the embedder.
    pub chunk_max_tokens: Option<usize>,
    /// Tokens shared by consecutive chunks; default: about 15% of the chunk size.
    pub chunk_overlap_tokens: Option<usize>,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            extract_timeout_secs: 120,
            extract_memory_mb: 1024,
            extract_program: None,
            chunk_max_tokens: None,
            chunk_overlap_tokens: None,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedderSettings {
    /// `hash`, `local` or `openai`; default: `local` with `model_dir` when it
    /// holds a model, else the default model (all-MiniLM-L6-v2) from the data
    /// dir's cache or `model_source`, else the hashing fallback.
    pub kind: Option<EmbedderKind>,
    /// Directory with config.json, tokenizer.json and model.safetensors of all-MiniLM-L6-v2.
    pub model_dir: Option<PathBuf>,
    /// Where the default model is fetched from: a URL in the Hugging Face
    /// hub's layout (`{source}/{repo}/resolve/{revision}/{file}`) or a local
    /// directory in that layout; default: the hub.
    pub model_source: Option<String>,
    /// OpenAI-compatible base URL (`…/v1`) for `kind = "openai"`.
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    pub model: Option<String>,
    pub dims: Option<usize>,
}

/// A rerank API (`POST {base}/rerank`, Cohere/Jina style: llama.cpp's
/// server, vLLM, TEI, Cohere, Jina); no `base_url`: no reranking.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RerankSettings {
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    /// The reranking model's name, sent as `model`.
    pub model: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmSettings {
    /// OpenAI-compatible base URL (`…/v1`) of the chat model; unset: answers
    /// are extractive.
    pub base_url: Option<String>,
    /// Key for the chat model; falls back to `OPENAI_API_KEY`.
    pub api_key: Option<Secret>,
    /// Model name sent to the endpoint (a bot's `model` overrides it).
    pub model: String,
    /// Longest wait for the model's first token, and between tokens.
    pub timeout_secs: u64,
    /// Longest a non-streamed answer may take as a whole.
    pub answer_timeout_secs: u64,
    /// Longest answer, in tokens, for bots that set no `max_tokens`; unset:
    /// the model server's own limit.
    pub max_tokens: Option<u32>,
    /// Models a bot's `model` may name, comma-separated; default: only `model`.
    pub allowed_models: Option<String>,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            api_key: None,
            model: "gpt-4o-mini".into(),
            timeout_secs: 60,
            answer_timeout_secs: 120,
            max_tokens: None,
            allowed_models: None,
        }
    }
}

impl LlmSettings {
    /// The models bots may name: `allowed_models`, or the configured model.
    pub fn allowed_models(&self) -> Vec<String> {
        let mut models: Vec<String> = self
            .allowed_models
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        if models.is_empty() {
            models.push(self.model.clone());
        }
        models
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrawlSettings {
    /// Pages fetched at once by one crawl.
    pub concurrency: usize,
    /// Minimum gap between two requests of a crawl to the same host, in ms.
    pub delay_ms: u64,
    /// Lets crawls (and every other fetch a tenant can aim) reach loopback,
    /// private, link-local and other non-public addresses: for self-hosted
    /// intranets. Off by default.
    pub allow_private_networks: bool,
}

impl Default for CrawlSettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            delay_ms: 250,
            allow_private_networks: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobSettings {
    /// Jobs run at once by each process's worker.
    pub worker_concurrency: usize,
    /// Visibility timeout: a job whose worker stops heart-beating for this long
    /// is handed to another worker.
    pub lease_secs: u64,
    /// Attempts before a job is marked failed.
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt, with jitter, capped at 10 minutes.
    pub backoff_base_ms: u64,
    /// How often each worker expires uploads and recounts held usage.
    pub maintenance_interval_secs: u64,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            worker_concurrency: 2,
            lease_secs: 60,
            max_attempts: 5,
            backoff_base_ms: 2_000,
            maintenance_interval_secs: 600,
        }
    }
}

/// Outgoing mail (verification, password reset, invitations).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// `smtp://user:pass@host:port` (STARTTLS when the server offers it
    /// with `?tls=required`), `smtps://…` (TLS from the start); unset: no
    /// mail is sent.
    pub smtp_url: Option<Secret>,
    /// The sender, `Docent <no-reply@example.com>`.
    pub from: Option<String>,
}

/// Outbound webhooks: how hard delivery tries before it gives up.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Attempts per delivery, spaced by the job queue's backoff.
    pub max_attempts: u32,
    /// Failed attempts in a row after which an endpoint is disabled.
    pub disable_after: u32,
    /// Longest an endpoint may take to answer one attempt.
    pub timeout_secs: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            disable_after: 40,
            timeout_secs: 10,
        }
    }
}

/// Requests per minute, each counted per IP or per credential.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Sign-up, login and refresh requests from one IP.
    pub sign_in_per_minute: u32,
    /// Requests with one credential (token or API key).
    pub credential_per_minute: u32,
    /// Other unauthenticated requests from one IP.
    pub ip_per_minute: u32,
    /// Widget token requests from one IP.
    pub widget_token_per_minute: u32,
    /// Visitor (embed-token) chat messages from one IP, whatever the visitor;
    /// each visitor also has their bot's own limit.
    pub visitor_ip_per_minute: u32,
    /// `redis://HOST:PORT[/DB]`: limits shared by every API node. Unset:
    /// limits are kept in each process.
    pub redis_url: Option<Secret>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            sign_in_per_minute: 10,
            credential_per_minute: 600,
            ip_per_minute: 120,
            widget_token_per_minute: 30,
            visitor_ip_per_minute: 60,
            redis_url: None,
        }
    }
}

/// The limits of the three plans; each can be set as `DOCENT_PLAN_<PLAN>_<LIMIT>`
/// (a number, or `unlimited`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Plans {
    /// The plan a new tenant signs up on: `free` for a hosted service; a
    /// single business hosting Docent for itself sets `enterprise`.
    pub default: Plan,
    pub free: PlanLimits,
    pub pro: PlanLimits,
    pub enterprise: PlanLimits,
}

impl Default for Plans {
    fn default() -> Self {
        Self {
            default: Plan::Free,
            free: PlanLimits {
                messages_per_month: Some(500),
                documents: Some(100),
                storage_bytes: Some(100 * 1024 * 1024),
                crawl_pages_per_month: Some(500),
                leads_per_month: Some(1_000),
            },
            pro: PlanLimits {
                messages_per_month: Some(20_000),
                documents: Some(10_000),
                storage_bytes: Some(10 * 1024 * 1024 * 1024),
                crawl_pages_per_month: Some(50_000),
                leads_per_month: Some(100_000),
            },
            enterprise: PlanLimits::UNLIMITED,
        }
    }
}

impl Plans {
    pub fn limits(&self, plan: Plan) -> &PlanLimits {
        match plan {
            Plan::Free => &self.free,
            Plan::Pro => &self.pro,
            Plan::Enterprise => &self.enterprise,
        }
    }
}
