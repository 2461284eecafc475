//! The HTTP application: the state every handler shares and the route
//! table with its middleware. The process around it (storage, workers, the
//! listener) is built by `docent::startup`.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use docent_core::config::Config;
use docent_core::embed::Embedder;
use docent_core::llm::ChatModel;
use docent_core::store::Store;
use docent_service::Services;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Notify;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::{error, metrics, openapi, routes};

/// Shared by every handler. Cheap to clone (everything inside is shared).
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub config: Arc<Config>,
    pub metrics: PrometheusHandle,
    pub embedder: Arc<dyn Embedder>,
    /// Why the embedder is the hashing fallback rather than a model, if so.
    pub embedder_degraded: Option<String>,
    pub llm: Option<Arc<dyn ChatModel>>,
    pub limiter: Arc<dyn docent_core::ratelimit::RateLimiter>,
    /// Wakes this process's idle workers after an enqueue.
    pub wake: Arc<Notify>,
    /// Where clients reach this server, for signed upload URLs:
    /// `DOCENT_PUBLIC_URL`, else the concrete address it listens on. `None`
    /// on a wildcard address without `DOCENT_PUBLIC_URL` (never taken from
    /// a request's `Host`, which the client chooses).
    pub public_base: Option<String>,
    /// The last probes of the model providers, reused for a few seconds.
    pub probes: Arc<crate::routes::ops::ProbeCache>,
}

impl AppState {
    pub fn store(&self) -> &Arc<dyn Store> {
        self.services.store()
    }

    pub fn wake_workers(&self) {
        self.wake.notify_waiters();
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole route table with its middleware. Outermost first: request id,
/// tracing, id propagation to the response, the widget's CORS, error
/// rendering, panic capture, body limit, rate limits, metrics.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.server.max_json_body_bytes;
    // Multipart framing adds a little to the file itself.
    let upload_limit = (state.config.storage.max_upload_bytes as usize).saturating_add(64 * 1024);
    let (api, mut spec) = openapi::routes(upload_limit)
        .with_state(state.clone())
        .split_for_parts();
    openapi::complete(&mut spec);
    api.merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", spec))
        .merge(routes::ops::metrics_route(state.clone()))
        .merge(routes::home::routes(state.clone()))
        .merge(crate::console::routes(state.clone()))
        .merge(crate::mcp::routes(state.clone()))
        .fallback(|| async { error::ApiError::not_found() })
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::ratelimit::enforce,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(error::render_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::cors::widget_cors,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                        tenant_id = tracing::field::Empty,
                    )
                }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
