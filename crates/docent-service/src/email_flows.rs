//! The flows an email link completes: verifying a new account's address,
//! resetting a forgotten password, joining a tenant by invitation. Each
//! link carries a random single-use secret as its `token` query parameter;
//! only its SHA-256 is stored. Asking for a reset, a verification or an
//! invitation never says whether an address has an account: the answer is
//! the same, and the mail is sent in the background so the time to answer
//! is the same too.

use chrono::{Duration, Utc};
use docent_core::domain::{Email, EmailPurpose, EmailToken, Role, User};
use docent_core::ids::{TenantId, TokenFamilyId, UserId};
use docent_core::mail::Mail;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{check_password, hash_password, parse_email, user_ctx};
use super::{ClientInfo, Ctx, ServiceError, ServiceResult, Services, TenantSession};
use crate::mail::with_link;

/// How long each kind of link works.
const VERIFY_TTL: Duration = Duration::hours(48);
const RESET_TTL: Duration = Duration::hours(1);
const INVITE_TTL: Duration = Duration::days(7);

/// Body of `POST /auth/password-reset`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

/// Body of `POST /auth/password-reset/confirm` and `POST /invitations/accept`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenAndPassword {
    /// The `token` query parameter of the emailed link.
    pub token: String,
    /// At least 8 characters.
    pub password: String,
}

/// Body of `POST /auth/verify-email`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    pub token: String,
}

/// Body of `POST /invitations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    pub email: String,
    /// The role the new member gets (at most the inviter's own).
    pub role: Role,
}

fn digest(token: &str) -> String {
    crate::sha256_hex(token.as_bytes())
}

fn invalid_link() -> ServiceError {
    ServiceError::Invalid("the link is invalid, used or expired: ask for a new one".into())
}

impl Services {
    /// The console page a link opens.
    fn link(&self, page: &str, token: &str) -> String {
        let base = self.settings.public_url.trim_end_matches('/');
        format!("{base}/app/{page}?token={token}")
    }

    /// Stores a token and mails its link, in the background.
    async fn mail_token(
        &self,
        token: EmailToken,
        secret: String,
        mail: impl FnOnce(String) -> Mail + Send + 'static,
        page: &'static str,
    ) {
        if let Err(error) = self.store().create_email_token(&token).await {
            tracing::error!(error = %crate::ErrorChain(&error), "cannot store an email token");
            return;
        }
        let message = mail(self.link(page, &secret));
        let mailer = self.mailer.clone();
        tokio::spawn(async move {
            if let Err(error) = mailer.send(message).await {
                tracing::warn!(%error, "an email could not be sent");
            }
        });
    }

    fn new_token(
        &self,
        user: Option<&User>,
        tenant: TenantId,
        email: &Email,
        role: Option<Role>,
        purpose: EmailPurpose,
        ttl: Duration,
    ) -> (EmailToken, String) {
        let secret = docent_core::auth::secret::generate("eml_");
        let now = Utc::now();
        let token = EmailToken {
            id: uuid::Uuid::now_v7(),
            tenant_id: tenant,
            user_id: user.map(|u| u.id),
            email: email.clone(),
            role,
            purpose,
            token_hash: digest(&secret),
            expires_at: now + ttl,
            used_at: None,
            created_at: now,
        };
        (token, secret)
    }

    /// Mails a new account's owner the link that verifies their address.
    pub(crate) async fn send_verification(&self, user: &User) {
        let (token, secret) = self.new_token(
            Some(user),
            user.tenant_id,
            &user.email,
            None,
            EmailPurpose::Verify,
            VERIFY_TTL,
        );
        let to = user.email.as_str().to_string();
        let mail = move |link: String| {
            with_link(
                &to,
                "Confirm your email address for Docent",
                &[
                    "Welcome to Docent. Confirm that this address is yours; the link works for 48 hours.",
                ],
                "Confirm my address",
                &link,
            )
        };
        self.mail_token(token, secret, mail, "verify").await;
    }

    /// `POST /auth/verify-email/resend`: another link for the signed-in
    /// user, unless their address is verified already.
    pub async fn resend_verification(&self, ctx: &Ctx) -> ServiceResult<()> {
        let super::Principal::User(id) = ctx.actor.principal else {
            return Err(ServiceError::Forbidden(
                "only a signed-in user has an address to verify".into(),
            ));
        };
        let user = self.store().get_user(ctx.actor.tenant_id, id).await?;
        if user.email_verified_at.is_none() {
            self.send_verification(&user).await;
        }
        Ok(())
    }

    /// `POST /auth/verify-email`: the address of the link's account is theirs.
    pub async fn verify_email(&self, token: &str, client: ClientInfo) -> ServiceResult<()> {
        let found = self
            .store()
            .use_email_token(&digest(token), EmailPurpose::Verify, Utc::now())
            .await?
            .ok_or_else(invalid_link)?;
        let user_id = found.user_id.ok_or_else(invalid_link)?;
        let user = self.store().get_user(found.tenant_id, user_id).await?;
        self.store()
            .set_email_verified(found.tenant_id, user_id, Utc::now())
            .await?;
        self.audit(
            &user_ctx(&user, client),
            "user.email_verify",
            "user",
            Some(user_id.to_string()),
        )
        .await;
        Ok(())
    }

