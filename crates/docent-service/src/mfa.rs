//! The optional TOTP second factor (RFC 6238, through totp-rs) for owners
//! and admins, with recovery codes. Set up in two steps (a secret to scan,
//! then a code from it puts it in force and gives ten recovery codes, shown
//! once and stored as SHA-256). With it, a password alone signs in no one:
//! login answers `{mfa_required: true, mfa_token}` (a five-minute token
//! good for nothing else) and `POST /auth/mfa` trades it and a code for the
//! usual token pair. A code is accepted once (its time step is recorded),
//! with one step of clock skew either way.

use chrono::Utc;
use docent_core::auth::jwt::JwtKeys;
use docent_core::domain::{Role, User};
use docent_core::ids::{TenantId, TokenFamilyId, UserId};
use serde::{Deserialize, Serialize};
use totp_rs::{Builder, Secret, Totp};
use utoipa::ToSchema;

use super::auth::user_ctx;
use super::{ClientInfo, Ctx, Principal, ServiceError, ServiceResult, Services, TenantSession};

const MFA_TYP: &str = "mfa";
/// How long a password sign-in waits for its code.
const MFA_TOKEN_TTL_SECS: i64 = 300;
const RECOVERY_CODES: usize = 10;

#[derive(Serialize, Deserialize)]
struct MfaClaims {
    sub: UserId,
    tid: TenantId,
    typ: String,
    iat: i64,
    exp: i64,
}

/// What a correct password answers for a user with a second factor.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaChallenge {
    /// Always true.
    pub mfa_required: bool,
    /// Sent back to `POST /auth/mfa` with the code; five minutes.
    pub mfa_token: String,
}

/// A sign-in: the session, or the second factor to give first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginOutcome {
    Session(Box<TenantSession>),
    Mfa(MfaChallenge),
}

/// Body of `POST /auth/mfa`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaLogin {
    pub mfa_token: String,
    /// The authenticator's 6 digits, or a recovery code.
    pub code: String,
}

/// Body of `POST /auth/mfa/enable` and `DELETE /auth/mfa`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaCode {
    pub code: String,
}

/// A secret to add to an authenticator app.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaSetup {
    /// Base32, for typing in.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code.
    pub otpauth_url: String,
}

/// The recovery codes, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

fn totp(secret_base32: &str, account: &str) -> ServiceResult<Totp> {
    let secret = Secret::try_from_base32(secret_base32)
        .map_err(|e| ServiceError::internal(format!("stored TOTP secret: {e}")))?;
    Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some("Docent"))
        .build()
        .map_err(|e| ServiceError::internal(format!("TOTP: {e}")))
}

/// The time step `code` is good for now, if it is.
fn check(totp: &Totp, code: &str) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let now = Utc::now().timestamp().max(0) as u64;
    totp.check(&code, now).map(|step| step as i64)
}

