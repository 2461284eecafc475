//! Services: the product's rules (who may do what, what a valid change is, what
//! gets audited), written once over the `Store` seam and called by every front
//! end (HTTP today, CLI tools later).

mod analytics;
mod api_keys;
mod audit;
mod auth;
mod bots;
mod chat;
mod email_flows;
mod knowledge;
mod leads;
pub mod mail;
mod mfa;
pub mod pipeline;
mod platform;
mod search;
mod usage;
mod users;
pub mod webhooks;
mod widget_tokens;

use std::sync::Arc;

use docent_core::auth::jwt::JwtKeys;
use docent_core::auth::upload::UploadSigner;
use docent_core::blob::{BlobError, BlobStore};
use docent_core::domain::{Invalid, NewAuditEntry, Role};
use docent_core::embed::Embedder;
use docent_core::ids::{ApiKeyId, BotId, TenantId, UserId};
use docent_core::llm::ChatModel;
use docent_core::store::{Store, StoreError};
use docent_retrieval::retriever::Retriever;

pub use analytics::{BotAnalytics, ExportFormat, ExportStream};
pub use api_keys::{CreateApiKey, CreatedApiKey};
pub use auth::{Login, Me, Signup, TenantSession, TokenPair};
pub use chat::{AnswerEvent, AskRequest, ChatAnswer, DONT_KNOW, FeedbackRequest, UsageView};
pub use email_flows::{Invitation, PasswordResetRequest, TokenAndPassword, VerifyEmail};
pub use knowledge::{
    CrawlRequest, DocumentAccepted, DocumentDetail, FileAccepted, JobAccepted, NewDocumentRequest,
    UploadParams, UploadTicket, UploadUrlRequest,
};
pub use leads::NewLeadRequest;
pub use mfa::{LoginOutcome, MfaChallenge, MfaCode, MfaLogin, MfaSetup, RecoveryCodes};
pub use platform::Operator;
pub use search::{SearchRequest, SearchResult, SearchResults};
pub use usage::{DailyUsage, DayUsage, Meter, UsageFigures, UsageReport};
pub use users::{CreateUser, UpdateUser};
pub use webhooks::{CreateWebhook, CreatedWebhook, UpdateWebhook};
pub use widget_tokens::{
    EmbedToken, EmbedTokenRequest, VisitorClaims, WidgetConfig, WidgetTokenRequest,
};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedType(String),
    /// A plan limit would be passed; the text names it.
    #[error("{0}")]
    QuotaExceeded(String),
    /// A dependency (the embedding provider) is down; worth retrying later.
    #[error("{0}")]
    Unavailable(String),
    /// A rate limit of the service's own (a visitor's messages) is reached;
    /// retry after the given time. `class` names the limit, for metrics.
    #[error("rate limit exceeded")]
    RateLimited {
        class: &'static str,
        retry_after: std::time::Duration,
    },
    /// Something failed that the caller could not cause; logged with its
    /// cause chain where the 500 is made, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ServiceError {
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ServiceError::Internal(cause.into())
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::Conflict(what) => ServiceError::Conflict(what),
            StoreError::QuotaExceeded(kind) => ServiceError::QuotaExceeded(format!(
                "the plan's {} limit is reached",
                kind.as_str()
            )),
            e @ StoreError::Backend { .. } => ServiceError::internal(e),
        }
    }
}

impl From<Invalid> for ServiceError {
    fn from(e: Invalid) -> Self {
        ServiceError::Invalid(e.0)
    }
}

impl From<BlobError> for ServiceError {
    fn from(e: BlobError) -> Self {
        ServiceError::internal(e)
    }
}

/// An error and its causes, outermost first (`a: b: c`), for the one log
/// line where an internal error ends.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Who is acting. The tenant always comes from the verified credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    User(UserId),
    ApiKey(ApiKeyId),
    /// A widget visitor (embed token): may chat with one bot, read their own
    /// conversations and leave a lead, nothing else.
    Visitor(Visitor),
    /// The operator, from the `docent` command on the instance's machine
    /// (`Services::operator_in`); never built from a request.
    Operator,
}

