//! Files, documents and chunks on PostgreSQL. Vectors live in a pgvector
//! column and are searched in the database (HNSW, cosine); keywords through
//! the generated `tsvector` column and its GIN index.

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
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder};

use super::jobs::insert_job;
use super::{PgStore, backend, map_err, page_of, parse_id};

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
            metadata: serde_json::from_str(&r.metadata).map_err(backend)?,
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

/// Free text as an OR of its words for `to_tsquery`, so passages with more of
/// the words rank higher and no input can be a syntax error. `None` when the
/// text holds no word at all.
fn ts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(64)
        .map(str::to_lowercase)
        .collect();
    (!words.is_empty()).then(|| words.join(" | "))
}

async fn bump_index_version(conn: &mut sqlx::PgConnection, bot: &str) -> StoreResult<()> {
    sqlx::query("UPDATE bots SET index_version = index_version + 1 WHERE id = $1")
        .bind(bot)
        .execute(conn)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// The nearest-neighbour query of one bot for vectors of `dims` dimensions
/// (binds: query as `real[]`, tenant, bot, embedder). Its expression and
/// predicate match the partial HNSW index of that dimension, so the planner
/// can use it; the limit is written in, not bound: with `LIMIT $n` the
/// generic plan of the prepared statement assumes thousands of rows and
/// prefers an exact scan and sort (measured: 600 ms instead of 20 ms at
/// 100k passages). Public for the benchmark, which times it bare.
pub fn vector_search_sql(dims: usize, limit: u32) -> String {
    format!(
        "SELECT id, (1 - (embedding::vector({dims}) <=> $1::real[]::vector({dims})))::real
         FROM chunks
         WHERE dims = {dims} AND tenant_id = $2 AND bot_id = $3 AND embedder_id = $4
         ORDER BY embedding::vector({dims}) <=> $1::real[]::vector({dims})
         LIMIT {limit}"
    )
}

/// The transaction-local settings of a vector search returning `limit`
/// rows, as one statement (`set_config(…, true)` is `SET LOCAL`), so a search
/// costs one round trip for them, not one per setting. A filtered HNSW scan
/// can run out of candidates before it has `limit` rows of the bot; iterative
/// scans (pgvector 0.8) keep searching until it has them. `relaxed_order` may
/// return them slightly out of order: callers sort again.
pub fn vector_search_settings(iterative_scan: bool, limit: u32) -> String {
    // The candidate list: pgvector's default of 40 found 63% of the true
    // top 10 on the benchmark's hash-embedded corpus at 100k passages, 100
    // found 76%, 400 87% (a hard case: near-uniform vectors). 10× the limit
    // keeps the latency at a few ms while lifting recall.
    let ef_search = (limit as usize * 10).clamp(100, 1000);
    let iterative = if iterative_scan {
        ", set_config('hnsw.iterative_scan', 'relaxed_order', true)"
    } else {
        ""
    };
    format!("SELECT set_config('hnsw.ef_search', '{ef_search}', true){iterative}")
}

/// Name of the HNSW index for one vector dimension.
fn hnsw_index(dims: usize) -> String {
    format!("chunks_hnsw_{dims}")
}

#[async_trait]
impl KnowledgeStore for PgStore {
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
        .bind(f.uploaded_at)
        .bind(f.created_at)
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
        .bind(f.uploaded_at)
        .bind(f.tenant_id.to_string())
        .bind(f.id.to_string())
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
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
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?
        .into_iter()
        .map(StoredFile::try_from)
        .collect()
    }

    async fn delete_pending_file(&self, tenant: TenantId, file: FileId) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
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
            "UPDATE usage_counters SET used = GREATEST(used - $1, 0)
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
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        let mut changed = 0;
        for sql in crate::rows::recount_held_statements() {
            changed += sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
        }
        tx.commit().await.map_err(map_err)?;
        Ok(changed)
    }

    async fn create_document(&self, d: &Document, job: &NewJob) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
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
        .bind(d.created_at)
        .bind(d.updated_at)
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
             WHERE tenant_id = $1 AND ($2::TEXT IS NULL OR bot_id = $2)
               AND ($3::TEXT IS NULL OR status = $3) AND ($4::TEXT IS NULL OR id > $4)
             ORDER BY id LIMIT $5"
        ))
        .bind(tenant.to_string())
        .bind(filter.bot_id.map(|b| b.to_string()))
        .bind(filter.status.map(|s| s.as_str()))
        .bind(&page.after)
        .bind(page.limit as i64 + 1)
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        let docs = rows
            .into_iter()
            .map(Document::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page_of(docs, page, |d| d.id.to_string()))
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
        let mut tx = self.pool().begin().await.map_err(map_err)?;
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
        .bind(Utc::now())
        .bind(d.tenant_id.to_string())
        .bind(d.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
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
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        let done = sqlx::query(
            "UPDATE documents SET status = 'queued', error = NULL, updated_at = $1
             WHERE tenant_id = $2 AND id = $3",
        )
        .bind(Utc::now())
        .bind(tenant.to_string())
        .bind(doc.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
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
        .bind(Utc::now())
        .bind(tenant.to_string())
        .bind(doc.to_string())
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_document(&self, tenant: TenantId, doc: DocumentId) -> StoreResult<Document> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        // Chunks go by cascade, in the same statement.
        let found: Document = sqlx::query_as::<_, DocumentRow>(concat!(
            "DELETE FROM documents WHERE tenant_id = $1 AND id = $2 RETURNING ",
            document_columns!()
        ))
        .bind(tenant.to_string())
        .bind(doc.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?
        .try_into()?;
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
        bump_index_version(&mut tx, &found.bot_id.to_string()).await?;
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
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        // The row lock makes two concurrent replacements of one document
        // take turns instead of interleaving their deletes and inserts.
        let bot: Option<(String,)> = sqlx::query_as(
            "SELECT bot_id FROM documents WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        )
        .bind(tenant.to_string())
        .bind(doc.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some((bot,)) = bot else {
            return Err(StoreError::NotFound);
        };
        sqlx::query("DELETE FROM chunks WHERE tenant_id = $1 AND document_id = $2")
            .bind(tenant.to_string())
            .bind(doc.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        // Multi-row inserts in batches: far fewer round trips than one per
        // chunk, well under the 65,535 bind-parameter limit.
        for batch in chunks.chunks(200) {
            let mut insert: QueryBuilder<Postgres> = QueryBuilder::new(
                "INSERT INTO chunks (id, tenant_id, bot_id, document_id, idx, text, token_count, \
                 page, heading, text_hash, embedder_id, dims, embedding) ",
            );
            insert.push_values(batch, |mut row, c| {
                row.push_bind(c.id.to_string())
                    .push_bind(tenant.to_string())
                    .push_bind(bot.clone())
                    .push_bind(doc.to_string())
                    .push_bind(c.index as i64)
                    .push_bind(c.text.clone())
                    .push_bind(c.token_count as i64)
                    .push_bind(c.page.map(i64::from))
                    .push_bind(c.heading.clone())
                    .push_bind(c.text_hash.clone())
                    .push_bind(c.embedder_id.clone())
                    .push_bind(c.embedding.len() as i32)
                    .push_bind(c.embedding.clone())
                    .push_unseparated("::real[]::vector");
            });
            insert.build().execute(&mut *tx).await.map_err(map_err)?;
        }
        sqlx::query(
            "UPDATE documents SET status = 'ready', error = NULL, chunk_count = $1, updated_at = $2,
                 title = coalesce($3, title)
             WHERE tenant_id = $4 AND id = $5",
        )
        .bind(chunks.len() as i64)
        .bind(Utc::now())
        .bind(title)
        .bind(tenant.to_string())
        .bind(doc.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        bump_index_version(&mut tx, &bot).await?;
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
        if text_hashes.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, Vec<f32>)> = sqlx::query_as(
            "SELECT DISTINCT ON (text_hash) text_hash, embedding::real[] FROM chunks
             WHERE tenant_id = $1 AND embedder_id = $2 AND text_hash = ANY($3)",
        )
        .bind(tenant.to_string())
        .bind(embedder_id)
        .bind(text_hashes)
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        Ok(rows.into_iter().collect())
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
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let (version,): (i64,) =
            sqlx::query_as("SELECT index_version FROM bots WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(bot.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        let rows: Vec<(String, Vec<f32>)> = sqlx::query_as(
            "SELECT id, embedding::real[] FROM chunks
             WHERE tenant_id = $1 AND bot_id = $2 AND embedder_id = $3",
        )
        .bind(tenant.to_string())
        .bind(bot.to_string())
        .bind(embedder_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        let mut out = BotVectors {
            version,
            ..BotVectors::default()
        };
        for (id, v) in rows {
            if out.dims == 0 {
                out.dims = v.len();
            }
            if v.len() != out.dims {
                return Err(backend("vectors of one embedder differ in dimension"));
            }
            out.ids.push(parse_id(&id)?);
            out.vectors.extend_from_slice(&v);
        }
        Ok(out)
    }

    async fn vector_search(
        &self,
        tenant: TenantId,
        bot: BotId,
        embedder_id: &str,
        query: &[f32],
        limit: u32,
    ) -> StoreResult<Option<Vec<(ChunkId, f32)>>> {
        let dims = query.len();
        if dims == 0 {
            return Ok(Some(Vec::new()));
        }
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        sqlx::query(AssertSqlSafe(vector_search_settings(
            self.iterative_scan(),
            limit,
        )))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let rows: Vec<(String, f32)> =
            sqlx::query_as(AssertSqlSafe(vector_search_sql(dims, limit)))
                .bind(query)
                .bind(tenant.to_string())
                .bind(bot.to_string())
                .bind(embedder_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        let mut hits = rows
            .into_iter()
            .map(|(id, score)| Ok((parse_id(&id)?, score)))
            .collect::<StoreResult<Vec<(ChunkId, f32)>>>()?;
        hits.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(Some(hits))
    }

    async fn vector_similarity(
        &self,
        tenant: TenantId,
        embedder_id: &str,
        query: &[f32],
        ids: &[ChunkId],
    ) -> StoreResult<Option<HashMap<ChunkId, f32>>> {
        if ids.is_empty() || query.is_empty() {
            return Ok(Some(HashMap::new()));
        }
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let rows: Vec<(String, f32)> = sqlx::query_as(
            "SELECT id, (1 - (embedding <=> $1::real[]::vector))::real FROM chunks
             WHERE tenant_id = $2 AND embedder_id = $3 AND dims = $4 AND id = ANY($5)",
        )
        .bind(query)
        .bind(tenant.to_string())
        .bind(embedder_id)
        .bind(query.len() as i32)
        .bind(&ids)
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.into_iter()
            .map(|(id, score)| Ok((parse_id(&id)?, score)))
            .collect::<StoreResult<HashMap<_, _>>>()
            .map(Some)
    }

    /// Builds the HNSW index (cosine) for vectors of `dims` dimensions, if
    /// missing. Vector search works without it, by a scan; with it, in
    /// logarithmic time.
    async fn prepare_vector_index(&self, dims: usize) -> StoreResult<()> {
        if !(1..=16_000).contains(&dims) {
            return Err(backend(format!("unsupported vector dimension {dims}")));
        }
        // `dims` is a number we checked: safe to splice into DDL, which takes
        // no bind parameters.
        let ddl = format!(
            "CREATE INDEX IF NOT EXISTS {} ON chunks USING hnsw ((embedding::vector({dims})) \
             vector_cosine_ops) WHERE dims = {dims}",
            hnsw_index(dims)
        );
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        // An HNSW build whose graph fits in memory is many times faster than
        // one that spills (measured: 340 s for 200k vectors of 384 dims with
        // the default 64 MB, 66 s with 1 GB). Raise it to 1 GB for this build
        // only, unless the operator set more (on the role, the database or
        // the URL's `options`): 1M vectors of 384 dims need about 2 GB.
        sqlx::query(
            "SELECT set_config('maintenance_work_mem', '1GB', true) \
             WHERE pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes('1GB')",
        )
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        match sqlx::query(AssertSqlSafe(ddl)).execute(&mut *tx).await {
            Ok(_) => tx.commit().await.map_err(map_err),
            // Another node created it at the same moment.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(()),
            Err(e) => Err(map_err(e)),
        }
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
        let Some(terms) = ts_query(query) else {
            return Ok(Vec::new());
        };
        // ts_rank with length normalisation 1 (divides by 1 + log of the
        // passage's length), the closest of Postgres' rankings to BM25's
        // damping of long passages.
        let rows: Vec<(String, f32)> = sqlx::query_as(
            "SELECT c.id, ts_rank(c.tsv, q, 1) AS rank
             FROM chunks c, to_tsquery('english', $1) q
             WHERE c.tsv @@ q AND c.tenant_id = $2 AND c.bot_id = $3
             ORDER BY rank DESC, c.id LIMIT $4",
        )
        .bind(terms)
        .bind(tenant.to_string())
        .bind(bot.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.into_iter()
            .map(|(id, rank)| Ok((parse_id(&id)?, rank)))
            .collect()
    }

    async fn get_chunk_hits(
        &self,
        tenant: TenantId,
        ids: &[ChunkId],
    ) -> StoreResult<Vec<ChunkHit>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<String> = ids.iter().map(ToString::to_string).collect();
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
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT c.id, c.document_id, d.title, d.source_url, c.text, c.page, c.heading,
                    f.filename
             FROM chunks c JOIN documents d ON d.id = c.document_id
             LEFT JOIN files f ON f.id = d.file_id AND f.tenant_id = d.tenant_id
             WHERE c.tenant_id = $1 AND c.id = ANY($2)",
        )
        .bind(tenant.to_string())
        .bind(&wanted)
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
