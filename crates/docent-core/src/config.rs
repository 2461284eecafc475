//! Configuration, in one place. Sources, later ones winning: built-in defaults,
//! an optional `docent.toml`, `DOCENT_*` environment variables, command-line flags.
//! `Config::load` validates everything once, at start, with messages that name the
//! setting at fault.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::domain::{Invalid, Plan, PlanLimits};

/// Which embedder computes the vectors (`DOCENT_EMBEDDER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbedderKind {
    /// Feature hashing: words, not meaning; needs nothing.
    Hash,
    /// all-MiniLM-L6-v2 (or a model directory) in this process.
    Local,
    /// An OpenAI-compatible `/embeddings` endpoint.
    #[serde(rename = "openai")]
    OpenAi,
}

impl std::str::FromStr for EmbedderKind {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "hash" => Ok(Self::Hash),
            "local" => Ok(Self::Local),
            "openai" => Ok(Self::OpenAi),
            other => Err(Invalid(format!(
                "unknown embedder `{other}`: use hash, local or openai"
            ))),
        }
    }
}

/// Where the data lives, parsed from `DOCENT_DATABASE_URL` (default: the
/// embedded file in the data dir).
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH` (or `sqlite:PATH`): the embedded database file.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, as given (it may hold a password).
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, Invalid> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_string()));
        }
        let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        else {
            return Err(Invalid(
                "must be sqlite://PATH or postgres://USER@HOST:PORT/DB".into(),
            ));
        };
        if path.is_empty() || path.contains('?') {
            return Err(Invalid(
                "a SQLite URL is sqlite://PATH, without options (Docent sets its own)".into(),
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// The URL to connect with.
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => url.clone(),
        }
    }
}

/// Never prints a PostgreSQL URL's credentials.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
            Self::Postgres(_) => f.write_str("Postgres(…)"),
        }
    }
}

/// A value that must never reach a log line: `Debug` prints a placeholder.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Directory for the embedded database, stored files and generated secrets.
    pub data_dir: PathBuf,
    /// `sqlite://PATH`; defaults to `DATA_DIR/docent.db`.
    pub database_url: Option<String>,
    /// HS256 key for access tokens. Generated once into the data dir when unset.
    pub jwt_secret: Option<Secret>,
    /// Bearer token of the operator for `/api/v1/platform/*`. Platform routes are
    /// disabled when unset.
    pub admin_token: Option<Secret>,
    /// Lifetime of access JWTs, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of refresh tokens, in seconds.
    pub refresh_token_ttl_secs: u64,
    /// `text` (default) or `json` log lines.
    pub log_format: LogFormat,
    /// Largest JSON request body accepted, in bytes.
    pub max_json_body_bytes: usize,
    /// `file://DIR` or `s3://BUCKET?endpoint=…&region=…`; default: `DATA_DIR/files`.
    pub storage_url: Option<String>,
    /// Base URL clients reach this server at (for signed upload URLs); default:
    /// from the request's `Host` header.
    pub public_url: Option<String>,
    /// Largest uploaded file, in bytes.
    pub max_upload_bytes: u64,
    /// Lifetime of a signed upload URL, in seconds.
    pub upload_url_ttl_secs: u64,
    /// An upload (signed URL) not ingested within this many seconds is
    /// removed and its bytes given back to the plan.
    pub upload_expiry_secs: u64,
    /// How often each worker expires uploads and recounts held usage.
    pub maintenance_interval_secs: u64,
    /// Jobs run at once by each process's worker.
    pub worker_concurrency: usize,
    /// Visibility timeout: a job whose worker stops heart-beating for this long
    /// is handed to another worker.
    pub job_lease_secs: u64,
    /// Attempts before a job is marked failed.
    pub job_max_attempts: u32,
    /// First retry delay; doubles each attempt, with jitter, capped at 10 minutes.
    pub job_backoff_base_ms: u64,
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
    /// `hash`, `local` or `openai`; default: `local` with `embed_model_dir`
    /// when it holds a model, else the default model (all-MiniLM-L6-v2) from
    /// the data dir's cache or `model_source`, else the hashing fallback.
    pub embedder: Option<EmbedderKind>,
    /// Directory with config.json, tokenizer.json and model.safetensors of all-MiniLM-L6-v2.
    pub embed_model_dir: Option<PathBuf>,
    /// Where the default model is fetched from: a URL in the Hugging Face
    /// hub's layout (`{source}/{repo}/resolve/{revision}/{file}`) or a local
    /// directory in that layout; default: the hub.
    pub model_source: Option<String>,
    /// OpenAI-compatible base URL (`…/v1`) for `embedder = "openai"`.
    pub embed_base_url: Option<String>,
    pub embed_api_key: Option<Secret>,
    pub embed_model: Option<String>,
    /// A rerank API (`POST {base}/rerank`, Cohere/Jina style: llama.cpp's
    /// server, vLLM, TEI, Cohere, Jina); unset: no reranking.
    pub rerank_base_url: Option<String>,
    pub rerank_api_key: Option<Secret>,
    /// The reranking model's name, sent as `model`.
    pub rerank_model: Option<String>,
    pub embed_dims: Option<usize>,
    /// Pages fetched at once by one crawl.
    pub crawl_concurrency: usize,
    /// Minimum gap between two requests of a crawl to the same host, in ms.
    pub crawl_delay_ms: u64,
    /// Lets crawls (and every other fetch a tenant can aim) reach loopback,
    /// private, link-local and other non-public addresses: for self-hosted
    /// intranets. Off by default.
    pub crawl_allow_private_networks: bool,
    /// OpenAI-compatible base URL (`…/v1`) of the chat model; unset: answers
    /// are extractive.
    pub llm_base_url: Option<String>,
    /// Key for the chat model; falls back to `OPENAI_API_KEY`.
    pub llm_api_key: Option<Secret>,
    /// Model name sent to the endpoint (a bot's `model` overrides it).
    pub llm_model: String,
    /// Longest wait for the model's first token, and between tokens.
    pub llm_timeout_secs: u64,
    /// Longest a non-streamed answer may take as a whole.
    pub llm_answer_timeout_secs: u64,
    /// Longest answer, in tokens, for bots that set no `max_tokens`; unset:
    /// the model server's own limit.
    pub llm_max_tokens: Option<u32>,
    /// Models a bot's `model` may name, comma-separated; default: only
    /// `llm_model`.
    pub llm_allowed_models: Option<String>,
    /// Sign-up, login and refresh requests per minute from one IP.
    pub rate_limit_sign_in_per_minute: u32,
    /// Requests per minute with one credential (token or API key).
    pub rate_limit_credential_per_minute: u32,
    /// Other unauthenticated requests per minute from one IP.
    pub rate_limit_ip_per_minute: u32,
    /// Widget token requests per minute from one IP.
    pub rate_limit_widget_token_per_minute: u32,
    /// Visitor (embed-token) chat messages per minute from one IP, whatever
    /// the visitor; each visitor also has their bot's own limit.
    pub rate_limit_visitor_ip_per_minute: u32,
    /// `redis://HOST:PORT[/DB]`: rate limits shared by every API node.
    /// Unset: limits are kept in each process.
    pub redis_url: Option<Secret>,
    /// Limits of each plan; each can be set as `DOCENT_PLAN_<PLAN>_<LIMIT>`
    /// (a number, or `unlimited`).
    pub plans: Plans,
}

