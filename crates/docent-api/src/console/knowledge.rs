//! A bot's knowledge: its documents (status, chunks, size, error; filtered
//! by status, paged), files uploaded (many at once, each with its own
//! progress when scripts run, `console.js`), texts added, documents
//! re-ingested and deleted.

use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Redirect, Response};
use docent_core::domain::{Bot, Document, DocumentStatus};
use docent_core::ids::{BotId, DocumentId};
use docent_core::store::{DocumentFilter, PageRequest};
use docent_service::NewDocumentRequest;
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{csrf_field, explain, failed, notice, page, problem};
use super::session::{Console, csrf_ok};
use crate::app::AppState;
use crate::error::ApiError;

/// Documents per page of the table.
const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    /// Title contains.
    q: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
    error: Option<String>,
}

fn parse_status(s: Option<&str>) -> Option<DocumentStatus> {
    match s? {
        "queued" => Some(DocumentStatus::Queued),
        "processing" => Some(DocumentStatus::Processing),
        "ready" => Some(DocumentStatus::Ready),
        "failed" => Some(DocumentStatus::Failed),
        _ => None,
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

pub async fn list(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let bot = match super::bots::read_bot(&state, &who, &id).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = bot.id;
    let status = parse_status(q.status.as_deref());
    let filter = DocumentFilter {
        bot_id: Some(id),
        status,
        title: q
            .q
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from),
    };
    let page_req = PageRequest {
        limit: PAGE,
        after: q.cursor.clone(),
    };
    match state
        .services
        .list_documents(&who.ctx, &filter, &page_req)
        .await
    {
        Ok(docs) => {
            let body = body(&who, &bot, &docs.items, docs.next_cursor.as_deref(), &q);
            page(&format!("{} · knowledge", bot.name), Some(&who), body).into_response()
        }
        Err(e) => failed(&who, e.into()),
    }
}

fn body(who: &Console, bot: &Bot, docs: &[Document], next: Option<&str>, q: &ListQuery) -> Markup {
    let base = format!("/app/bots/{}/knowledge", bot.id);
    let status = q.status.as_deref().unwrap_or("");
    html! {
        p class="crumbs" { a href="/app/bots" { "Bots" } " / " (bot.name) }
        h1 { (bot.name) }
        (super::bots::tabs(bot, "knowledge"))
        (notice(q.error.as_deref(), q.done.as_deref()))
        @if who.can_edit() {
            section class="add" {
                h2 { "Add files" }
                form method="post" action={ "/app/bots/" (bot.id) "/files" } enctype="multipart/form-data" class="drop" data-upload {
                    (csrf_field(&who.csrf))
                    label for="files" { "PDF, Word, HTML, Markdown, text, CSV or JSON files" }
                    input id="files" name="file" type="file" multiple required;
                    p class="hint" { "Or drop files here." }
                    ul class="progress" aria-live="polite" {}
                    button type="submit" { "Upload" }
                }
                (super::crawls::form(bot, &who.csrf))
                h2 { "Add a text" }
                form method="post" action={ "/app/bots/" (bot.id) "/texts" } class="stack" {
                    (csrf_field(&who.csrf))
                    label for="title" { "Title" }
                    input id="title" name="title" required maxlength="500";
                    label for="text" { "Text (plain, Markdown or HTML)" }
                    textarea id="text" name="text" rows="5" required {}
                    label for="source_url" { "Link shown with citations (optional)" }
                    input id="source_url" name="source_url" type="url";
                    button type="submit" { "Add text" }
                }
            }
        }
        h2 { "Documents" }
        form method="get" action=(base) class="inline" {
            label for="q" { "Title contains" }
            input id="q" name="q" type="search" value=(q.q.as_deref().unwrap_or(""));
            label for="status" { "Status" }
            select id="status" name="status" {
                option value="" selected[status.is_empty()] { "any" }
                @for s in ["queued", "processing", "ready", "failed"] {
                    option value=(s) selected[status == s] { (s) }
                }
            }
            button type="submit" class="secondary" { "Filter" }
        }
        @if docs.is_empty() {
            p class="empty" {
                @if q.q.as_deref().is_some_and(|t| !t.trim().is_empty()) { "No document title holds “" (q.q.as_deref().unwrap_or("")) "”." }
                @else if status.is_empty() { "No document yet." }
                @else { "No document is " (status) "." }
            }
        } @else {
            div class="scroll" {
                table class="list" data-documents {
                    caption class="hidden" { "Documents of " (bot.name) }
                    thead { tr {
                        th scope="col" { "Title" } th scope="col" { "Status" } th scope="col" { "Format" }
                        th scope="col" { "Chunks" } th scope="col" { "Size" } th scope="col" { "Updated" }
                        @if who.can_edit() { th scope="col" { span class="hidden" { "Actions" } } }
                    } }
                    tbody {
                        @for d in docs {
                            tr data-status=(d.status.as_str()) {
                                td {
                                    a href={ "/app/documents/" (d.id) } { (d.title) }
                                    @if let Some(e) = &d.error { p class="error-text" { (e) } }
                                }
                                td { span class={ "badge " (d.status.as_str()) } { (d.status.as_str()) } }
                                td { (d.format) }
                                td { (d.chunk_count) }
                                td { (size(d.size_bytes)) }
                                td { (d.updated_at.format("%Y-%m-%d %H:%M")) }
                                @if who.can_edit() {
                                    td class="actions" {
                                        form method="post" action={ "/app/documents/" (d.id) "/reingest" } {
                                            (csrf_field(&who.csrf))
                                            button type="submit" class="link" { "Re-ingest" span class="hidden" { " " (d.title) } }
                                        }
                                        form method="post" action={ "/app/documents/" (d.id) "/delete" } data-confirm={ "Delete " (d.title) "?" } {
                                            (csrf_field(&who.csrf))
                                            button type="submit" class="link danger" { "Delete" span class="hidden" { " " (d.title) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a rel="next" href=(next_page(&base, status, q.q.as_deref(), next)) { "Next " (PAGE) " documents" } }
            }
        }
    }
}

/// The next page's address, with the same filters.
fn next_page(base: &str, status: &str, title: Option<&str>, cursor: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("status", status)
        .append_pair("q", title.unwrap_or(""))
        .append_pair("cursor", cursor)
        .finish();
    format!("{base}?{query}")
}

fn back(bot: BotId, key: &str, message: &str) -> Response {
    let message: String = url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
    Redirect::to(&format!("/app/bots/{bot}/knowledge?{key}={message}")).into_response()
}

#[derive(Deserialize)]
pub struct TextForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    source_url: String,
}

pub async fn add_text(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
    Form(form): Form<TextForm>,
) -> Response {
    if !csrf_ok(&who.csrf, &form.csrf) {
        return super::page::forbidden("The form expired; reload the page.");
    }
    let Ok(id) = id.parse::<BotId>() else {
        return problem(StatusCode::NOT_FOUND, Some(&who), "There is no such bot.");
    };
    let source_url = Some(form.source_url.trim().to_string()).filter(|s| !s.is_empty());
    let req = NewDocumentRequest {
        bot_id: id,
        title: form.title,
        text: Some(form.text),
        content: None,
        source_url,
        metadata: None,
    };
    match state.services.create_document(&who.ctx, req).await {
        Ok(accepted) => {
            state.wake_workers();
            back(
                id,
                "done",
                &format!("“{}” is being ingested.", accepted.document.title),
            )
        }
        Err(e) => back(id, "error", &explain(&ApiError::from(e))),
    }
}

/// One file per request from the page's script (which shows each file's
/// progress), or every file of the form without scripts. A script asks for
/// JSON with `Accept: application/json`.
pub async fn upload(
    State(state): State<AppState>,
    who: Console,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let json = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let Ok(id) = id.parse::<BotId>() else {
        return problem(StatusCode::NOT_FOUND, Some(&who), "There is no such bot.");
    };
    let answer = |result: Result<String, ApiError>| -> Response {
        match (result, json) {
            (Ok(done), true) => Json(serde_json::json!({"message": done})).into_response(),
            (Err(e), true) => {
                (e.status, Json(serde_json::json!({"message": explain(&e)}))).into_response()
            }
            (Ok(done), false) => back(id, "done", &done),
            (Err(e), false) => back(id, "error", &explain(&e)),
        }
    };
    let mut form = match form {
        Ok(f) => f,
        Err(e) => return answer(Err(ApiError::new(e.status(), e.body_text()))),
    };
    let mut csrf_checked = false;
    let mut names = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return answer(Err(ApiError::new(e.status(), e.body_text()))),
        };
        match field.name() {
            // The token comes first in the form: nothing is read before it.
            Some("csrf") => {
                let token = field.text().await.unwrap_or_default();
                if !csrf_ok(&who.csrf, &token) {
                    return answer(Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "the form expired; reload the page",
                    )));
                }
                csrf_checked = true;
            }
            Some("file") if csrf_checked => {
                let filename = field.file_name().unwrap_or("upload").to_string();
                if filename.is_empty() {
                    continue;
                }
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = match field.bytes().await {
                    Ok(b) => b,
                    Err(e) => return answer(Err(ApiError::new(e.status(), e.body_text()))),
                };
                match state
                    .services
                    .upload_file(&who.ctx, id, &filename, &content_type, bytes)
                    .await
                {
                    Ok(_) => {
                        state.wake_workers();
                        names.push(filename);
                    }
                    Err(e) => {
                        let e = ApiError::from(e);
                        let message = format!("{filename}: {}", explain(&e));
                        return answer(Err(ApiError::new(e.status, message)));
                    }
                }
            }
            Some("file") => {
                return answer(Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "the form expired; reload the page",
                )));
            }
            _ => {}
        }
    }
    if names.is_empty() {
        return answer(Err(ApiError::invalid("choose at least one file")));
    }
    answer(Ok(format!("{} is being ingested.", names.join(", "))))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn document_bot(
    state: &AppState,
    who: &Console,
    id: &str,
) -> Result<(DocumentId, BotId), Response> {
    let Ok(id) = id.parse::<DocumentId>() else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            Some(who),
            "There is no such document.",
        ));
    };
    match state.services.get_document(&who.ctx, id).await {
        Ok(d) => Ok((id, d.document.bot_id)),
        Err(e) => Err(failed(who, e.into())),
    }
}

