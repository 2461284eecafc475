//! The knowledge base: documents, files (multipart or signed upload URL),
//! crawls, and the jobs that ingest them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use docent_core::domain::{DocumentStatus, Job, StoredFile};
use docent_core::ids::{BotId, DocumentId, FileId, JobId};
use docent_core::store::DocumentFilter;
use docent_service::{
    CrawlRequest, DocumentAccepted, DocumentDetail, FileAccepted, JobAccepted, NewDocumentRequest,
    UploadParams, UploadTicket, UploadUrlRequest,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiResult, Created, created};
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{Auth, Id, Paging};

pub type Accepted<T> = (StatusCode, Json<T>);

fn accepted<T>(body: T) -> Accepted<T> {
    (StatusCode::ACCEPTED, Json(body))
}

/// Adds a document from text or JSON; it is ingested in the background.
#[utoipa::path(post, path = "/docs", tag = "knowledge", security(("bearer" = [])),
    request_body = NewDocumentRequest,
    responses((status = 202, body = DocumentAccepted), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_document(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<NewDocumentRequest>,
) -> ApiResult<Accepted<DocumentAccepted>> {
    let out = state.services.create_document(&ctx, req).await?;
    state.wake_workers();
    Ok(accepted(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentQuery {
    pub bot_id: Option<String>,
    /// `queued`, `processing`, `ready` or `failed`.
    pub status: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentList {
    pub documents: Vec<docent_core::domain::Document>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/docs", tag = "knowledge", security(("bearer" = [])),
    params(DocumentQuery, Paging),
    responses((status = 200, body = DocumentList), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_documents(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<DocumentQuery>,
    paging: Paging,
) -> ApiResult<Json<DocumentList>> {
    let filter = DocumentFilter {
        bot_id: match q.bot_id.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(
                raw.parse::<BotId>()
                    .map_err(|_| ApiError::invalid("`bot_id` is not a bot id"))?,
            ),
        },
        status: match q.status.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(DocumentStatus::parse(raw).ok_or_else(|| {
                ApiError::invalid("`status` must be queued, processing, ready or failed")
            })?),
        },
        title: None,
    };
    let page = state
        .services
        .list_documents(&ctx, &filter, &paging.page()?)
        .await?;
    Ok(Json(DocumentList {
        documents: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// A document with its chunks.
#[utoipa::path(get, path = "/docs/{doc_id}", tag = "knowledge", security(("bearer" = [])),
    params(("doc_id" = String, Path)),
    responses((status = 200, body = DocumentDetail), (status = 404, body = ErrorBody)))]
pub async fn get_document(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<DocumentId>,
) -> ApiResult<Json<DocumentDetail>> {
    Ok(Json(state.services.get_document(&ctx, id).await?))
}

/// Deletes a document; its chunks leave search results at once.
#[utoipa::path(delete, path = "/docs/{doc_id}", tag = "knowledge", security(("bearer" = [])),
    params(("doc_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_document(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<DocumentId>,
) -> ApiResult<StatusCode> {
    state.services.delete_document(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Extracts, chunks and embeds the document again.
#[utoipa::path(post, path = "/docs/{doc_id}/reingest", tag = "knowledge", security(("bearer" = [])),
    params(("doc_id" = String, Path)),
    responses((status = 202, body = JobAccepted), (status = 404, body = ErrorBody)))]
pub async fn reingest_document(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<DocumentId>,
) -> ApiResult<Accepted<JobAccepted>> {
    let out = state.services.reingest_document(&ctx, id).await?;
    state.wake_workers();
    Ok(accepted(out))
}

/// The multipart form of a file upload.
#[derive(ToSchema)]
#[allow(dead_code)] // describes the form for the spec; parsed by hand below
pub struct UploadForm {
    /// The file's bytes; its type is detected from them.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads a file as multipart form field `file`; its type is detected from
/// the content.
#[utoipa::path(post, path = "/bots/{bot_id}/files", tag = "knowledge", security(("bearer" = [])),
    params(("bot_id" = String, Path)),
    request_body(content_type = "multipart/form-data", content = UploadForm, description = "field `file`"),
    responses((status = 202, body = FileAccepted), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn upload_file(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(bot): Id<BotId>,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Accepted<FileAccepted>> {
    // The bot is checked before the body is read: another tenant's bot is a
    // 404 whatever was sent.
    state.services.get_bot(&ctx, bot).await?;
    let mut form = form.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let multipart_error =
        |e: axum::extract::multipart::MultipartError| ApiError::new(e.status(), e.body_text());
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("file") {
            continue;
        }
        let filename = field.file_name().unwrap_or("upload").to_string();
        let content_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let bytes = field.bytes().await.map_err(multipart_error)?;
        let out = state
            .services
            .upload_file(&ctx, bot, &filename, &content_type, bytes)
            .await?;
        state.wake_workers();
        return Ok(accepted(out));
    }
    Err(ApiError::invalid("the form has no `file` field"))
}

/// Returns a signed, expiring URL to PUT a file's bytes to, then
/// `POST /files/{file_id}/ingest`.
#[utoipa::path(post, path = "/bots/{bot_id}/upload-url", tag = "knowledge", security(("bearer" = [])),
    params(("bot_id" = String, Path)), request_body = UploadUrlRequest,
    responses((status = 201, body = UploadTicket), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn create_upload_url(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(bot): Id<BotId>,
    Json(req): Json<UploadUrlRequest>,
) -> ApiResult<Created<UploadTicket>> {
    let Some(base) = state.public_base.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "signed upload URLs need DOCENT_PUBLIC_URL when the server listens on a wildcard address",
        ));
    };
    Ok(created(
        state
            .services
            .create_upload_url(&ctx, bot, req, &base)
            .await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Uploaded {
    pub file_id: FileId,
    pub size_bytes: u64,
    /// Detected format.
    pub format: Option<String>,
}

impl From<StoredFile> for Uploaded {
    fn from(f: StoredFile) -> Self {
        Self {
            file_id: f.id,
            size_bytes: f.size_bytes,
            format: f.format,
        }
    }
}

/// Target of a local signed upload URL: the raw bytes as the body. The URL's
/// signature is the credential; a tampered or expired URL gets 403.
#[utoipa::path(put, path = "/uploads/{file_id}", tag = "knowledge",
    params(("file_id" = String, Path), ("tenant" = String, Query), ("max" = u64, Query),
        ("expires" = i64, Query), ("sig" = String, Query)),
    request_body(content_type = "application/octet-stream"),
    responses((status = 200, body = Uploaded), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn receive_upload(
    State(state): State<AppState>,
    Id(file): Id<FileId>,
    Query(params): Query<UploadParams>,
    body: Bytes,
) -> ApiResult<Json<Uploaded>> {
    Ok(Json(
        state
            .services
            .receive_upload(file, &params, body)
            .await?
            .into(),
    ))
}

/// Starts ingesting an uploaded file; 409 if its bytes have not arrived.
#[utoipa::path(post, path = "/files/{file_id}/ingest", tag = "knowledge", security(("bearer" = [])),
    params(("file_id" = String, Path)),
    responses((status = 202, body = DocumentAccepted), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn ingest_file(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(file): Id<FileId>,
) -> ApiResult<Accepted<DocumentAccepted>> {
    let out = state.services.ingest_file(&ctx, file).await?;
    state.wake_workers();
    Ok(accepted(out))
}

/// Crawls a website into the bot's knowledge base.
#[utoipa::path(post, path = "/bots/{bot_id}/crawl", tag = "knowledge", security(("bearer" = [])),
    params(("bot_id" = String, Path)), request_body = CrawlRequest,
    responses((status = 202, body = JobAccepted), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn start_crawl(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(bot): Id<BotId>,
    Json(req): Json<CrawlRequest>,
) -> ApiResult<Accepted<JobAccepted>> {
    let out = state.services.start_crawl(&ctx, bot, req).await?;
    state.wake_workers();
    Ok(accepted(out))
}

/// Status, attempts, last error and progress of a background job.
#[utoipa::path(get, path = "/jobs/{job_id}", tag = "knowledge", security(("bearer" = [])),
    params(("job_id" = String, Path)),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody)))]
pub async fn get_job(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Id(id): Id<JobId>,
) -> ApiResult<Json<Job>> {
    Ok(Json(state.services.get_job(&ctx, id).await?))
}
