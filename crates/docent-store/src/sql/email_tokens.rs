//! Tokens of email links. Using one is a single conditional update, so a
//! token works once however many requests present it at the same time.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::{Email, EmailPurpose, EmailToken, Role};
use docent_core::ids::{TenantId, UserId};
use docent_core::store::{EmailTokenStore, StoreResult};

use super::{Dialect, Row, SqlStore, corrupt, query};

fn read_token<D: Dialect>(r: Row<'_, D>) -> StoreResult<EmailToken> {
    let id: String = r.text("id")?;
    Ok(EmailToken {
        id: id
            .parse()
            .map_err(|_| corrupt("email_token", format!("id `{id}`")))?,
        tenant_id: r.id("tenant_id")?,
        user_id: r.opt_id("user_id")?,
        email: Email::parse(&r.text("email")?).map_err(|e| corrupt("email_token", e.0))?,
        role: match r.opt_text("role")? {
            Some(role) => {
                Some(Role::parse(&role).ok_or_else(|| corrupt("email_token", role.clone()))?)
            }
            None => None,
        },
        purpose: r.name("purpose", EmailPurpose::parse)?,
        token_hash: r.text("token_hash")?,
        expires_at: r.time("expires_at")?,
        used_at: r.opt_time("used_at")?,
        created_at: r.time("created_at")?,
    })
}

#[async_trait]
impl<D: Dialect> EmailTokenStore for SqlStore<D> {
    async fn create_email_token(&self, t: &EmailToken) -> StoreResult<()> {
        let sql = insert!(email_tokens: "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10");
        query::<D>("create_email_token", sql)
            .bind((t.id.to_string(), t.tenant_id, t.user_id, t.email.as_str()))
            .bind((
                t.role.map(|r| r.as_str()),
                t.purpose.as_str(),
                &t.token_hash,
            ))
            .bind((t.expires_at, t.used_at, t.created_at))
            .run(self.pool())
            .await
    }

    async fn use_email_token(
        &self,
        token_hash: &str,
        purpose: EmailPurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EmailToken>> {
        let sql = concat!(
            "UPDATE email_tokens SET used_at = $1
             WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1
             RETURNING ",
            columns!(email_tokens)
        );
        query::<D>("use_email_token", sql)
            .bind((now, token_hash, purpose.as_str()))
            .fetch_optional(self.pool(), read_token)
            .await
    }

    async fn set_email_verified(
        &self,
        tenant: TenantId,
        user: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let sql = "UPDATE users SET email_verified_at = coalesce(email_verified_at, $1)
                   WHERE tenant_id = $2 AND id = $3";
        query::<D>("set_email_verified", sql)
            .bind((at, tenant, user))
            .execute_found(self.pool())
            .await
    }
}
