//! The knowledge base: documents from text, uploaded files (directly or through
//! a signed URL), crawls; their jobs; reading and deleting them.

use std::collections::HashMap;
use std::time::Duration;

use crate::sha256_hex;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use docent_core::auth::upload::{UploadGrant, UploadUrlError};
use docent_core::domain::{
    ChunkView, Document, DocumentStatus, Job, JobSpec, NewJob, Role, SourceType, StoredFile,
    UsageKind,
};
use docent_core::ids::{BotId, DocumentId, FileId, JobId, TenantId};
use docent_core::store::{DocumentFilter, Page, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Ctx, ServiceError, ServiceResult, Services, limit_len};

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDocumentRequest {
    pub bot_id: BotId,
    pub title: String,
    /// Plain text, Markdown or HTML (detected from the content).
    pub text: Option<String>,
    /// Any JSON; indexed as `path: value` lines.
    #[schema(value_type = Option<Object>)]
    pub content: Option<serde_json::Value>,
    pub source_url: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentAccepted {
    pub document: Document,
    pub job_id: JobId,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileAccepted {
    pub file_id: FileId,
    pub document: Document,
    pub job_id: JobId,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobAccepted {
    pub job_id: JobId,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UploadUrlRequest {
    pub filename: String,
    pub content_type: String,
    pub size_bytes: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadTicket {
    pub file_id: FileId,
    /// PUT the raw bytes here before `expires_at`.
    pub upload_url: String,
    /// Always `PUT`.
    pub method: &'static str,
    /// Headers to send with the PUT.
    pub headers: HashMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// The query string of a local signed upload URL.
#[derive(Debug, Deserialize)]
pub struct UploadParams {
    pub tenant: TenantId,
    pub max: u64,
    pub expires: i64,
    pub sig: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CrawlRequest {
    /// Start page (http or https).
    pub url: String,
    pub max_pages: Option<u32>,
    pub max_depth: Option<u32>,
    /// Globs on the URL path to keep, e.g. `/docs/**`; empty keeps all.
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentDetail {
    pub document: Document,
    pub chunks: Vec<ChunkView>,
}

pub(crate) fn bot_prefix(tenant: TenantId, bot: BotId) -> String {
    format!("{tenant}/{bot}")
}

/// The format name of a source, or 415 naming what is supported.
fn detect_format(bytes: &[u8], filename: Option<&str>) -> ServiceResult<&'static str> {
    docent_ingest::detect(bytes, filename)
        .map(|k| k.as_str())
        .ok_or_else(|| {
            ServiceError::UnsupportedType(
                "unsupported file type: send PDF, DOCX, HTML, Markdown, plain text, CSV or JSON"
                    .into(),
            )
        })
}

impl Services {
    fn check_size(&self, size: u64) -> ServiceResult<()> {
        if size > self.settings.max_upload_bytes {
            return Err(ServiceError::TooLarge(format!(
                "the file is {size} bytes; the limit is {} bytes",
                self.settings.max_upload_bytes
            )));
        }
        if size == 0 {
            return Err(ServiceError::Invalid("the file is empty".into()));
        }
        Ok(())
    }

    fn ingest_job(&self, tenant: TenantId, document: DocumentId) -> NewJob {
        NewJob {
            max_attempts: self.settings.job_max_attempts,
            ..NewJob::new(
                tenant,
                JobSpec::IngestDocument {
                    document_id: document,
                },
            )
        }
    }

    /// What a new document takes of the plan: one document and its bytes.
    async fn reserve_document(
        &self,
        tenant: TenantId,
        size: u64,
    ) -> ServiceResult<crate::usage::Reservation> {
        self.meter
            .reserve_guarded(
                tenant,
                &[(UsageKind::Documents, 1), (UsageKind::StorageBytes, size)],
            )
            .await
    }

    /// Runs `work` under a reservation made for it: kept (and recorded in
    /// the ledger) when the work succeeds, given back when it fails.
    async fn under_reservation<T>(
        &self,
        tenant: TenantId,
        bot: BotId,
        reservation: crate::usage::Reservation,
        work: impl std::future::Future<Output = ServiceResult<T>>,
    ) -> ServiceResult<T> {
        // Cancelled half-way, the future is dropped with the guard, which
        // releases the reservation.
        match work.await {
            Ok(done) => {
                let items: Vec<(UsageKind, u64)> = reservation
                    .charges()
                    .iter()
                    .map(|c| (c.kind, c.amount))
                    .collect();
                reservation.commit();
                self.meter.record(tenant, Some(bot), &items).await;
                Ok(done)
            }
            Err(e) => {
                reservation.release().await;
                Err(e)
            }
        }
    }

    /// Stores the source bytes, then the document row with its job. If the row
    /// cannot be written the bytes are removed again: nothing is left half-done.
    async fn store_document(
        &self,
        doc: &Document,
        file: Option<&StoredFile>,
        bytes: Bytes,
    ) -> ServiceResult<JobId> {
        self.blob.put(&doc.object_key, bytes).await?;
        let job = self.ingest_job(doc.tenant_id, doc.id);
        if let Err(e) = self.store.create_document(doc, file, &job).await {
            let _ = self.blob.delete(&doc.object_key).await;
            return Err(e.into());
        }
        Ok(job.id)
    }

    pub async fn create_document(
        &self,
        ctx: &Ctx,
        req: NewDocumentRequest,
    ) -> ServiceResult<DocumentAccepted> {
        ctx.actor.require(Role::Editor)?;
        let tenant = ctx.actor.tenant_id;
        self.store.get_bot(tenant, req.bot_id).await?;
        limit_len("title", &req.title, 1, 500)?;
        let (bytes, source_type, format) = match (req.text, req.content) {
            (Some(text), None) => {
                if text.trim().is_empty() {
                    return Err(ServiceError::Invalid("`text` is empty".into()));
                }
                let format = docent_ingest::detect(text.as_bytes(), None)
                    .map(|k| k.as_str())
                    .unwrap_or("text");
                (Bytes::from(text), SourceType::Text, format)
            }
            (None, Some(content)) => (Bytes::from(content.to_string()), SourceType::Json, "json"),
            _ => {
                return Err(ServiceError::Invalid(
                    "give exactly one of `text` and `content`".into(),
                ));
            }
        };
        self.check_size(bytes.len() as u64)?;
        // Shown to visitors as a link: http(s) only (no `javascript:`).
        if let Some(url) = &req.source_url {
            let parsed = url::Url::parse(url.trim())
                .map_err(|e| ServiceError::Invalid(format!("`source_url` is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") || url.len() > 2048 {
                return Err(ServiceError::Invalid(
                    "`source_url` must be an http or https URL of at most 2048 bytes".into(),
                ));
            }
        }
        let metadata = req.metadata.unwrap_or_else(|| serde_json::json!({}));
        if !metadata.is_object() {
            return Err(ServiceError::Invalid(
                "`metadata` must be a JSON object".into(),
            ));
        }
        let id = DocumentId::new();
        let now = Utc::now();
        let doc = Document {
            id,
            tenant_id: tenant,
            bot_id: req.bot_id,
            title: req.title.trim().to_string(),
            status: DocumentStatus::Queued,
            source_type,
            source_url: req.source_url,
            format: format.into(),
            file_id: None,
            object_key: format!("{}/docs/{id}", bot_prefix(tenant, req.bot_id)),
            content_hash: sha256_hex(&bytes),
            size_bytes: bytes.len() as u64,
            chunk_count: 0,
            error: None,
            metadata,
            created_at: now,
            updated_at: now,
        };
        let charges = self.reserve_document(tenant, doc.size_bytes).await?;
        let job_id = self
            .under_reservation(
                tenant,
                doc.bot_id,
                charges,
                self.store_document(&doc, None, bytes),
            )
            .await?;
        self.audit(ctx, "document.create", "document", Some(id.to_string()))
            .await;
        Ok(DocumentAccepted {
            document: doc,
            job_id,
        })
    }

    /// A file sent in the request itself (multipart).
    pub async fn upload_file(
        &self,
        ctx: &Ctx,
        bot: BotId,
        filename: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> ServiceResult<FileAccepted> {
        ctx.actor.require(Role::Editor)?;
        let tenant = ctx.actor.tenant_id;
        self.store.get_bot(tenant, bot).await?;
        self.check_size(bytes.len() as u64)?;
        let filename = clean_filename(filename)?;
        let format = detect_format(&bytes, Some(&filename))?;
        let now = Utc::now();
        let file_id = FileId::new();
        let file = StoredFile {
            id: file_id,
            tenant_id: tenant,
            bot_id: bot,
            filename: filename.clone(),
            content_type: content_type.to_string(),
            size_bytes: bytes.len() as u64,
            sha256: Some(sha256_hex(&bytes)),
            object_key: format!("{}/files/{file_id}", bot_prefix(tenant, bot)),
            format: Some(format.into()),
            uploaded_at: Some(now),
            created_at: now,
        };
        let charges = self.reserve_document(tenant, file.size_bytes).await?;
        let doc = self.file_document(&file, format);
        let job_id = self
            .under_reservation(tenant, bot, charges, async {
                self.store_document(&doc, Some(&file), bytes).await
            })
            .await?;
        self.audit(ctx, "file.upload", "file", Some(file_id.to_string()))
            .await;
        Ok(FileAccepted {
            file_id,
            document: doc,
            job_id,
        })
    }

    fn file_document(&self, file: &StoredFile, format: &str) -> Document {
        Document {
            id: DocumentId::new(),
            tenant_id: file.tenant_id,
            bot_id: file.bot_id,
            title: file.filename.clone(),
            status: DocumentStatus::Queued,
            source_type: SourceType::File,
            source_url: None,
            format: format.into(),
            file_id: Some(file.id),
            object_key: file.object_key.clone(),
            content_hash: file.sha256.clone().unwrap_or_default(),
            size_bytes: file.size_bytes,
            chunk_count: 0,
            error: None,
            metadata: serde_json::json!({"filename": file.filename, "content_type": file.content_type}),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    /// Reserves a file and returns where to PUT its bytes: a presigned URL of
    /// the object store when it has them (S3), else a signed URL of this server.
    pub async fn create_upload_url(
        &self,
        ctx: &Ctx,
        bot: BotId,
        req: UploadUrlRequest,
        base_url: &str,
    ) -> ServiceResult<UploadTicket> {
        ctx.actor.require(Role::Editor)?;
        let tenant = ctx.actor.tenant_id;
        self.store.get_bot(tenant, bot).await?;
        self.check_size(req.size_bytes)?;
        let filename = clean_filename(&req.filename)?;
        limit_len("content_type", &req.content_type, 1, 200)?;
        let now = Utc::now();
        let file_id = FileId::new();
        let file = StoredFile {
            id: file_id,
            tenant_id: tenant,
            bot_id: bot,
            filename,
            content_type: req.content_type.clone(),
            size_bytes: req.size_bytes,
            sha256: None,
            object_key: format!("{}/files/{file_id}", bot_prefix(tenant, bot)),
            format: None,
            uploaded_at: None,
            created_at: now,
        };
        let ttl = self.settings.upload_url_ttl_secs;
        let expires_at = now + chrono::Duration::seconds(ttl as i64);
        let upload_url = match self
            .blob
            .presign_put(&file.object_key, Duration::from_secs(ttl))
            .await?
        {
            Some(url) => url,
            None => {
                let grant = UploadGrant {
                    tenant,
                    file: file_id,
                    max_bytes: req.size_bytes,
                    expires: expires_at.timestamp(),
                };
                format!(
                    "{}/api/v1/uploads/{file_id}?tenant={tenant}&max={}&expires={}&sig={}",
                    base_url.trim_end_matches('/'),
                    grant.max_bytes,
                    grant.expires,
                    self.uploads.sign(&grant)
                )
            }
        };
        // The declared bytes are held from now on, so an upload cannot store
        // past the plan; what arrives settles it, and an upload never
        // ingested expires and gives its bytes back.
        let reservation = self
            .meter
            .reserve_guarded(tenant, &[(UsageKind::StorageBytes, req.size_bytes)])
            .await?;
        self.store.create_file(&file).await?;
        reservation.commit();
        self.audit(ctx, "file.upload_url", "file", Some(file_id.to_string()))
            .await;
        Ok(UploadTicket {
            file_id,
            upload_url,
            method: "PUT",
            headers: HashMap::from([("content-type".to_string(), req.content_type)]),
            expires_at,
        })
    }

    /// Accepts the bytes PUT to a local signed upload URL. The signature is the
    /// credential: a tampered or expired URL is refused (403).
    pub async fn receive_upload(
        &self,
        file_id: FileId,
        params: &UploadParams,
        bytes: Bytes,
    ) -> ServiceResult<StoredFile> {
        let grant = UploadGrant {
            tenant: params.tenant,
            file: file_id,
            max_bytes: params.max,
            expires: params.expires,
        };
        self.uploads
            .verify(&grant, &params.sig, Utc::now().timestamp())
            .map_err(|e| match e {
                UploadUrlError::BadSignature | UploadUrlError::Expired => {
                    ServiceError::Forbidden(e.to_string())
                }
            })?;
        let mut file = self.store.get_file(grant.tenant, file_id).await?;
        if file.uploaded_at.is_some() {
            return Err(ServiceError::Conflict(
                "this file was already uploaded".into(),
            ));
        }
        if bytes.len() as u64 > grant.max_bytes {
            return Err(ServiceError::TooLarge(format!(
                "the upload is {} bytes; this URL accepts at most {}",
                bytes.len(),
                grant.max_bytes
            )));
        }
        self.check_size(bytes.len() as u64)?;
        let format = detect_format(&bytes, Some(&file.filename))?;
        let declared = file.size_bytes;
        file.size_bytes = bytes.len() as u64;
        file.sha256 = Some(sha256_hex(&bytes));
        file.format = Some(format.into());
        file.uploaded_at = Some(Utc::now());
        self.blob.put(&file.object_key, bytes).await?;
        self.store.mark_file_uploaded(&file).await?;
        self.meter
            .give_back(
                file.tenant_id,
                UsageKind::StorageBytes,
                declared.saturating_sub(file.size_bytes),
            )
            .await;
        Ok(file)
    }

    /// Turns an uploaded file into a document and queues its ingestion; 409 if
    /// the bytes have not arrived yet.
    pub async fn ingest_file(&self, ctx: &Ctx, file_id: FileId) -> ServiceResult<DocumentAccepted> {
        ctx.actor.require(Role::Editor)?;
        let tenant = ctx.actor.tenant_id;
        let mut file = self.store.get_file(tenant, file_id).await?;
        if file.uploaded_at.is_none() {
            // With direct-to-S3 uploads the server learns of the bytes only now.
            let Some(size) = self.blob.size(&file.object_key).await? else {
                return Err(ServiceError::Conflict(
                    "the file has not been uploaded yet: PUT its bytes to the upload URL first"
                        .into(),
                ));
            };
            if size > file.size_bytes {
                self.blob.delete(&file.object_key).await?;
                return Err(ServiceError::TooLarge(format!(
                    "the upload is {size} bytes but {} were declared",
                    file.size_bytes
                )));
            }
            let bytes = self.blob.get(&file.object_key).await?;
            let format = match detect_format(&bytes, Some(&file.filename)) {
                Ok(format) => format,
                Err(e) => {
                    self.blob.delete(&file.object_key).await?;
                    return Err(e);
                }
            };
            let declared = file.size_bytes;
            file.size_bytes = size;
            file.sha256 = Some(sha256_hex(&bytes));
            file.format = Some(format.into());
            file.uploaded_at = Some(Utc::now());
            self.store.mark_file_uploaded(&file).await?;
            self.meter
                .give_back(
                    tenant,
                    UsageKind::StorageBytes,
                    declared.saturating_sub(size),
                )
                .await;
        }
        let format = file.format.clone().unwrap_or_else(|| "text".into());
        let doc = self.file_document(&file, &format);
        let job = self.ingest_job(tenant, doc.id);
        // The bytes are held since the upload URL was made; the document
        // takes them over (and gives them back when deleted).
        let reservation = self
            .meter
            .reserve_guarded(tenant, &[(UsageKind::Documents, 1)])
            .await?;
        let stored = file.size_bytes;
        self.under_reservation(tenant, file.bot_id, reservation, async {
            self.store.create_document(&doc, None, &job).await.map_err(
                |e| match ServiceError::from(e) {
                    ServiceError::Conflict(_) => ServiceError::Conflict(
                        "this file was already ingested; use the document's reingest".into(),
                    ),
                    other => other,
                },
            )
        })
        .await?;
        self.meter
            .record(
                tenant,
                Some(file.bot_id),
                &[(UsageKind::StorageBytes, stored)],
            )
            .await;
        self.audit(ctx, "file.ingest", "document", Some(doc.id.to_string()))
            .await;
        Ok(DocumentAccepted {
            document: doc,
            job_id: job.id,
        })
    }

    pub async fn start_crawl(
        &self,
        ctx: &Ctx,
        bot: BotId,
        req: CrawlRequest,
    ) -> ServiceResult<JobAccepted> {
        ctx.actor.require(Role::Editor)?;
        let tenant = ctx.actor.tenant_id;
        self.store.get_bot(tenant, bot).await?;
        let url = req.url.trim();
        let parsed = url::Url::parse(url)
            .map_err(|e| ServiceError::Invalid(format!("`url` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ServiceError::Invalid(
                "`url` must be an http or https URL".into(),
            ));
        }
        // What can be told without resolving (IP literals, localhost,
        // credentials) is refused now; names are checked when fetched.
        docent_crawl::guard::check_url(&parsed, self.settings.crawl_allow_private_networks)
            .map_err(|refused| ServiceError::Invalid(format!("`url` is refused: {refused}")))?;
        let max_pages = req.max_pages.unwrap_or(50);
        if !(1..=10_000).contains(&max_pages) {
            return Err(ServiceError::Invalid(
                "`max_pages` must be between 1 and 10000".into(),
            ));
        }
        let max_depth = req.max_depth.unwrap_or(2);
        if max_depth > 20 {
            return Err(ServiceError::Invalid(
                "`max_depth` must be at most 20".into(),
            ));
        }
        for pattern in req.include.iter().chain(&req.exclude) {
            limit_len("include/exclude pattern", pattern, 1, 500)?;
        }
        if self
            .meter
            .remaining(tenant, UsageKind::CrawlPages)
            .await?
            .is_some_and(|left| left == 0)
        {
            return Err(ServiceError::QuotaExceeded(
                "the plan's crawled pages for this month are used up; the allowance renews \
                 at the start of next month (UTC)"
                    .into(),
            ));
        }
        let job = NewJob {
            max_attempts: self.settings.job_max_attempts,
            ..NewJob::new(
                tenant,
                JobSpec::Crawl {
                    bot_id: bot,
                    url: parsed.to_string(),
                    max_pages,
                    max_depth,
                    include: req.include,
                    exclude: req.exclude,
                    resume: None,
                },
            )
        };
        self.store.enqueue(&job).await?;
        self.audit(ctx, "crawl.start", "bot", Some(bot.to_string()))
            .await;
        Ok(JobAccepted { job_id: job.id })
    }

    pub async fn list_documents(
        &self,
        ctx: &Ctx,
        filter: &DocumentFilter,
        page: &PageRequest,
    ) -> ServiceResult<Page<Document>> {
        ctx.actor.require(Role::Viewer)?;
        // Another tenant's bot is 404 here as on every other route.
        if let Some(bot) = filter.bot_id {
            self.store.get_bot(ctx.actor.tenant_id, bot).await?;
        }
        Ok(self
            .store
            .list_documents(ctx.actor.tenant_id, filter, page)
            .await?)
    }

    pub async fn get_document(&self, ctx: &Ctx, id: DocumentId) -> ServiceResult<DocumentDetail> {
        ctx.actor.require(Role::Viewer)?;
        let document = self.store.get_document(ctx.actor.tenant_id, id).await?;
        let chunks = self.store.list_chunks(ctx.actor.tenant_id, id).await?;
        Ok(DocumentDetail { document, chunks })
    }

    /// Removes the document and its chunks from every index at once, then its
    /// stored source.
    pub async fn delete_document(&self, ctx: &Ctx, id: DocumentId) -> ServiceResult<()> {
        ctx.actor.require(Role::Editor)?;
        // The row (and the file row it was made of) goes first; the bytes
        // follow. A failure leaves orphaned bytes (logged), never a
        // document that is half there.
        let doc = self.store.delete_document(ctx.actor.tenant_id, id).await?;
        if let Err(error) = self.blob.delete(&doc.object_key).await {
            tracing::warn!(error = %crate::ErrorChain(&error), "could not delete a deleted document's source");
        }
        self.audit(ctx, "document.delete", "document", Some(id.to_string()))
            .await;
        Ok(())
    }

    pub async fn reingest_document(&self, ctx: &Ctx, id: DocumentId) -> ServiceResult<JobAccepted> {
        ctx.actor.require(Role::Editor)?;
        let job = self.ingest_job(ctx.actor.tenant_id, id);
        self.store
            .requeue_document(ctx.actor.tenant_id, id, &job)
            .await?;
        self.audit(ctx, "document.reingest", "document", Some(id.to_string()))
            .await;
        Ok(JobAccepted { job_id: job.id })
    }

    pub async fn get_job(&self, ctx: &Ctx, id: JobId) -> ServiceResult<Job> {
        ctx.actor.require(Role::Viewer)?;
        Ok(self.store.get_job(ctx.actor.tenant_id, id).await?)
    }
}

/// A file name as stored and shown: its last path component, trimmed.
fn clean_filename(raw: &str) -> ServiceResult<String> {
    let name = raw.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    limit_len("filename", name, 1, 255)?;
    Ok(name.to_string())
}
