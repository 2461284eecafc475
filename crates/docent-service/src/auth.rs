//! Sign-up, login, token refresh with rotation and reuse detection, logout.

use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    Actor, ClientInfo, Ctx, LoginOutcome, Principal, ServiceError, ServiceResult, Services,
    blocking, limit_len,
};
use docent_core::auth::{password, secret};
use docent_core::domain::{ApiKey, Email, Role, Tenant, User};
use docent_core::ids::{TenantId, TokenFamilyId, UserId};
use docent_core::store::{RefreshToken, RefreshUse};

#[derive(Debug, Deserialize, ToSchema)]
pub struct Signup {
    /// The organisation's name.
    pub name: String,
    pub email: String,
    /// At least 8 characters.
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Login {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantSession {
    pub tenant: Tenant,
    pub user: User,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The signed-in user; null when the credential is an API key.
    pub user: Option<User>,
    pub tenant: Tenant,
    /// The API key in use, when the credential is one.
    pub api_key: Option<ApiKey>,
    /// The role in force for this credential.
    pub role: Role,
}

pub(super) fn check_password(password: &str) -> ServiceResult<()> {
    let n = password.chars().count();
    if n < password::MIN_LEN {
        return Err(ServiceError::Invalid(format!(
            "`password` must be at least {} characters",
            password::MIN_LEN
        )));
    }
    if password.len() > password::MAX_LEN {
        return Err(ServiceError::Invalid(format!(
            "`password` must be at most {} bytes",
            password::MAX_LEN
        )));
    }
    Ok(())
}

pub(super) async fn hash_password(password: String) -> ServiceResult<String> {
    blocking(move || password::hash(&password))
        .await?
        .map_err(|e| ServiceError::internal(e.to_string()))
}

pub(super) fn parse_email(raw: &str) -> ServiceResult<Email> {
    Ok(Email::parse(raw)?)
}

pub(super) fn check_new_password(password: &str) -> ServiceResult<()> {
    check_password(password)
}

impl Services {
    /// Creates a tenant with its owner and signs the owner in.
    pub async fn signup(&self, req: Signup, client: ClientInfo) -> ServiceResult<TenantSession> {
        limit_len("name", &req.name, 1, 200)?;
        let email = parse_email(&req.email)?;
        check_password(&req.password)?;
        let password_hash = hash_password(req.password).await?;
        let now = Utc::now();
        let tenant = Tenant {
            id: TenantId::new(),
            name: req.name.trim().to_string(),
            plan: self.settings.default_plan,
            created_at: now,
        };
        let user = User {
            id: UserId::new(),
            tenant_id: tenant.id,
            email,
            role: Role::Owner,
            created_at: now,
            email_verified_at: None,
            password_hash,
        };
        self.store()
            .create_tenant_with_owner(&tenant, &user)
            .await
            .map_err(|e| match ServiceError::from(e) {
                ServiceError::Conflict(_) => {
                    ServiceError::Conflict("an account with this email already exists".into())
                }
                other => other,
            })?;
        let ctx = user_ctx(&user, client);
        self.audit(&ctx, "tenant.create", "tenant", Some(tenant.id.to_string()))
            .await;
        self.send_verification(&user).await;
        let tokens = self.issue_tokens(&user, TokenFamilyId::new()).await?;
        Ok(TenantSession {
            tenant,
            user,
            tokens,
        })
    }

    /// Checks email and password. Unknown email and wrong password give the same
    /// answer after the same work, so accounts cannot be enumerated.
    pub async fn login(&self, req: Login, client: ClientInfo) -> ServiceResult<LoginOutcome> {
        let found = match Email::parse(&req.email) {
            Ok(email) => self.store().find_user_by_email(&email).await?,
            Err(_) => None,
        };
        let password = req.password;
        let user = match found {
            Some(user) => {
                let phc = user.password_hash.clone();
                let ok = blocking(move || password::verify(&password, &phc)).await?;
                ok.then_some(user)
            }
            None => {
                blocking(move || password::burn_equivalent_time(&password)).await?;
                None
            }
        };
        let user = user.ok_or(ServiceError::Unauthorized)?;
        let session = async || {
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
                user: user.clone(),
                tokens,
            })
        };
        self.after_password(&user, session).await
    }

    /// A signed-in user's new password, given the current one; every
    /// session of the user ends (their refresh tokens are revoked), and a
    /// new one is returned for the caller.
    pub async fn change_password(
        &self,
        ctx: &Ctx,
        current: String,
        new: String,
    ) -> ServiceResult<TenantSession> {
        let Principal::User(id) = ctx.actor.principal else {
            return Err(ServiceError::Forbidden(
                "only a signed-in user changes a password".into(),
            ));
        };
        check_password(&new)?;
        let tenant = ctx.actor.tenant_id;
        let user = self.store().get_user(tenant, id).await?;
        let phc = user.password_hash.clone();
        if !blocking(move || password::verify(&current, &phc)).await? {
            return Err(ServiceError::Invalid(
                "the current password is not right".into(),
            ));
        }
        let hash = hash_password(new).await?;
        self.store()
            .set_password(tenant, id, &hash, Utc::now())
            .await?;
        self.audit(ctx, "user.password_change", "user", Some(id.to_string()))
            .await;
        let user = self.store().get_user(tenant, id).await?;
        let tokens = self.issue_tokens(&user, TokenFamilyId::new()).await?;
        Ok(TenantSession {
            tenant: self.store().get_tenant(tenant).await?,
            user,
            tokens,
        })
    }

