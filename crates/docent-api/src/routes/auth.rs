//! Sign-up (a tenant and its owner), login, refresh, logout, and `me`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use docent_service::{
    Login, LoginOutcome, Me, MfaCode, MfaLogin, MfaSetup, RecoveryCodes, ServiceError, Signup,
    TenantSession,
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ApiResult, Created, created};
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{Auth, Client};
use crate::ratelimit;

/// Creates a tenant and its owner, and signs the owner in.
#[utoipa::path(post, path = "/tenants", tag = "auth", request_body = Signup, responses(
    (status = 201, body = TenantSession),
    (status = 409, description = "email taken", body = ErrorBody),
    (status = 422, description = "invalid field, e.g. password under 8 characters", body = ErrorBody)))]
pub async fn signup(
    State(state): State<AppState>,
    Client(client): Client,
    Json(req): Json<Signup>,
) -> ApiResult<Created<TenantSession>> {
    Ok(created(state.services.signup(req, client).await?))
}

/// Signs a user in. Unknown email and wrong password get the same 401.
/// Failed attempts are limited per account and per address (429 with
/// `Retry-After` once either is used up, even for the right password);
/// successful ones are not, so an office behind one address is not throttled.
/// A user with a second factor gets `{mfa_required: true, mfa_token}`
/// instead of the token pair: `POST /auth/mfa` completes the sign-in.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = Login, responses(
    (status = 200, body = LoginOutcome), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    Json(req): Json<Login>,
) -> ApiResult<Json<LoginOutcome>> {
    let guard = SignInGuard::new(&state, client.ip.as_deref(), Some(&req.email));
    guard.refuse_if_locked().await?;
    match state.services.login(req, client).await {
        Err(ServiceError::Unauthorized) => {
            guard.failed().await;
            Err(ServiceError::Unauthorized.into())
        }
        other => Ok(Json(other?)),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchanges a refresh token for a new pair; the presented one is revoked.
/// Presenting a revoked token revokes every token of its login.
/// Limited per login (token family); presenting unknown tokens counts as a
/// failed sign-in of the address.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TenantSession), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    Client(client): Client,
    Json(req): Json<RefreshRequest>,
) -> ApiResult<Json<TenantSession>> {
    let guard = SignInGuard::new(&state, client.ip.as_deref(), None);
    guard.refuse_if_locked().await?;
    let Some(family) = state.services.refresh_family(&req.refresh_token).await? else {
        guard.failed().await;
        return Err(ServiceError::Unauthorized.into());
    };
    let per_login = state.config.limits.sign_in_per_minute;
    ratelimit::check(&state, "refresh_family", &family.to_string(), per_login).await?;
    match state.services.refresh(&req.refresh_token).await {
        Err(ServiceError::Unauthorized) => {
            guard.failed().await;
            Err(ServiceError::Unauthorized.into())
        }
        other => Ok(Json(other?)),
    }
}

/// Sign-in protection: failures are counted per address (five times the
/// sign-in limit, for offices behind one address) and per account (the
/// sign-in limit); while either is used up, attempts are refused before they
/// run.
pub(crate) struct SignInGuard<'a> {
    state: &'a AppState,
    ip: String,
    account: Option<String>,
}

impl<'a> SignInGuard<'a> {
    pub(crate) fn new(state: &'a AppState, ip: Option<&str>, email: Option<&str>) -> Self {
        Self {
            state,
            ip: ip.unwrap_or_default().to_string(),
            account: email.map(|e| e.trim().to_lowercase()),
        }
    }

    fn limits(&self) -> Vec<(&'static str, &str, u32)> {
        let per_account = self.state.config.limits.sign_in_per_minute;
        let mut limits = vec![(
            "sign_in_failures_ip",
            self.ip.as_str(),
            per_account.saturating_mul(5),
        )];
        if let Some(account) = &self.account {
            limits.push(("sign_in_failures_account", account.as_str(), per_account));
        }
        limits
    }

    pub(crate) async fn refuse_if_locked(&self) -> Result<(), ApiError> {
        for (class, key, per_minute) in self.limits() {
            ratelimit::refuse_if_used_up(self.state, class, key, per_minute).await?;
        }
        Ok(())
    }

    pub(crate) async fn failed(&self) {
        for (class, key, per_minute) in self.limits() {
            let _ = ratelimit::check(self.state, class, key, per_minute).await;
        }
    }
}

/// Ends the login the refresh token belongs to.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> ApiResult<StatusCode> {
    state.services.logout(&req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller: user (or API key) and tenant.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, Auth(ctx): Auth) -> ApiResult<Json<Me>> {
    Ok(Json(state.services.me(&ctx.actor).await?))
}

/// Completes a sign-in of a user with a second factor: the login's
/// `mfa_token` and the authenticator's code (or a recovery code, each good
/// once). Every failure is the same 401, counted as a failed sign-in.
#[utoipa::path(post, path = "/auth/mfa", tag = "auth", request_body = MfaLogin, responses(
    (status = 200, body = TenantSession), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn mfa(
    State(state): State<AppState>,
    Client(client): Client,
    Json(req): Json<MfaLogin>,
) -> ApiResult<Json<TenantSession>> {
    let guard = SignInGuard::new(&state, client.ip.as_deref(), None);
    guard.refuse_if_locked().await?;
    match state.services.mfa_login(req, client).await {
        Err(ServiceError::Unauthorized) => {
            guard.failed().await;
            Err(ServiceError::Unauthorized.into())
        }
        other => Ok(Json(other?)),
    }
}

/// A new TOTP secret for the signed-in owner or admin to add to an
/// authenticator; nothing changes until `POST /auth/mfa/enable`.
#[utoipa::path(post, path = "/auth/mfa/setup", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = MfaSetup), (status = 403, body = ErrorBody)))]
pub async fn mfa_setup(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> ApiResult<Json<MfaSetup>> {
    Ok(Json(state.services.mfa_setup(&ctx).await?))
}

/// A code from the new secret turns the second factor on; the answer holds
/// the ten recovery codes, shown this once.
#[utoipa::path(post, path = "/auth/mfa/enable", tag = "auth", security(("bearer" = [])),
    request_body = MfaCode, responses(
    (status = 200, body = RecoveryCodes), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn mfa_enable(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<MfaCode>,
) -> ApiResult<Json<RecoveryCodes>> {
    Ok(Json(state.services.mfa_enable(&ctx, req).await?))
}

/// Turns the second factor off, given a current code or a recovery code.
#[utoipa::path(delete, path = "/auth/mfa", tag = "auth", security(("bearer" = [])),
    request_body = MfaCode, responses(
    (status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn mfa_disable(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<MfaCode>,
) -> ApiResult<StatusCode> {
    state.services.mfa_disable(&ctx, req).await?;
    Ok(StatusCode::NO_CONTENT)
}
