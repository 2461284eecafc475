//! The console at `/app`: a web app in the binary for the people who run
//! the bots. Pages are rendered on the server (maud) from the same services
//! and role checks as the API, so there is no second client to keep in step
//! and nothing to build but the binary; a small script (`console.js`) adds
//! drag-and-drop uploads with per-file progress, copy buttons and
//! confirmations, and every page works without it.

mod account;
mod audit;
mod auth;
mod bots;
mod conversations;
mod crawls;
mod knowledge;
mod links;
mod page;
mod playground;
mod preview;
mod session;
mod team;
mod usage;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};

use crate::app::AppState;

/// Console pages hold a tenant's data (and once, a new API key): no cache
/// keeps them.
async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn routes(state: AppState) -> Router {
    // Multipart framing adds a little to the files themselves.
    let upload_limit = (state.config.storage.max_upload_bytes as usize).saturating_add(64 * 1024);
    Router::new()
        .route("/app", get(auth::home))
        .route("/app/", get(auth::home))
        .route("/app/assets/console.css", get(page::css))
        .route("/app/assets/console.js", get(page::js))
        .route("/app/login", get(auth::login_page).post(auth::login))
        .route("/app/signup", get(auth::signup_page).post(auth::signup))
        .route("/app/login/mfa", post(auth::login_mfa))
        .route("/app/logout", post(auth::logout))
        .route(
            "/app/reset/request",
            get(links::request_page).post(links::request),
        )
        .route("/app/reset", get(links::reset_page).post(links::reset))
        .route("/app/verify", get(links::verify_page).post(links::verify))
        .route(
            "/app/invitation",
            get(links::invitation_page).post(links::accept),
        )
        .route("/app/bots", get(bots::list).post(bots::create))
        .route("/app/bots/{bot_id}", get(bots::show).post(bots::update))
        .route(
            "/app/bots/{bot_id}/delete",
            get(bots::confirm_delete).post(bots::delete),
        )
        .route("/app/bots/{bot_id}/preview", get(preview::page))
        .route("/app/bots/{bot_id}/preview/config", get(preview::config))
        .route("/app/bots/{bot_id}/preview/token", post(preview::token))
        .route("/app/bots/{bot_id}/knowledge", get(knowledge::list))
        .route("/app/bots/{bot_id}/texts", post(knowledge::add_text))
        .route(
            "/app/bots/{bot_id}/files",
            post(knowledge::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/app/documents/{document_id}/reingest",
            post(knowledge::reingest),
        )
        .route(
            "/app/documents/{document_id}/delete",
            post(knowledge::delete),
        )
        .route("/app/usage", get(usage::show))
        .route(
            "/app/bots/{bot_id}/playground",
            get(playground::show).post(playground::ask),
        )
        .route("/app/messages/{message_id}/trace", get(playground::trace))
        .route(
            "/app/messages/{message_id}/feedback",
            post(playground::feedback),
        )
        .route("/app/bots/{bot_id}/conversations", get(conversations::list))
        .route(
            "/app/conversations/{session_id}",
            get(conversations::transcript),
        )
        .route("/app/leads", get(conversations::leads))
        .route("/app/leads.csv", get(conversations::leads_csv))
        .route("/app/bots/{bot_id}/crawl", post(crawls::start))
        .route("/app/bots/{bot_id}/crawls/{job_id}", get(crawls::watch))
        .route(
            "/app/bots/{bot_id}/crawls/{job_id}/status",
            get(crawls::status),
        )
        .route("/app/documents/{document_id}", get(knowledge::document))
        .route("/app/audit", get(audit::show))
        .route("/app/account", get(account::show))
        .route("/app/account/password", post(account::change_password))
        .route("/app/team", get(team::show))
        .route("/app/team/users", post(team::add_user))
        .route("/app/team/users/{user_id}/role", post(team::set_role))
        .route("/app/team/users/{user_id}/delete", post(team::remove_user))
        .route("/app/team/keys", post(team::create_key))
        .route("/app/team/keys/{key_id}/revoke", post(team::revoke_key))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::renew,
        ))
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
}
