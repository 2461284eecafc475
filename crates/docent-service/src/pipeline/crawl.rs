//! The crawl job: walks a site with `docent-crawl` and turns each page into a
//! document of the bot, keyed by its canonical URL. A page seen before with the
//! same content hash is skipped; a changed one gets its new source and is
//! ingested again; a new one is created. Because pages are matched by URL, a
//! crawl retried after a crash creates no duplicates.

use std::sync::Arc;

use crate::sha256_hex;
use chrono::Utc;
use docent_core::domain::{
    Charge, Document, DocumentStatus, Job, JobSpec, NewJob, Progress, SourceType, UsageKind,
};
use docent_core::ids::{BotId, DocumentId, TenantId};
use docent_core::store::StoreError;
use docent_crawl::{Checkpoint, CrawlEvent, CrawlOptions, Page};
use docent_ingest::SourceKind;
use tokio::sync::{Notify, mpsc};

use super::{Finished, JobContext, JobError};
use crate::ServiceError;

#[tracing::instrument(name = "crawl", skip_all, fields(tenant_id = %job.tenant_id))]
pub(super) async fn run(
    ctx: &JobContext,
    job: &Job,
    worker: &str,
    wake: &Arc<Notify>,
) -> Result<Finished, JobError> {
    let Some(JobSpec::Crawl {
        bot_id,
        url,
        max_pages,
        max_depth,
        include,
        exclude,
        resume,
    }) = &job.spec
    else {
        return Err(JobError::Fatal("not a crawl job".into()));
    };
    match ctx.store.get_bot(job.tenant_id, *bot_id).await {
        Err(StoreError::NotFound) => return Ok(Finished::Done), // bot deleted meanwhile
        other => other?,
    };
    let start = url::Url::parse(url).map_err(|e| JobError::Fatal(format!("bad start URL: {e}")))?;
    // A crawl run again (after a stop, a crash or a retry) goes on from its
    // last checkpoint; one the crawler cannot read starts over, which the
    // match of pages by URL makes safe.
    let resume: Option<Checkpoint> = resume.as_ref().and_then(|saved| {
        serde_json::from_value(saved.clone())
            .inspect_err(
                |e| tracing::warn!(error = %e, "crawl checkpoint unreadable; starting over"),
            )
            .ok()
    });
    if let Some(checkpoint) = &resume {
        tracing::info!(
            pages = checkpoint.summary.pages,
            pending = checkpoint.pending.len(),
            "crawl resumes from its checkpoint"
        );
    }
    let resumed_pages = resume.as_ref().map_or(0, |c| c.summary.pages);
    let options = CrawlOptions {
        resume,
        max_pages: *max_pages,
        max_depth: *max_depth,
        include: include.clone(),
        exclude: exclude.clone(),
        concurrency: ctx.settings.crawl_concurrency.max(1),
        delay: ctx.settings.crawl_delay,
        max_page_bytes: ctx.settings.max_page_bytes,
        ..CrawlOptions::new(start)
    };
    let total = u64::from(*max_pages);
    let progress = |stats: &Stats| {
        let done = u64::from(resumed_pages + stats.pages());
        Progress {
            done,
            total: total.max(done),
        }
    };
    ctx.store
        .set_progress(job.id, progress(&Stats::default()))
        .await?;

    let (tx, mut rx) = mpsc::channel(16);
    let http = ctx.http.clone();
    let crawler = tokio::spawn(async move { docent_crawl::crawl(&http, options, tx).await });
    let mut stats = Stats::default();
    while let Some(event) = rx.recv().await {
        match event {
            CrawlEvent::Page(page) => {
                if let Err(refused) = save_page(ctx, job, *bot_id, page, &mut stats).await {
                    // Dropping the receiver stops the crawler.
                    drop(rx);
                    crawler.abort();
                    return Err(match refused {
                        PageError::Quota(reason) => JobError::Fatal(format!(
                            "stopped after {} pages: {reason}",
                            stats.pages()
                        )),
                        PageError::Job(e) => e,
                    });
                }
                wake.notify_waiters();
                ctx.store.set_progress(job.id, progress(&stats)).await?;
            }
            CrawlEvent::Checkpoint(checkpoint) => {
                let mut spec = job.spec.clone().expect("a crawl job's spec");
                if let JobSpec::Crawl { resume, .. } = &mut spec {
                    *resume = serde_json::to_value(&checkpoint).ok();
                }
                if !ctx.store.save_payload(job.id, worker, &spec).await? {
                    // The lease went to another worker: it crawls now.
                    drop(rx);
                    crawler.abort();
                    return Err(JobError::Retry("lost the job's lease".into()));
                }
            }
            CrawlEvent::Skipped { url, reason } => {
                stats.skipped += 1;
                tracing::debug!(%url, %reason, "page skipped");
                stats.first_skip.get_or_insert((url, reason));
            }
        }
    }
    let summary = crawler
        .await
        .map_err(|e| JobError::Fatal(format!("the crawler crashed: {e}")))?
        .map_err(|e| match &e {
            docent_crawl::CrawlError::Unreachable { source, .. } if source.is_refused() => {
                JobError::Fatal(e.to_string())
            }
            _ => JobError::Retry(e.to_string()),
        })?;
    // A crawl that obtained no page at all says why, rather than succeed
    // with nothing: the start page's fate is the first skip.
    if summary.pages == 0 {
        return Err(JobError::Fatal(match &stats.first_skip {
            Some((url, reason)) => format!("no page could be stored: {url}: {reason}"),
            None => "no page could be stored: the site gave none".into(),
        }));
    }
    let done = u64::from(summary.pages);
    ctx.store
        .set_progress(job.id, Progress { done, total: done })
        .await?;
    tracing::info!(
        created = stats.created,
        updated = stats.updated,
        unchanged = stats.unchanged,
        skipped = stats.skipped,
        fetched = summary.pages,
        "crawl finished"
    );
    // Its pages (of this run, or of one before the checkpoint) may still be
    // ingesting: the crawl ends when they are (at once if they are).
    Ok(Finished::AwaitingIngestion)
}

