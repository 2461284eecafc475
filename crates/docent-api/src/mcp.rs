//! The Model Context Protocol server at `/mcp`: a tenant's bots as tools
//! and resources for AI assistants, over the streamable HTTP transport of
//! the official Rust SDK (rmcp), stateless (every request stands alone, so
//! any API node answers it), with JSON answers.
//!
//! Authentication is the API's: a bearer API key or user access token, read
//! by a layer before the SDK sees the request (401 with `WWW-Authenticate:
//! Bearer` otherwise; embed tokens are refused). The tools call the same
//! services, with the same role checks and tenant scoping, as the REST
//! routes:
//! - `list_bots`: the tenant's bots;
//! - `search`: a bot's passages for a query, ranked, with scores;
//! - `ask`: a bot's cited answer (or its "I don't know");
//! - resources `docent://documents/{id}`: a document's text, passage by
//!   passage, listed per bot.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use docent_core::domain::DocumentStatus;
use docent_core::ids::{BotId, DocumentId};
use docent_core::store::{DocumentFilter, PageRequest};
use docent_service::{AskRequest, Ctx, SearchRequest, ServiceError, Services};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::ApiError;
use crate::extractors::Auth;

/// Documents listed as resources at most, across the tenant's bots.
const MAX_RESOURCES: usize = 1_000;
/// Longest request body the endpoint reads.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// The caller, as the authentication layer found it.
#[derive(Clone)]
struct Caller(Ctx);

/// The `/mcp` service: the SDK's transport around [`DocentMcp`].
pub fn service(state: &AppState) -> StreamableHttpService<DocentMcp, NeverSessionManager> {
    let services = state.services.clone();
    // Every request carries its credential, checked before the SDK runs, so
    // the loopback-only `Host` check (against DNS rebinding of
    // unauthenticated local servers) would only refuse real hosts.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .disable_allowed_hosts()
        .with_max_request_body_bytes(MAX_BODY_BYTES);
    StreamableHttpService::new(
        move || {
            Ok(DocentMcp {
                services: services.clone(),
            })
        },
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// `/mcp`, behind the API's authentication.
pub fn routes(state: AppState) -> axum::Router {
    axum::Router::new()
        .route_service("/mcp", service(&state))
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
}

/// Authenticates every `/mcp` request as the API does.
pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    match Auth::from_request_parts(&mut parts, &state).await {
        Ok(Auth(ctx)) => {
            parts.extensions.insert(Caller(ctx));
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => {
            let mut response = e.into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"docent\""),
            );
            response
        }
    }
}

#[derive(Clone)]
pub struct DocentMcp {
    services: Services,
}

fn caller(context: &RequestContext<RoleServer>) -> Result<Ctx, ErrorData> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<Caller>())
        .map(|c| c.0.clone())
        .ok_or_else(|| ErrorData::internal_error("the request was not authenticated", None))
}

/// A service refusal as the tool's error result (the assistant reads it),
/// with the API's words for it.
fn refusal(e: ServiceError) -> CallToolResult {
    let e = ApiError::from(e);
    CallToolResult::error(vec![ContentBlock::text(format!(
        "{}: {}",
        e.code, e.message
    ))])
}

fn schema(value: Value) -> Arc<serde_json::Map<String, Value>> {
    Arc::new(value.as_object().cloned().unwrap_or_default())
}

fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "list_bots",
            "The bots of this Docent tenant: id, name and description.",
            schema(json!({"type": "object", "properties": {}})),
        ),
        Tool::new(
            "search",
            "Search a bot's knowledge base: the passages that best match the query, ranked, \
             each with its document, score and text.",
            schema(json!({
                "type": "object",
                "properties": {
                    "bot_id": {"type": "string", "description": "The bot, from list_bots"},
                    "query": {"type": "string"},
                    "top_k": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5}
                },
                "required": ["bot_id", "query"]
            })),
        ),
        Tool::new(
            "ask",
            "Ask a bot a question: its answer grounded in its knowledge base, with numbered \
             citations, or a plain statement that it does not know.",
            schema(json!({
                "type": "object",
                "properties": {
                    "bot_id": {"type": "string", "description": "The bot, from list_bots"},
                    "question": {"type": "string"}
                },
                "required": ["bot_id", "question"]
            })),
        ),
    ]
}

fn text_arg(args: &serde_json::Map<String, Value>, name: &str) -> Result<String, CallToolResult> {
    args.get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            CallToolResult::error(vec![ContentBlock::text(format!("`{name}` is needed"))])
        })
}

fn bot_arg(args: &serde_json::Map<String, Value>) -> Result<BotId, CallToolResult> {
    text_arg(args, "bot_id")?.parse().map_err(|_| {
        CallToolResult::error(vec![ContentBlock::text(
            "`bot_id` is not a bot id".to_string(),
        )])
    })
}

