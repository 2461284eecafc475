//! Files, documents and chunks. Keyword and vector search are the
//! dialect's (a tantivy index per bot and in-process vectors on SQLite, `tsvector` and
//! pgvector on PostgreSQL); the rows around them are shared.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::{
    Chunk, ChunkView, Document, DocumentCounts, DocumentStatus, NewJob, SourceType, StoredFile,
};
use docent_core::ids::{BotId, ChunkId, DocumentId, FileId, TenantId};
use docent_core::store::{
    BotVectors, ChunkHit, DocumentFilter, KnowledgeStore, Page, PageRequest, StoreResult,
};
use sqlx::{AssertSqlSafe, Transaction};

use super::{
    Dialect, Exec, Row, SqlStore, bot_vectors_of, commit, insert_chunks, insert_job,
    limit_plus_one, page_of, placeholders, query,
};

/// Passages by id, with what a citation shows of their document (binds:
/// tenant, then `n` chunk ids). Each chunk is found by its primary key.
pub(crate) fn chunk_hits_sql<D: Dialect>(n: usize) -> String {
    format!(
        "SELECT c.id, c.document_id, d.title, d.source_url, c.text, c.page, c.heading,
                c.token_count, f.filename
         FROM chunks c JOIN documents d ON d.id = c.document_id
         LEFT JOIN files f ON f.id = d.file_id AND f.tenant_id = d.tenant_id
         WHERE {}c.tenant_id = $1 AND c.id IN ({})",
        D::NOT_INDEXED,
        placeholders(2, n)
    )
}

fn read_file<D: Dialect>(r: Row<'_, D>) -> StoreResult<StoredFile> {
    Ok(StoredFile {
        id: r.id("id")?,
        tenant_id: r.id("tenant_id")?,
        bot_id: r.id("bot_id")?,
        filename: r.text("filename")?,
        content_type: r.text("content_type")?,
        size_bytes: r.size("size_bytes")?,
        sha256: r.opt_text("sha256")?,
        object_key: r.text("object_key")?,
        format: r.opt_text("format")?,
        uploaded_at: r.opt_time("uploaded_at")?,
        created_at: r.time("created_at")?,
    })
}

