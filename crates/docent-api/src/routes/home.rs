//! What a browser finds at the server's root: a short page that says the
//! server runs and where to go next, and the guide it links to. Neither is
//! part of the API, so neither is in the OpenAPI document.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::app::AppState;

const HOME: &str = include_str!("../../assets/home.html");
const README: &str = include_str!("../../../../README.md");

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/readme", get(readme))
        .with_state(state)
}

/// The landing page; its example names this server by its public URL, else
/// by the `Host` it was asked on (only host characters pass into the page).
async fn home(State(state): State<AppState>, headers: HeaderMap) -> Html<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .map(|h| format!("http://{h}"));
    let origin = state
        .public_base
        .clone()
        .or(host)
        .unwrap_or_else(|| "http://localhost:8080".into());
    Html(
        HOME.replace("{version}", env!("CARGO_PKG_VERSION"))
            .replace("{origin}", &origin),
    )
}

/// The README this build was made from, as Markdown text.
async fn readme() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        README,
    )
}