#[derive(Default)]
struct Stats {
    created: u32,
    updated: u32,
    unchanged: u32,
    skipped: u32,
    first_skip: Option<(url::Url, String)>,
}

impl Stats {
    fn pages(&self) -> u32 {
        self.created + self.updated + self.unchanged
    }
}

/// Why a page was not saved: the plan's limit (which ends the crawl), or a
/// job failure.
enum PageError {
    Quota(String),
    Job(JobError),
}

impl From<JobError> for PageError {
    fn from(e: JobError) -> Self {
        PageError::Job(e)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Job(e.into())
    }
}

impl From<docent_core::blob::BlobError> for PageError {
    fn from(e: docent_core::blob::BlobError) -> Self {
        PageError::Job(e.into())
    }
}

/// Reserves what a page takes of the plan.
async fn reserve(
    ctx: &JobContext,
    tenant: TenantId,
    items: &[(UsageKind, u64)],
) -> Result<Vec<Charge>, PageError> {
    match ctx.meter.reserve(tenant, items).await {
        Ok(charges) => Ok(charges),
        Err(ServiceError::QuotaExceeded(reason)) => Err(PageError::Quota(reason)),
        Err(e) => Err(PageError::Job(JobError::Retry(e.to_string()))),
    }
}

async fn save_page(
    ctx: &JobContext,
    job: &Job,
    bot: BotId,
    page: Page,
    stats: &mut Stats,
) -> Result<(), PageError> {
    let tenant = job.tenant_id;
    let Some(kind) = page_kind(&page) else {
        stats.skipped += 1;
        return Ok(());
    };
    let url = page.url.to_string();
    let hash = sha256_hex(&page.body);
    let existing = ctx
        .store
        .find_document_by_source_url(tenant, bot, &url)
        .await?;
    let ingest = |doc: DocumentId| NewJob {
        max_attempts: ctx.settings.job_max_attempts,
        ..NewJob::new(tenant, JobSpec::IngestDocument { document_id: doc })
    };
    match existing {
        Some(doc) if doc.content_hash == hash && doc.status != DocumentStatus::Failed => {
            stats.unchanged += 1;
        }
        Some(mut doc) => {
            // The new size replaces the old in the held bytes by itself.
            let charges = reserve(ctx, tenant, &[(UsageKind::CrawlPages, 1)]).await?;
            doc.content_hash = hash;
            doc.size_bytes = page.body.len() as u64;
            doc.format = kind.as_str().into();
            doc.status = DocumentStatus::Queued;
            doc.error = None;
            let saved = async {
                ctx.blob.put(&doc.object_key, page.body.clone()).await?;
                ctx.store
                    .update_document_source(&doc, &ingest(doc.id))
                    .await
                    .map_err(JobError::from)
            };
            if let Err(e) = saved.await {
                ctx.meter.release(tenant, &charges).await;
                return Err(e.into());
            }
            ctx.meter
                .record(tenant, Some(bot), &[(UsageKind::CrawlPages, 1)])
                .await;
            stats.updated += 1;
        }
        None => {
            let id = DocumentId::new();
            let now = Utc::now();
            let doc = Document {
                id,
                tenant_id: tenant,
                bot_id: bot,
                // The page's own <title> replaces this once extracted.
                title: url.chars().take(500).collect(),
                status: DocumentStatus::Queued,
                source_type: SourceType::Crawl,
                source_url: Some(url),
                format: kind.as_str().into(),
                file_id: None,
                object_key: format!("{tenant}/{bot}/docs/{id}"),
                content_hash: hash,
                size_bytes: page.body.len() as u64,
                chunk_count: 0,
                error: None,
                metadata: serde_json::json!({ "crawl_job_id": job.id, "depth": page.depth }),
                created_at: now,
                updated_at: now,
            };
            let items = [
                (UsageKind::CrawlPages, 1),
                (UsageKind::Documents, 1),
                (UsageKind::StorageBytes, doc.size_bytes),
            ];
            let charges = reserve(ctx, tenant, &items).await?;
            if let Err(e) = ctx.blob.put(&doc.object_key, page.body.clone()).await {
                ctx.meter.release(tenant, &charges).await;
                return Err(e.into());
            }
            if let Err(e) = ctx.store.create_document(&doc, None, &ingest(id)).await {
                let _ = ctx.blob.delete(&doc.object_key).await;
                ctx.meter.release(tenant, &charges).await;
                return Err(e.into());
            }
            ctx.meter.record(tenant, Some(bot), &items).await;
            stats.created += 1;
        }
    }
    Ok(())
}

/// The format of a fetched page: binary formats by their bytes, text formats
/// by the server's content type (a `text/plain` page that looks like Markdown
/// is still text).
fn page_kind(page: &Page) -> Option<SourceKind> {
    let detected = docent_ingest::detect(&page.body, Some(page.url.path()))?;
    if matches!(detected, SourceKind::Pdf | SourceKind::Docx) {
        return Some(detected);
    }
    Some(match page.content_type.as_str() {
        "text/html" | "application/xhtml+xml" => SourceKind::Html,
        "text/markdown" | "text/x-markdown" => SourceKind::Markdown,
        "text/csv" => SourceKind::Csv,
        "application/json" => SourceKind::Json,
        "text/plain" => SourceKind::Text,
        _ => detected,
    })
}
