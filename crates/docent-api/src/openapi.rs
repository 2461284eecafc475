//! The OpenAPI document, generated from the handlers' annotations: the route
//! table below is both the router and the spec, so they cannot drift apart.

use axum::extract::DefaultBodyLimit;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::app::AppState;
use crate::routes::{
    admin, analytics, api_keys, auth, bots, chat, email_flows, knowledge, leads, openai, ops,
    platform, search, users, webhooks, widget,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Docent API", description = "Multi-tenant RAG chatbot server. \
        Errors: `{\"error\": {\"code\", \"message\", \"request_id\"}}`; lists take `limit` and `cursor`. \
        Beside these routes: `/mcp`, the Model Context Protocol server (streamable HTTP, \
        an API key as bearer; tools `list_bots`, `search`, `ask`, documents as resources), \
        and webhook deliveries (`POST` to each endpoint, signed as Standard Webhooks says: \
        `webhook-id`, `webhook-timestamp`, `webhook-signature`; body `{type, timestamp, data}`; \
        the events and their `data` are in the README)."),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// The error answers every operation of a kind can give, added to each so
/// the spec lists every status the server sends (a fuzzer checks it):
/// 401 where a credential is needed, 400 (unparsable JSON or query string),
/// 415 (a JSON body without `Content-Type: application/json`) and 422 (a
/// body of the wrong shape) where a JSON body is taken, 400 and 422 where
/// query parameters are parsed, and 429 on every rate-limited route.
struct CommonResponses;

/// Finishes the spec once every route is in it (modifiers of the base
/// document run before the routes are added).
pub fn complete(spec: &mut utoipa::openapi::OpenApi) {
    CommonResponses.modify(spec);
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let limited = (path.starts_with("/api/v1/") || path.starts_with("/v1/"))
                && !matches!(path.as_str(), "/api/v1/health" | "/api/v1/ready");
            let operations = [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ];
            for op in operations.into_iter().flatten() {
                let json_body = op.request_body.as_ref().is_some_and(|b| match b {
                    utoipa::openapi::RefOr::T(body) => {
                        body.content.contains_key("application/json")
                    }
                    utoipa::openapi::RefOr::Ref(_) => true,
                });
                let has_body = op.request_body.is_some();
                let query = op.parameters.as_ref().is_some_and(|ps| {
                    ps.iter().any(|p| {
                        matches!(p, utoipa::openapi::RefOr::T(p)
                            if p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
                    })
                });
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut add = |status: &str, why: &str| {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_response(why));
                };
                if secured {
                    add("401", "missing, invalid or expired credential");
                }
                if has_body {
                    add("400", "the body could not be parsed");
                }
                if json_body {
                    add("415", "the body is not `application/json`");
                    add("422", "the body is not valid for this operation");
                }
                if query {
                    add("400", "the query string could not be parsed");
                    add("422", "a query parameter is out of range");
                }
                if limited {
                    add("429", "rate limited; see `Retry-After`");
                }
            }
        }
    }
}

fn error_response(
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::response::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

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
        .routes(routes!(auth::mfa, auth::mfa_disable))
        .routes(routes!(auth::mfa_setup))
        .routes(routes!(auth::mfa_enable))
        .routes(routes!(email_flows::request_reset))
        .routes(routes!(email_flows::confirm_reset))
        .routes(routes!(email_flows::verify))
        .routes(routes!(email_flows::resend))
        .routes(routes!(email_flows::invite))
        .routes(routes!(email_flows::accept))
        .routes(routes!(users::create, users::list))
        .routes(routes!(users::update, users::delete))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(bots::create, bots::list))
        .routes(routes!(bots::get, bots::update, bots::delete))
        .routes(routes!(bots::status))
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
        .routes(routes!(admin::usage_daily))
        .routes(routes!(platform::set_plan))
        .routes(routes!(chat::ask))
        .routes(routes!(chat::chat_ws))
        .routes(routes!(chat::list_sessions))
        .routes(routes!(chat::session_messages))
        .routes(routes!(chat::message_trace))
        .routes(routes!(chat::message_feedback))
        .routes(routes!(analytics::bot_analytics))
        .routes(routes!(analytics::export_conversations))
        .routes(routes!(widget::config))
        .routes(routes!(widget::token))
        .routes(routes!(widget::embed_token))
        .routes(routes!(leads::create, leads::list))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::redeliver));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .routes(routes!(openai::chat_completions))
        .routes(routes!(openai::models))
        .routes(routes!(widget::script))
}