fn read_document<D: Dialect>(r: Row<'_, D>) -> StoreResult<Document> {
    Ok(Document {
        id: r.id("id")?,
        tenant_id: r.id("tenant_id")?,
        bot_id: r.id("bot_id")?,
        title: r.text("title")?,
        status: r.name("status", DocumentStatus::parse)?,
        source_type: r.name("source_type", SourceType::parse)?,
        source_url: r.opt_text("source_url")?,
        format: r.text("format")?,
        file_id: r.opt_id("file_id")?,
        object_key: r.text("object_key")?,
        content_hash: r.text("content_hash")?,
        size_bytes: r.size("size_bytes")?,
        chunk_count: r.count("chunk_count")?,
        error: r.opt_text("error")?,
        metadata: r.json("metadata")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

async fn insert_file<'e, D: Dialect>(
    on: impl Into<Exec<'e, D>>,
    f: &StoredFile,
) -> StoreResult<()> {
    let sql = insert!(files: "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11");
    query::<D>("create_file", sql)
        .bind((f.id, f.tenant_id, f.bot_id, &f.filename, &f.content_type))
        .bind((f.size_bytes as i64, &f.sha256, &f.object_key, &f.format))
        .bind((f.uploaded_at, f.created_at))
        .run(on)
        .await
}

/// Tells the in-process indexes that the bot's passages changed.
async fn bump_index_version<D: Dialect>(
    tx: &mut Transaction<'static, D>,
    bot: &str,
) -> StoreResult<()> {
    let sql = "UPDATE bots SET index_version = index_version + 1 WHERE id = $1";
    query::<D>("bump_index_version", sql)
        .bind(bot)
        .run(tx)
        .await
}

/// The statements that set each tenant's held counters to what is really
/// stored: documents, and bytes of documents plus files no document uses.
/// Standard SQL both dialects run as is (`WHERE true` settles SQLite's
/// parse of an upsert after a `SELECT`); each changes only counters that
/// drifted, so the rows affected are the repairs.
fn recount_held_statements() -> [String; 2] {
    const TRUTH: [(&str, &str); 2] = [
        (
            "documents",
            "SELECT count(*) FROM documents d WHERE d.tenant_id = t.id",
        ),
        (
            "storage_bytes",
            "SELECT coalesce((SELECT sum(size_bytes) FROM documents d WHERE d.tenant_id = t.id), 0)
                  + coalesce((SELECT sum(size_bytes) FROM files f WHERE f.tenant_id = t.id
                       AND NOT EXISTS (SELECT 1 FROM documents d
                                        WHERE d.tenant_id = f.tenant_id AND d.file_id = f.id)), 0)",
        ),
    ];
    TRUTH.map(|(kind, truth)| {
        format!(
            "INSERT INTO usage_counters (tenant_id, period, kind, used)
             SELECT t.id, 'held', '{kind}', ({truth}) FROM tenants t WHERE true
             ON CONFLICT (tenant_id, period, kind) DO UPDATE SET used = excluded.used
             WHERE usage_counters.used <> excluded.used"
        )
    })
}

#[async_trait]
impl<D: Dialect> KnowledgeStore for SqlStore<D> {
    async fn create_file(&self, f: &StoredFile) -> StoreResult<()> {
        insert_file(self.pool(), f).await
    }

    async fn get_file(&self, tenant: TenantId, file: FileId) -> StoreResult<StoredFile> {
        let sql = select!(files: "WHERE tenant_id = $1 AND id = $2");
        query::<D>("get_file", sql)
            .bind((tenant, file))
            .fetch_one(self.pool(), read_file)
            .await
    }

    async fn mark_file_uploaded(&self, f: &StoredFile) -> StoreResult<()> {
        let sql = "UPDATE files SET size_bytes = $1, sha256 = $2, format = $3, uploaded_at = $4
                   WHERE tenant_id = $5 AND id = $6";
        query::<D>("mark_file_uploaded", sql)
            .bind((f.size_bytes as i64, &f.sha256, &f.format, f.uploaded_at))
            .bind((f.tenant_id, f.id))
            .execute_found(self.pool())
            .await
    }

    async fn pending_files(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<StoredFile>> {
        let sql = select!(files: "f WHERE f.created_at < $1 AND NOT EXISTS
            (SELECT 1 FROM documents d WHERE d.tenant_id = f.tenant_id AND d.file_id = f.id)
            ORDER BY f.created_at LIMIT $2");
        query::<D>("pending_files", sql)
            .bind((before, i64::from(limit)))
            .fetch_all(self.pool(), read_file)
            .await
    }

    async fn delete_pending_file(&self, tenant: TenantId, file: FileId) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let sql = "DELETE FROM files WHERE tenant_id = $1 AND id = $2
                     AND NOT EXISTS (SELECT 1 FROM documents WHERE tenant_id = $1 AND file_id = $2)
                   RETURNING size_bytes";
        let size = query::<D>("delete_pending_file", sql)
            .bind((tenant, file))
            .fetch_one(&mut tx, |r| r.int("size_bytes"))
            .await?;
        let sql = "UPDATE usage_counters SET used = CASE WHEN used > $1 THEN used - $1 ELSE 0 END
                   WHERE tenant_id = $2 AND period = 'held' AND kind = 'storage_bytes'";
        query::<D>("delete_pending_file", sql)
            .bind((size, tenant))
            .execute(&mut tx)
            .await?;
        commit(tx, "delete_pending_file").await
    }

    async fn recount_held_usage(&self) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let mut changed = 0;
        for sql in recount_held_statements() {
            changed += query::<D>("recount_held_usage", AssertSqlSafe(sql))
                .changed(&mut tx)
                .await?;
        }
        commit(tx, "recount_held_usage").await?;
        Ok(changed)
    }

    async fn create_document(
        &self,
        d: &Document,
        file: Option<&StoredFile>,
        job: &NewJob,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        if let Some(f) = file {
            insert_file(&mut tx, f).await?;
        }
        let sql = insert!(documents: "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
            $15, $16, $17");
        query::<D>("create_document", sql)
            .bind((d.id, d.tenant_id, d.bot_id, &d.title, d.status.as_str()))
            .bind((d.source_type.as_str(), &d.source_url, &d.format))
            .bind((d.file_id, &d.object_key, &d.content_hash))
            .bind((d.size_bytes as i64, d.chunk_count as i64, &d.error))
            .bind((&d.metadata, d.created_at, d.updated_at))
            .execute(&mut tx)
            .await?;
        insert_job(&mut tx, job, Utc::now()).await?;
        commit(tx, "create_document").await
    }

    async fn get_document(&self, tenant: TenantId, doc: DocumentId) -> StoreResult<Document> {
        let sql = select!(documents: "WHERE tenant_id = $1 AND id = $2");
        query::<D>("get_document", sql)
            .bind((tenant, doc))
            .fetch_one(self.pool(), read_document)
            .await
    }

    async fn list_documents(
        &self,
        tenant: TenantId,
        filter: &DocumentFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Document>> {
        let sql = select!(documents: "WHERE tenant_id = $1 AND ($2 IS NULL OR bot_id = $2)
            AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR LOWER(title) LIKE $4 ESCAPE '\\')
            AND ($5 IS NULL OR id > $5) ORDER BY id LIMIT $6");
        // A substring, its own `%`, `_` and `\` taken literally.
        let title = filter.title.as_deref().map(|t| {
            let escaped: String = t
                .to_lowercase()
                .chars()
                .flat_map(|c| match c {
                    '%' | '_' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            format!("%{escaped}%")
        });
        let docs = query::<D>("list_documents", sql)
            .bind((tenant, filter.bot_id, filter.status.map(|s| s.as_str())))
            .bind((title, &page.after, limit_plus_one(page)))
            .fetch_all(self.pool(), read_document)
            .await?;
        Ok(page_of(docs, page, |d| d.id.to_string()))
    }

    async fn find_document_by_source_url(
        &self,
        tenant: TenantId,
        bot: BotId,
        source_url: &str,
    ) -> StoreResult<Option<Document>> {
        let sql = select!(documents: "WHERE tenant_id = $1 AND bot_id = $2 AND source_url = $3
            ORDER BY id LIMIT 1");
        query::<D>("find_document_by_source_url", sql)
            .bind((tenant, bot, source_url))
            .fetch_optional(self.pool(), read_document)
            .await
    }

    async fn update_document_source(&self, d: &Document, job: &NewJob) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let sql = "UPDATE documents SET title = $1, status = 'queued', error = NULL, format = $2,
                 object_key = $3, content_hash = $4, size_bytes = $5, metadata = $6, updated_at = $7
             WHERE tenant_id = $8 AND id = $9";
        query::<D>("update_document_source", sql)
            .bind((&d.title, &d.format, &d.object_key, &d.content_hash))
            .bind((d.size_bytes as i64, &d.metadata, Utc::now(), d.tenant_id))
            .bind(d.id)
            .execute_found(&mut tx)
            .await?;
        insert_job(&mut tx, job, Utc::now()).await?;
        commit(tx, "update_document_source").await
    }

    async fn requeue_document(
        &self,
        tenant: TenantId,
        doc: DocumentId,
        job: &NewJob,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let sql = "UPDATE documents SET status = 'queued', error = NULL, updated_at = $1
                   WHERE tenant_id = $2 AND id = $3";
        query::<D>("requeue_document", sql)
            .bind((Utc::now(), tenant, doc))
            .execute_found(&mut tx)
            .await?;
        insert_job(&mut tx, job, Utc::now()).await?;
        commit(tx, "requeue_document").await
    }

    async fn set_document_status(
        &self,
        tenant: TenantId,
        doc: DocumentId,
        status: DocumentStatus,
        error: Option<&str>,
    ) -> StoreResult<()> {
        let sql = "UPDATE documents SET status = $1, error = $2, updated_at = $3
                   WHERE tenant_id = $4 AND id = $5";
        query::<D>("set_document_status", sql)
            .bind((status.as_str(), error, Utc::now(), tenant, doc))
            .execute_found(self.pool())
            .await
    }

    async fn delete_document(&self, tenant: TenantId, doc: DocumentId) -> StoreResult<Document> {
        let mut tx = self.write_tx().await?;
        // The document's row first, as `replace_chunks` takes it, so the two
        // wait for each other instead of deadlocking over its chunks.
        let sql = AssertSqlSafe(format!(
            "SELECT {} FROM documents WHERE tenant_id = $1 AND id = $2{}",
            columns!(documents),
            D::FOR_UPDATE
        ));
        let found = query::<D>("delete_document", sql)
            .bind((tenant, doc))
            .fetch_one(&mut tx, read_document)
            .await?;
        // Chunks explicitly, so SQLite's keyword-index triggers run.
        for sql in [
            "DELETE FROM chunks WHERE tenant_id = $1 AND document_id = $2",
            "DELETE FROM documents WHERE tenant_id = $1 AND id = $2",
        ] {
            query::<D>("delete_document", sql)
                .bind((tenant, doc))
                .execute(&mut tx)
                .await?;
        }
        // The file it was made of goes with it (its bytes left the counter
        // with the document, by trigger).
        if let Some(file) = found.file_id {
            let sql = "DELETE FROM files WHERE tenant_id = $1 AND id = $2";
            query::<D>("delete_document", sql)
                .bind((tenant, file))
                .execute(&mut tx)
                .await?;
        }
        bump_index_version(&mut tx, &found.bot_id.to_string()).await?;
        commit(tx, "delete_document").await?;
        Ok(found)
    }

    async fn replace_chunks(
        &self,
        tenant: TenantId,
        doc: DocumentId,
        chunks: &[Chunk],
        title: Option<&str>,
    ) -> StoreResult<()> {
        let (tenant, doc) = (tenant.to_string(), doc.to_string());
        let mut tx = self.write_tx().await?;
        // The row lock makes two concurrent replacements of one document
        // take turns instead of interleaving their deletes and inserts.
        let sql = AssertSqlSafe(format!(
            "SELECT bot_id FROM documents WHERE tenant_id = $1 AND id = $2{}",
            D::FOR_UPDATE
        ));
        let bot = query::<D>("replace_chunks", sql)
            .bind((&tenant, &doc))
            .fetch_one(&mut tx, |r| r.text("bot_id"))
            .await?;
        let sql = "DELETE FROM chunks WHERE tenant_id = $1 AND document_id = $2";
        query::<D>("replace_chunks", sql)
            .bind((&tenant, &doc))
            .execute(&mut tx)
            .await?;
        insert_chunks(&mut tx, &tenant, &bot, &doc, chunks).await?;
        query::<D>("replace_chunks", 
            "UPDATE documents SET status = 'ready', error = NULL, chunk_count = $1, updated_at = $2,
                 title = coalesce($3, title)
             WHERE tenant_id = $4 AND id = $5",
        )
        .bind((chunks.len() as i64, Utc::now(), title, &tenant, &doc))
        .execute(&mut tx)
        .await?;
        bump_index_version(&mut tx, &bot).await?;
        commit(tx, "replace_chunks").await
    }

    async fn list_chunks(&self, tenant: TenantId, doc: DocumentId) -> StoreResult<Vec<ChunkView>> {
        let sql = "SELECT id, idx, text, token_count, page, heading FROM chunks
                   WHERE tenant_id = $1 AND document_id = $2 ORDER BY idx";
        query::<D>("list_chunks", sql)
            .bind((tenant, doc))
            .fetch_all(self.pool(), |r| {
                Ok(ChunkView {
                    id: r.id("id")?,
                    index: r.count("idx")?,
                    text: r.text("text")?,
                    token_count: r.count("token_count")?,
                    page: r.opt_int("page")?.map(|p| p as u32),
                    heading: r.opt_text("heading")?,
                })
            })
            .await
    }

    async fn find_embeddings(
        &self,
        tenant: TenantId,
        embedder_id: &str,
        text_hashes: &[String],
    ) -> StoreResult<HashMap<String, Vec<f32>>> {
        let mut found = HashMap::new();
        for batch in text_hashes.chunks(500) {
            let sql = format!(
                "SELECT text_hash, {} AS embedding FROM chunks
                 WHERE tenant_id = $1 AND embedder_id = $2 AND text_hash IN ({})",
                D::VECTOR_OUT,
                placeholders(3, batch.len())
            );
            let first = query::<D>("find_embeddings", AssertSqlSafe(sql))
                .bind(tenant)
                .bind(embedder_id);
            let rows = batch
                .iter()
                .fold(first, |q, h| q.bind(h))
                .fetch_all(self.pool(), |r| {
                    Ok((r.text("text_hash")?, r.vector("embedding")?))
                })
                .await?;
            found.extend(rows);
        }
        Ok(found)
    }

    async fn bot_index_version(&self, tenant: TenantId, bot: BotId) -> StoreResult<i64> {
        let sql = "SELECT index_version FROM bots WHERE tenant_id = $1 AND id = $2";
        query::<D>("bot_index_version", sql)
            .bind((tenant, bot))
            .fetch_one(self.pool(), |r| r.int("index_version"))
            .await
    }

    async fn bot_vectors(
        &self,
        tenant: TenantId,
        bot: BotId,
        embedder_id: &str,
    ) -> StoreResult<BotVectors> {
        // Version and rows from one snapshot, so they agree.
        let mut tx = D::begin_snapshot(self.pool()).await?;
        let sql = "SELECT index_version FROM bots WHERE tenant_id = $1 AND id = $2";
        let version = query::<D>("bot_vectors", sql)
            .bind((tenant, bot))
            .fetch_one(&mut tx, |r| r.int("index_version"))
            .await?;
        let sql = format!(
            "SELECT id, {} AS embedding FROM chunks
             WHERE tenant_id = $1 AND bot_id = $2 AND embedder_id = $3",
            D::VECTOR_OUT
        );
        let rows = query::<D>("bot_vectors", AssertSqlSafe(sql))
            .bind((tenant, bot, embedder_id))
            .fetch_all(&mut tx, |r| Ok((r.id("id")?, r.vector("embedding")?)))
            .await?;
        commit(tx, "bot_vectors").await?;
        bot_vectors_of(version, rows)
    }

    async fn vector_search(
        &self,
        tenant: TenantId,
        bot: BotId,
        embedder_id: &str,
        query: &[f32],
        limit: u32,
    ) -> StoreResult<Option<Vec<(ChunkId, f32)>>> {
        D::vector_search(self, tenant, bot, embedder_id, query, limit).await
    }

    async fn vector_similarity(
        &self,
        tenant: TenantId,
        embedder_id: &str,
        query: &[f32],
        ids: &[ChunkId],
    ) -> StoreResult<Option<HashMap<ChunkId, f32>>> {
        D::vector_similarity(self, tenant, embedder_id, query, ids).await
    }

    async fn prepare_vector_index(&self, dims: usize) -> StoreResult<()> {
        D::prepare_vector_index(self, dims).await
    }

    async fn stale_documents(
        &self,
        embedder_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<(TenantId, DocumentId)>> {
        let sql = "SELECT DISTINCT c.tenant_id, c.document_id FROM chunks c
                   JOIN documents d ON d.id = c.document_id AND d.tenant_id = c.tenant_id
                   WHERE c.embedder_id <> $1 AND d.status = 'ready' LIMIT $2";
        query::<D>("stale_documents", sql)
            .bind((embedder_id, i64::from(limit)))
            .fetch_all(self.pool(), |r| {
                Ok((r.id("tenant_id")?, r.id("document_id")?))
            })
            .await
    }

    async fn document_counts(&self, tenant: TenantId, bot: BotId) -> StoreResult<DocumentCounts> {
        let sql = "SELECT status, count(*) AS n FROM documents
                   WHERE tenant_id = $1 AND bot_id = $2 GROUP BY status";
        let rows = query::<D>("document_counts", sql)
            .bind((tenant, bot))
            .fetch_all(self.pool(), |r| {
                Ok((r.name("status", DocumentStatus::parse)?, r.size("n")?))
            })
            .await?;
        let mut counts = DocumentCounts::default();
        rows.into_iter()
            .for_each(|(status, n)| counts.add(status, n));
        Ok(counts)
    }

    async fn keyword_search(
        &self,
        tenant: TenantId,
        bot: BotId,
        query: &str,
        limit: u32,
    ) -> StoreResult<Vec<(ChunkId, f32)>> {
        D::keyword_search(self, tenant, bot, query, limit).await
    }

    async fn get_chunk_hits(
        &self,
        tenant: TenantId,
        ids: &[ChunkId],
    ) -> StoreResult<Vec<ChunkHit>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = chunk_hits_sql::<D>(ids.len());
        let first = query::<D>("get_chunk_hits", AssertSqlSafe(sql)).bind(tenant);
        let hits = ids
            .iter()
            .fold(first, |q, id| q.bind(*id))
            .fetch_all(self.pool(), |r| {
                Ok(ChunkHit {
                    chunk_id: r.id("id")?,
                    document_id: r.id("document_id")?,
                    title: r.text("title")?,
                    source_url: r.opt_text("source_url")?,
                    text: r.text("text")?,
                    page: r.opt_int("page")?.map(|p| p as u32),
                    heading: r.opt_text("heading")?,
                    filename: r.opt_text("filename")?,
                    token_count: r.count("token_count")?,
                })
            })
            .await?;
        let mut by_id: HashMap<ChunkId, ChunkHit> =
            hits.into_iter().map(|h| (h.chunk_id, h)).collect();
        // In the order asked for (the ranking order).
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }
}