fn recovery_code() -> String {
    // 10 characters of a 32-letter alphabet: 50 bits, read aloud easily.
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..10)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn normalized(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn wrong_code() -> ServiceError {
    ServiceError::Invalid("the code is not right (or was used already)".into())
}

impl Services {
    fn signed_in_user(&self, ctx: &Ctx) -> ServiceResult<UserId> {
        match ctx.actor.principal {
            Principal::User(id) => Ok(id),
            _ => Err(ServiceError::Forbidden(
                "a second factor belongs to a signed-in user".into(),
            )),
        }
    }

    /// After a correct password: the session, or the challenge when the
    /// user has a second factor.
    pub(crate) async fn after_password(
        &self,
        user: &User,
        session: impl AsyncFnOnce() -> ServiceResult<TenantSession>,
    ) -> ServiceResult<LoginOutcome> {
        let enabled = self
            .store()
            .mfa_state(user.tenant_id, user.id)
            .await?
            .is_some_and(|s| s.secret.is_some());
        if !enabled {
            return session().await.map(|s| LoginOutcome::Session(Box::new(s)));
        }
        let now = Utc::now().timestamp();
        let mfa_token = self.jwt().sign(&MfaClaims {
            sub: user.id,
            tid: user.tenant_id,
            typ: MFA_TYP.into(),
            iat: now,
            exp: now + MFA_TOKEN_TTL_SECS,
        });
        Ok(LoginOutcome::Mfa(MfaChallenge {
            mfa_required: true,
            mfa_token,
        }))
    }

    /// `POST /auth/mfa`: the challenge's token and a code (or a recovery
    /// code) for the token pair. Any failure is the same 401.
    pub async fn mfa_login(
        &self,
        req: MfaLogin,
        client: ClientInfo,
    ) -> ServiceResult<TenantSession> {
        let claims: MfaClaims = JwtKeys::verify(self.jwt(), &req.mfa_token, MFA_TYP)
            .ok_or(ServiceError::Unauthorized)?;
        let user = match self.store().get_user(claims.tid, claims.sub).await {
            Ok(user) => user,
            Err(docent_core::store::StoreError::NotFound) => {
                return Err(ServiceError::Unauthorized);
            }
            Err(e) => return Err(e.into()),
        };
        let state = self.store().mfa_state(user.tenant_id, user.id).await?;
        let Some(secret) = state.and_then(|s| s.secret) else {
            return Err(ServiceError::Unauthorized);
        };
        let accepted = match check(&totp(&secret, user.email.as_str())?, &req.code) {
            Some(step) => {
                self.store()
                    .use_mfa_step(user.tenant_id, user.id, step)
                    .await?
            }
            None => {
                let hash = crate::sha256_hex(normalized(&req.code).as_bytes());
                self.store()
                    .use_recovery_code(user.id, &hash, Utc::now())
                    .await?
            }
        };
        if !accepted {
            return Err(ServiceError::Unauthorized);
        }
        let tenant = self.store().get_tenant(user.tenant_id).await?;
        self.audit(
            &user_ctx(&user, client),
            "auth.login",
            "user",
            Some(user.id.to_string()),
        )
        .await;
        let tokens = self.issue_tokens(&user, TokenFamilyId::new()).await?;
        Ok(TenantSession {
            tenant,
            user,
            tokens,
        })
    }

    /// `POST /auth/mfa/setup`: a new secret to scan (owners and admins);
    /// nothing changes until a code from it enables it.
    pub async fn mfa_setup(&self, ctx: &Ctx) -> ServiceResult<MfaSetup> {
        let id = self.signed_in_user(ctx)?;
        ctx.actor.require(Role::Admin)?;
        let user = self.store().get_user(ctx.actor.tenant_id, id).await?;
        let secret = Secret::generate().to_base32();
        let otpauth_url = totp(&secret, user.email.as_str())?
            .to_url()
            .map_err(|e| ServiceError::internal(format!("TOTP: {e}")))?;
        self.store()
            .set_mfa_pending(ctx.actor.tenant_id, id, &secret)
            .await?;
        Ok(MfaSetup {
            secret,
            otpauth_url,
        })
    }

    /// `POST /auth/mfa/enable`: a code from the new secret puts it in force;
    /// the recovery codes are answered once.
    pub async fn mfa_enable(&self, ctx: &Ctx, req: MfaCode) -> ServiceResult<RecoveryCodes> {
        let id = self.signed_in_user(ctx)?;
        ctx.actor.require(Role::Admin)?;
        let tenant = ctx.actor.tenant_id;
        let user = self.store().get_user(tenant, id).await?;
        let pending = self
            .store()
            .mfa_state(tenant, id)
            .await?
            .and_then(|s| s.pending_secret)
            .ok_or_else(|| {
                ServiceError::Invalid("set up a second factor first (POST /auth/mfa/setup)".into())
            })?;
        let step =
            check(&totp(&pending, user.email.as_str())?, &req.code).ok_or_else(wrong_code)?;
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| crate::sha256_hex(c.as_bytes()))
            .collect();
        self.store()
            .enable_mfa(tenant, id, &pending, step, &hashes, Utc::now())
            .await?;
        self.audit(ctx, "user.mfa_enable", "user", Some(id.to_string()))
            .await;
        Ok(RecoveryCodes {
            recovery_codes: codes,
        })
    }

    /// `DELETE /auth/mfa`: with a current code (or a recovery code), the
    /// second factor goes.
    pub async fn mfa_disable(&self, ctx: &Ctx, req: MfaCode) -> ServiceResult<()> {
        let id = self.signed_in_user(ctx)?;
        let tenant = ctx.actor.tenant_id;
        let user = self.store().get_user(tenant, id).await?;
        let Some(secret) = self
            .store()
            .mfa_state(tenant, id)
            .await?
            .and_then(|s| s.secret)
        else {
            return Err(ServiceError::NotFound);
        };
        let accepted = match check(&totp(&secret, user.email.as_str())?, &req.code) {
            Some(step) => self.store().use_mfa_step(tenant, id, step).await?,
            None => {
                let hash = crate::sha256_hex(normalized(&req.code).as_bytes());
                self.store()
                    .use_recovery_code(id, &hash, Utc::now())
                    .await?
            }
        };
        if !accepted {
            return Err(wrong_code());
        }
        self.store().disable_mfa(tenant, id).await?;
        self.audit(ctx, "user.mfa_disable", "user", Some(id.to_string()))
            .await;
        Ok(())
    }
}