    /// `POST /auth/password-reset`: mails a reset link when the address
    /// has an account; answers the same either way.
    pub async fn request_password_reset(
        &self,
        req: PasswordResetRequest,
        client: ClientInfo,
    ) -> ServiceResult<()> {
        let email = parse_email(&req.email)?;
        let Some(user) = self.store().find_user_by_email(&email).await? else {
            return Ok(());
        };
        let (token, secret) = self.new_token(
            Some(&user),
            user.tenant_id,
            &email,
            None,
            EmailPurpose::Reset,
            RESET_TTL,
        );
        let to = email.as_str().to_string();
        let mail = move |link: String| {
            with_link(
                &to,
                "Reset your Docent password",
                &[
                    "Someone asked to reset the password of your Docent account. If it was you, choose a new password; the link works for one hour, once.",
                    "If it was not you, ignore this message: your password stays as it is.",
                ],
                "Choose a new password",
                &link,
            )
        };
        self.mail_token(token, secret, mail, "reset").await;
        self.audit(
            &user_ctx(&user, client),
            "user.password_reset_request",
            "user",
            Some(user.id.to_string()),
        )
        .await;
        Ok(())
    }

    /// `POST /auth/password-reset/confirm`: the new password, and every
    /// session of the user ends (all their refresh tokens are revoked).
    pub async fn confirm_password_reset(
        &self,
        req: TokenAndPassword,
        client: ClientInfo,
    ) -> ServiceResult<()> {
        check_password(&req.password)?;
        let found = self
            .store()
            .use_email_token(&digest(&req.token), EmailPurpose::Reset, Utc::now())
            .await?
            .ok_or_else(invalid_link)?;
        let user_id = found.user_id.ok_or_else(invalid_link)?;
        let user = self.store().get_user(found.tenant_id, user_id).await?;
        let hash = hash_password(req.password).await?;
        let now = Utc::now();
        self.store()
            .set_password(found.tenant_id, user_id, &hash, now)
            .await?;
        // The link reached the address: it is the user's.
        self.store()
            .set_email_verified(found.tenant_id, user_id, now)
            .await?;
        self.audit(
            &user_ctx(&user, client),
            "user.password_reset",
            "user",
            Some(user_id.to_string()),
        )
        .await;
        Ok(())
    }

    /// `POST /invitations`: mails an invitation to join the tenant with a
    /// role (owners and admins, up to their own role). Answers the same
    /// whether or not the address has an account; an address that has one
    /// is sent nothing (one account per address).
    pub async fn invite(&self, ctx: &Ctx, req: Invitation) -> ServiceResult<()> {
        ctx.actor.require(Role::Admin)?;
        super::users::may_grant(ctx, req.role)?;
        let email = parse_email(&req.email)?;
        let tenant = self.store().get_tenant(ctx.actor.tenant_id).await?;
        if self.store().find_user_by_email(&email).await?.is_none() {
            let (token, secret) = self.new_token(
                None,
                tenant.id,
                &email,
                Some(req.role),
                EmailPurpose::Invite,
                INVITE_TTL,
            );
            let to = email.as_str().to_string();
            let name = tenant.name.clone();
            let role = req.role;
            let mail = move |link: String| {
                with_link(
                    &to,
                    &format!("You are invited to {name} on Docent"),
                    &[&format!(
                        "You are invited to join {name} on Docent as {role}. Choose a password to accept; the link works for 7 days, once."
                    )],
                    "Accept the invitation",
                    &link,
                )
            };
            self.mail_token(token, secret, mail, "invitation").await;
        }
        self.audit(ctx, "invitation.create", "invitation", None)
            .await;
        Ok(())
    }

    /// `POST /invitations/accept`: the invitee's account, with the role
    /// they were invited with, signed in.
    pub async fn accept_invitation(
        &self,
        req: TokenAndPassword,
        client: ClientInfo,
    ) -> ServiceResult<TenantSession> {
        check_password(&req.password)?;
        let found = self
            .store()
            .use_email_token(&digest(&req.token), EmailPurpose::Invite, Utc::now())
            .await?
            .ok_or_else(invalid_link)?;
        let now = Utc::now();
        let user = User {
            id: UserId::new(),
            tenant_id: found.tenant_id,
            email: found.email.clone(),
            role: found.role.unwrap_or(Role::Viewer),
            created_at: now,
            // The invitation reached the address.
            email_verified_at: Some(now),
            password_hash: hash_password(req.password).await?,
        };
        self.store()
            .create_user(&user)
            .await
            .map_err(|e| match ServiceError::from(e) {
                ServiceError::Conflict(_) => {
                    ServiceError::Conflict("an account with this email already exists".into())
                }
                other => other,
            })?;
        let tenant = self.store().get_tenant(user.tenant_id).await?;
        self.audit(
            &user_ctx(&user, client),
            "invitation.accept",
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
}
