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

use sqlx::{AssertSqlSafe, Transaction};

use super::{Dialect, Exec, Row, SqlStore, commit, corrupt, limit_plus_one, page_of, query};

fn read_tenant<D: Dialect>(r: Row<'_, D>) -> StoreResult<Tenant> {
    Ok(Tenant {
        id: r.id("id")?,
        name: r.text("name")?,
        plan: r.name("plan", Plan::parse)?,
        created_at: r.time("created_at")?,
    })
}

fn read_user<D: Dialect>(r: Row<'_, D>) -> StoreResult<User> {
    Ok(User {
        id: r.id("id")?,
        tenant_id: r.id("tenant_id")?,
        email: Email::parse(&r.text("email")?).map_err(|e| corrupt("user", e.0))?,
        role: r.name("role", Role::parse)?,
        created_at: r.time("created_at")?,
        email_verified_at: r.opt_time("email_verified_at")?,
        password_hash: r.text("password_hash")?,
    })
}

fn read_api_key<D: Dialect>(r: Row<'_, D>) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: r.id("id")?,
        tenant_id: r.id("tenant_id")?,
        name: r.text("name")?,
        role: r.name("role", Role::parse)?,
        prefix: r.text("prefix")?,
        created_at: r.time("created_at")?,
        last_used_at: r.opt_time("last_used_at")?,
        created_by: r.opt_id("created_by")?,
    })
}

fn read_refresh<D: Dialect>(r: Row<'_, D>) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        token_hash: r.text("token_hash")?,
        family_id: r.id("family_id")?,
        user_id: r.id("user_id")?,
        tenant_id: r.id("tenant_id")?,
        created_at: r.time("created_at")?,
        expires_at: r.time("expires_at")?,
    })
}

async fn insert_user<'e, D: Dialect>(on: impl Into<Exec<'e, D>>, user: &User) -> StoreResult<()> {
    let sql = insert!(users: "$1, $2, $3, $4, $5, $6, $7");
    query::<D>("insert_user", sql)
        .bind((user.id, user.tenant_id, user.email.as_str()))
        .bind((&user.password_hash, user.role.as_str(), user.created_at))
        .bind(user.email_verified_at)
        .run(on)
        .await
}