/// The limits of the three plans.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Plans {
    pub free: PlanLimits,
    pub pro: PlanLimits,
    pub enterprise: PlanLimits,
}

impl Default for Plans {
    fn default() -> Self {
        Self {
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

    /// Applies `DOCENT_PLAN_<PLAN>_<LIMIT>` from `vars` (for example
    /// `DOCENT_PLAN_FREE_MESSAGES_PER_MONTH=5`); the value is a number or
    /// `unlimited`.
    fn apply_env(
        &mut self,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("DOCENT_PLAN_") else {
                continue;
            };
            let bad = |reason: &str| ConfigError::Invalid {
                setting: "DOCENT_PLAN_*",
                reason: format!("{name}: {reason}"),
            };
            let (plan, limit) = rest
                .split_once('_')
                .ok_or_else(|| bad("expected DOCENT_PLAN_<PLAN>_<LIMIT>"))?;
            let limits = match plan {
                "FREE" => &mut self.free,
                "PRO" => &mut self.pro,
                "ENTERPRISE" => &mut self.enterprise,
                _ => return Err(bad("the plan must be FREE, PRO or ENTERPRISE")),
            };
            let slot = match limit {
                "MESSAGES_PER_MONTH" => &mut limits.messages_per_month,
                "DOCUMENTS" => &mut limits.documents,
                "STORAGE_BYTES" => &mut limits.storage_bytes,
                "CRAWL_PAGES_PER_MONTH" => &mut limits.crawl_pages_per_month,
                "LEADS_PER_MONTH" => &mut limits.leads_per_month,
                _ => {
                    return Err(bad(
                        "the limit must be MESSAGES_PER_MONTH, DOCUMENTS, STORAGE_BYTES, \
                         CRAWL_PAGES_PER_MONTH or LEADS_PER_MONTH",
                    ));
                }
            };
            let value = value.trim();
            *slot = if value.eq_ignore_ascii_case("unlimited") {
                None
            } else {
                Some(
                    value
                        .parse()
                        .map_err(|_| bad("must be a whole number or `unlimited`"))?,
                )
            };
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            jwt_secret: None,
            admin_token: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            log_format: LogFormat::Text,
            max_json_body_bytes: 2 * 1024 * 1024,
            storage_url: None,
            public_url: None,
            max_upload_bytes: 50 * 1024 * 1024,
            upload_url_ttl_secs: 15 * 60,
            upload_expiry_secs: 24 * 3600,
            maintenance_interval_secs: 600,
            worker_concurrency: 2,
            job_lease_secs: 60,
            job_max_attempts: 5,
            job_backoff_base_ms: 2_000,
            extract_timeout_secs: 120,
            extract_memory_mb: 1024,
            extract_program: None,
            chunk_max_tokens: None,
            chunk_overlap_tokens: None,
            embedder: None,
            embed_model_dir: None,
            model_source: None,
            embed_base_url: None,
            embed_api_key: None,
            embed_model: None,
            rerank_base_url: None,
            rerank_api_key: None,
            rerank_model: None,
            embed_dims: None,
            crawl_concurrency: 4,
            crawl_delay_ms: 250,
            crawl_allow_private_networks: false,
            llm_base_url: None,
            llm_api_key: None,
            llm_model: "gpt-4o-mini".into(),
            llm_timeout_secs: 60,
            llm_answer_timeout_secs: 120,
            llm_max_tokens: None,
            llm_allowed_models: None,
            rate_limit_sign_in_per_minute: 10,
            rate_limit_credential_per_minute: 600,
            rate_limit_ip_per_minute: 120,
            rate_limit_widget_token_per_minute: 30,
            rate_limit_visitor_ip_per_minute: 60,
            redis_url: None,
            plans: Plans::default(),
        }
    }
}

/// Values given on the command line; they override every other source.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Source(#[from] Box<figment::Error>),
    #[error("invalid setting `{setting}`: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
}