/// The holder of an embed token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visitor {
    pub bot_id: BotId,
    /// `anon:<hex>` or the identity the customer's server vouched for.
    pub id: String,
}

#[derive(Clone, Debug)]
pub struct Actor {
    pub tenant_id: TenantId,
    pub principal: Principal,
    pub role: Role,
    /// The bot an embed token is bound to, as read when the token was
    /// verified, so the rest of the request does not read it again.
    pub bot: Option<Arc<docent_core::domain::Bot>>,
}

impl Actor {
    /// `Forbidden` unless the actor's role is at least `min`. Visitors hold
    /// no role: the few actions open to them check [`Actor::visitor`].
    pub fn require(&self, min: Role) -> ServiceResult<()> {
        if self.visitor().is_some() {
            return Err(ServiceError::Forbidden(
                "an embed token may only chat with its bot, read its own conversations \
                 and leave a lead"
                    .into(),
            ));
        }
        if self.role >= min {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "this action needs the {min} role or higher"
            )))
        }
    }

    /// The identity a conversation records as its starter: `user:<id>` or
    /// `api_key:<id>`; `None` for visitors (their sessions carry `visitor`).
    pub fn starter(&self) -> Option<String> {
        match &self.principal {
            Principal::User(id) => Some(format!("user:{id}")),
            Principal::ApiKey(id) => Some(format!("api_key:{id}")),
            Principal::Operator => Some("operator".into()),
            Principal::Visitor(_) => None,
        }
    }

    pub fn visitor(&self) -> Option<&Visitor> {
        match &self.principal {
            Principal::Visitor(v) => Some(v),
            _ => None,
        }
    }

    fn audit_identity(&self) -> (&'static str, String) {
        match &self.principal {
            Principal::User(id) => ("user", id.to_string()),
            Principal::ApiKey(id) => ("api_key", id.to_string()),
            Principal::Visitor(v) => ("visitor", v.id.clone()),
            Principal::Operator => ("operator", "command_line".into()),
        }
    }
}

/// Where a request came from, for the audit trail.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An actor plus the request facts that every audited action records.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub actor: Actor,
    pub client: ClientInfo,
}

#[derive(Clone, Copy, Debug)]
pub struct TokenSettings {
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
}

/// Limits and defaults the services enforce, taken from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    pub tokens: TokenSettings,
    pub max_upload_bytes: u64,
    pub upload_url_ttl_secs: u64,
    pub job_max_attempts: u32,
    /// `DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS`.
    pub crawl_allow_private_networks: bool,
    /// Models a bot may name; `None` when no model endpoint is configured.
    pub llm_allowed_models: Option<Vec<String>>,
    /// Longest a non-streamed answer may take as a whole
    /// (`DOCENT_LLM_ANSWER_TIMEOUT_SECS`).
    pub llm_answer_timeout: std::time::Duration,
    /// Answer length for bots that set none (`DOCENT_LLM_MAX_TOKENS`).
    pub llm_max_tokens: Option<u32>,
    /// The operator's token for `/platform` routes; `None` disables them.
    pub admin_token: Option<docent_core::config::Secret>,
    /// `DOCENT_RATE_LIMIT_VISITOR_IP_PER_MINUTE`: widget messages per
    /// address, whatever visitor identities it presents.
    pub visitor_ip_per_minute: u32,
    /// The plan new tenants get (`DOCENT_DEFAULT_PLAN`).
    pub default_plan: docent_core::domain::Plan,
    /// Attempts per webhook delivery (`DOCENT_WEBHOOK_MAX_ATTEMPTS`).
    pub webhook_max_attempts: u32,
    /// Where links in mail point (`DOCENT_PUBLIC_URL`, else the listen address).
    pub public_url: String,
}

