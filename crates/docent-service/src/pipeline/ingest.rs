//! Ingesting one document: source bytes → text (with page and heading
//! metadata) → chunks sized for the embedder → vectors → both indexes, swapped
//! in atomically so a retry or a re-ingest never leaves duplicates.

use std::collections::HashMap;

use crate::sha256_hex;
use docent_core::domain::{Chunk, DocumentStatus, Job, Progress, UsageKind};
use docent_core::ids::{ChunkId, DocumentId};
use docent_core::store::StoreError;
use docent_ingest::{Extracted, SandboxError, SourceKind};

use super::{JobContext, JobError};

#[tracing::instrument(
    name = "ingest",
    skip_all,
    fields(tenant_id = %job.tenant_id, document_id = %document_id)
)]
pub(super) async fn run(
    ctx: &JobContext,
    job: &Job,
    document_id: DocumentId,
) -> Result<(), JobError> {
    let tenant = job.tenant_id;
    let doc = match ctx.store.get_document(tenant, document_id).await {
        Ok(doc) => doc,
        // Deleted while queued: nothing left to do.
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    ctx.store
        .set_document_status(tenant, doc.id, DocumentStatus::Processing, None)
        .await?;
    let bytes = ctx.blob.get(&doc.object_key).await?;
    let kind = SourceKind::parse(&doc.format)
        .ok_or_else(|| JobError::Fatal(format!("unsupported format `{}`", doc.format)))?;
    let extracted = extract(ctx, kind, bytes).await?;

    let config = ctx.settings.chunking(ctx.embedder.as_ref());
    let tokens = ctx.embedder.tokens();
    let (pieces, title) = tokio::task::spawn_blocking(move || {
        let chunks = docent_ingest::chunk(&extracted, &config, tokens.as_ref());
        (chunks, extracted.title)
    })
    .await
    .map_err(|e| JobError::Fatal(format!("chunking failed: {e}")))?;

    // Crawled pages are first stored under their URL and uploaded HTML under
    // its file name; the page's own title (`<title>`, else the first `<h1>`)
    // is better once known. Other files and posted documents keep the title
    // they were given (a PDF's or DOCX's metadata title is often a template's).
    let better_title = match doc.source_type {
        docent_core::domain::SourceType::Crawl => title.as_deref(),
        docent_core::domain::SourceType::File if doc.format == "html" => title.as_deref(),
        _ => None,
    };
    let doc_title = better_title.unwrap_or(&doc.title);
    let inputs: Vec<String> = pieces
        .iter()
        .map(|p| embedding_input(doc_title, p.heading.as_deref(), &p.text))
        .collect();
    let hashes: Vec<String> = inputs.iter().map(|t| sha256_hex(t.as_bytes())).collect();
    let (vectors, computed) = embed(ctx, job, &inputs, &hashes).await?;
    let embedding_tokens: u64 = computed.iter().map(|&i| pieces[i].token_count as u64).sum();
    let chunks: Vec<Chunk> = pieces
        .into_iter()
        .zip(hashes)
        .zip(vectors)
        .map(|((p, text_hash), embedding)| Chunk {
            id: ChunkId::new(),
            tenant_id: tenant,
            bot_id: doc.bot_id,
            document_id: doc.id,
            index: p.index,
            text: p.text,
            token_count: p.token_count,
            page: p.page,
            heading: p.heading,
            text_hash,
            embedder_id: ctx.embedder.id().to_string(),
            embedding,
        })
        .collect();
    match ctx
        .store
        .replace_chunks(tenant, doc.id, &chunks, better_title)
        .await
    {
        Ok(()) => {
            if let Ok(ready) = ctx.store.get_document(tenant, doc.id).await {
                crate::webhooks::emit(
                    &ctx.store,
                    tenant,
                    docent_core::domain::WebhookEvent::DocumentReady,
                    crate::webhooks::document_data(&ready),
                    ctx.webhook_max_attempts,
                )
                .await;
            }
        }
        // Deleted while being ingested: nothing to index.
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    ctx.meter
        .record(
            tenant,
            Some(doc.bot_id),
            &[(UsageKind::EmbeddingTokens, embedding_tokens)],
        )
        .await;
    metrics::counter!("docent_chunks_indexed_total").increment(chunks.len() as u64);
    tracing::info!(chunks = chunks.len(), "document indexed");
    Ok(())
}

/// Longest title or heading put before a passage for its embedding, in
/// characters: the chunker leaves the embedder's window about 50 tokens
/// beyond `chunk_max_tokens`, which this fits in.
const HEADER_CHARS: usize = 100;

/// What is embedded for a passage: its document's title and section heading,
/// then its text. A passage of a reference page rarely names its subject
/// ("When this option is used, the index is built without…" under
/// "CREATE INDEX"), so the header carries what the passage is about;
/// `docent eval` on the PostgreSQL manual measures the gain (docs/BENCHMARKS.md).
/// The stored text, keyword search and citations keep the passage alone.
fn embedding_input(title: &str, heading: Option<&str>, text: &str) -> String {
    let cut = |s: &str| -> String { s.trim().chars().take(HEADER_CHARS).collect() };
    let mut header: Vec<String> = Vec::new();
    for part in [Some(title), heading].into_iter().flatten() {
        let part = cut(part);
        if !part.is_empty() && !header.contains(&part) && !text.starts_with(&part) {
            header.push(part);
        }
    }
    if header.is_empty() {
        return text.to_string();
    }
    format!("{}\n\n{text}", header.join("\n"))
}

/// Extraction runs in a child process (see `docent_ingest::sandbox`): a file
/// that crashes or exhausts its parser fails its document in one attempt and
/// cannot touch the server.
async fn extract(
    ctx: &JobContext,
    kind: SourceKind,
    bytes: bytes::Bytes,
) -> Result<Extracted, JobError> {
    match ctx.settings.sandbox.extract(kind, &bytes).await {
        Ok(extracted) => Ok(extracted),
        Err(e @ (SandboxError::Rejected(_) | SandboxError::Unsafe(_))) => {
            Err(JobError::Fatal(e.to_string()))
        }
        Err(e @ SandboxError::Unavailable(_)) => {
            tracing::error!(error = %e, "the extraction sandbox could not run");
            Err(JobError::Retry(e.to_string()))
        }
    }
}

/// Embeds in the embedder's batch size, reusing vectors already computed for
/// identical text in this tenant (re-uploads, re-crawls, re-ingests), and
/// reports progress as chunks done over chunks total. Returns the vectors and
/// the indexes of the texts actually sent to the embedder.
async fn embed(
    ctx: &JobContext,
    job: &Job,
    texts: &[String],
    hashes: &[String],
) -> Result<(Vec<Vec<f32>>, Vec<usize>), JobError> {
    let known = ctx
        .store
        .find_embeddings(job.tenant_id, ctx.embedder.id(), hashes)
        .await?;
    let mut out: Vec<Option<Vec<f32>>> = hashes.iter().map(|h| known.get(h).cloned()).collect();
    let missing: Vec<usize> = (0..texts.len()).filter(|&i| out[i].is_none()).collect();
    let total = texts.len() as u64;
    let mut done = total - missing.len() as u64;
    ctx.store
        .set_progress(job.id, Progress { done, total })
        .await?;
    // Identical texts inside one document are embedded once.
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    let mut todo = Vec::new();
    for &i in &missing {
        if !first_of.contains_key(hashes[i].as_str()) {
            first_of.insert(hashes[i].as_str(), i);
            todo.push(i);
        }
    }
    for batch in todo.chunks(ctx.embedder.batch_size().max(1)) {
        let inputs: Vec<String> = batch.iter().map(|&i| texts[i].clone()).collect();
        let vectors = ctx.embedder.embed(&inputs).await?;
        if vectors.len() != inputs.len() {
            return Err(JobError::Fatal(
                "the embedder returned a wrong number of vectors".into(),
            ));
        }
        for (&i, v) in batch.iter().zip(vectors) {
            out[i] = Some(v);
        }
        done += batch.len() as u64;
        ctx.store
            .set_progress(
                job.id,
                Progress {
                    done: done.min(total),
                    total,
                },
            )
            .await?;
    }
    for &i in &missing {
        if out[i].is_none() {
            out[i] = out[first_of[hashes[i].as_str()]].clone();
        }
    }
    metrics::counter!("docent_embeddings_computed_total").increment(todo.len() as u64);
    Ok((
        out.into_iter().map(|v| v.unwrap_or_default()).collect(),
        todo,
    ))
}

#[cfg(test)]
mod tests {
    use super::embedding_input;

    #[test]
    fn passages_are_embedded_under_their_title_and_heading() {
        assert_eq!(
            embedding_input("CREATE INDEX", Some("Parameters"), "CONCURRENTLY builds it"),
            "CREATE INDEX\nParameters\n\nCONCURRENTLY builds it"
        );
        // Nothing said twice: a heading equal to the title, or one the
        // passage opens with.
        assert_eq!(
            embedding_input("Refunds", Some("Refunds"), "Refunds take 30 days."),
            "Refunds take 30 days."
        );
        assert_eq!(embedding_input(" ", None, "text"), "text");
        let long = "t".repeat(500);
        assert_eq!(embedding_input(&long, None, "x").len(), 100 + 2 + 1);
    }
}
