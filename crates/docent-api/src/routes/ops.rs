//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Json, Router};
use serde::Serialize;
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
    /// `ok` when every required dependency answers, else `unavailable`.
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

/// Readiness: 200 when the database, storage and queue answer, 503 otherwise.
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
    // The embedder in use is named, so operators see which one they run; the
    // hashing fallback in place of the default model is degraded, with why.
    let embedder = match &state.embedder_degraded {
        Some(reason) => format!("degraded: {} ({reason})", state.embedder.id()),
        None => format!("ok: {}", state.embedder.id()),
    };
    let healthy = database == "ok" && storage == "ok" && queue == "ok";
    let body = Readiness {
        status: if healthy { "ok" } else { "unavailable" },
        checks: Checks {
            database,
            storage,
            queue,
            embedder,
            llm: state
                .llm
                .as_ref()
                .map_or("not_configured".into(), |l| format!("ok: {}", l.model())),
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
