//! The HTTP error type and the one place where errors become the contract's
//! error body `{"error": {"code", "message", "request_id"}}`.
//!
//! Handlers return [`ApiError`], which carries status, code and message in a
//! response extension. The [`render_errors`] middleware then writes every error
//! response (ours, axum's own extractor rejections, 404/405 from routing, 413
//! from the body limit, a caught panic) in the contract's shape, with the request
//! id, so no error escapes in another format.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use docent_service::{ErrorChain, ServiceError};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for the `Retry-After` header of a 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code_for(status),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429 with `Retry-After` (at least one second).
    pub fn rate_limited(retry_after: std::time::Duration) -> Self {
        let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        Self {
            retry_after: Some(secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("rate limit exceeded; retry in {secs} s"),
            )
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing, invalid or expired credential",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "resource not found")
    }
}

/// The contract's code for each status we answer with.
fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 405 | 422 => "invalid_request",
        401 => "unauthorized",
        402 => "quota_exceeded",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        503 => "unavailable",
        _ => "internal",
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(m) => ApiError::invalid(m),
            ServiceError::Unauthorized => ApiError::unauthorized(),
            ServiceError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, m),
            ServiceError::NotFound => ApiError::not_found(),
            ServiceError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
            ServiceError::TooLarge(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, m),
            ServiceError::UnsupportedType(m) => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, m)
            }
            ServiceError::Unavailable(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m),
            ServiceError::QuotaExceeded(m) => ApiError::new(StatusCode::PAYMENT_REQUIRED, m),
            ServiceError::RateLimited { class, retry_after } => {
                metrics::counter!("docent_rate_limited_total", "class" => class).increment(1);
                ApiError::rate_limited(retry_after)
            }
            ServiceError::Internal(cause) => {
                // Logged here, once, with the whole cause chain; the client
                // sees only the request id.
                tracing::error!(error = %ErrorChain(&*cause), "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE)
            }
        }
    }
}

const INTERNAL_MESSAGE: &str = "internal error; quote the request id when reporting it";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// Writes every error response in the contract's shape (see the module docs).
pub async fn render_errors(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    // The MCP transport answers JSON-RPC errors its clients read as they are.
    let mcp = request.uri().path() == "/mcp";
    let response = next.run(request).await;
    let status = response.status();
    if mcp && response.extensions().get::<ApiError>().is_none() {
        return response;
    }
    // The console's pages explain their own errors to a person.
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let error = match parts.extensions.remove::<ApiError>() {
        Some(error) => error,
        None if status.is_server_error() => {
            tracing::error!(%status, "unhandled server error");
            ApiError::new(status, INTERNAL_MESSAGE)
        }
        None => {
            // A rejection from axum itself (bad JSON, wrong content type, unknown
            // route, body too large): its plain-text message is useful to the client.
            let bytes = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            let message = if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text
            };
            ApiError::new(status, message)
        }
    };
    let body =
        json!({"error": {"code": error.code, "message": error.message, "request_id": request_id}});
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

/// The body of every error, for the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `invalid_request`, `unauthorized`, `forbidden`, `not_found`, ...
    pub code: String,
    pub message: String,
    pub request_id: String,
}