#[async_trait]
impl<D: Dialect> AccountStore for SqlStore<D> {
    async fn create_tenant_with_owner(&self, tenant: &Tenant, owner: &User) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let sql = "INSERT INTO tenants (id, name, plan, created_at) VALUES ($1, $2, $3, $4)";
        query::<D>("create_tenant_with_owner", sql)
            .bind((tenant.id, &tenant.name, tenant.plan.as_str()))
            .bind(tenant.created_at)
            .execute(&mut tx)
            .await?;
        insert_user(&mut tx, owner).await?;
        commit(tx, "create_tenant_with_owner").await
    }

    async fn get_tenant(&self, tenant: TenantId) -> StoreResult<Tenant> {
        let sql = "SELECT id, name, plan, created_at FROM tenants WHERE id = $1";
        query::<D>("get_tenant", sql)
            .bind(tenant)
            .fetch_one(self.pool(), read_tenant)
            .await
    }

    async fn set_tenant_plan(&self, tenant: TenantId, plan: Plan) -> StoreResult<Tenant> {
        let sql = "UPDATE tenants SET plan = $1 WHERE id = $2 RETURNING id, name, plan, created_at";
        query::<D>("set_tenant_plan", sql)
            .bind((plan.as_str(), tenant))
            .fetch_one(self.pool(), read_tenant)
            .await
    }

    async fn list_tenants(&self, page: &PageRequest) -> StoreResult<Page<Tenant>> {
        let sql = "SELECT id, name, plan, created_at FROM tenants
                   WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2";
        let tenants = query::<D>("list_tenants", sql)
            .bind((&page.after, limit_plus_one(page)))
            .fetch_all(self.pool(), read_tenant)
            .await?;
        Ok(page_of(tenants, page, |t| t.id.to_string()))
    }

    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let sql = select!(users: "WHERE email = $1");
        query::<D>("find_user_by_email", sql)
            .bind(email.as_str())
            .fetch_optional(self.pool(), read_user)
            .await
    }

    async fn get_user(&self, tenant: TenantId, user: UserId) -> StoreResult<User> {
        let sql = select!(users: "WHERE tenant_id = $1 AND id = $2");
        query::<D>("get_user", sql)
            .bind((tenant, user))
            .fetch_one(self.pool(), read_user)
            .await
    }

    async fn list_users(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<User>> {
        let sql =
            select!(users: "WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3");
        let users = query::<D>("list_users", sql)
            .bind((tenant, &page.after, limit_plus_one(page)))
            .fetch_all(self.pool(), read_user)
            .await?;
        Ok(page_of(users, page, |u| u.id.to_string()))
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
        let sql = concat!(
            "UPDATE users SET role = $1 WHERE tenant_id = $2 AND id = $3 RETURNING ",
            columns!(users)
        );
        let row = query::<D>("set_user_role", sql)
            .bind((role.as_str(), tenant, user))
            .fetch_one(&mut tx, read_user)
            .await?;
        commit(tx, "set_user_role").await?;
        Ok(row)
    }

    async fn delete_user(&self, tenant: TenantId, user: UserId) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let owners = self.lock_owners(&mut tx, tenant).await?;
        if owners.len() <= 1 && owners.iter().any(|id| *id == user.to_string()) {
            return Err(StoreError::Conflict(LAST_OWNER.into()));
        }
        // Their refresh tokens go with them by cascade.
        let sql = "DELETE FROM users WHERE tenant_id = $1 AND id = $2";
        query::<D>("delete_user", sql)
            .bind((tenant, user))
            .execute_found(&mut tx)
            .await?;
        commit(tx, "delete_user").await
    }

    async fn count_owners(&self, tenant: TenantId) -> StoreResult<u64> {
        let sql = "SELECT count(*) AS n FROM users WHERE tenant_id = $1 AND role = 'owner'";
        query::<D>("count_owners", sql)
            .bind(tenant)
            .fetch_one(self.pool(), |r| r.size("n"))
            .await
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        let sql =
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, tenant_id, created_at,
                                         expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)";
        query::<D>("insert_refresh_token", sql)
            .bind((&token.token_hash, token.family_id, token.user_id))
            .bind((token.tenant_id, token.created_at, token.expires_at))
            .run(self.pool())
            .await
    }

    async fn refresh_token_family(&self, token_hash: &str) -> StoreResult<Option<TokenFamilyId>> {
        let sql = "SELECT family_id FROM refresh_tokens WHERE token_hash = $1";
        query::<D>("refresh_token_family", sql)
            .bind(token_hash)
            .fetch_optional(self.pool(), |r| r.id("family_id"))
            .await
    }

    async fn use_refresh_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<RefreshUse> {
        // The conditional UPDATE is the whole race guard: a concurrent use
        // blocks on the row lock, then re-evaluates `revoked_at IS NULL` on the
        // committed row and matches nothing, so exactly one use consumes it.
        let sql = "UPDATE refresh_tokens SET revoked_at = $1
                   WHERE token_hash = $2 AND revoked_at IS NULL AND expires_at > $1
                   RETURNING token_hash, family_id, user_id, tenant_id, created_at, expires_at";
        let consumed = query::<D>("use_refresh_token", sql)
            .bind((now, token_hash))
            .fetch_optional(self.pool(), read_refresh)
            .await?;
        if let Some(token) = consumed {
            return Ok(RefreshUse::Consumed(token));
        }
        // Revocation only ever goes one way, so this separate read cannot see
        // a revoked token come back to life.
        let sql = "SELECT revoked_at FROM refresh_tokens WHERE token_hash = $1";
        let revoked = query::<D>("use_refresh_token", sql)
            .bind(token_hash)
            .fetch_optional(self.pool(), |r| r.opt_time("revoked_at"))
            .await?;
        match revoked {
            Some(Some(_)) => {
                self.revoke_refresh_family(token_hash, now).await?;
                Ok(RefreshUse::Reused)
            }
            _ => Ok(RefreshUse::Invalid),
        }
    }

    async fn revoke_refresh_family(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let sql = "UPDATE refresh_tokens SET revoked_at = $1
                   WHERE revoked_at IS NULL
                     AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $2)";
        query::<D>("revoke_refresh_family", sql)
            .bind((now, token_hash))
            .run(self.pool())
            .await
    }

    async fn set_password(
        &self,
        tenant: TenantId,
        user: UserId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let sql = "UPDATE users SET password_hash = $1 WHERE tenant_id = $2 AND id = $3";
        query::<D>("set_password", sql)
            .bind((password_hash, tenant, user))
            .execute_found(&mut tx)
            .await?;
        let sql = "UPDATE refresh_tokens SET revoked_at = $1
                   WHERE tenant_id = $2 AND user_id = $3 AND revoked_at IS NULL";
        query::<D>("set_password", sql)
            .bind((now, tenant, user))
            .execute(&mut tx)
            .await?;
        commit(tx, "set_password").await
    }

    async fn create_api_key(&self, new: &NewApiKey) -> StoreResult<()> {
        let k = &new.key;
        let sql = "INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_by,
                                         created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        query::<D>("create_api_key", sql)
            .bind((k.id, k.tenant_id, &k.name, k.role.as_str(), &k.prefix))
            .bind((&new.key_hash, k.created_by, k.created_at))
            .run(self.pool())
            .await
    }

    async fn list_api_keys(
        &self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> StoreResult<Page<ApiKey>> {
        let sql = select!(api_keys: "WHERE tenant_id = $1 AND revoked_at IS NULL
            AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3");
        let keys = query::<D>("list_api_keys", sql)
            .bind((tenant, &page.after, limit_plus_one(page)))
            .fetch_all(self.pool(), read_api_key)
            .await?;
        Ok(page_of(keys, page, |k| k.id.to_string()))
    }

    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        key: ApiKeyId,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let sql = "UPDATE api_keys SET revoked_at = $1
                   WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL";
        query::<D>("revoke_api_key", sql)
            .bind((now, tenant, key))
            .execute_found(self.pool())
            .await
    }

    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        let sql = select!(api_keys: "WHERE key_hash = $1 AND revoked_at IS NULL");
        query::<D>("find_api_key", sql)
            .bind(key_hash)
            .fetch_optional(self.pool(), read_api_key)
            .await
    }

    async fn touch_api_key(&self, key: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()> {
        let sql = "UPDATE api_keys SET last_used_at = $1
                   WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)";
        query::<D>("touch_api_key", sql)
            .bind((now, key, now - Duration::seconds(60)))
            .run(self.pool())
            .await
    }
}

impl<D: Dialect> SqlStore<D> {
    /// Locks the tenant's owner rows for the transaction (SQLite's write
    /// transaction holds the whole database) and returns their ids.
    async fn lock_owners(
        &self,
        tx: &mut Transaction<'static, D>,
        tenant: TenantId,
    ) -> StoreResult<Vec<String>> {
        let sql = format!(
            "SELECT id FROM users WHERE tenant_id = $1 AND role = 'owner' ORDER BY id{}",
            D::FOR_UPDATE
        );
        query::<D>("lock_owners", AssertSqlSafe(sql))
            .bind(tenant)
            .fetch_all(tx, |r| r.text("id"))
            .await
    }
}
