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
use sqlx::{QueryBuilder, Sqlite};

use super::jobs::insert_job;
use super::{SqliteStore, backend, map_err, page_of, parse_id, parse_opt_ts, parse_ts, ts};

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
    uploaded_at: Option<String>,
    created_at: String,
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
            uploaded_at: parse_opt_ts(r.uploaded_at)?,
            created_at: parse_ts(&r.created_at)?,
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
    created_at: String,
    updated_at: String,
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
            created_at: parse_ts(&r.created_at)?,
            updated_at: parse_ts(&r.updated_at)?,
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

fn vector_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn blob_to_vector(b: &[u8]) -> StoreResult<Vec<f32>> {
    if !b.len().is_multiple_of(4) {
        return Err(backend("embedding blob length is not a multiple of 4"));
    }
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Turns free text into an FTS5 query that cannot be a syntax error: each word
/// is quoted and the words are OR-ed, so BM25 ranks passages with more of them
/// higher. `None` when the text holds no word at all.
fn fts_query(bot: BotId, text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(64)
        .map(|w| format!("\"{}\"", w.to_lowercase()))
        .collect();
    if words.is_empty() {
        return None;
    }
    Some(format!(
        "bot:\"{}\" AND ({})",
        bot.0.simple(),
        words.join(" OR ")
    ))
}

async fn bump_index_version<'e, E: sqlx::SqliteExecutor<'e>>(
    exec: E,
    bot: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE bots SET index_version = index_version + 1 WHERE id = ?")
        .bind(bot)
        .execute(exec)
        .await
        .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl KnowledgeStore for SqliteStore {
    async fn create_file(&self, f: &StoredFile) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO files (",
            file_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
        .bind(f.uploaded_at.map(ts))
        .bind(ts(f.created_at))
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_file(&self, tenant: TenantId, file: FileId) -> StoreResult<StoredFile> {
        sqlx::query_as::<_, FileRow>(concat!(
            "SELECT ",
            file_columns!(),
            " FROM files WHERE tenant_id = ? AND id = ?"
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
            "UPDATE files SET size_bytes = ?, sha256 = ?, format = ?, uploaded_at = ?
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(f.size_bytes as i64)
        .bind(&f.sha256)
        .bind(&f.format)
        .bind(f.uploaded_at.map(ts))
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
            " FROM files f WHERE f.created_at < ?
               AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.tenant_id = f.tenant_id AND d.file_id = f.id)
             ORDER BY f.created_at LIMIT ?"
        ))
        .bind(ts(before))
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
            "DELETE FROM files WHERE tenant_id = ?1 AND id = ?2
               AND NOT EXISTS (SELECT 1 FROM documents WHERE tenant_id = ?1 AND file_id = ?2)
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
            "UPDATE usage_counters SET used = MAX(used - ?, 0)
             WHERE tenant_id = ? AND period = 'held' AND kind = 'storage_bytes'",
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
        let mut tx = self.write_tx().await?;
        sqlx::query(concat!(
            "INSERT INTO documents (",
            document_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
        .bind(ts(d.created_at))
        .bind(ts(d.updated_at))
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
            " FROM documents WHERE tenant_id = ? AND id = ?"
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
             WHERE tenant_id = ?1 AND (?2 IS NULL OR bot_id = ?2) AND (?3 IS NULL OR status = ?3)
               AND (?4 IS NULL OR id > ?4)
             ORDER BY id LIMIT ?5"
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
             WHERE tenant_id = ? AND bot_id = ? AND source_url = ? ORDER BY id LIMIT 1"
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
            "UPDATE documents SET title = ?, status = 'queued', error = NULL, format = ?, object_key = ?,
                 content_hash = ?, size_bytes = ?, metadata = ?, updated_at = ?
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(&d.title)
        .bind(&d.format)
        .bind(&d.object_key)
        .bind(&d.content_hash)
        .bind(d.size_bytes as i64)
        .bind(d.metadata.to_string())
        .bind(ts(Utc::now()))
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
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE documents SET status = 'queued', error = NULL, updated_at = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(ts(Utc::now()))
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
        let done = sqlx::query("UPDATE documents SET status = ?, error = ?, updated_at = ? WHERE tenant_id = ? AND id = ?")
            .bind(status.as_str())
            .bind(error)
            .bind(ts(Utc::now()))
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
        let mut tx = self.write_tx().await?;
        let found: Document = sqlx::query_as::<_, DocumentRow>(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE tenant_id = ? AND id = ?"
        ))
        .bind(tenant.to_string())
        .bind(doc.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?
        .try_into()?;
        // Chunks first, explicitly, so the keyword-index triggers run.
        sqlx::query("DELETE FROM chunks WHERE tenant_id = ? AND document_id = ?")
            .bind(tenant.to_string())
            .bind(doc.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("DELETE FROM documents WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(doc.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        // The file it was made of goes with it (its bytes left the counter
        // with the document, by trigger).
        if let Some(file) = found.file_id {
            sqlx::query("DELETE FROM files WHERE tenant_id = ? AND id = ?")
                .bind(tenant.to_string())
                .bind(file.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        bump_index_version(&mut *tx, &found.bot_id.to_string()).await?;
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
        let mut tx = self.write_tx().await?;
        let bot: Option<(String,)> =
            sqlx::query_as("SELECT bot_id FROM documents WHERE tenant_id = ? AND id = ?")
                .bind(tenant.to_string())
                .bind(doc.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        let Some((bot,)) = bot else {
            return Err(StoreError::NotFound);
        };
        sqlx::query("DELETE FROM chunks WHERE tenant_id = ? AND document_id = ?")
            .bind(tenant.to_string())
            .bind(doc.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        // Multi-row inserts in batches: far fewer statements than one per chunk,
        // and under SQLite's bound-parameter limit.
        for batch in chunks.chunks(200) {
            let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO chunks (id, tenant_id, bot_id, document_id, idx, text, token_count, page, heading, \
                 text_hash, embedder_id, embedding) ",
            );
            insert.push_values(batch, |mut row, c| {
                row.push_bind(c.id.to_string())
                    .push_bind(tenant.to_string())
                    .push_bind(bot.clone())
                    .push_bind(doc.to_string())
                    .push_bind(c.index as i64)
                    .push_bind(c.text.clone())
                    .push_bind(c.token_count as i64)
                    .push_bind(c.page.map(|p| p as i64))
                    .push_bind(c.heading.clone())
                    .push_bind(c.text_hash.clone())
                    .push_bind(c.embedder_id.clone())
                    .push_bind(vector_to_blob(&c.embedding));
            });
            insert.build().execute(&mut *tx).await.map_err(map_err)?;
        }
        sqlx::query(
            "UPDATE documents SET status = 'ready', error = NULL, chunk_count = ?, updated_at = ?,
                 title = coalesce(?, title)
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(chunks.len() as i64)
        .bind(ts(Utc::now()))
        .bind(title)
        .bind(tenant.to_string())
        .bind(doc.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        bump_index_version(&mut *tx, &bot).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn list_chunks(&self, tenant: TenantId, doc: DocumentId) -> StoreResult<Vec<ChunkView>> {
        let rows: Vec<(String, i64, String, i64, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT id, idx, text, token_count, page, heading FROM chunks
             WHERE tenant_id = ? AND document_id = ? ORDER BY idx",
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
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT text_hash, embedding FROM chunks WHERE tenant_id = ");
            q.push_bind(tenant.to_string())
                .push(" AND embedder_id = ")
                .push_bind(embedder_id.to_string())
                .push(" AND text_hash IN (");
            let mut list = q.separated(", ");
            for h in batch {
                list.push_bind(h.clone());
            }
            q.push(")");
            let rows: Vec<(String, Vec<u8>)> = q
                .build_query_as()
                .fetch_all(self.pool())
                .await
                .map_err(map_err)?;
            for (hash, blob) in rows {
                found.insert(hash, blob_to_vector(&blob)?);
            }
        }
        Ok(found)
    }

    async fn bot_index_version(&self, tenant: TenantId, bot: BotId) -> StoreResult<i64> {
        let (v,): (i64,) =
            sqlx::query_as("SELECT index_version FROM bots WHERE tenant_id = ? AND id = ?")
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
        // Version and rows in one read transaction, so they agree.
        let mut tx = self.write_tx().await?;
        let (version,): (i64,) =
            sqlx::query_as("SELECT index_version FROM bots WHERE tenant_id = ? AND id = ?")
                .bind(tenant.to_string())
                .bind(bot.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT id, embedding FROM chunks WHERE tenant_id = ? AND bot_id = ? AND embedder_id = ?")
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
        for (id, blob) in rows {
            let v = blob_to_vector(&blob)?;
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

    async fn stale_documents(
        &self,
        embedder_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<(TenantId, DocumentId)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT c.tenant_id, c.document_id FROM chunks c
             JOIN documents d ON d.id = c.document_id AND d.tenant_id = c.tenant_id
             WHERE c.embedder_id != ? AND d.status = 'ready' LIMIT ?",
        )
        .bind(embedder_id)
        .bind(limit as i64)
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
        let Some(fts) = fts_query(bot, query) else {
            return Ok(Vec::new());
        };
        // Ranked inside the full-text index first (the query names the bot,
        // so every match is the bot's), then joined: left to itself, the
        // planner may walk the bot's chunks and probe the index once per
        // chunk, which is orders of magnitude slower. The join re-checks
        // tenant and bot.
        let rows: Vec<(String, f64)> = sqlx::query_as(
            "SELECT c.id, f.rank
             FROM (SELECT rowid, bm25(chunks_fts, 0.0, 2.0, 1.0) AS rank FROM chunks_fts
                   WHERE chunks_fts MATCH ?1 ORDER BY rank LIMIT ?4) AS f
             JOIN chunks c ON c.rowid = f.rowid
             WHERE c.tenant_id = ?2 AND c.bot_id = ?3
             ORDER BY f.rank",
        )
        .bind(fts)
        .bind(tenant.to_string())
        .bind(bot.to_string())
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        // FTS5's bm25() is negative, lower is better; flip it so higher is better.
        rows.into_iter()
            .map(|(id, rank)| Ok((parse_id(&id)?, (-rank) as f32)))
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
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
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