impl Config {
    /// Reads `config_file` (when it exists), the `DOCENT_*` environment and the
    /// overrides, then validates the result.
    pub fn load(config_file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let file = config_file.unwrap_or(Path::new("docent.toml"));
        if file.exists() {
            figment = figment.merge(Toml::file_exact(file));
        } else if config_file.is_some() {
            return Err(ConfigError::Invalid {
                setting: "--config",
                reason: format!("file {} does not exist", file.display()),
            });
        }
        let config: Config = figment
            .merge(Env::prefixed("DOCENT_").only(&Self::ENV_KEYS))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        let mut config = config;
        config.plans.apply_env(std::env::vars())?;
        if config.llm_api_key.is_none()
            && let Ok(key) = std::env::var("OPENAI_API_KEY")
            && !key.is_empty()
        {
            config.llm_api_key = Some(Secret::new(key));
        }
        config.validate()?;
        Ok(config)
    }

    /// The environment variables this build reads (lower-case, without the prefix).
    /// Others named `DOCENT_*` belong to later features or other tools and are ignored.
    const ENV_KEYS: [&'static str; 50] = [
        "listen",
        "data_dir",
        "database_url",
        "jwt_secret",
        "admin_token",
        "access_token_ttl_secs",
        "refresh_token_ttl_secs",
        "log_format",
        "max_json_body_bytes",
        "storage_url",
        "public_url",
        "max_upload_bytes",
        "upload_url_ttl_secs",
        "upload_expiry_secs",
        "maintenance_interval_secs",
        "worker_concurrency",
        "job_lease_secs",
        "job_max_attempts",
        "job_backoff_base_ms",
        "extract_timeout_secs",
        "extract_memory_mb",
        "extract_program",
        "chunk_max_tokens",
        "chunk_overlap_tokens",
        "embedder",
        "embed_model_dir",
        "model_source",
        "embed_base_url",
        "embed_api_key",
        "rerank_base_url",
        "rerank_api_key",
        "rerank_model",
        "embed_model",
        "embed_dims",
        "crawl_concurrency",
        "crawl_delay_ms",
        "crawl_allow_private_networks",
        "llm_base_url",
        "llm_api_key",
        "llm_model",
        "llm_timeout_secs",
        "llm_answer_timeout_secs",
        "llm_max_tokens",
        "llm_allowed_models",
        "rate_limit_sign_in_per_minute",
        "rate_limit_credential_per_minute",
        "rate_limit_ip_per_minute",
        "rate_limit_widget_token_per_minute",
        "rate_limit_visitor_ip_per_minute",
        "redis_url",
    ];

