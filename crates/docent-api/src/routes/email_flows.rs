//! The email flows: password reset, address verification, invitations.
//! The open routes (no credential) count per address as sign-up does, and
//! a reset request also per target address, so nobody can flood a mailbox.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use docent_service::{
    Invitation, PasswordResetRequest, TenantSession, TokenAndPassword, VerifyEmail,
};

use super::{ApiResult, Created, created};
use crate::app::AppState;
use crate::error::ErrorBody;
use crate::extractors::{Auth, Client};
use crate::ratelimit;

/// Mails a reset link to the address, if it has an account; 202 either way,
/// so the answer says nothing about which addresses have accounts.
#[utoipa::path(post, path = "/auth/password-reset", tag = "auth", request_body = PasswordResetRequest,
    responses((status = 202, description = "a link is mailed if the address has an account"),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn request_reset(
    State(state): State<AppState>,
    Client(client): Client,
    Json(req): Json<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    let per_minute = state.config.limits.sign_in_per_minute;
    let address = req.email.trim().to_ascii_lowercase();
    ratelimit::check(&state, "password_reset_email", &address, per_minute).await?;
    state.services.request_password_reset(req, client).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Sets the new password with the link's `token` (single use, one hour);
/// every refresh token of the user is revoked.
#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth", request_body = TokenAndPassword,
    responses((status = 204), (status = 422, description = "a password under 8 characters, or a link that is invalid, used or expired", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn confirm_reset(
    State(state): State<AppState>,
    Client(client): Client,
    Json(req): Json<TokenAndPassword>,
) -> ApiResult<StatusCode> {
    state.services.confirm_password_reset(req, client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Verifies the address of a new account with the link's `token`.
#[utoipa::path(post, path = "/auth/verify-email", tag = "auth", request_body = VerifyEmail,
    responses((status = 204), (status = 422, description = "a link that is invalid, used or expired", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    Client(client): Client,
    Json(req): Json<VerifyEmail>,
) -> ApiResult<StatusCode> {
    state.services.verify_email(&req.token, client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mails the signed-in user a new verification link (none once verified).
#[utoipa::path(post, path = "/auth/verify-email/resend", tag = "auth", security(("bearer" = [])),
    responses((status = 202), (status = 403, body = ErrorBody)))]
pub async fn resend(State(state): State<AppState>, Auth(ctx): Auth) -> ApiResult<StatusCode> {
    state.services.resend_verification(&ctx).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Invites an address to the tenant with a role (owner/admin, up to their
/// own role): a link to choose a password. 202 whether or not the address
/// has an account (one that has is sent nothing).
#[utoipa::path(post, path = "/invitations", tag = "users", security(("bearer" = [])),
    request_body = Invitation,
    responses((status = 202), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn invite(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<Invitation>,
) -> ApiResult<StatusCode> {
    state.services.invite(&ctx, req).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Accepts an invitation with the link's `token` and a password: the new
/// member's account, signed in.
#[utoipa::path(post, path = "/invitations/accept", tag = "users", request_body = TokenAndPassword,
    responses((status = 201, body = TenantSession), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn accept(
    State(state): State<AppState>,
    Client(client): Client,
    Json(req): Json<TokenAndPassword>,
) -> ApiResult<Created<TenantSession>> {
    Ok(created(
        state.services.accept_invitation(req, client).await?,
    ))
}
