//! The TOTP second factor: one row per user, and the recovery codes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::ids::{TenantId, UserId};
use docent_core::store::{MfaState, MfaStore, StoreResult};

use super::{Dialect, SqlStore, commit, query};

#[async_trait]
impl<D: Dialect> MfaStore for SqlStore<D> {
    async fn mfa_state(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<MfaState>> {
        let sql = "SELECT pending_secret, secret, enabled_at, last_step FROM user_mfa
                   WHERE tenant_id = $1 AND user_id = $2";
        query::<D>("mfa_state", sql)
            .bind((tenant, user))
            .fetch_optional(self.pool(), |r| {
                Ok(MfaState {
                    pending_secret: r.opt_text("pending_secret")?,
                    secret: r.opt_text("secret")?,
                    enabled_at: r.opt_time("enabled_at")?,
                    last_step: r.opt_int("last_step")?,
                })
            })
            .await
    }

    async fn set_mfa_pending(
        &self,
        tenant: TenantId,
        user: UserId,
        secret: &str,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO user_mfa (user_id, tenant_id, pending_secret) VALUES ($1, $2, $3)
                   ON CONFLICT (user_id) DO UPDATE SET pending_secret = excluded.pending_secret";
        query::<D>("set_mfa_pending", sql)
            .bind((user, tenant, secret))
            .run(self.pool())
            .await
    }

    async fn enable_mfa(
        &self,
        tenant: TenantId,
        user: UserId,
        secret: &str,
        step: i64,
        recovery_hashes: &[String],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let sql = "UPDATE user_mfa SET secret = $3, pending_secret = NULL, enabled_at = $4,
                          last_step = $5
                   WHERE tenant_id = $1 AND user_id = $2";
        query::<D>("enable_mfa", sql)
            .bind((tenant, user, secret, at, step))
            .execute_found(&mut tx)
            .await?;
        let sql = "DELETE FROM mfa_recovery_codes WHERE user_id = $1";
        query::<D>("enable_mfa", sql)
            .bind(user)
            .run(&mut tx)
            .await?;
        for hash in recovery_hashes {
            let sql = "INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)";
            query::<D>("enable_mfa", sql)
                .bind((user, hash.as_str()))
                .run(&mut tx)
                .await?;
        }
        commit(tx, "enable_mfa").await
    }

    async fn disable_mfa(&self, tenant: TenantId, user: UserId) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let sql = "DELETE FROM user_mfa WHERE tenant_id = $1 AND user_id = $2";
        query::<D>("disable_mfa", sql)
            .bind((tenant, user))
            .execute_found(&mut tx)
            .await?;
        let sql = "DELETE FROM mfa_recovery_codes WHERE user_id = $1";
        query::<D>("disable_mfa", sql)
            .bind(user)
            .run(&mut tx)
            .await?;
        commit(tx, "disable_mfa").await
    }

    async fn use_mfa_step(&self, tenant: TenantId, user: UserId, step: i64) -> StoreResult<bool> {
        let sql = "UPDATE user_mfa SET last_step = $3
                   WHERE tenant_id = $1 AND user_id = $2 AND secret IS NOT NULL
                     AND (last_step IS NULL OR last_step < $3)";
        query::<D>("use_mfa_step", sql)
            .bind((tenant, user, step))
            .changed_one(self.pool())
            .await
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        code_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let sql = "UPDATE mfa_recovery_codes SET used_at = $3
                   WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL";
        query::<D>("use_recovery_code", sql)
            .bind((user, code_hash, at))
            .changed_one(self.pool())
            .await
    }
}
