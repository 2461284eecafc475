//! Liveness, readiness and metrics.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Json, Router};
use serde::Serialize;
use tokio::sync::Mutex;
use utoipa::ToSchema;

use crate::app::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` when everything answers; `degraded` when the database, storage
    /// and queue answer but a model provider does not; else `unavailable`.
    pub status: &'static str,
    pub checks: Checks,
}

/// Each check is `ok` (the embedder's adds which one: `ok: hash-384`),
/// `error: <reason>`, `degraded: <what> (<reason>)` (the embedder: the
/// hashing fallback runs because the default model could not be had), or
/// `not_configured` (no LLM: chat answers extractively).
#[derive(Serialize, ToSchema)]
pub struct Checks {
    pub database: String,
    pub storage: String,
    pub queue: String,
    pub embedder: String,
    pub llm: String,
}

/// How long a probe of the model providers is reused: readiness is polled
/// every few seconds by each load balancer, and a probe is a request to a
/// service that may bill for it.
const PROBE_TTL: Duration = Duration::from_secs(5);

/// The model providers' last answers to a probe (embedder, LLM).
#[derive(Default)]
pub struct ProbeCache(Mutex<Option<(Instant, String, String)>>);

/// The embedder and LLM checks: each provider is asked whether it answers
/// (`GET …/models`, no model run), at most once per [`PROBE_TTL`].
async fn provider_checks(state: &AppState) -> (String, String) {
    let mut cached = state.probes.0.lock().await;
    if let Some((at, embedder, llm)) = cached.as_ref()
        && at.elapsed() < PROBE_TTL
    {
        return (embedder.clone(), llm.clone());
    }
    let embedder = state.embedder.id();
    let (embedder_probe, llm_probe) = tokio::join!(state.embedder.check(), async {
        match &state.llm {
            Some(llm) => Some(llm.check().await),
            None => None,
        }
    });
    // The embedder in use is named, so operators see which one they run; the
    // hashing fallback in place of the default model is degraded, with why.
    let embedder = match (&state.embedder_degraded, embedder_probe) {
        (_, Err(reason)) => format!("error: {embedder} ({reason})"),
        (Some(reason), Ok(())) => format!("degraded: {embedder} ({reason})"),
        (None, Ok(())) => format!("ok: {embedder}"),
    };
    let llm = match (&state.llm, llm_probe) {
        (Some(llm), Some(Err(reason))) => format!("error: {} ({reason})", llm.model()),
        (Some(llm), _) => format!("ok: {}", llm.model()),
        (None, _) => "not_configured".to_string(),
    };
    *cached = Some((Instant::now(), embedder.clone(), llm.clone()));
    (embedder, llm)
}

/// Readiness: 200 when the database, storage and queue answer, 503 otherwise.
/// The model providers are probed too; one that does not answer makes the
/// status `degraded` (still 200: every node shares the provider, so taking
/// nodes out of rotation would not help, and the rest of the API works).
#[utoipa::path(get, path = "/ready", tag = "ops", responses(
    (status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let database = match state.store().ping().await {
        Ok(()) => "ok".to_string(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            "error: database unreachable".to_string()
        }
    };
    let storage = match state.services.blob().check().await {
        Ok(()) => "ok".to_string(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: storage check failed");
            "error: object storage unreachable".to_string()
        }
    };
    let queue = match state.store().queue_depth().await {
        Ok(_) => "ok".to_string(),
        Err(_) => "error: job queue unreachable".to_string(),
    };
    let (embedder, llm) = provider_checks(&state).await;
    let healthy = database == "ok" && storage == "ok" && queue == "ok";
    let providers_up = !embedder.starts_with("error") && !llm.starts_with("error");
    let body = Readiness {
        status: match (healthy, providers_up) {
            (false, _) => "unavailable",
            (true, false) => "degraded",
            (true, true) => "ok",
        },
        checks: Checks {
            database,
            storage,
            queue,
            embedder,
            llm,
        },
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// `/metrics` sits outside `/api/v1` and outside the OpenAPI document: it is
/// for Prometheus, not for API clients. Anyone who can reach it sees the
/// service's own series; series labelled by tenant (usage per tenant) are
/// shown only with the operator's token (`Authorization: Bearer
/// $DOCENT_ADMIN_TOKEN`), so the public listener names no tenant.
pub fn metrics_route(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(
                |State(state): State<AppState>, headers: axum::http::HeaderMap| async move {
                    if let Ok(depth) = state.store().queue_depth().await {
                        metrics::gauge!("docent_jobs_queued").set(depth.queued as f64);
                        metrics::gauge!("docent_jobs_running").set(depth.running as f64);
                    }
                    state.metrics.run_upkeep();
                    let operator = crate::extractors::bearer_of(&headers)
                        .is_some_and(|t| state.services.require_operator(Some(t)).is_ok());
                    let text = state.metrics.render();
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        if operator {
                            text
                        } else {
                            without_tenants(&text)
                        },
                    )
                },
            ),
        )
        .with_state(state)
}

/// The exposition without samples labelled by tenant, and without the
/// `# HELP`/`# TYPE` lines of families left empty.
fn without_tenants(text: &str) -> String {
    let family = |line: &str| {
        line.split(['{', ' '])
            .next()
            .unwrap_or_default()
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count")
            .to_string()
    };
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains("tenant=\""))
        .collect();
    let families: std::collections::HashSet<String> = kept.iter().map(|l| family(l)).collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let keep = match line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
        {
            Some(rest) => families.contains(&family(rest)),
            None => line.is_empty() || (!line.starts_with('#') && !line.contains("tenant=\"")),
        };
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
