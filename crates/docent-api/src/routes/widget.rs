//! The embeddable widget: its script, a public bot's widget settings, and
//! embed tokens (for anonymous visitors from an allowed page, and minted by a
//! customer's server for visitors it vouches for).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use docent_core::ids::BotId;
use docent_service::{EmbedToken, EmbedTokenRequest, WidgetConfig, WidgetTokenRequest};

use super::{ApiResult, Created, created};
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{Auth, Id};
use crate::ratelimit;

/// The widget, plain JavaScript checked in as source (no build step).
const WIDGET_JS: &str = include_str!("../../assets/widget.js");

/// The embeddable chat widget. Add it to a page with
/// `<script src="https://HOST/widget.js" data-bot-id="BOT_ID" async></script>`.
#[utoipa::path(get, path = "/widget.js", tag = "widget",
    responses((status = 200, description = "the widget script", content_type = "text/javascript")))]
pub async fn script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
            (
                header::HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("cross-origin"),
            ),
        ],
        WIDGET_JS,
    )
        .into_response()
}

/// A public bot's widget settings: name, welcome message and theme.
#[utoipa::path(get, path = "/widget/{bot_id}/config", tag = "widget",
    params(("bot_id" = String, Path)),
    responses((status = 200, body = WidgetConfig), (status = 404, body = ErrorBody)))]
pub async fn config(
    State(state): State<AppState>,
    Id(bot): Id<BotId>,
) -> ApiResult<Json<WidgetConfig>> {
    Ok(Json(state.services.widget_config(bot).await?))
}

/// An embed token for an anonymous visitor of an allowed page: the bot must
/// be `public` and the request's `Origin` in its `allowed_origins` (exact
/// scheme, host and port, or a `*.` subdomain pattern). The optional body
/// `{visitor_id}` keeps the identity an earlier token gave this browser.
#[utoipa::path(post, path = "/widget/{bot_id}/token", tag = "widget",
    params(("bot_id" = String, Path)), request_body(content = Option<WidgetTokenRequest>),
    responses((status = 201, body = EmbedToken), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn token(
    State(state): State<AppState>,
    Id(bot): Id<BotId>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created<EmbedToken>> {
    // The body is optional, so an empty one (no content type) is accepted.
    let req = if body.iter().all(u8::is_ascii_whitespace) {
        WidgetTokenRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("invalid body: {e}")))?
    };
    // Per IP in the rate-limit layer; here also per returning visitor, so one
    // identity cannot renew tokens without limit from many addresses.
    if let Some(visitor) = &req.visitor_id {
        let per_minute = state.config.limits.widget_token_per_minute;
        ratelimit::check(&state, "widget_token_visitor", visitor, per_minute).await?;
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    Ok(created(
        state.services.widget_token(bot, origin, req).await?,
    ))
}

/// An embed token minted by the customer's server (API key, or an editor) for
/// a visitor whose identity it vouches for. `ttl_seconds` at most 3600.
#[utoipa::path(post, path = "/embed/token", tag = "widget", security(("bearer" = [])),
    request_body = EmbedTokenRequest,
    responses((status = 201, body = EmbedToken), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn embed_token(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<EmbedTokenRequest>,
) -> ApiResult<Created<EmbedToken>> {
    Ok(created(state.services.embed_token(&ctx, req).await?))
}