/// The JSON text of a tool's result.
fn json_result(value: Value) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(value.to_string())])
}

impl DocentMcp {
    async fn list_bots(&self, ctx: &Ctx) -> CallToolResult {
        let page = PageRequest {
            limit: 200,
            after: None,
        };
        match self.services.list_bots(ctx, &page).await {
            Ok(bots) => json_result(json!({"bots": bots.items.iter().map(|b| json!({
                "id": b.id, "name": b.name, "description": b.description,
            })).collect::<Vec<_>>()})),
            Err(e) => refusal(e),
        }
    }

    async fn search(&self, ctx: &Ctx, args: &serde_json::Map<String, Value>) -> CallToolResult {
        let (bot, query) = match (bot_arg(args), text_arg(args, "query")) {
            (Ok(b), Ok(q)) => (b, q),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        let top_k = args
            .get("top_k")
            .and_then(Value::as_u64)
            .map(|k| k.min(50) as u32);
        let req = SearchRequest {
            query,
            top_k,
            mode: None,
            min_score: None,
            rerank: None,
            explain: None,
        };
        match self.services.search(ctx, bot, req).await {
            Ok(found) => json_result(json!({"results": found.results})),
            Err(e) => refusal(e),
        }
    }

    async fn ask(&self, ctx: &Ctx, args: &serde_json::Map<String, Value>) -> CallToolResult {
        let (bot, question) = match (bot_arg(args), text_arg(args, "question")) {
            (Ok(b), Ok(q)) => (b, q),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        let req = AskRequest {
            bot_id: bot,
            message: question,
            session_id: None,
            stream: false,
            history: Vec::new(),
        };
        match self.services.ask(ctx, req).await {
            Ok(answer) => {
                let mut text = answer.answer.clone();
                for c in &answer.citations {
                    text.push_str(&format!("\n[{}] {}", c.n, c.title));
                    if let Some(url) = &c.source_url {
                        text.push_str(&format!(" <{url}>"));
                    }
                }
                let detail = json!({
                    "answered": answer.answered, "citations": answer.citations,
                    "session_id": answer.session_id, "message_id": answer.message_id,
                });
                CallToolResult::success(vec![
                    ContentBlock::text(text),
                    ContentBlock::text(detail.to_string()),
                ])
            }
            Err(e) => refusal(e),
        }
    }
}

const DOCUMENT_URI: &str = "docent://documents/";

impl ServerHandler for DocentMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("docent", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Docent bots answer from their own knowledge bases. Call list_bots first; then \
             search a bot's passages, or ask it for a cited answer. Each ready document is a \
             resource.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        caller(&context)?;
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let ctx = caller(&context)?;
        let args = request.arguments.unwrap_or_default();
        let result = match request.name.as_ref() {
            "list_bots" => self.list_bots(&ctx).await,
            "search" => self.search(&ctx, &args).await,
            "ask" => self.ask(&ctx, &args).await,
            other => {
                return Err(ErrorData::invalid_params(
                    format!(
                        "no tool named `{}`",
                        other.chars().take(60).collect::<String>()
                    ),
                    None,
                ));
            }
        };
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let ctx = caller(&context)?;
        let filter = DocumentFilter {
            status: Some(DocumentStatus::Ready),
            ..Default::default()
        };
        let mut resources = Vec::new();
        let mut after = None;
        while resources.len() < MAX_RESOURCES {
            let page = PageRequest { limit: 200, after };
            let docs = self
                .services
                .list_documents(&ctx, &filter, &page)
                .await
                .map_err(|e| ErrorData::internal_error(ApiError::from(e).message, None))?;
            for d in docs.items {
                resources.push(
                    Resource::new(format!("{DOCUMENT_URI}{}", d.id), d.title.clone())
                        .with_title(d.title)
                        .with_description(format!("A document of bot {}", d.bot_id))
                        .with_mime_type("text/plain"),
                );
            }
            match docs.next_cursor {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        resources.truncate(MAX_RESOURCES);
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let ctx = caller(&context)?;
        let not_found = || ErrorData::resource_not_found("no such document", None);
        let id: DocumentId = request
            .uri
            .strip_prefix(DOCUMENT_URI)
            .and_then(|id| id.parse().ok())
            .ok_or_else(not_found)?;
        let detail = match self.services.get_document(&ctx, id).await {
            Ok(detail) => detail,
            Err(ServiceError::NotFound) => return Err(not_found()),
            Err(e) => return Err(ErrorData::internal_error(ApiError::from(e).message, None)),
        };
        let text = detail
            .chunks
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, request.uri)]).into())
    }
}
