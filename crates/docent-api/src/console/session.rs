//! Browser sessions of the console. The API's own token pair is kept in
//! cookies that scripts cannot read (HttpOnly), that other sites never send
//! (SameSite=Strict), that only `/app` receives, and that are Secure when
//! the server's public URL is https. An expired access token is renewed
//! with the refresh rotation the API has (`renew`, a middleware), so a
//! console session lasts as long as a refresh token.
//!
//! Every state-changing request is checked twice against cross-site
//! forgery: its `Origin` (or `Referer`) must be this server, and its form
//! must carry the random token of the `docent_csrf` cookie (double submit).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use docent_core::domain::Role;
use docent_service::{Ctx, Principal, TenantSession};

use crate::app::AppState;
use crate::extractors::client_info;

pub const ACCESS: &str = "docent_access";
pub const REFRESH: &str = "docent_refresh";
pub const CSRF: &str = "docent_csrf";
const PATH: &str = "/app";

/// A signed-in console user.
pub struct Console {
    pub ctx: Ctx,
    pub role: Role,
    /// The form token every POST must carry.
    pub csrf: String,
}

impl Console {
    /// Whether this user may change bots and knowledge (editors and up).
    pub fn can_edit(&self) -> bool {
        self.role >= Role::Editor
    }
}

/// Where an unauthenticated request is sent.
pub fn to_login() -> Response {
    Redirect::to("/app/login").into_response()
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if parts.method != Method::GET
            && parts.method != Method::HEAD
            && !same_origin(&parts.headers)
        {
            return Err(super::page::forbidden(
                "This request did not come from the console.",
            ));
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(ACCESS).map(|c| c.value().to_string()) else {
            return Err(to_login());
        };
        let actor = match state.services.actor_from_access_token(&token).await {
            Ok(actor) if matches!(actor.principal, Principal::User(_)) => actor,
            _ => return Err(to_login()),
        };
        let csrf = jar
            .get(CSRF)
            .map(|c| c.value().to_string())
            .unwrap_or_default();
        Ok(Console {
            role: actor.role,
            ctx: Ctx {
                actor,
                client: client_info(parts),
            },
            csrf,
        })
    }
}

/// A state-changing request from this server's own pages: its `Origin`, or
/// failing that its `Referer`, names the host it was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|h| h.to_str().ok());
    source.is_some_and(|s| crate::extractors::names_host(s, host))
}

/// Whether `form` carries the session's CSRF token (compared in constant
/// time; an empty token never matches).
pub fn csrf_ok(expected: &str, form: &str) -> bool {
    use subtle::ConstantTimeEq;
    !expected.is_empty() && expected.as_bytes().ct_eq(form.as_bytes()).into()
}

fn secure(state: &AppState) -> bool {
    state
        .public_base
        .as_deref()
        .is_some_and(|b| b.starts_with("https://"))
}

fn cookie(state: &AppState, name: &'static str, value: String, max_age: u64) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(state))
        .max_age(cookie::time::Duration::seconds(max_age as i64))
        .build()
}

/// The cookies of a new or renewed session.
pub fn signed_in(state: &AppState, jar: CookieJar, session: &TenantSession) -> CookieJar {
    let refresh_ttl = state.config.auth.refresh_token_ttl_secs;
    jar.add(cookie(
        state,
        ACCESS,
        session.tokens.access_token.clone(),
        session.tokens.expires_in,
    ))
    .add(cookie(
        state,
        REFRESH,
        session.tokens.refresh_token.clone(),
        refresh_ttl,
    ))
}

/// The jar without the session's cookies.
pub fn signed_out(state: &AppState, jar: CookieJar) -> CookieJar {
    let gone = |name: &'static str| cookie(state, name, String::new(), 0);
    jar.add(gone(ACCESS)).add(gone(REFRESH))
}

/// The jar with a CSRF token, made if it has none; and the token.
pub fn with_csrf(state: &AppState, jar: CookieJar) -> (CookieJar, String) {
    if let Some(token) = jar.get(CSRF).map(|c| c.value().to_string()) {
        return (jar, token);
    }
    let token = docent_core::auth::secret::generate("csrf_");
    let day = 24 * 3600 * 30;
    (jar.add(cookie(state, CSRF, token.clone(), day)), token)
}

/// Renews an expired console session before its request runs: with a
/// refresh cookie and an access cookie that no longer verifies, the refresh
/// token is rotated, the request sees the new access token, and the
/// response carries both new cookies. A refresh that fails signs out.
pub async fn renew(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    // Renewed as soon as it expires (the API's verification allows a few
    // seconds of clock skew; a browser need not use them).
    let now = chrono::Utc::now().timestamp();
    let access_ok = jar.get(ACCESS).is_some_and(|c| {
        state
            .services
            .jwt()
            .verify_access(c.value())
            .is_some_and(|claims| claims.exp > now)
    });
    let Some(refresh) = jar.get(REFRESH).map(|c| c.value().to_string()) else {
        return next.run(request).await;
    };
    if access_ok {
        return next.run(request).await;
    }
    let renewed = match state.services.refresh(&refresh).await {
        Ok(session) => signed_in(&state, jar.clone(), &session),
        Err(_) => {
            let cleared = signed_out(&state, jar);
            return (cleared, to_login()).into_response();
        }
    };
    // The request reads its cookies again from the renewed jar.
    let header: Vec<String> = renewed
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect();
    if let Ok(value) = HeaderValue::from_str(&header.join("; ")) {
        request.headers_mut().insert(header::COOKIE, value);
    }
    let response = next.run(request).await;
    (renewed, response).into_response()
}