pub async fn reingest(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    document_action(&state, &who, &id, &form, async |doc| {
        state.services.reingest_document(&who.ctx, doc).await?;
        state.wake_workers();
        Ok("The document is being ingested again.")
    })
    .await
}

pub async fn delete(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    document_action(&state, &who, &id, &form, async |doc| {
        state.services.delete_document(&who.ctx, doc).await?;
        Ok("The document is deleted.")
    })
    .await
}

/// A form's action on one document (its token checked, the document read
/// in the caller's tenant), answered on its bot's knowledge page.
async fn document_action(
    state: &AppState,
    who: &Console,
    id: &str,
    form: &CsrfForm,
    action: impl AsyncFnOnce(DocumentId) -> Result<&'static str, docent_service::ServiceError>,
) -> Response {
    if !csrf_ok(&who.csrf, &form.csrf) {
        return super::page::forbidden("The form expired; reload the page.");
    }
    let (doc, bot) = match document_bot(state, who, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match action(doc).await {
        Ok(done) => back(bot, "done", done),
        Err(e) => back(bot, "error", &explain(&ApiError::from(e))),
    }
}

/// One document: what it is, its error if it failed, and its passages as
/// search sees them (text, page, heading, tokens).
pub async fn document(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<DocumentId>() else {
        return problem(
            StatusCode::NOT_FOUND,
            Some(&who),
            "There is no such document.",
        );
    };
    let detail = match state.services.get_document(&who.ctx, id).await {
        Ok(d) => d,
        Err(e) => return failed(&who, e.into()),
    };
    let d = &detail.document;
    let body = html! {
        p class="crumbs" { a href="/app/bots" { "Bots" } " / " a href={ "/app/bots/" (d.bot_id) "/knowledge" } { "knowledge" } }
        h1 { (d.title) }
        p {
            span class={ "badge " (d.status.as_str()) } { (d.status.as_str()) }
            " " (d.format) ", " (size(d.size_bytes)) ", " (d.chunk_count) " passages"
            @if let Some(url) = &d.source_url { ", from " a href=(url) rel="noopener noreferrer" { (url) } }
        }
        @if let Some(e) = &d.error { p class="notice error" role="alert" { (e) } }
        h2 { "Passages" }
        @if detail.chunks.is_empty() {
            p class="empty" { "No passage (yet)." }
        } @else {
            ol class="chunks" data-chunks {
                @for c in &detail.chunks {
                    li {
                        p class="note" {
                            "#" (c.index + 1) ", " (c.token_count) " tokens"
                            @if let Some(p) = c.page { ", page " (p) }
                            @if let Some(h) = &c.heading { ", under “" (h) "”" }
                        }
                        p class="passage" { (c.text) }
                    }
                }
            }
        }
    };
    page(&d.title, Some(&who), body).into_response()
}
