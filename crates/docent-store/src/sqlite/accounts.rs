use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use docent_core::domain::{ApiKey, Email, NewApiKey, Plan, Role, Tenant, User};
use docent_core::ids::{ApiKeyId, TenantId, TokenFamilyId, UserId};
use docent_core::store::{
    AccountStore, LAST_OWNER, Page, PageRequest, RefreshToken, RefreshUse, StoreError, StoreResult,
};

use super::{SqliteStore, backend, map_err, page_of, parse_id, parse_opt_ts, parse_ts, ts};

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: String,
    name: String,
    plan: String,
    created_at: String,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> StoreResult<Self> {
        Ok(Tenant {
            id: parse_id(&r.id)?,
            name: r.name,
            plan: Plan::parse(&r.plan).ok_or_else(|| backend(format!("bad plan `{}`", r.plan)))?,
            created_at: parse_ts(&r.created_at)?,
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
    created_at: String,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> StoreResult<Self> {
        Ok(User {
            id: parse_id(&r.id)?,
            tenant_id: parse_id(&r.tenant_id)?,
            email: Email::parse(&r.email).map_err(backend)?,
            role: parse_role(&r.role)?,
            created_at: parse_ts(&r.created_at)?,
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
    created_at: String,
    last_used_at: Option<String>,
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
            created_at: parse_ts(&r.created_at)?,
            last_used_at: parse_opt_ts(r.last_used_at)?,
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
    created_at: String,
    expires_at: String,
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

async fn insert_user<'e, E: sqlx::SqliteExecutor<'e>>(exec: E, user: &User) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, tenant_id, email, password_hash, role, created_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(user.id.to_string())
    .bind(user.tenant_id.to_string())
    .bind(user.email.as_str())
    .bind(&user.password_hash)
    .bind(user.role.as_str())
    .bind(ts(user.created_at))
    .execute(exec)
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_tenant_with_owner(&self, tenant: &Tenant, owner: &User) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO tenants (id, name, plan, created_at) VALUES (?, ?, ?, ?)")
            .bind(tenant.id.to_string())
            .bind(&tenant.name)
            .bind(tenant.plan.as_str())
            .bind(ts(tenant.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_user(&mut *tx, owner).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_tenant(&self, tenant: TenantId) -> StoreResult<Tenant> {
        sqlx::query_as::<_, TenantRow>(
            "SELECT id, name, plan, created_at FROM tenants WHERE id = ?",
        )
        .bind(tenant.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?
        .try_into()
    }

    async fn set_tenant_plan(&self, tenant: TenantId, plan: Plan) -> StoreResult<Tenant> {
        sqlx::query_as::<_, TenantRow>(
            "UPDATE tenants SET plan = ? WHERE id = ? RETURNING id, name, plan, created_at",
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
            " FROM users WHERE email = ?"
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
            " FROM users WHERE tenant_id = ? AND id = ?"
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
             WHERE tenant_id = ? AND (? IS NULL OR id > ?) ORDER BY id LIMIT ?"
        ))
        .bind(tenant.to_string())
        .bind(&page.after)
        .bind(&page.after)
        .bind(page.limit as i64 + 1)
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        let users = rows
            .into_iter()
            .map(User::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page_of(users, page, |u| u.id.to_string()))
    }

    async fn create_user(&self, user: &User) -> StoreResult<()> {
        insert_user(self.pool(), user).await
    }

    async fn set_user_role(&self, tenant: TenantId, user: UserId, role: Role) -> StoreResult<User> {
        // One statement: SQLite takes the write lock before it reads, so the
        // owner count cannot change between the check and the write.
        let row = sqlx::query_as::<_, UserRow>(concat!(
            "UPDATE users SET role = ?1 WHERE tenant_id = ?2 AND id = ?3
               AND (role != 'owner' OR ?1 = 'owner'
                    OR (SELECT count(*) FROM users WHERE tenant_id = ?2 AND role = 'owner') > 1)
             RETURNING ",
            user_columns!()
        ))
        .bind(role.as_str())
        .bind(tenant.to_string())
        .bind(user.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?;
        match row {
            Some(row) => row.try_into(),
            None => {
                self.get_user(tenant, user).await?;
                Err(StoreError::Conflict(LAST_OWNER.into()))
            }
        }
    }

    async fn delete_user(&self, tenant: TenantId, user: UserId) -> StoreResult<()> {
        let done = sqlx::query(
            "DELETE FROM users WHERE tenant_id = ?1 AND id = ?2
               AND (role != 'owner'
                    OR (SELECT count(*) FROM users WHERE tenant_id = ?1 AND role = 'owner') > 1)",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            self.get_user(tenant, user).await?;
            return Err(StoreError::Conflict(LAST_OWNER.into()));
        }
        Ok(())
    }

    async fn count_owners(&self, tenant: TenantId) -> StoreResult<u64> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM users WHERE tenant_id = ? AND role = 'owner'")
                .bind(tenant.to_string())
                .fetch_one(self.pool())
                .await
                .map_err(map_err)?;
        Ok(n as u64)
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, tenant_id, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&token.token_hash)
        .bind(token.family_id.to_string())
        .bind(token.user_id.to_string())
        .bind(token.tenant_id.to_string())
        .bind(ts(token.created_at))
        .bind(ts(token.expires_at))
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn refresh_token_family(&self, token_hash: &str) -> StoreResult<Option<TokenFamilyId>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT family_id FROM refresh_tokens WHERE token_hash = ?")
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
        // The conditional UPDATE is the whole race guard: of two concurrent uses
        // only one finds the token unrevoked.
        let consumed = sqlx::query_as::<_, RefreshRow>(
            "UPDATE refresh_tokens SET revoked_at = ?1
             WHERE token_hash = ?2 AND revoked_at IS NULL AND expires_at > ?1
             RETURNING token_hash, family_id, user_id, tenant_id, created_at, expires_at",
        )
        .bind(ts(now))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?;
        if let Some(r) = consumed {
            return Ok(RefreshUse::Consumed(RefreshToken {
                token_hash: r.token_hash,
                family_id: parse_id(&r.family_id)?,
                user_id: parse_id(&r.user_id)?,
                tenant_id: parse_id(&r.tenant_id)?,
                created_at: parse_ts(&r.created_at)?,
                expires_at: parse_ts(&r.expires_at)?,
            }));
        }
        let revoked: Option<(Option<String>,)> =
            sqlx::query_as("SELECT revoked_at FROM refresh_tokens WHERE token_hash = ?")
                .bind(token_hash)
                .fetch_optional(self.pool())
                .await
                .map_err(map_err)?;
        match revoked {
            Some((Some(_),)) => {
                self.revoke_refresh_family(token_hash, now).await?;
                Ok(RefreshUse::Reused)
            }
            _ => Ok(RefreshUse::Invalid),
        }
    }

    async fn revoke_refresh_family(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ?
             WHERE revoked_at IS NULL
               AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?)",
        )
        .bind(ts(now))
        .bind(token_hash)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn create_api_key(&self, new: &NewApiKey) -> StoreResult<()> {
        let k = &new.key;
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_by, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(k.id.to_string())
        .bind(k.tenant_id.to_string())
        .bind(&k.name)
        .bind(k.role.as_str())
        .bind(&k.prefix)
        .bind(&new.key_hash)
        .bind(k.created_by.map(|u| u.to_string()))
        .bind(ts(k.created_at))
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
             WHERE tenant_id = ? AND revoked_at IS NULL AND (? IS NULL OR id > ?)
             ORDER BY id LIMIT ?"
        ))
        .bind(tenant.to_string())
        .bind(&page.after)
        .bind(&page.after)
        .bind(page.limit as i64 + 1)
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        let keys = rows
            .into_iter()
            .map(ApiKey::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page_of(keys, page, |k| k.id.to_string()))
    }

    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        key: ApiKeyId,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(tenant.to_string())
        .bind(key.to_string())
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        sqlx::query_as::<_, ApiKeyRow>(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL"
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
            "UPDATE api_keys SET last_used_at = ?1
             WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?3)",
        )
        .bind(ts(now))
        .bind(key.to_string())
        .bind(ts(now - Duration::seconds(60)))
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }
}
