//! Tenants, users, refresh tokens and API keys. Every check that guards a
//! write (a token still live, a key not yet revoked) is in the write's own
//! `WHERE`, so it holds with any number of API processes: on PostgreSQL a
//! second writer waits on the row lock, then re-checks the condition
//! against the committed row (READ COMMITTED); SQLite runs one writer at a
//! time.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use docent_core::domain::{ApiKey, Email, NewApiKey, Plan, Role, Tenant, User};
use docent_core::ids::{ApiKeyId, TenantId, TokenFamilyId, UserId};
use docent_core::store::{
    AccountStore, LAST_OWNER, Page, PageRequest, RefreshToken, RefreshUse, StoreError, StoreResult,
};

use sqlx::{ColumnIndex, Encode, Executor, Type};

use super::{
    Column, Dialect, SqlStore, Ts, Vector, backend, convert, limit_plus_one, map_err, page_of,
    parse_id,
};

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: String,
    name: String,
    plan: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> StoreResult<Self> {
        Ok(Tenant {
            id: parse_id(&r.id)?,
            name: r.name,
            plan: Plan::parse(&r.plan).ok_or_else(|| backend(format!("bad plan `{}`", r.plan)))?,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    tenant_id: String,
    email: String,
    password_hash: String,
    role: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> StoreResult<Self> {
        Ok(User {
            id: parse_id(&r.id)?,
            tenant_id: parse_id(&r.tenant_id)?,
            email: Email::parse(&r.email).map_err(backend)?,
            role: parse_role(&r.role)?,
            created_at: r.created_at,
            password_hash: r.password_hash,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: String,
    tenant_id: String,
    name: String,
    role: String,
    prefix: String,
    created_by: Option<String>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;
    fn try_from(r: ApiKeyRow) -> StoreResult<Self> {
        Ok(ApiKey {
            id: parse_id(&r.id)?,
            tenant_id: parse_id(&r.tenant_id)?,
            name: r.name,
            role: parse_role(&r.role)?,
            prefix: r.prefix,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            created_by: r.created_by.as_deref().map(parse_id).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    token_hash: String,
    family_id: String,
    user_id: String,
    tenant_id: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl TryFrom<RefreshRow> for RefreshToken {
    type Error = StoreError;
    fn try_from(r: RefreshRow) -> StoreResult<Self> {
        Ok(RefreshToken {
            token_hash: r.token_hash,
            family_id: parse_id(&r.family_id)?,
            user_id: parse_id(&r.user_id)?,
            tenant_id: parse_id(&r.tenant_id)?,
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
    }
}

fn parse_role(s: &str) -> StoreResult<Role> {
    Role::parse(s).ok_or_else(|| backend(format!("bad role `{s}`")))
}

/// Column list, as a macro so queries stay `&'static str` (no dynamic SQL).
macro_rules! user_columns {
    () => {
        "id, tenant_id, email, password_hash, role, created_at"
    };
}
/// Column list, as a macro so queries stay `&'static str` (no dynamic SQL).
macro_rules! api_key_columns {
    () => {
        "id, tenant_id, name, role, prefix, created_by, created_at, last_used_at"
    };
}

async fn insert_user<'e, D, E>(exec: E, user: &User) -> StoreResult<()>
where
    D: Dialect,
    E: Executor<'e, Database = D>,
    for<'a> &'a str: Encode<'a, D> + Type<D>,
    String: Column<D>,
    Ts: Column<D>,
{
    sqlx::query(
        "INSERT INTO users (id, tenant_id, email, password_hash, role, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user.id.to_string())
    .bind(user.tenant_id.to_string())
    .bind(user.email.as_str())
    .bind(&user.password_hash)
    .bind(user.role.as_str())
    .bind(Ts(user.created_at))
    .execute(exec)
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl<D> AccountStore for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'r> &'r str: ColumnIndex<D::Row> + Encode<'r, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    for<'a> Option<&'a str>: Encode<'a, D> + Type<D>,
    String: Column<D>,
    Option<String>: Column<D>,
    i64: Column<D>,
    Option<i64>: Column<D>,
    Option<f64>: Column<D>,
    bool: Column<D>,
    Option<bool>: Column<D>,
    Ts: Column<D>,
    Option<Ts>: Column<D>,
    DateTime<Utc>: Column<D>,
    Option<DateTime<Utc>>: Column<D>,
    Vector: Column<D>,
{
    async fn create_tenant_with_owner(&self, tenant: &Tenant, owner: &User) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO tenants (id, name, plan, created_at) VALUES ($1, $2, $3, $4)")
            .bind(tenant.id.to_string())
            .bind(&tenant.name)
            .bind(tenant.plan.as_str())
            .bind(Ts(tenant.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_user(&mut *tx, owner).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_tenant(&self, tenant: TenantId) -> StoreResult<Tenant> {
        sqlx::query_as::<_, TenantRow>(
            "SELECT id, name, plan, created_at FROM tenants WHERE id = $1",
        )
        .bind(tenant.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?
        .try_into()
    }

    async fn set_tenant_plan(&self, tenant: TenantId, plan: Plan) -> StoreResult<Tenant> {
        sqlx::query_as::<_, TenantRow>(
            "UPDATE tenants SET plan = $1 WHERE id = $2 RETURNING id, name, plan, created_at",
        )
        .bind(plan.as_str())
        .bind(tenant.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?
        .try_into()
    }

    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?
        .map(User::try_from)
        .transpose()
    }

    async fn get_user(&self, tenant: TenantId, user: UserId) -> StoreResult<User> {
        sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.to_string())
        .bind(user.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?
        .try_into()
    }

    async fn list_users(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<User>> {
        let rows = sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users
             WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
        ))
        .bind(tenant.to_string())
        .bind(&page.after)
        .bind(limit_plus_one(page))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        Ok(page_of(convert(rows)?, page, |u: &User| u.id.to_string()))
    }

    async fn create_user(&self, user: &User) -> StoreResult<()> {
        insert_user(self.pool(), user).await
    }

    async fn set_user_role(&self, tenant: TenantId, user: UserId, role: Role) -> StoreResult<User> {
        let mut tx = self.write_tx().await?;
        // Under READ COMMITTED two demotions would each count the other as an
        // owner; locking the tenant's owner rows first serialises them.
        let owners = self.lock_owners(&mut tx, tenant).await?;
        let target = owners.iter().any(|id| *id == user.to_string());
        if target && role != Role::Owner && owners.len() <= 1 {
            return Err(StoreError::Conflict(LAST_OWNER.into()));
        }
        let row: User = sqlx::query_as::<_, UserRow>(concat!(
            "UPDATE users SET role = $1 WHERE tenant_id = $2 AND id = $3 RETURNING ",
            user_columns!()
        ))
        .bind(role.as_str())
        .bind(tenant.to_string())
        .bind(user.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?
        .try_into()?;
        tx.commit().await.map_err(map_err)?;
        Ok(row)
    }

    async fn delete_user(&self, tenant: TenantId, user: UserId) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let owners = self.lock_owners(&mut tx, tenant).await?;
        if owners.len() <= 1 && owners.iter().any(|id| *id == user.to_string()) {
            return Err(StoreError::Conflict(LAST_OWNER.into()));
        }
        // Their refresh tokens go with them by cascade.
        let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if D::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn count_owners(&self, tenant: TenantId) -> StoreResult<u64> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND role = 'owner'")
                .bind(tenant.to_string())
                .fetch_one(self.pool())
                .await
                .map_err(map_err)?;
        Ok(n as u64)
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, tenant_id, created_at,
                                         expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&token.token_hash)
        .bind(token.family_id.to_string())
        .bind(token.user_id.to_string())
        .bind(token.tenant_id.to_string())
        .bind(Ts(token.created_at))
        .bind(Ts(token.expires_at))
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn refresh_token_family(&self, token_hash: &str) -> StoreResult<Option<TokenFamilyId>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(self.pool())
                .await
                .map_err(map_err)?;
        row.map(|(f,)| parse_id(&f)).transpose()
    }

    async fn use_refresh_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<RefreshUse> {
        // The conditional UPDATE is the whole race guard: a concurrent use
        // blocks on the row lock, then re-evaluates `revoked_at IS NULL` on the
        // committed row and matches nothing, so exactly one use consumes it.
        let consumed = sqlx::query_as::<_, RefreshRow>(
            "UPDATE refresh_tokens SET revoked_at = $1
             WHERE token_hash = $2 AND revoked_at IS NULL AND expires_at > $1
             RETURNING token_hash, family_id, user_id, tenant_id, created_at, expires_at",
        )
        .bind(Ts(now))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?;
        if let Some(row) = consumed {
            return Ok(RefreshUse::Consumed(row.try_into()?));
        }
        // Revocation only ever goes one way, so this separate read cannot see
        // a revoked token come back to life.
        let revoked: Option<(bool,)> = sqlx::query_as(
            "SELECT revoked_at IS NOT NULL FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?;
        match revoked {
            Some((true,)) => {
                self.revoke_refresh_family(token_hash, now).await?;
                Ok(RefreshUse::Reused)
            }
            _ => Ok(RefreshUse::Invalid),
        }
    }

    async fn revoke_refresh_family(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1
             WHERE revoked_at IS NULL
               AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $2)",
        )
        .bind(Ts(now))
        .bind(token_hash)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn create_api_key(&self, new: &NewApiKey) -> StoreResult<()> {
        let k = &new.key;
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_by,
                                   created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(k.id.to_string())
        .bind(k.tenant_id.to_string())
        .bind(&k.name)
        .bind(k.role.as_str())
        .bind(&k.prefix)
        .bind(&new.key_hash)
        .bind(k.created_by.map(|u| u.to_string()))
        .bind(Ts(k.created_at))
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_api_keys(
        &self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> StoreResult<Page<ApiKey>> {
        let rows = sqlx::query_as::<_, ApiKeyRow>(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys
             WHERE tenant_id = $1 AND revoked_at IS NULL AND ($2 IS NULL OR id > $2)
             ORDER BY id LIMIT $3"
        ))
        .bind(tenant.to_string())
        .bind(&page.after)
        .bind(limit_plus_one(page))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        Ok(page_of(convert(rows)?, page, |k: &ApiKey| k.id.to_string()))
    }

    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        key: ApiKeyId,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1
             WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(Ts(now))
        .bind(tenant.to_string())
        .bind(key.to_string())
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        if D::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        sqlx::query_as::<_, ApiKeyRow>(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(key_hash)
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?
        .map(ApiKey::try_from)
        .transpose()
    }

    async fn touch_api_key(&self, key: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(Ts(now))
        .bind(key.to_string())
        .bind(Ts(now - Duration::seconds(60)))
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }
}


impl<D> SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'r> &'r str: ColumnIndex<D::Row> + Encode<'r, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    String: Column<D>,
{
    /// Locks the tenant's owner rows for the transaction (SQLite's write
    /// transaction holds the whole database) and returns their ids.
    async fn lock_owners(&self, conn: &mut D::Connection, tenant: TenantId) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM users WHERE tenant_id = $1 AND role = 'owner' ORDER BY id{}",
            D::FOR_UPDATE
        )))
        .bind(tenant.to_string())
        .fetch_all(conn)
        .await
        .map_err(map_err)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
