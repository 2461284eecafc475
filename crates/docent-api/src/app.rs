//! Building and running the application. `App::build` is how `docent serve`,
//! the tests and the benchmarks all start the same server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use docent_core::auth::jwt::{JwtKeys, load_or_create_secret};
use docent_core::config::Config;
use docent_core::store::Store;
use docent_service::{Services, TokenSettings};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
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
}

impl AppState {
    pub fn store(&self) -> &Arc<dyn Store> {
        self.services.store()
    }
}

pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl App {
    /// Opens the database (migrating it), prepares secrets and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
        let store = docent_store::open(&config.database_url())
            .await
            .context("cannot open the database")?;
        let jwt_secret = match &config.jwt_secret {
            Some(secret) => secret.clone(),
            None => {
                let (secret, created) = load_or_create_secret(&config.data_dir)
                    .context("cannot read or create the JWT secret in the data dir")?;
                if created {
                    tracing::warn!(
                        path = %config.data_dir.join("jwt_secret").display(),
                        "DOCENT_JWT_SECRET is not set: generated a signing key in the data dir; \
                         set DOCENT_JWT_SECRET when running more than one API node"
                    );
                }
                secret
            }
        };
        let services = Services::new(
            store,
            JwtKeys::new(&jwt_secret),
            TokenSettings {
                access_ttl_secs: config.access_token_ttl_secs,
                refresh_ttl_secs: config.refresh_token_ttl_secs,
            },
        );
        let state = AppState {
            services,
            config: Arc::new(config.clone()),
            metrics: metrics::handle(),
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let router = router(state.clone());
        Ok(App {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(addr = %self.local_addr(), "listening");
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole route table with its middleware. Outermost first: request id,
/// tracing, id propagation to the response, error rendering, panic capture.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_json_body_bytes;
    let (api, spec) = openapi::routes()
        .with_state(state.clone())
        .split_for_parts();
    api.merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", spec))
        .merge(routes::ops::metrics_route(state))
        .fallback(|| async { error::ApiError::not_found() })
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(error::render_errors))
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

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