    /// The `DOCENT_*` variables in `vars` that name no setting (a typo, or a
    /// setting of another version): start-up warns about each, since they are
    /// otherwise silently ignored. The test tooling's own variables
    /// (`DOCENT_TEST_*`, `DOCENT_REQUIRE_BACKENDS`, `DOCENT_BACKENDS_DIR`) are not
    /// settings and are left out.
    pub fn unknown_env_vars(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
        let mut unknown: Vec<String> = vars
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| {
                let Some(key) = name.strip_prefix("DOCENT_") else {
                    return false;
                };
                let tooling =
                    key.starts_with("TEST_") || key == "REQUIRE_BACKENDS" || key == "BACKENDS_DIR";
                !tooling
                    && !key.starts_with("PLAN_")
                    && !Self::ENV_KEYS.contains(&key.to_ascii_lowercase().as_str())
            })
            .collect();
        unknown.sort();
        unknown
    }

    /// The models bots may name: `llm_allowed_models`, or the configured model.
    pub fn allowed_models(&self) -> Vec<String> {
        let mut models: Vec<String> = self
            .llm_allowed_models
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        if models.is_empty() {
            models.push(self.llm_model.clone());
        }
        models
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting, reason: &str| {
            Err(ConfigError::Invalid {
                setting,
                reason: reason.to_string(),
            })
        };
        if let Some(url) = &self.database_url
            && let Err(e) = DatabaseUrl::parse(url)
        {
            return invalid("DOCENT_DATABASE_URL", &e.0);
        }
        if let Some(secret) = &self.jwt_secret
            && secret.expose().len() < 32
        {
            return invalid("DOCENT_JWT_SECRET", "must be at least 32 bytes long");
        }
        if let Some(token) = &self.admin_token
            && token.expose().len() < 16
        {
            return invalid("DOCENT_ADMIN_TOKEN", "must be at least 16 bytes long");
        }
        if !(60..=86_400).contains(&self.access_token_ttl_secs) {
            return invalid(
                "DOCENT_ACCESS_TOKEN_TTL_SECS",
                "must be between 60 and 86400 seconds",
            );
        }
        if self.refresh_token_ttl_secs < self.access_token_ttl_secs {
            return invalid(
                "DOCENT_REFRESH_TOKEN_TTL_SECS",
                "must not be shorter than the access token lifetime",
            );
        }
        if self.max_json_body_bytes < 1024 {
            return invalid("DOCENT_MAX_JSON_BODY_BYTES", "must be at least 1024");
        }
        if let Some(url) = &self.storage_url
            && !(url.starts_with("file://") || url.starts_with("s3://"))
        {
            return invalid(
                "DOCENT_STORAGE_URL",
                "must be file://DIR or s3://BUCKET?endpoint=…&region=…",
            );
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return invalid("DOCENT_PUBLIC_URL", "must start with http:// or https://");
        }
        if self.max_upload_bytes == 0 {
            return invalid("DOCENT_MAX_UPLOAD_BYTES", "must be greater than 0");
        }
        if !(10..=7 * 24 * 3600).contains(&self.upload_url_ttl_secs) {
            return invalid(
                "DOCENT_UPLOAD_URL_TTL_SECS",
                "must be between 10 seconds and 7 days",
            );
        }
        if self.upload_expiry_secs < self.upload_url_ttl_secs {
            return invalid(
                "DOCENT_UPLOAD_EXPIRY_SECS",
                "must not be shorter than DOCENT_UPLOAD_URL_TTL_SECS",
            );
        }
        if self.maintenance_interval_secs == 0 {
            return invalid("DOCENT_MAINTENANCE_INTERVAL_SECS", "must be greater than 0");
        }
        if !(1..=64).contains(&self.worker_concurrency) {
            return invalid("DOCENT_WORKER_CONCURRENCY", "must be between 1 and 64");
        }
        if self.job_lease_secs < 2 {
            return invalid("DOCENT_JOB_LEASE_SECS", "must be at least 2 seconds");
        }
        if !(1..=100).contains(&self.job_max_attempts) {
            return invalid("DOCENT_JOB_MAX_ATTEMPTS", "must be between 1 and 100");
        }
        if self.extract_timeout_secs == 0 {
            return invalid("DOCENT_EXTRACT_TIMEOUT_SECS", "must be greater than 0");
        }
        if self
            .llm_max_tokens
            .is_some_and(|t| !(1..=32_768).contains(&t))
        {
            return invalid("DOCENT_LLM_MAX_TOKENS", "must be between 1 and 32768");
        }
        if self.llm_answer_timeout_secs == 0 {
            return invalid("DOCENT_LLM_ANSWER_TIMEOUT_SECS", "must be greater than 0");
        }
        if !(128..=65_536).contains(&self.extract_memory_mb) {
            return invalid(
                "DOCENT_EXTRACT_MEMORY_MB",
                "must be between 128 and 65536 MiB",
            );
        }
        if let (Some(max), Some(overlap)) = (self.chunk_max_tokens, self.chunk_overlap_tokens)
            && overlap >= max
        {
            return invalid(
                "DOCENT_CHUNK_OVERLAP_TOKENS",
                "must be smaller than DOCENT_CHUNK_MAX_TOKENS",
            );
        }
        if self
            .chunk_max_tokens
            .is_some_and(|m| !(16..=8192).contains(&m))
        {
            return invalid("DOCENT_CHUNK_MAX_TOKENS", "must be between 16 and 8192");
        }
        if self.embedder == Some(EmbedderKind::Local) && self.embed_model_dir.is_none() {
            return invalid(
                "DOCENT_EMBED_MODEL_DIR",
                "is required when DOCENT_EMBEDDER=local",
            );
        }
        if self.embedder == Some(EmbedderKind::OpenAi) && self.embed_base_url.is_none() {
            return invalid(
                "DOCENT_EMBED_BASE_URL",
                "is required when DOCENT_EMBEDDER=openai",
            );
        }
        if let Some(url) = &self.llm_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return invalid("DOCENT_LLM_BASE_URL", "must start with http:// or https://");
        }
        if self.rate_limit_sign_in_per_minute == 0
            || self.rate_limit_credential_per_minute == 0
            || self.rate_limit_ip_per_minute == 0
            || self.rate_limit_widget_token_per_minute == 0
            || self.rate_limit_visitor_ip_per_minute == 0
        {
            return invalid(
                "DOCENT_RATE_LIMIT_*",
                "rate limits must be at least 1 per minute",
            );
        }
        if let Some(url) = &self.redis_url
            && !(url.expose().starts_with("redis://") || url.expose().starts_with("rediss://"))
        {
            return invalid("DOCENT_REDIS_URL", "must be redis://HOST:PORT[/DB]");
        }
        if self.llm_timeout_secs == 0 {
            return invalid("DOCENT_LLM_TIMEOUT_SECS", "must be greater than 0");
        }
        if !(1..=16).contains(&self.crawl_concurrency) {
            return invalid("DOCENT_CRAWL_CONCURRENCY", "must be between 1 and 16");
        }
        Ok(())
    }

    /// The database in force: the configured one (checked by `validate`),
    /// or the embedded file in the data dir.
    pub fn database(&self) -> Result<DatabaseUrl, Invalid> {
        match &self.database_url {
            Some(url) => DatabaseUrl::parse(url),
            None => Ok(DatabaseUrl::Sqlite(self.data_dir.join("docent.db"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every setting is one `DOCENT_*` variable and every variable one
    /// setting: the list the environment is read through names exactly the
    /// fields (plan limits have their own `DOCENT_PLAN_*` family).
    #[test]
    fn the_environment_names_every_setting() {
        let fields = serde_json::to_value(Config::default()).unwrap();
        let mut fields: Vec<&str> = fields
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|f| *f != "plans")
            .collect();
        fields.sort_unstable();
        let mut keys = Config::ENV_KEYS.to_vec();
        keys.sort_unstable();
        assert_eq!(keys, fields);
    }

    #[test]
    fn database_urls_and_embedders_are_parsed_into_types() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/docent/docent.db").unwrap(),
            DatabaseUrl::Sqlite("/var/docent/docent.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:data/docent.db").unwrap().url(),
            "sqlite://data/docent.db"
        );
        let pg = DatabaseUrl::parse("postgres://docent:secret@db:5432/docent").unwrap();
        assert!(matches!(pg, DatabaseUrl::Postgres(_)));
        assert!(!format!("{pg:?}").contains("secret"));
        for bad in ["mysql://x", "sqlite://", "sqlite://x.db?mode=ro", ""] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad} accepted");
        }
        let config = Config {
            database_url: Some("mysql://x".into()),
            ..Config::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("DOCENT_DATABASE_URL"), "{err}");
        assert_eq!(
            "openai".parse::<EmbedderKind>().unwrap(),
            EmbedderKind::OpenAi
        );
        assert!("onnx".parse::<EmbedderKind>().is_err());
        let kind: EmbedderKind = serde_json::from_str("\"local\"").unwrap();
        assert_eq!(kind, EmbedderKind::Local);
        assert!(serde_json::from_str::<EmbedderKind>("\"onnx\"").is_err());
    }

    #[test]
    fn unknown_docent_variables_are_reported() {
        let vars = [
            ("DOCENT_LISTEN", "127.0.0.1:1"),
            ("DOCENT_LISTNE", "127.0.0.1:1"),
            ("DOCENT_PLAN_FREE_MESSAGES_PER_MONTH", "5"),
            ("DOCENT_TEST_POSTGRES_URL", "postgres://x"),
            ("DOCENT_REQUIRE_BACKENDS", "1"),
            ("HOME", "/root"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(Config::unknown_env_vars(vars), ["DOCENT_LISTNE"]);
    }

    #[test]
    fn plan_limits_come_from_the_environment() {
        let mut plans = Plans::default();
        let vars = [
            ("DOCENT_PLAN_FREE_MESSAGES_PER_MONTH", "5"),
            ("DOCENT_PLAN_FREE_DOCUMENTS", "3"),
            ("DOCENT_PLAN_PRO_STORAGE_BYTES", "unlimited"),
            ("DOCENT_PLAN_ENTERPRISE_CRAWL_PAGES_PER_MONTH", "1000"),
            ("DOCENT_LISTEN", "ignored"),
        ];
        plans
            .apply_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .unwrap();
        assert_eq!(plans.free.messages_per_month, Some(5));
        assert_eq!(plans.free.documents, Some(3));
        assert_eq!(plans.pro.storage_bytes, None);
        assert_eq!(plans.enterprise.crawl_pages_per_month, Some(1000));
        assert_eq!(plans.enterprise.messages_per_month, None);
        for (k, v) in [
            ("DOCENT_PLAN_GOLD_DOCUMENTS", "1"),
            ("DOCENT_PLAN_FREE_SEATS", "1"),
            ("DOCENT_PLAN_FREE_DOCUMENTS", "many"),
        ] {
            let err = Plans::default()
                .apply_env(std::iter::once((k.to_string(), v.to_string())))
                .unwrap_err()
                .to_string();
            assert!(err.contains(k), "{err}");
        }
    }

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn short_jwt_secret_is_refused_with_the_setting_named() {
        let config = Config {
            jwt_secret: Some(Secret::new("short")),
            ..Config::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("DOCENT_JWT_SECRET"), "{err}");
    }

    #[test]
    fn unsupported_database_scheme_is_refused() {
        let config = Config {
            database_url: Some("mysql://x".into()),
            ..Config::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let config = Config {
            jwt_secret: Some(Secret::new("a-very-secret-value-that-is-long-enough")),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("a-very-secret"));
    }

    #[test]
    fn missing_explicit_config_file_is_an_error() {
        let err = Config::load(
            Some(Path::new("/nonexistent/docent.toml")),
            Overrides::default(),
        );
        assert!(err.is_err());
    }

    #[test]
    fn toml_file_is_read_and_overrides_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docent.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9999\"\naccess_token_ttl_secs = 120\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            Overrides {
                data_dir: Some(dir.path().to_path_buf()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9999);
        assert_eq!(config.access_token_ttl_secs, 120);
        assert_eq!(config.data_dir, dir.path());
    }

    #[test]
    fn unknown_keys_in_the_file_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docent.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9999\"\n").unwrap();
        let err = Config::load(Some(&file), Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
    }
}
