//! CORS, for the widget only. A customer's page (another origin) calls the
//! widget routes and the few routes an embed token may use; every other route
//! sends no CORS headers at all, so browsers keep other sites away from the
//! management API.
//!
//! Responses name the caller's origin (never `*`, never credentials) only
//! when it is allowed: for `/widget/{bot_id}/…`, when the bot is public and
//! lists the origin; for the embed-token routes, when the request's embed
//! token is valid on that origin. Preflights of the embed-token routes cannot
//! see the token, so they allow any http(s) origin to *send*; whether the page
//! may *read* the answer is decided on the answer itself.
//!
//! Hand-written rather than `tower_http::cors`, whose allow-lists are fixed
//! per layer, not per bot and per token.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use docent_core::ids::BotId;

use crate::app::AppState;
use crate::extractors::ReadBot;

/// The routes a page of another origin may call.
enum CorsRoute {
    /// `/api/v1/widget/{bot_id}/config|token`.
    Widget(BotId),
    /// Chat, own conversations, feedback on answers and leads, with an
    /// embed token.
    EmbedToken,
}

impl CorsRoute {
    fn of(path: &str) -> Option<Self> {
        if let Some(rest) = path.strip_prefix("/api/v1/widget/") {
            let (bot, tail) = rest.split_once('/')?;
            return matches!(tail, "config" | "token")
                .then(|| bot.parse().ok().map(CorsRoute::Widget))
                .flatten();
        }
        let embed = matches!(
            path,
            "/api/v1/chat" | "/api/v1/chat/sessions" | "/api/v1/leads"
        ) || (path.starts_with("/api/v1/chat/sessions/")
            && path.ends_with("/messages"))
            || (path.starts_with("/api/v1/chat/messages/") && path.ends_with("/feedback"));
        embed.then_some(CorsRoute::EmbedToken)
    }
}

/// Headers the widget reads from answers.
const EXPOSED: &str = "retry-after, x-request-id, x-ratelimit-limit, x-ratelimit-remaining";

pub async fn widget_cors(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (Some(origin), Some(route)) = (origin, CorsRoute::of(request.uri().path())) else {
        return next.run(request).await;
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let allowed = match &route {
        CorsRoute::Widget(bot) => state.services.widget_origin_allowed(*bot, &origin).await,
        CorsRoute::EmbedToken if preflight => {
            origin.starts_with("http://") || origin.starts_with("https://")
        }
        CorsRoute::EmbedToken => {
            let read = match crate::extractors::bearer_of(request.headers()) {
                Some(token) => state.services.embed_origin_allowed(token, &origin).await,
                None => None,
            };
            let allowed = read.is_some();
            if let Some(bot) = read {
                // Authentication reuses the bot read here.
                request.extensions_mut().insert(ReadBot(bot));
            }
            allowed
        }
    };
    let mut response = if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if allowed {
            let headers = response.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type, accept"),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        response
    } else {
        next.run(request).await
    };
    allow(response.headers_mut(), allowed.then_some(origin.as_str()));
    response
}

fn allow(headers: &mut HeaderMap, origin: Option<&str>) {
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    let Some(value) = origin.and_then(|o| HeaderValue::from_str(o).ok()) else {
        return;
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED),
    );
}
