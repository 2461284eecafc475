//! Extractors: the authenticated caller (`Auth`), resource ids from the path
//! (`Id`), and paging parameters. Authentication happens here, once; handlers
//! receive a `Ctx` whose tenant comes from the verified credential only.

use std::net::SocketAddr;
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts, Path, Query};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN, USER_AGENT};
use axum::http::request::Parts;
use docent_core::auth::secret::API_KEY_PREFIX;
use docent_core::store::PageRequest;
use docent_service::{ClientInfo, Ctx, ServiceError};
use serde::Deserialize;

use crate::app::AppState;
use crate::error::ApiError;

/// The authenticated caller of a tenant route: a user or an API key. An
/// embed token is refused here (403): it is good only on [`ChatAuth`] routes.
pub struct Auth(pub Ctx);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let ctx = authenticate(state, token, parts).await?;
        if ctx.actor.visitor().is_some() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "an embed token may only chat with its bot, read its own conversations \
                 and leave a lead",
            ));
        }
        Ok(Auth(ctx))
    }
}

/// The caller of the routes a widget visitor may use too (chat, own
/// conversations, leads): a user, an API key or an embed token.
pub struct ChatAuth(pub Ctx);

impl FromRequestParts<AppState> for ChatAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        authenticate(state, token, parts).await.map(ChatAuth)
    }
}

/// The request's `Origin` header, when a browser sent one from a page of
/// another site. A page of this server itself (the console's widget
/// preview) is no other site: its requests are taken as a server's are, on
/// the credential alone.
pub fn origin(parts: &Parts) -> Option<&str> {
    let origin = parts.headers.get(ORIGIN).and_then(|v| v.to_str().ok())?;
    let host = parts.headers.get(HOST).and_then(|h| h.to_str().ok());
    (!host.is_some_and(|host| names_host(origin, host))).then_some(origin)
}

/// Whether the URL `source` (an `Origin` or `Referer`) is of `host`, the
/// request's `Host` header.
pub fn names_host(source: &str, host: &str) -> bool {
    let Ok(source) = url::Url::parse(source) else {
        return false;
    };
    let port = source.port().map(|p| format!(":{p}")).unwrap_or_default();
    source
        .host_str()
        .is_some_and(|h| format!("{h}{port}").eq_ignore_ascii_case(host))
}

/// The bot of an embed token that the widget's CORS check already read for
/// this request, so that authentication does not read it again.
#[derive(Clone)]
pub struct ReadBot(pub std::sync::Arc<docent_core::domain::Bot>);

async fn authenticate(state: &AppState, token: &str, parts: &Parts) -> Result<Ctx, ApiError> {
    let credential = Credential {
        token: token.to_string(),
        origin: origin(parts).map(str::to_string),
        client: client_info(parts),
        read: parts.extensions.get::<ReadBot>().map(|r| r.0.clone()),
    };
    credential.authenticate(state).await
}

/// A presented credential, kept so that a long-lived connection (a
/// WebSocket) can check it again before each message.
#[derive(Clone)]
pub struct Credential {
    pub token: String,
    origin: Option<String>,
    client: ClientInfo,
    /// The embed token's bot, when this request read it already. Never on a
    /// WebSocket, whose later messages must see the bot as it is then.
    read: Option<std::sync::Arc<docent_core::domain::Bot>>,
}

impl Credential {
    /// Verifies the credential as it is now: a revoked key, a deleted or
    /// demoted user, an expired token fail here.
    pub async fn authenticate(&self, state: &AppState) -> Result<Ctx, ApiError> {
        let services = &state.services;
        let token = self.token.as_str();
        let actor = if token.starts_with(API_KEY_PREFIX) {
            services.actor_from_api_key(token).await?
        } else {
            match services.actor_from_access_token(token).await {
                Ok(actor) => actor,
                Err(ServiceError::Unauthorized) => services
                    .actor_from_embed_token(token, self.origin.as_deref(), self.read.clone())
                    .await?
                    .ok_or_else(ApiError::unauthorized)?,
                Err(e) => return Err(e.into()),
            }
        };
        tracing::Span::current().record("tenant_id", tracing::field::display(actor.tenant_id));
        Ok(Ctx {
            actor,
            client: self.client.clone(),
        })
    }
}

/// The caller of a WebSocket route (users, API keys and embed tokens):
/// browsers cannot set headers on a WebSocket, so the credential may come as
/// `?token=` (on this route only, since query strings end up in logs more
/// easily than headers).
pub struct WsAuth(pub Ctx, pub Credential);

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequestParts<AppState> for WsAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = match bearer(parts) {
            Some(token) => token.to_string(),
            None => {
                let Query(q) = Query::<TokenQuery>::from_request_parts(parts, state)
                    .await
                    .map_err(|_| ApiError::unauthorized())?;
                q.token
                    .filter(|t| !t.is_empty())
                    .ok_or_else(ApiError::unauthorized)?
            }
        };
        let credential = Credential {
            token,
            origin: origin(parts).map(str::to_string),
            client: client_info(parts),
            read: None,
        };
        let ctx = credential.authenticate(state).await?;
        Ok(WsAuth(ctx, credential))
    }
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    bearer_of(&parts.headers)
}

pub fn bearer_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// Peer address and user agent, for the audit trail. The peer is the TCP peer:
/// behind a proxy it is the proxy (forwarded headers are not trusted by default).
pub fn client_info(parts: &Parts) -> ClientInfo {
    ClientInfo {
        ip: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string()),
        user_agent: parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    }
}

/// The caller's request facts without authentication (sign-up, login).
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(client_info(parts)))
    }
}

/// A typed id from the single path parameter. An id that does not parse names
/// no resource, so it answers 404 like any other unknown id.
pub struct Id<T>(pub T);

impl<S: Send + Sync, T: FromStr> FromRequestParts<S> for Id<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        raw.parse().map(Id).map_err(|_| ApiError::not_found())
    }
}

/// `?limit=&cursor=` as the contract defines them.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Paging {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::invalid("`limit` must be between 1 and 200"));
        }
        if let Some(cursor) = &self.cursor
            && uuid::Uuid::parse_str(cursor).is_err()
        {
            return Err(ApiError::invalid(
                "`cursor` is not a cursor this API returned",
            ));
        }
        Ok(PageRequest {
            limit,
            after: self.cursor.clone(),
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<Paging>::from_request_parts(parts, state)
            .await
            .map(|Query(p)| p)
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}
