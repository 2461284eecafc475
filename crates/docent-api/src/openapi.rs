//! The OpenAPI document, generated from the handlers' annotations: the route
//! table below is both the router and the spec, so they cannot drift apart.

use axum::extract::DefaultBodyLimit;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::app::AppState;
use crate::routes::{
    admin, api_keys, auth, bots, chat, knowledge, leads, openai, ops, platform, search, users,
    widget,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Docent API", description = "Multi-tenant RAG chatbot server. \
        Errors: `{\"error\": {\"code\", \"message\", \"request_id\"}}`; lists take `limit` and `cursor`."),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A user access token (JWT), an API key (`dct_…`) or an embed token",
                    ))
                    .build(),
            ),
        );
    }
}

/// `upload_limit`: body limit of the file upload routes (the file size limit
/// plus room for multipart framing).
pub fn routes(upload_limit: usize) -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(ops::health))
        .routes(routes!(ops::ready))
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(users::create, users::list))
        .routes(routes!(users::update, users::delete))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(bots::create, bots::list))
        .routes(routes!(bots::get, bots::update, bots::delete))
        .routes(routes!(
            knowledge::create_document,
            knowledge::list_documents
        ))
        .routes(routes!(knowledge::get_document, knowledge::delete_document))
        .routes(routes!(knowledge::reingest_document))
        .routes(routes!(knowledge::upload_file).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(knowledge::create_upload_url))
        .routes(routes!(knowledge::receive_upload).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(knowledge::ingest_file))
        .routes(routes!(knowledge::start_crawl))
        .routes(routes!(knowledge::get_job))
        .routes(routes!(search::search))
        .routes(routes!(admin::audit_logs))
        .routes(routes!(admin::usage))
        .routes(routes!(platform::set_plan))
        .routes(routes!(chat::ask))
        .routes(routes!(chat::chat_ws))
        .routes(routes!(chat::list_sessions))
        .routes(routes!(chat::session_messages))
        .routes(routes!(widget::config))
        .routes(routes!(widget::token))
        .routes(routes!(widget::embed_token))
        .routes(routes!(leads::create, leads::list));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .routes(routes!(openai::chat_completions))
        .routes(routes!(openai::models))
        .routes(routes!(widget::script))
}
