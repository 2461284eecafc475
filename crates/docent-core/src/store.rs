//! The storage seam. Every backend (embedded SQLite now, Postgres later) implements
//! [`Store`], and one conformance suite runs against each.
//!
//! Tenancy is in the signatures: every method that reads or changes a tenant's
//! rows takes its `TenantId`, so a query that forgets the tenant does not compile.
//! The few lookups that cannot know the tenant yet (login by email, a presented
//! API key or refresh token) find it from globally unique secrets.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    ApiKey, AuditEntry, AuditQuery, Bot, Email, NewApiKey, NewAuditEntry, Plan, Role, Tenant, User,
};
use crate::ids::{ApiKeyId, BotId, TenantId, TokenFamilyId, UserId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the text names which.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend failed (I/O, connection, corrupt data). Logged, never shown.
    #[error("storage backend: {0}")]
    Backend(String),
}

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
pub trait Store: AccountStore + BotStore + AuditStore {
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
    /// Login lookup: emails are unique across tenants.
    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    async fn get_user(&self, tenant: TenantId, user: UserId) -> StoreResult<User>;
    async fn list_users(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<User>>;
    /// `Conflict` if the email is taken.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    async fn set_user_role(&self, tenant: TenantId, user: UserId, role: Role) -> StoreResult<User>;
    /// Deletes the user and their refresh tokens.
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
    /// Revokes every token of the family that `token_hash` belongs to (logout).
    async fn revoke_refresh_family(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<()>;

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
