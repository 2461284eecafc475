//! Files, documents and chunks. Keyword and vector search are the
//! dialect's (FTS5 and in-process indexes on SQLite, `tsvector` and
//! pgvector on PostgreSQL); the rows around them are shared.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::{
    Chunk, ChunkView, Document, DocumentStatus, NewJob, SourceType, StoredFile,
};
use docent_core::ids::{BotId, ChunkId, DocumentId, FileId, TenantId};
use docent_core::store::{
    BotVectors, ChunkHit, DocumentFilter, KnowledgeStore, Page, PageRequest, StoreError,
    StoreResult,
};
use sqlx::{AssertSqlSafe, ColumnIndex, Encode, Executor, QueryBuilder, Type};

use super::{
    Column, Dialect, SqlStore, Ts, Vector, backend, bot_vectors_of, convert, from_json, insert_chunks,
    insert_job, limit_plus_one, map_err, page_of, parse_id,
};

#[derive(sqlx::FromRow)]
struct FileRow {
    id: String,
    tenant_id: String,
    bot_id: String,
    filename: String,
    content_type: String,
    size_bytes: i64,
    sha256: Option<String>,
    object_key: String,
    format: Option<String>,
    uploaded_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl TryFrom<FileRow> for StoredFile {
    type Error = StoreError;
    fn try_from(r: FileRow) -> StoreResult<Self> {
        Ok(StoredFile {
            id: parse_id(&r.id)?,
            tenant_id: parse_id(&r.tenant_id)?,
            bot_id: parse_id(&r.bot_id)?,
            filename: r.filename,
            content_type: r.content_type,
            size_bytes: r.size_bytes as u64,
            sha256: r.sha256,
            object_key: r.object_key,
            format: r.format,
            uploaded_at: r.uploaded_at,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DocumentRow {
    id: String,
    tenant_id: String,
    bot_id: String,
    title: String,
    status: String,
    source_type: String,
    source_url: Option<String>,
    format: String,
    file_id: Option<String>,
    object_key: String,
    content_hash: String,
    size_bytes: i64,
    chunk_count: i64,
    error: Option<String>,
    metadata: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DocumentRow> for Document {
    type Error = StoreError;
    fn try_from(r: DocumentRow) -> StoreResult<Self> {
        Ok(Document {
            id: parse_id(&r.id)?,
            tenant_id: parse_id(&r.tenant_id)?,
            bot_id: parse_id(&r.bot_id)?,
            title: r.title,
            status: DocumentStatus::parse(&r.status)
                .ok_or_else(|| backend("bad document status"))?,
            source_type: SourceType::parse(&r.source_type)
                .ok_or_else(|| backend("bad source type"))?,
            source_url: r.source_url,
            format: r.format,
            file_id: r.file_id.as_deref().map(parse_id).transpose()?,
            object_key: r.object_key,
            content_hash: r.content_hash,
            size_bytes: r.size_bytes as u64,
            chunk_count: r.chunk_count as u32,
            error: r.error,
            metadata: from_json(&r.metadata)?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

macro_rules! document_columns {
    () => {
        "id, tenant_id, bot_id, title, status, source_type, source_url, format, file_id, object_key, \
         content_hash, size_bytes, chunk_count, error, metadata, created_at, updated_at"
    };
}

macro_rules! file_columns {
    () => {
        "id, tenant_id, bot_id, filename, content_type, size_bytes, sha256, object_key, format, \
         uploaded_at, created_at"
    };
}

/// Tells the in-process indexes that the bot's passages changed.
async fn bump_index_version<D>(conn: &mut D::Connection, bot: &str) -> StoreResult<()>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'a> &'a str: Encode<'a, D> + Type<D>,
{
    sqlx::query("UPDATE bots SET index_version = index_version + 1 WHERE id = $1")
        .bind(bot)
        .execute(conn)
        .await
        .map_err(map_err)?;
    Ok(())
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
impl<D> KnowledgeStore for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'r> &'r str: ColumnIndex<D::Row> + Encode<'r, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    for<'a> Option<&'a str>: Encode<'a, D> + Type<D>,
    String: Column<D>,
    Option<String>: Column<D>,
    i64: Column<D>,
    Option<i64>: Column<D>,
    Option<f64>: Column<D>,
    bool: Column<D>,
    Option<bool>: Column<D>,
    Ts: Column<D>,
    Option<Ts>: Column<D>,
    DateTime<Utc>: Column<D>,
    Option<DateTime<Utc>>: Column<D>,
    Vector: Column<D>,
{
    async fn create_file(&self, f: &StoredFile) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO files (",
            file_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(f.id.to_string())
        .bind(f.tenant_id.to_string())
        .bind(f.bot_id.to_string())
        .bind(&f.filename)
        .bind(&f.content_type)
        .bind(f.size_bytes as i64)
        .bind(&f.sha256)
        .bind(&f.object_key)
        .bind(&f.format)
        .bind(f.uploaded_at.map(Ts))
        .bind(Ts(f.created_at))
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_file(&self, tenant: TenantId, file: FileId) -> StoreResult<StoredFile> {
        sqlx::query_as::<_, FileRow>(concat!(
            "SELECT ",
            file_columns!(),
            " FROM files WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.to_string())
        .bind(file.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?
        .try_into()
    }

    async fn mark_file_uploaded(&self, f: &StoredFile) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE files SET size_bytes = $1, sha256 = $2, format = $3, uploaded_at = $4
             WHERE tenant_id = $5 AND id = $6",
        )
        .bind(f.size_bytes as i64)
        .bind(&f.sha256)
        .bind(&f.format)
        .bind(f.uploaded_at.map(Ts))
        .bind(f.tenant_id.to_string())
        .bind(f.id.to_string())
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        if D::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn pending_files(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<StoredFile>> {
        sqlx::query_as::<_, FileRow>(concat!(
            "SELECT ",
            file_columns!(),
            " FROM files f WHERE f.created_at < $1
               AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.tenant_id = f.tenant_id AND d.file_id = f.id)
             ORDER BY f.created_at LIMIT $2"
        ))
        .bind(Ts(before))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?
        .into_iter()
        .map(StoredFile::try_from)
        .collect()
    }

    async fn delete_pending_file(&self, tenant: TenantId, file: FileId) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let size: Option<(i64,)> = sqlx::query_as(
            "DELETE FROM files WHERE tenant_id = $1 AND id = $2
               AND NOT EXISTS (SELECT 1 FROM documents WHERE tenant_id = $1 AND file_id = $2)
             RETURNING size_bytes",
        )
        .bind(tenant.to_string())
        .bind(file.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some((size,)) = size else {
            return Err(StoreError::NotFound);
        };
        sqlx::query(
            "UPDATE usage_counters SET used = CASE WHEN used > $1 THEN used - $1 ELSE 0 END
             WHERE tenant_id = $2 AND period = 'held' AND kind = 'storage_bytes'",
        )
        .bind(size)
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn recount_held_usage(&self) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let mut changed = 0;
        for sql in recount_held_statements() {
            let done = sqlx::query(AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            changed += D::rows_affected(&done);
        }
        tx.commit().await.map_err(map_err)?;
        Ok(changed)
    }

    async fn create_document(&self, d: &Document, job: &NewJob) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(concat!(
            "INSERT INTO documents (",
            document_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ))
        .bind(d.id.to_string())
        .bind(d.tenant_id.to_string())
        .bind(d.bot_id.to_string())
        .bind(&d.title)
        .bind(d.status.as_str())
        .bind(d.source_type.as_str())
        .bind(&d.source_url)
        .bind(&d.format)
        .bind(d.file_id.map(|f| f.to_string()))
        .bind(&d.object_key)
        .bind(&d.content_hash)
        .bind(d.size_bytes as i64)
        .bind(d.chunk_count as i64)
        .bind(&d.error)
        .bind(d.metadata.to_string())
        .bind(Ts(d.created_at))
        .bind(Ts(d.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_job(&mut *tx, job, Utc::now()).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_document(&self, tenant: TenantId, doc: DocumentId) -> StoreResult<Document> {
        sqlx::query_as::<_, DocumentRow>(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.to_string())
        .bind(doc.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?
        .try_into()
    }

    async fn list_documents(
        &self,
        tenant: TenantId,
        filter: &DocumentFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Document>> {
        let rows = sqlx::query_as::<_, DocumentRow>(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents
             WHERE tenant_id = $1 AND ($2 IS NULL OR bot_id = $2)
               AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR id > $4)
             ORDER BY id LIMIT $5"
        ))
        .bind(tenant.to_string())
        .bind(filter.bot_id.map(|b| b.to_string()))
        .bind(filter.status.map(|s| s.as_str()))
        .bind(&page.after)
        .bind(limit_plus_one(page))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        Ok(page_of(convert(rows)?, page, |d: &Document| d.id.to_string()))
    }

    async fn find_document_by_source_url(
        &self,
        tenant: TenantId,
        bot: BotId,
        source_url: &str,
    ) -> StoreResult<Option<Document>> {
        sqlx::query_as::<_, DocumentRow>(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents
             WHERE tenant_id = $1 AND bot_id = $2 AND source_url = $3 ORDER BY id LIMIT 1"
        ))
        .bind(tenant.to_string())
        .bind(bot.to_string())
        .bind(source_url)
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?
        .map(Document::try_from)
        .transpose()
    }

    async fn update_document_source(&self, d: &Document, job: &NewJob) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE documents SET title = $1, status = 'queued', error = NULL, format = $2,
                 object_key = $3, content_hash = $4, size_bytes = $5, metadata = $6, updated_at = $7
             WHERE tenant_id = $8 AND id = $9",
        )
        .bind(&d.title)
        .bind(&d.format)
        .bind(&d.object_key)
        .bind(&d.content_hash)
        .bind(d.size_bytes as i64)
        .bind(d.metadata.to_string())
        .bind(Ts(Utc::now()))
        .bind(d.tenant_id.to_string())
        .bind(d.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if D::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        insert_job(&mut *tx, job, Utc::now()).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn requeue_document(
        &self,
        tenant: TenantId,
        doc: DocumentId,
        job: &NewJob,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE documents SET status = 'queued', error = NULL, updated_at = $1
             WHERE tenant_id = $2 AND id = $3",
        )
        .bind(Ts(Utc::now()))
        .bind(tenant.to_string())
        .bind(doc.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if D::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        insert_job(&mut *tx, job, Utc::now()).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn set_document_status(
        &self,
        tenant: TenantId,
        doc: DocumentId,
        status: DocumentStatus,
        error: Option<&str>,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE documents SET status = $1, error = $2, updated_at = $3
             WHERE tenant_id = $4 AND id = $5",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(Ts(Utc::now()))
        .bind(tenant.to_string())
        .bind(doc.to_string())
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        if D::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_document(&self, tenant: TenantId, doc: DocumentId) -> StoreResult<Document> {
        let mut tx = self.write_tx().await?;
        // The document's row first, as `replace_chunks` takes it, so the two
        // wait for each other instead of deadlocking over its chunks.
        let found: Document = sqlx::query_as::<_, DocumentRow>(AssertSqlSafe(format!(
            "SELECT {} FROM documents WHERE tenant_id = $1 AND id = $2{}",
            document_columns!(),
            D::FOR_UPDATE
        )))
        .bind(tenant.to_string())
        .bind(doc.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?
        .try_into()?;
        // Chunks explicitly, so SQLite's keyword-index triggers run.
        for sql in [
            "DELETE FROM chunks WHERE tenant_id = $1 AND document_id = $2",
            "DELETE FROM documents WHERE tenant_id = $1 AND id = $2",
        ] {
            sqlx::query(sql)
                .bind(tenant.to_string())
                .bind(doc.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        // The file it was made of goes with it (its bytes left the counter
        // with the document, by trigger).
        if let Some(file) = found.file_id {
            sqlx::query("DELETE FROM files WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(file.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        bump_index_version::<D>(&mut tx, &found.bot_id.to_string()).await?;
        tx.commit().await.map_err(map_err)?;
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
        let bot: Option<(String,)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT bot_id FROM documents WHERE tenant_id = $1 AND id = $2{}",
            D::FOR_UPDATE
        )))
        .bind(&tenant)
        .bind(&doc)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some((bot,)) = bot else {
            return Err(StoreError::NotFound);
        };
        sqlx::query("DELETE FROM chunks WHERE tenant_id = $1 AND document_id = $2")
            .bind(&tenant)
            .bind(&doc)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_chunks::<D>(&mut tx, &tenant, &bot, &doc, chunks).await?;
        sqlx::query(
            "UPDATE documents SET status = 'ready', error = NULL, chunk_count = $1, updated_at = $2,
                 title = coalesce($3, title)
             WHERE tenant_id = $4 AND id = $5",
        )
        .bind(chunks.len() as i64)
        .bind(Ts(Utc::now()))
        .bind(title)
        .bind(&tenant)
        .bind(&doc)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        bump_index_version::<D>(&mut tx, &bot).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn list_chunks(&self, tenant: TenantId, doc: DocumentId) -> StoreResult<Vec<ChunkView>> {
        let rows: Vec<(String, i64, String, i64, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT id, idx, text, token_count, page, heading FROM chunks
             WHERE tenant_id = $1 AND document_id = $2 ORDER BY idx",
        )
        .bind(tenant.to_string())
        .bind(doc.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.into_iter()
            .map(|(id, idx, text, tokens, page, heading)| {
                Ok(ChunkView {
                    id: parse_id(&id)?,
                    index: idx as u32,
                    text,
                    token_count: tokens as u32,
                    page: page.map(|p| p as u32),
                    heading,
                })
            })
            .collect()
    }

    async fn find_embeddings(
        &self,
        tenant: TenantId,
        embedder_id: &str,
        text_hashes: &[String],
    ) -> StoreResult<HashMap<String, Vec<f32>>> {
        let mut found = HashMap::new();
        for batch in text_hashes.chunks(500) {
            let mut q = QueryBuilder::<D>::new(format!(
                "SELECT text_hash, {} FROM chunks WHERE tenant_id = ",
                D::VECTOR_OUT
            ));
            q.push_bind(tenant.to_string())
                .push(" AND embedder_id = ")
                .push_bind(embedder_id)
                .push(" AND text_hash IN (");
            let mut list = q.separated(", ");
            for h in batch {
                list.push_bind(h.as_str());
            }
            q.push(")");
            let rows: Vec<(String, Vector)> = q
                .build_query_as()
                .fetch_all(self.pool())
                .await
                .map_err(map_err)?;
            found.extend(rows.into_iter().map(|(hash, v)| (hash, v.0)));
        }
        Ok(found)
    }

    async fn bot_index_version(&self, tenant: TenantId, bot: BotId) -> StoreResult<i64> {
        let (v,): (i64,) =
            sqlx::query_as("SELECT index_version FROM bots WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(bot.to_string())
                .fetch_one(self.pool())
                .await
                .map_err(map_err)?;
        Ok(v)
    }

    async fn bot_vectors(
        &self,
        tenant: TenantId,
        bot: BotId,
        embedder_id: &str,
    ) -> StoreResult<BotVectors> {
        // Version and rows from one snapshot, so they agree.
        let mut tx = D::begin_snapshot(self.pool()).await?;
        let (version,): (i64,) =
            sqlx::query_as("SELECT index_version FROM bots WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(bot.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        let rows: Vec<(String, Vector)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT id, {} FROM chunks WHERE tenant_id = $1 AND bot_id = $2 AND embedder_id = $3",
            D::VECTOR_OUT
        )))
        .bind(tenant.to_string())
        .bind(bot.to_string())
        .bind(embedder_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
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
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT c.tenant_id, c.document_id FROM chunks c
             JOIN documents d ON d.id = c.document_id AND d.tenant_id = c.tenant_id
             WHERE c.embedder_id <> $1 AND d.status = 'ready' LIMIT $2",
        )
        .bind(embedder_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|(t, d)| Ok((parse_id(t)?, parse_id(d)?)))
            .collect()
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
        let mut q = QueryBuilder::<D>::new(
            "SELECT c.id, c.document_id, d.title, d.source_url, c.text, c.page, c.heading,
                    f.filename
             FROM chunks c JOIN documents d ON d.id = c.document_id
             LEFT JOIN files f ON f.id = d.file_id AND f.tenant_id = d.tenant_id
             WHERE c.tenant_id = ",
        );
        q.push_bind(tenant.to_string()).push(" AND c.id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.to_string());
        }
        q.push(")");
        type Row = (
            String,
            String,
            String,
            Option<String>,
            String,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = q
            .build_query_as()
            .fetch_all(self.pool())
            .await
            .map_err(map_err)?;
        let mut by_id = HashMap::new();
        for (id, doc, title, url, text, page, heading, filename) in rows {
            let hit = ChunkHit {
                chunk_id: parse_id(&id)?,
                document_id: parse_id(&doc)?,
                title,
                source_url: url,
                text,
                page: page.map(|p| p as u32),
                heading,
                filename,
            };
            by_id.insert(hit.chunk_id, hit);
        }
        // In the order asked for (the ranking order).
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }
}