/// What the services are built from.
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub blob: Arc<dyn BlobStore>,
    pub embedder: Arc<dyn Embedder>,
    /// The chat model; `None`: extractive answers.
    pub llm: Option<Arc<dyn ChatModel>>,
    /// Reranks retrieved passages when configured.
    pub reranker: Option<Arc<dyn docent_core::rerank::Reranker>>,
    pub jwt: JwtKeys,
    pub uploads: UploadSigner,
    pub settings: Settings,
    /// Plan limits and the usage ledger.
    pub meter: Meter,
    /// Sends the email flows' links.
    pub mailer: Arc<dyn docent_core::mail::Mailer>,
}

/// The services, sharing one store, blob store and key set. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    store: Arc<dyn Store>,
    blob: Arc<dyn BlobStore>,
    retriever: Arc<Retriever>,
    /// Checks generated answers against their passages.
    grounding: docent_retrieval::grounding::Checker,
    llm: Option<Arc<dyn ChatModel>>,
    jwt: JwtKeys,
    uploads: UploadSigner,
    settings: Arc<Settings>,
    tokens: TokenSettings,
    meter: Meter,
    mailer: Arc<dyn docent_core::mail::Mailer>,
    /// Counts widget visitors' messages; `None` where nobody chats (workers).
    limiter: Option<Arc<dyn docent_core::ratelimit::RateLimiter>>,
}

impl Services {
    pub fn new(deps: Deps) -> Self {
        Self {
            grounding: docent_retrieval::grounding::Checker::new(deps.embedder.clone()),
            retriever: Arc::new(
                Retriever::new(deps.store.clone(), deps.embedder).with_reranker(deps.reranker),
            ),
            llm: deps.llm,
            store: deps.store,
            blob: deps.blob,
            jwt: deps.jwt,
            uploads: deps.uploads,
            tokens: deps.settings.tokens,
            settings: Arc::new(deps.settings),
            meter: deps.meter,
            mailer: deps.mailer,
            limiter: None,
        }
    }

    /// These services with the limiter the API counts requests in.
    pub fn with_limiter(mut self, limiter: Arc<dyn docent_core::ratelimit::RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    pub fn blob(&self) -> &Arc<dyn BlobStore> {
        &self.blob
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn jwt(&self) -> &JwtKeys {
        &self.jwt
    }

    /// Appends to the tenant's audit trail. A failure here is logged and does not
    /// undo the action it describes, which has already happened.
    async fn audit(
        &self,
        ctx: &Ctx,
        action: &'static str,
        resource_type: &'static str,
        resource_id: Option<String>,
    ) {
        self.audit_change(ctx, action, resource_type, resource_id, None)
            .await
    }

    /// [`Services::audit`] with what the action changed
    /// (`docent_core::domain::changes`).
    async fn audit_change(
        &self,
        ctx: &Ctx,
        action: &'static str,
        resource_type: &'static str,
        resource_id: Option<String>,
        changes: Option<serde_json::Value>,
    ) {
        let (actor_type, actor_id) = ctx.actor.audit_identity();
        let entry = NewAuditEntry {
            actor_type,
            actor_id: Some(actor_id),
            action,
            resource_type,
            resource_id,
            ip: ctx.client.ip.clone(),
            user_agent: ctx.client.user_agent.clone(),
            changes,
        };
        if let Err(error) = self.store.append_audit(ctx.actor.tenant_id, &entry).await {
            tracing::error!(error = %crate::ErrorChain(&error), action, "audit entry could not be written");
        }
    }
}

/// Hex SHA-256 of content: document and chunk hashes, for change detection
/// and embedding reuse.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs CPU-heavy work (argon2) off the async executor.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ServiceResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ServiceError::internal)
}

fn limit_len(field: &str, value: &str, min: usize, max: usize) -> ServiceResult<()> {
    let n = value.trim().chars().count();
    if n < min || n > max {
        return Err(ServiceError::Invalid(format!(
            "`{field}` must be {min} to {max} characters"
        )));
    }
    Ok(())
}
