//! The storage seam. Every backend (embedded SQLite now, Postgres later) implements
//! [`Store`], and one conformance suite runs against each.
//!
//! Tenancy is in the signatures: every method that reads or changes a tenant's
//! rows takes its `TenantId`, so a query that forgets the tenant does not compile.
//! The few lookups that cannot know the tenant yet (login by email, a presented
//! API key or refresh token) find it from globally unique secrets.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use std::collections::HashMap;

use crate::domain::{
    ApiKey, AuditEntry, AuditQuery, Bot, Charge, ChatMessage, ChatSession, Chunk, ChunkView,
    DeliveryAttempt, Document, DocumentCounts, DocumentStatus, Email, EmailPurpose, EmailToken,
    Feedback, Job, JobSpec, Lead, NewApiKey, NewAuditEntry, NewJob, Plan, Progress, Role,
    StoredFile, Tenant, UsageEvent, UsageKind, User, WebhookDelivery, WebhookEndpoint,
};
use crate::ids::{
    ApiKeyId, BotId, ChunkId, DeliveryId, DocumentId, FileId, JobId, MessageId, SessionId,
    TenantId, TokenFamilyId, UserId, WebhookId,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the text names which.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A reservation would pass a limit; names the kind of usage.
    #[error("quota exceeded: {0:?}")]
    QuotaExceeded(UsageKind),
    /// The backend failed (I/O, connection, corrupt data) in operation `op`.
    /// Logged with its cause chain, never shown.
    #[error("storage backend failed in {op}")]
    Backend {
        op: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    pub fn backend(
        op: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError::Backend {
            op,
            source: source.into(),
        }
    }
}

/// The refusal of a change that would leave a tenant without an owner.
pub const LAST_OWNER: &str = "a tenant must keep at least one owner";

pub type StoreResult<T> = Result<T, StoreError>;

/// Keyset paging: rows ordered by id (UUIDv7, so by creation), after a cursor.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A stored refresh token (its digest, never the token).
#[derive(Clone, Debug)]
pub struct RefreshToken {
    pub token_hash: String,
    pub family_id: TokenFamilyId,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token found.
#[derive(Clone, Debug)]
pub enum RefreshUse {
    /// It was live; it is now revoked and may be replaced by one of the same family.
    Consumed(RefreshToken),
    /// It had been revoked before: its whole family has now been revoked.
    Reused,
    /// Unknown or expired.
    Invalid,
}

/// Everything a backend provides. The parts are separate traits so a backend
/// can implement them in separate modules.
#[async_trait]
pub trait Store:
    AccountStore
    + BotStore
    + AuditStore
    + KnowledgeStore
    + JobStore
    + ChatStore
    + LeadStore
    + UsageStore
    + WebhookStore
    + EmailTokenStore
    + MfaStore
{
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
}

/// Tenants, users, refresh tokens and API keys.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates a tenant and its first owner atomically; `Conflict` if the email is taken.
    async fn create_tenant_with_owner(&self, tenant: &Tenant, owner: &User) -> StoreResult<()>;
    async fn get_tenant(&self, tenant: TenantId) -> StoreResult<Tenant>;
    async fn set_tenant_plan(&self, tenant: TenantId, plan: Plan) -> StoreResult<Tenant>;
    /// Every tenant, oldest first: for the operator, never for a tenant.
    async fn list_tenants(&self, page: &PageRequest) -> StoreResult<Page<Tenant>>;
    /// Login lookup: emails are unique across tenants.
    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    async fn get_user(&self, tenant: TenantId, user: UserId) -> StoreResult<User>;
    async fn list_users(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<User>>;
    /// `Conflict` if the email is taken.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    /// `Conflict` when it would leave the tenant without an owner; checked
    /// and written atomically, so two owners demoting each other at once
    /// cannot both succeed.
    async fn set_user_role(&self, tenant: TenantId, user: UserId, role: Role) -> StoreResult<User>;
    /// Deletes the user and their refresh tokens; `Conflict` (atomically, as
    /// above) when they are the last owner.
    async fn delete_user(&self, tenant: TenantId, user: UserId) -> StoreResult<()>;
    async fn count_owners(&self, tenant: TenantId) -> StoreResult<u64>;

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()>;
    /// Revokes the token if it is live and says what was found; revokes the
    /// whole family when a revoked token is presented again. Atomic: of two
    /// concurrent uses of one token, exactly one is `Consumed`.
    async fn use_refresh_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<RefreshUse>;
    /// The family (one login) a refresh token belongs to, whatever its state.
    async fn refresh_token_family(&self, token_hash: &str) -> StoreResult<Option<TokenFamilyId>>;
    /// Revokes every token of the family that `token_hash` belongs to (logout).
    async fn revoke_refresh_family(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<()>;
    /// Sets a user's password hash and revokes every refresh token of the
    /// user, in one transaction: each of their sessions must sign in again.
    async fn set_password(
        &self,
        tenant: TenantId,
        user: UserId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn create_api_key(&self, key: &NewApiKey) -> StoreResult<()>;
    async fn list_api_keys(
        &self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> StoreResult<Page<ApiKey>>;
    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        key: ApiKeyId,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// A live (unrevoked) key by the digest of its secret.
    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKey>>;
    /// Records use; writes at most once a minute per key to spare the database.
    async fn touch_api_key(&self, key: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()>;
}

#[async_trait]
pub trait BotStore: Send + Sync + 'static {
    async fn create_bot(&self, bot: &Bot) -> StoreResult<()>;
    async fn get_bot(&self, tenant: TenantId, bot: BotId) -> StoreResult<Bot>;
    /// A bot looked up by id alone, for the widget's unauthenticated routes,
    /// where the bot id is all the request names. Callers check `public` and
    /// the origin before revealing anything.
    async fn get_bot_any_tenant(&self, bot: BotId) -> StoreResult<Bot>;
    async fn list_bots(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Bot>>;
    async fn update_bot(&self, bot: &Bot) -> StoreResult<()>;
    async fn delete_bot(&self, tenant: TenantId, bot: BotId) -> StoreResult<()>;
}

/// The audit trail: append-only.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    async fn append_audit(&self, tenant: TenantId, entry: &NewAuditEntry) -> StoreResult<()>;
    async fn list_audit(
        &self,
        tenant: TenantId,
        query: &AuditQuery,
    ) -> StoreResult<Vec<AuditEntry>>;
}

/// Filters of the document list.
#[derive(Clone, Debug, Default)]
pub struct DocumentFilter {
    pub bot_id: Option<BotId>,
    pub status: Option<DocumentStatus>,
    /// Only titles holding this text, ignoring case (ASCII case on SQLite).
    pub title: Option<String>,
}

/// A chunk found by search, with what a citation needs.
#[derive(Clone, Debug)]
pub struct ChunkHit {
    pub chunk_id: ChunkId,
    pub document_id: DocumentId,
    pub title: String,
    pub source_url: Option<String>,
    pub text: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
    /// The uploaded file's name, for documents that came from a file.
    pub filename: Option<String>,
    /// Tokens of `text`, as counted when it was chunked.
    pub token_count: u32,
}

/// Every vector of one bot, with the index version it was read at.
#[derive(Clone, Debug, Default)]
pub struct BotVectors {
    pub version: i64,
    pub ids: Vec<ChunkId>,
    /// `ids.len() * dims` floats, row-major.
    pub vectors: Vec<f32>,
    pub dims: usize,
}

/// Files, documents and their chunks (with the keyword index kept in step).
#[async_trait]
pub trait KnowledgeStore: Send + Sync + 'static {
    async fn create_file(&self, file: &StoredFile) -> StoreResult<()>;
    async fn get_file(&self, tenant: TenantId, file: FileId) -> StoreResult<StoredFile>;
    /// Records that the bytes arrived (actual size, digest, detected format).
    async fn mark_file_uploaded(&self, file: &StoredFile) -> StoreResult<()>;
    /// Files no document was made of, created before `before` (uploads never
    /// ingested, URLs never used), oldest first, across tenants.
    async fn pending_files(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<StoredFile>>;
    /// Removes a file no document uses, and the bytes it holds from the
    /// tenant's storage counter, in one transaction; `NotFound` if a
    /// document uses it (or it is gone).
    async fn delete_pending_file(&self, tenant: TenantId, file: FileId) -> StoreResult<()>;
    /// Sets every tenant's held counters to what is really held: documents,
    /// and bytes of documents plus pending files. Repairs drift left by a
    /// crash between a reservation and its release. Returns the counters
    /// that changed.
    async fn recount_held_usage(&self) -> StoreResult<u64>;

    /// Inserts a document (with the file it is made of, when that is new
    /// too) and enqueues its job, in one transaction.
    async fn create_document(
        &self,
        doc: &Document,
        file: Option<&StoredFile>,
        job: &NewJob,
    ) -> StoreResult<()>;
    async fn get_document(&self, tenant: TenantId, doc: DocumentId) -> StoreResult<Document>;
    async fn list_documents(
        &self,
        tenant: TenantId,
        filter: &DocumentFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Document>>;
    async fn find_document_by_source_url(
        &self,
        tenant: TenantId,
        bot: BotId,
        source_url: &str,
    ) -> StoreResult<Option<Document>>;
    /// Replaces a document's source (new bytes, hash, title) and queues it again,
    /// in one transaction with its job.
    async fn update_document_source(&self, doc: &Document, job: &NewJob) -> StoreResult<()>;
    /// Sets status `queued` and enqueues `job`, in one transaction.
    async fn requeue_document(
        &self,
        tenant: TenantId,
        doc: DocumentId,
        job: &NewJob,
    ) -> StoreResult<()>;
    async fn set_document_status(
        &self,
        tenant: TenantId,
        doc: DocumentId,
        status: DocumentStatus,
        error: Option<&str>,
    ) -> StoreResult<()>;
    /// Deletes a document with its chunks from every index in one transaction.
    async fn delete_document(&self, tenant: TenantId, doc: DocumentId) -> StoreResult<Document>;

    /// Atomically swaps a document's chunks for `chunks` and marks it ready.
    /// Running it twice leaves one set of chunks: retries cannot duplicate.
    async fn replace_chunks(
        &self,
        tenant: TenantId,
        doc: DocumentId,
        chunks: &[Chunk],
        title: Option<&str>,
    ) -> StoreResult<()>;
    async fn list_chunks(&self, tenant: TenantId, doc: DocumentId) -> StoreResult<Vec<ChunkView>>;
    /// Embeddings already computed by `embedder_id` for texts with these digests.
    async fn find_embeddings(
        &self,
        tenant: TenantId,
        embedder_id: &str,
        text_hashes: &[String],
    ) -> StoreResult<HashMap<String, Vec<f32>>>;
    /// Changes whenever a bot's chunks change, so in-memory indexes know to reload.
    async fn bot_index_version(&self, tenant: TenantId, bot: BotId) -> StoreResult<i64>;
    /// The bot's vectors made by `embedder_id` (vectors of another embedder are
    /// not comparable and wait for re-embedding).
    async fn bot_vectors(
        &self,
        tenant: TenantId,
        bot: BotId,
        embedder_id: &str,
    ) -> StoreResult<BotVectors>;
    /// Nearest passages of the bot to `query` by cosine similarity, when the
    /// backend searches vectors itself (an index in the database engine).
    /// `None`: it does not, and the caller scans [`KnowledgeStore::bot_vectors`]
    /// in memory.
    async fn vector_search(
        &self,
        _tenant: TenantId,
        _bot: BotId,
        _embedder_id: &str,
        _query: &[f32],
        _limit: u32,
    ) -> StoreResult<Option<Vec<(ChunkId, f32)>>> {
        Ok(None)
    }
    /// Cosine similarity of `query` with each of these passages, for backends
    /// that search vectors themselves; `None` otherwise.
    async fn vector_similarity(
        &self,
        _tenant: TenantId,
        _embedder_id: &str,
        _query: &[f32],
        _ids: &[ChunkId],
    ) -> StoreResult<Option<HashMap<ChunkId, f32>>> {
        Ok(None)
    }
    /// Prepares the vector index for vectors of `dims` dimensions (at start,
    /// once the embedder is known). Backends without one do nothing.
    async fn prepare_vector_index(&self, _dims: usize) -> StoreResult<()> {
        Ok(())
    }
    /// Documents with chunks embedded by another embedder than `embedder_id`:
    /// after the embedder changes, these are ingested again.
    async fn stale_documents(
        &self,
        embedder_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<(TenantId, DocumentId)>>;
    /// How many of the bot's documents are in each status.
    async fn document_counts(&self, tenant: TenantId, bot: BotId) -> StoreResult<DocumentCounts>;
    /// BM25 over the bot's chunks; higher score is better.
    async fn keyword_search(
        &self,
        tenant: TenantId,
        bot: BotId,
        query: &str,
        limit: u32,
    ) -> StoreResult<Vec<(ChunkId, f32)>>;
    async fn get_chunk_hits(&self, tenant: TenantId, ids: &[ChunkId])
    -> StoreResult<Vec<ChunkHit>>;
}

/// Jobs by kind and status, for metrics.
#[derive(Clone, Debug, Default)]
pub struct QueueDepth {
    pub queued: u64,
    pub running: u64,
}

/// The durable job queue. A claimed job is leased to one worker until
/// `lease_until`; a job whose lease lapsed (its worker died) is claimed again.
/// Completion and failure only count from the worker holding the lease.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    async fn enqueue(&self, job: &NewJob) -> StoreResult<()>;
    /// Leases the next runnable job, fairly across tenants: tenants with fewer
    /// running jobs first, then the one served least recently.
    async fn claim(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>>;
    /// Extends the lease; false if the worker no longer holds it.
    async fn heartbeat(
        &self,
        job: JobId,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn set_progress(&self, job: JobId, progress: Progress) -> StoreResult<()>;
    async fn complete(&self, job: JobId, worker: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Back to `queued` until `run_at`, keeping the error.
    async fn retry_later(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        run_at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Gives up: `failed`, keeping the error.
    async fn fail(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn get_job(&self, tenant: TenantId, job: JobId) -> StoreResult<Job>;
    async fn queue_depth(&self) -> StoreResult<QueueDepth>;
    /// Records the running job's new payload (a crawl's checkpoint); false
    /// when the lease was no longer the worker's.
    async fn save_payload(&self, job: JobId, worker: &str, spec: &JobSpec) -> StoreResult<bool>;
    /// A worker that stops gives a running job back: `queued`, runnable at
    /// `now`, the attempt it was on not counted. False when the lease was no
    /// longer the worker's.
    async fn hand_back(&self, job: JobId, worker: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    /// The bot's jobs still queued or running, oldest first.
    async fn active_jobs(&self, tenant: TenantId, bot: BotId) -> StoreResult<Vec<Job>>;
    /// The worker lets go of a crawl that has stored its pages and waits for
    /// them to be ingested: it stays `running`, leased to no worker (so no
    /// worker claims it again), until [`JobStore::finish_awaiting`] ends it.
    /// False when the lease was no longer the worker's.
    async fn await_ingestion(&self, job: JobId, worker: &str) -> StoreResult<bool>;
    /// Ends the waiting crawls (of one tenant, or of all) whose bot has no
    /// document queued or processing any more; returns how many ended.
    async fn finish_awaiting(
        &self,
        tenant: Option<TenantId>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

/// Whose conversations a listing shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionOwner<'a> {
    Anyone,
    /// One visitor's (`ChatSession::visitor`).
    Visitor(&'a str),
    /// The ones one user or key started (`ChatSession::started_by`).
    StartedBy(&'a str),
}

impl<'a> SessionOwner<'a> {
    /// As two optional filters: (visitor, started_by).
    pub fn filters(self) -> (Option<&'a str>, Option<&'a str>) {
        match self {
            Self::Anyone => (None, None),
            Self::Visitor(v) => (Some(v), None),
            Self::StartedBy(s) => (None, Some(s)),
        }
    }
}

/// Chat sessions and their messages.
#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    /// Creates a session with its first messages (which may be none), in one
    /// transaction.
    async fn create_session(&self, session: &ChatSession, first: &[ChatMessage])
    -> StoreResult<()>;
    async fn get_session(&self, tenant: TenantId, session: SessionId) -> StoreResult<ChatSession>;
    /// Newest first; `bot` narrows to one bot, `owner` to one visitor's or
    /// one starter's conversations.
    async fn list_sessions(
        &self,
        tenant: TenantId,
        bot: Option<BotId>,
        owner: SessionOwner<'_>,
        page: &PageRequest,
    ) -> StoreResult<Page<ChatSession>>;
    /// Appends messages to their session (in order) and updates its count and
    /// last-message time, in one transaction.
    async fn append_messages(
        &self,
        tenant: TenantId,
        session: SessionId,
        messages: &[ChatMessage],
    ) -> StoreResult<()>;
    /// The session's messages in the order appended; `last` keeps only the most recent.
    async fn list_messages(
        &self,
        tenant: TenantId,
        session: SessionId,
        last: Option<u32>,
    ) -> StoreResult<Vec<ChatMessage>>;
    async fn get_message(&self, tenant: TenantId, message: MessageId) -> StoreResult<ChatMessage>;
    /// Stores an answer's trace (JSON), replacing any earlier one; it is
    /// deleted with its message.
    async fn save_trace(
        &self,
        tenant: TenantId,
        message: MessageId,
        trace: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// An answer's trace as stored; `NotFound` when it has none.
    async fn get_trace(&self, tenant: TenantId, message: MessageId) -> StoreResult<String>;
    /// Sets (or, with `None`, clears) the feedback on a message.
    async fn set_feedback(
        &self,
        tenant: TenantId,
        message: MessageId,
        feedback: Option<&Feedback>,
    ) -> StoreResult<()>;
    /// A bot's conversations started in `[from, to)`, oldest first, after
    /// the session `after` (a cursor: ids are time-ordered).
    async fn sessions_between(
        &self,
        tenant: TenantId,
        bot: BotId,
        range: TimeRange,
        after: Option<SessionId>,
        limit: u32,
    ) -> StoreResult<Vec<ChatSession>>;
    /// At most `limit` messages of a bot's conversations sent in `[from,
    /// to)`, grouped by session and in the order appended within each.
    async fn bot_messages_between(
        &self,
        tenant: TenantId,
        bot: BotId,
        range: TimeRange,
        limit: u32,
    ) -> StoreResult<Vec<ChatMessage>>;
}

/// A half-open span of time, `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Leads left by visitors.
#[async_trait]
pub trait LeadStore: Send + Sync + 'static {
    async fn create_lead(&self, lead: &Lead) -> StoreResult<()>;
    /// Newest first; `bot` narrows to one bot.
    async fn list_leads(
        &self,
        tenant: TenantId,
        bot: Option<BotId>,
        page: &PageRequest,
    ) -> StoreResult<Page<Lead>>;
}

/// Usage counters (for exact limits) and the append-only usage ledger.
///
/// Limits hold under concurrency because a reservation is one conditional
/// update per counter (`used + amount <= limit`) inside one transaction: of N
/// racing requests for the last M units, exactly M succeed. Deleting
/// documents (or a bot) lowers the held counters in the same transaction as
/// the delete.
#[async_trait]
pub trait UsageStore: Send + Sync + 'static {
    /// Adds every charge to its counter, or none of them:
    /// `QuotaExceeded(kind)` names the first that would pass its limit.
    async fn reserve(&self, tenant: TenantId, charges: &[Charge]) -> StoreResult<()>;
    /// Gives back what a reservation took, when the work it was for failed.
    async fn release(&self, tenant: TenantId, charges: &[Charge]) -> StoreResult<()>;
    /// Counter values in the given periods (a month key, or `HELD_PERIOD`).
    async fn usage_counters(
        &self,
        tenant: TenantId,
        periods: &[&str],
    ) -> StoreResult<Vec<(UsageKind, String, u64)>>;
    async fn record_usage(&self, events: &[UsageEvent]) -> StoreResult<()>;
    /// Ledger totals per UTC day and kind, for the days `from` up to but
    /// not including `to`, oldest first. Kept as a rollup beside the
    /// ledger, written in the same transaction, so reading a month costs a
    /// row per day and kind however busy the tenant is.
    async fn usage_by_day(
        &self,
        tenant: TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<(NaiveDate, UsageKind, u64)>>;
    /// The newest `limit` ledger events.
    async fn recent_usage(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<UsageEvent>>;
    /// Passages indexed for the tenant.
    async fn count_chunks(&self, tenant: TenantId) -> StoreResult<u64>;
}

/// Webhook endpoints and their deliveries. Every call is scoped by tenant.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Stores an endpoint with its signing secret (kept to sign with, so
    /// not hashed; shown once).
    async fn create_webhook(&self, endpoint: &WebhookEndpoint, secret: &str) -> StoreResult<()>;
    /// The tenant's endpoints, oldest first.
    async fn list_webhooks(&self, tenant: TenantId) -> StoreResult<Vec<WebhookEndpoint>>;
    async fn get_webhook(&self, tenant: TenantId, id: WebhookId) -> StoreResult<WebhookEndpoint>;
    async fn webhook_secret(&self, tenant: TenantId, id: WebhookId) -> StoreResult<String>;
    /// Writes url, description, events, enabled, disabled_reason,
    /// consecutive_failures and updated_at.
    async fn update_webhook(&self, endpoint: &WebhookEndpoint) -> StoreResult<()>;
    /// Deletes the endpoint and its deliveries.
    async fn delete_webhook(&self, tenant: TenantId, id: WebhookId) -> StoreResult<()>;
    /// Stores a pending delivery and enqueues the job that sends it, in one
    /// transaction.
    async fn create_delivery(&self, delivery: &WebhookDelivery, job: &NewJob) -> StoreResult<()>;
    async fn get_delivery(&self, tenant: TenantId, id: DeliveryId) -> StoreResult<WebhookDelivery>;
    /// An endpoint's deliveries, newest first.
    async fn list_deliveries(
        &self,
        tenant: TenantId,
        endpoint: WebhookId,
        page: &PageRequest,
    ) -> StoreResult<Page<WebhookDelivery>>;
    /// Records an attempt on the delivery and its endpoint in one
    /// transaction: a success resets the endpoint's failures; a failure
    /// counts one more, and the endpoint is disabled (with `reason`) once
    /// it has failed `disable_after` times in a row. True when this attempt
    /// disabled it.
    async fn record_attempt(
        &self,
        tenant: TenantId,
        delivery: DeliveryId,
        attempt: &DeliveryAttempt,
        disable_after: u32,
        reason: &str,
    ) -> StoreResult<bool>;
    /// Sends a delivery again: pending, and a new job, in one transaction.
    async fn redeliver(
        &self,
        tenant: TenantId,
        delivery: DeliveryId,
        job: &NewJob,
    ) -> StoreResult<()>;
}

/// The tokens of email links, and what using one changes.
#[async_trait]
pub trait EmailTokenStore: Send + Sync + 'static {
    async fn create_email_token(&self, token: &EmailToken) -> StoreResult<()>;
    /// Uses a live token of `purpose` once: marks it used and answers it;
    /// `None` when it is unknown, of another purpose, used or expired. Of
    /// two concurrent uses exactly one gets it.
    async fn use_email_token(
        &self,
        token_hash: &str,
        purpose: EmailPurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EmailToken>>;
    /// Records that the user proved the address theirs.
    async fn set_email_verified(
        &self,
        tenant: TenantId,
        user: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// A user's TOTP second factor.
#[derive(Clone, Debug, Default)]
pub struct MfaState {
    /// Being set up: shown to the user, not yet confirmed by a code.
    pub pending_secret: Option<String>,
    /// In force (base32), once a code confirmed it.
    pub secret: Option<String>,
    pub enabled_at: Option<DateTime<Utc>>,
    /// The last time step a code was accepted for.
    pub last_step: Option<i64>,
}

#[async_trait]
pub trait MfaStore: Send + Sync + 'static {
    /// `None` when the user never set up a second factor.
    async fn mfa_state(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<MfaState>>;
    /// Keeps a secret being set up (replacing an earlier one; the factor in
    /// force, if any, stays).
    async fn set_mfa_pending(
        &self,
        tenant: TenantId,
        user: UserId,
        secret: &str,
    ) -> StoreResult<()>;
    /// Puts the pending secret in force with new recovery codes (their
    /// digests), in one transaction; the step its code was for is used.
    async fn enable_mfa(
        &self,
        tenant: TenantId,
        user: UserId,
        secret: &str,
        step: i64,
        recovery_hashes: &[String],
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Removes the second factor and its recovery codes.
    async fn disable_mfa(&self, tenant: TenantId, user: UserId) -> StoreResult<()>;
    /// Accepts a code's time step once: false when it (or a later one) was
    /// used already. Atomic, so a code replayed at once is refused too.
    async fn use_mfa_step(&self, tenant: TenantId, user: UserId, step: i64) -> StoreResult<bool>;
    /// Uses a recovery code once; false when unknown or used.
    async fn use_recovery_code(
        &self,
        user: UserId,
        code_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