    /// Exchanges a live refresh token for a new pair. The presented token is
    /// revoked; presenting a revoked one again revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str) -> ServiceResult<TenantSession> {
        let hash = secret::digest(refresh_token);
        let used = match self.store().use_refresh_token(&hash, Utc::now()).await? {
            RefreshUse::Consumed(token) => token,
            RefreshUse::Reused => {
                tracing::warn!(
                    "revoked refresh token presented again; its token family was revoked"
                );
                return Err(ServiceError::Unauthorized);
            }
            RefreshUse::Invalid => return Err(ServiceError::Unauthorized),
        };
        let user = match self.store().get_user(used.tenant_id, used.user_id).await {
            Ok(user) => user,
            Err(docent_core::store::StoreError::NotFound) => {
                return Err(ServiceError::Unauthorized);
            }
            Err(e) => return Err(e.into()),
        };
        let tenant = self.store().get_tenant(user.tenant_id).await?;
        let tokens = self.issue_tokens(&user, used.family_id).await?;
        Ok(TenantSession {
            tenant,
            user,
            tokens,
        })
    }

    /// The login (token family) a refresh token belongs to, for limiting
    /// refreshes per login; `None` for a token this server never issued.
    pub async fn refresh_family(
        &self,
        refresh_token: &str,
    ) -> ServiceResult<Option<docent_core::ids::TokenFamilyId>> {
        Ok(self
            .store()
            .refresh_token_family(&secret::digest(refresh_token))
            .await?)
    }

    /// Ends the login the refresh token belongs to. Unknown tokens are ignored:
    /// logging out twice is not an error.
    pub async fn logout(&self, refresh_token: &str) -> ServiceResult<()> {
        let hash = secret::digest(refresh_token);
        self.store()
            .revoke_refresh_family(&hash, Utc::now())
            .await?;
        Ok(())
    }

    pub async fn me(&self, actor: &Actor) -> ServiceResult<Me> {
        let tenant = self.store().get_tenant(actor.tenant_id).await?;
        let (user, api_key) = match &actor.principal {
            Principal::Visitor(_) => {
                actor.require(Role::Viewer)?;
                (None, None)
            }
            Principal::Operator => (None, None),
            &Principal::User(id) => (
                Some(self.store().get_user(actor.tenant_id, id).await?),
                None,
            ),
            &Principal::ApiKey(id) => {
                let key = self
                    .all_api_keys(actor.tenant_id)
                    .await?
                    .into_iter()
                    .find(|k| k.id == id);
                (None, key)
            }
        };
        Ok(Me {
            user,
            tenant,
            api_key,
            role: actor.role,
        })
    }

    pub(super) async fn issue_tokens(
        &self,
        user: &User,
        family: TokenFamilyId,
    ) -> ServiceResult<TokenPair> {
        let refresh = secret::generate(secret::REFRESH_TOKEN_PREFIX);
        let now = Utc::now();
        self.store()
            .insert_refresh_token(&RefreshToken {
                token_hash: secret::digest(&refresh),
                family_id: family,
                user_id: user.id,
                tenant_id: user.tenant_id,
                created_at: now,
                expires_at: now + Duration::seconds(self.tokens.refresh_ttl_secs as i64),
            })
            .await?;
        Ok(TokenPair {
            access_token: self.jwt().issue_access(
                user.id,
                user.tenant_id,
                user.role,
                self.tokens.access_ttl_secs,
            ),
            refresh_token: refresh,
            token_type: "Bearer",
            expires_in: self.tokens.access_ttl_secs,
        })
    }

    /// The actor behind a verified access token, with the role as stored now,
    /// so a demoted or deleted user loses access at once, not at token expiry.
    pub async fn actor_from_access_token(&self, token: &str) -> ServiceResult<Actor> {
        let claims = self
            .jwt()
            .verify_access(token)
            .ok_or(ServiceError::Unauthorized)?;
        match self.store().get_user(claims.tid, claims.sub).await {
            Ok(user) => Ok(Actor {
                tenant_id: user.tenant_id,
                principal: Principal::User(user.id),
                role: user.role,
                bot: None,
            }),
            Err(docent_core::store::StoreError::NotFound) => Err(ServiceError::Unauthorized),
            Err(e) => Err(e.into()),
        }
    }

    /// The actor behind a presented API key, if it is live; records its use.
    pub async fn actor_from_api_key(&self, key: &str) -> ServiceResult<Actor> {
        let found = self
            .store()
            .find_api_key(&secret::digest(key))
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        // A key acts at the lower of its own role and its creator's current
        // one; a creator who is gone takes the key along.
        let role = match found.created_by {
            Some(creator) => match self.store().get_user(found.tenant_id, creator).await {
                Ok(user) => found.role.min(user.role),
                Err(docent_core::store::StoreError::NotFound) => {
                    return Err(ServiceError::Unauthorized);
                }
                Err(e) => return Err(e.into()),
            },
            None => found.role,
        };
        if let Err(error) = self.store().touch_api_key(found.id, Utc::now()).await {
            tracing::warn!(error = %crate::ErrorChain(&error), "could not record API key use");
        }
        Ok(Actor {
            tenant_id: found.tenant_id,
            principal: Principal::ApiKey(found.id),
            role,
            bot: None,
        })
    }
}

pub(super) fn user_ctx(user: &User, client: ClientInfo) -> Ctx {
    Ctx {
        actor: Actor {
            tenant_id: user.tenant_id,
            principal: Principal::User(user.id),
            role: user.role,
            bot: None,
        },
        client,
    }
}
