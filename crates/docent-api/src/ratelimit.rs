//! Rate limits at the HTTP edge: per IP on sign-up, login and refresh (strict,
//! against credential stuffing) and on widget token requests, per credential
//! on authenticated routes, per IP on other unauthenticated ones; and for
//! widget visitors, per visitor (the bot's limit) and per IP on each chat
//! message. Answers 429 with `Retry-After`; every limited response carries
//! `X-RateLimit-Limit` and `X-RateLimit-Remaining`. The limiter behind them is
//! `the limiter `docent::startup` chose: in-process, or shared through Redis.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use docent_core::ratelimit::{Decision, Limit};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::ApiError;

pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let limited = (path.starts_with("/api/v1/") || path.starts_with("/v1/") || path == "/mcp")
        && !matches!(path, "/api/v1/health" | "/api/v1/ready");
    if !limited {
        return next.run(request).await;
    }
    let config = &state.config;
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_string())
        .unwrap_or_default();
    let post = request.method() == Method::POST;
    // Sign-up counts per address; login and refresh count their failures
    // themselves (routes/auth.rs), so they pass here.
    // The email flows' open routes count as sign-up does.
    let sign_in = post
        && matches!(
            path,
            "/api/v1/tenants"
                | "/api/v1/auth/password-reset"
                | "/api/v1/auth/password-reset/confirm"
                | "/api/v1/auth/verify-email"
                | "/api/v1/invitations/accept"
        );
    if post
        && matches!(
            path,
            "/api/v1/auth/login" | "/api/v1/auth/refresh" | "/api/v1/auth/mfa"
        )
    {
        return next.run(request).await;
    }
    let widget_token = post && path.starts_with("/api/v1/widget/") && path.ends_with("/token");
    // The operator's token is worth guessing: its routes count per IP, as
    // strictly as sign-in, whatever the request carries.
    let operator = path.starts_with("/api/v1/platform/");
    // Routes that need no credential count per IP even when one is sent, so
    // a made-up bearer cannot buy a fresh bucket there.
    let open = path.starts_with("/api/v1/uploads/")
        || (path.starts_with("/api/v1/widget/") && path.ends_with("/config"));
    let credential = if open || operator {
        None
    } else {
        credential_key(&state, request.headers())
    };
    let (class, key, per_minute) = if sign_in {
        ("sign_in", ip, config.limits.sign_in_per_minute)
    } else if operator {
        ("operator", ip, config.limits.sign_in_per_minute)
    } else if widget_token {
        ("widget_token", ip, config.limits.widget_token_per_minute)
    } else if let Some(key) = credential {
        ("credential", key, config.limits.credential_per_minute)
    } else {
        ("ip", ip, config.limits.ip_per_minute)
    };
    let decision = state.limiter.check(class, &key, Limit { per_minute }).await;
    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        refused(class, &decision).into_response()
    };
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(decision.remaining),
    );
    response
}

/// The bucket of a request's credential: the parsed bearer (scheme in any
/// case, whitespace trimmed), keyed by a digest so the limiter's memory never
/// holds a credential. Only something that can be a credential gets a bucket
/// of its own: a token must verify (its signature is checked here, which
/// costs microseconds), an API key must have the `dct_` shape; anything else
/// counts against the caller's IP.
fn credential_key(state: &AppState, headers: &axum::http::HeaderMap) -> Option<String> {
    let token = crate::extractors::bearer_of(headers)?;
    // An API key is the prefix and 43 URL-safe characters (256 random bits:
    // a well-shaped guess is as good as any, so its bucket buys nothing).
    let plausible =
        if let Some(secret) = token.strip_prefix(docent_core::auth::secret::API_KEY_PREFIX) {
            secret.len() == 43
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        } else {
            let jwt = state.services.jwt();
            jwt.verify_access(token).is_some() || jwt.verify_embed(token).is_some()
        };
    plausible.then(|| digest_key(token))
}

/// The limiter's key of a credential: a digest, never the credential.
fn digest_key(token: &str) -> String {
    let digest = Sha256::digest(token.trim().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn refused(class: &'static str, decision: &Decision) -> ApiError {
    metrics::counter!("docent_rate_limited_total", "class" => class).increment(1);
    ApiError::rate_limited(decision.retry_after)
}

/// Counts one message on a WebSocket in the credential's bucket, the same
/// one its REST requests count in.
pub async fn credential_message(state: &AppState, token: &str) -> Result<(), ApiError> {
    let key = digest_key(token);
    let per_minute = state.config.limits.credential_per_minute;
    check(state, "credential", &key, per_minute).await
}

/// 429 when `key` has used up `class` (without counting this request).
pub async fn refuse_if_used_up(
    state: &AppState,
    class: &'static str,
    key: &str,
    per_minute: u32,
) -> Result<(), ApiError> {
    let decision = state.limiter.peek(class, key, Limit { per_minute }).await;
    allowed_or_refused(class, &decision)
}

/// Counts one request of `key` in `class`; 429 when over `per_minute`.
pub async fn check(
    state: &AppState,
    class: &'static str,
    key: &str,
    per_minute: u32,
) -> Result<(), ApiError> {
    let decision = state.limiter.check(class, key, Limit { per_minute }).await;
    allowed_or_refused(class, &decision)
}

fn allowed_or_refused(class: &'static str, decision: &Decision) -> Result<(), ApiError> {
    if decision.allowed {
        Ok(())
    } else {
        Err(refused(class, decision))
    }
}
