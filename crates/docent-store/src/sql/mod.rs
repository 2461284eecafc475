//! The SQL both backends share, written once. Every statement here runs on
//! SQLite and on PostgreSQL as is: numbered placeholders (`$1`, which sqlx
//! binds on SQLite too), standard SQL, and values that encode and decode on
//! both (ids and JSON as text, timestamps through [`Ts`], vectors through
//! [`Vector`]), bound and read through the small typed layer in `query`.
//! What genuinely differs (opening and migrating, the write transaction,
//! row locks, the job claim, keyword and vector search) is the [`Dialect`],
//! implemented in `sqlite/` and `postgres/`.

/// Each table's columns as its rows are read, so statements stay one
/// `&'static str` (no dynamic SQL): `columns!(documents)`.
macro_rules! columns {
    (bots) => {
        "id, tenant_id, name, description, system_prompt, welcome_message, model, temperature, \
         max_tokens, public, allowed_origins, retrieval, theme, visitor_messages_per_minute, \
         unsupported_sentences, created_at, updated_at"
    };
    (jobs) => {
        "id, tenant_id, kind, payload, status, attempts, max_attempts, error, progress_done, \
         progress_total, run_at, created_at, started_at, finished_at"
    };
    (chat_sessions) => {
        "id, tenant_id, bot_id, visitor, started_by, message_count, created_at, last_message_at"
    };
    (chat_messages) => {
        "id, tenant_id, session_id, role, content, citations, mode, prompt_tokens, \
         completion_tokens, latency_ms, partial, answered, finish_reason, grounding, feedback, \
         feedback_comment, feedback_at, created_at"
    };
    (users) => {
        "id, tenant_id, email, password_hash, role, created_at, email_verified_at"
    };
    (email_tokens) => {
        "id, tenant_id, user_id, email, role, purpose, token_hash, expires_at, used_at, created_at"
    };
    (api_keys) => {
        "id, tenant_id, name, role, prefix, created_by, created_at, last_used_at"
    };
    (documents) => {
        "id, tenant_id, bot_id, title, status, source_type, source_url, format, file_id, \
         object_key, content_hash, size_bytes, chunk_count, error, metadata, created_at, updated_at"
    };
    (webhooks) => {
        "id, tenant_id, url, description, events, enabled, disabled_reason, \
         consecutive_failures, created_at, updated_at"
    };
    (webhook_deliveries) => {
        "id, tenant_id, endpoint_id, event, message_id, payload, status, attempts, \
         response_status, error, created_at, last_attempt_at, delivered_at"
    };
    (files) => {
        "id, tenant_id, bot_id, filename, content_type, size_bytes, sha256, object_key, format, \
         uploaded_at, created_at"
    };
}

/// The job claim, around a dialect's choice of the job (`$pick`, which
/// selects one `id`; binds: worker, now, lease end). Runnable is queued and
/// due, or running with a lapsed lease (its worker died). Fairness: among
/// tenants with runnable work, the one with the fewest live leases wins,
/// then the one whose last claim is oldest (never claimed first), so one
/// tenant's thousands of jobs cannot starve another's single upload; within
/// a tenant, oldest first. `$pick` orders tenants by `fair_tenant_order!()`.
macro_rules! claim_job {
    ($pick:expr) => {
        concat!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1,
                 lease_until = $3, claimed_at = $2, started_at = coalesce(started_at, $2)
             WHERE id = (",
            $pick,
            ") RETURNING ",
            columns!(jobs)
        )
    };
}

/// Whether job `$j` can be claimed now.
macro_rules! runnable {
    ($j:literal) => {
        concat!(
            "((",
            $j,
            ".status = 'queued' AND ",
            $j,
            ".run_at <= $2) OR (",
            $j,
            ".status = 'running' AND ",
            $j,
            ".lease_until < $2))"
        )
    };
}

/// The fairness order of the tenants `r.tenant_id` (see `claim_job!`).
macro_rules! fair_tenant_order {
    () => {
        "(SELECT count(*) FROM jobs b WHERE b.tenant_id = r.tenant_id AND b.status = 'running'
              AND b.lease_until >= $2),
         (SELECT max(c.claimed_at) FROM jobs c WHERE c.tenant_id = r.tenant_id) NULLS FIRST,
         min(r.run_at), r.tenant_id"
    };
}

/// Every column of `table`, then the rest of the statement:
/// `select!(documents: "WHERE tenant_id = $1 AND id = $2")`.
macro_rules! select {
    ($table:ident: $rest:literal) => {
        concat!(
            "SELECT ",
            columns!($table),
            " FROM ",
            stringify!($table),
            " ",
            $rest
        )
    };
}

/// A row of every column of `table`, from the given placeholders.
macro_rules! insert {
    ($table:ident: $values:literal) => {
        concat!(
            "INSERT INTO ",
            stringify!($table),
            " (",
            columns!($table),
            ") VALUES (",
            $values,
            ")"
        )
    };
}

mod accounts;
mod audit;
mod bots;
mod chat;
mod email_tokens;
mod jobs;
mod knowledge;
mod leads;
mod mfa;
mod query;
mod usage;
mod webhooks;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::Chunk;
use docent_core::ids::{BotId, ChunkId, TenantId};
use docent_core::store::BotVectors;
use docent_core::store::{Page, PageRequest, Store, StoreError, StoreResult};
use sqlx::{AssertSqlSafe, Pool, Transaction};

pub(crate) use jobs::insert_job;
#[cfg(test)]
pub(crate) use knowledge::chunk_hits_sql;
pub use query::{Column, Exec, Q, Row, Sql, Value, corrupt, failed, query};

/// A backend's store: a connection pool and what the dialect learned when
/// it opened (pgvector's abilities, for one).
pub struct SqlStore<D: Dialect> {
    pool: Pool<D>,
    pub(crate) extra: D::Extra,
}

impl<D: Dialect> Clone for SqlStore<D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            extra: self.extra.clone(),
        }
    }
}

impl<D: Dialect> SqlStore<D> {
    pub(crate) fn new(pool: Pool<D>, extra: D::Extra) -> Self {
        Self { pool, extra }
    }

    pub fn pool(&self) -> &Pool<D> {
        &self.pool
    }

    /// A transaction for statements that write (see [`Dialect::begin_write`]).
    pub(crate) async fn write_tx(&self) -> StoreResult<Transaction<'static, D>> {
        D::begin_write(&self.pool).await
    }
}

/// What one database does its own way. Constants are SQL fragments spliced
/// into the shared statements; methods are whole operations.
#[async_trait]
pub trait Dialect: Sql {
    /// What opening the database found out, kept with the pool.
    type Extra: Clone + Send + Sync + 'static;
    /// Appended to a `SELECT` that must lock its rows until commit (empty
    /// where the write transaction already excludes other writers).
    const FOR_UPDATE: &'static str;
    /// The column that orders chat messages as they were appended.
    const MESSAGE_ORDER: &'static str;
    /// Deleting a bot starts with this statement (binds: tenant, bot).
    const DELETE_BOT_CONTENTS: &'static str;
    /// The vector column(s) of a chunk row, as [`Dialect::vector_values`]
    /// fills them.
    const VECTOR_COLUMNS: &'static str;
    /// The vector column as it is read back into a [`Vector`].
    const VECTOR_OUT: &'static str;
    /// The job claim (binds: worker, now, lease end; returns job columns).
    const CLAIM_JOB: &'static str;
    /// Put before a column that a lookup by primary key also checks, so the
    /// planner does not walk an index on that column instead: SQLite's unary
    /// `+`. SQLite, without statistics, prefers the tenant's index over an
    /// `id IN (…)` list of more than about ten keys, and then reads every
    /// chunk of the tenant; PostgreSQL plans by its statistics.
    const NOT_INDEXED: &'static str;

    fn rows_affected(done: &Self::QueryResult) -> u64;

    /// The placeholders (from `$first` on) and values of one embedding in a
    /// chunk row.
    fn vector_values(first: usize, embedding: &[f32]) -> (String, Vec<Value>);

    /// A transaction for a read-check-write sequence.
    async fn begin_write(pool: &Pool<Self>) -> StoreResult<Transaction<'static, Self>>;

    /// A read-only transaction whose reads agree with each other.
    async fn begin_snapshot(pool: &Pool<Self>) -> StoreResult<Transaction<'static, Self>>;

    /// Ranks the bot's passages for `query`; higher is better.
    async fn keyword_search(
        store: &SqlStore<Self>,
        tenant: TenantId,
        bot: BotId,
        query: &str,
        limit: u32,
    ) -> StoreResult<Vec<(ChunkId, f32)>>;

    /// Nearest neighbours in the database, or `None` where the process
    /// searches its own index.
    async fn vector_search(
        _store: &SqlStore<Self>,
        _tenant: TenantId,
        _bot: BotId,
        _embedder_id: &str,
        _query: &[f32],
        _limit: u32,
    ) -> StoreResult<Option<Vec<(ChunkId, f32)>>> {
        Ok(None)
    }

    /// Cosine similarity of `query` with given passages, computed in the
    /// database, or `None` where the process computes it.
    async fn vector_similarity(
        _store: &SqlStore<Self>,
        _tenant: TenantId,
        _embedder_id: &str,
        _query: &[f32],
        _ids: &[ChunkId],
    ) -> StoreResult<Option<HashMap<ChunkId, f32>>> {
        Ok(None)
    }

    /// Readies the database's vector index for `dims` dimensions.
    async fn prepare_vector_index(_store: &SqlStore<Self>, _dims: usize) -> StoreResult<()> {
        Ok(())
    }
}

/// A timestamp as bound into either database: `timestamptz` on PostgreSQL,
/// fixed-width RFC 3339 text (microseconds, `Z`) on SQLite, so that text
/// order is time order there. Read back as `DateTime<Utc>`.
#[derive(Clone, Copy, Debug)]
pub struct Ts(pub DateTime<Utc>);

/// A passage embedding as stored: a little-endian f32 blob on SQLite, a
/// pgvector (read as `real[]`) on PostgreSQL.
#[derive(Clone, Debug, Default)]
pub struct Vector(pub Vec<f32>);

/// Inserts one document's chunks in multi-row batches: far fewer round
/// trips than one per chunk, and under both databases' bind-parameter limits.
pub(crate) async fn insert_chunks<D: Dialect>(
    tx: &mut Transaction<'static, D>,
    tenant: &str,
    bot: &str,
    doc: &str,
    chunks: &[Chunk],
) -> StoreResult<()> {
    for batch in chunks.chunks(200) {
        let mut rows = Vec::with_capacity(batch.len());
        let mut values: Vec<Value> = Vec::with_capacity(batch.len() * 13);
        for c in batch {
            let first = values.len() + 1;
            values.extend([
                c.id.to_string().into(),
                tenant.into(),
                bot.into(),
                doc.into(),
                (c.index as i64).into(),
                c.text.as_str().into(),
                (c.token_count as i64).into(),
                c.page.map(i64::from).into(),
                c.heading.as_deref().into(),
                c.text_hash.as_str().into(),
                c.embedder_id.as_str().into(),
            ]);
            let (vector, bound) = D::vector_values(first + 11, &c.embedding);
            values.extend(bound);
            let params: Vec<String> = (first..first + 11).map(|n| format!("${n}")).collect();
            rows.push(format!("({}, {vector})", params.join(", ")));
        }
        let sql = format!(
            "INSERT INTO chunks (id, tenant_id, bot_id, document_id, idx, text, token_count, \
             page, heading, text_hash, embedder_id, {}) VALUES {}",
            D::VECTOR_COLUMNS,
            rows.join(", ")
        );
        values
            .into_iter()
            .fold(query::<D>("replace_chunks", AssertSqlSafe(sql)), Q::bind)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// A ranked passage: its `id` and `score` columns.
pub(crate) fn scored<D: Dialect>(r: Row<'_, D>) -> StoreResult<(ChunkId, f32)> {
    Ok((r.id("id")?, r.float("score")? as f32))
}

/// `$first, $first+1, …` for `n` values, as an `IN (…)` list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    let list: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    list.join(", ")
}

/// Collects one bot's vectors of one embedder into the in-process layout.
pub(crate) fn bot_vectors_of(
    version: i64,
    rows: Vec<(ChunkId, Vec<f32>)>,
) -> StoreResult<BotVectors> {
    let mut out = BotVectors {
        version,
        ..BotVectors::default()
    };
    for (id, v) in rows {
        if out.dims == 0 {
            out.dims = v.len();
        }
        if v.len() != out.dims {
            return Err(corrupt(
                "bot_vectors",
                "vectors of one embedder differ in dimension".into(),
            ));
        }
        out.ids.push(id);
        out.vectors.extend_from_slice(&v);
    }
    Ok(out)
}

#[async_trait]
impl<D: Dialect> Store for SqlStore<D> {
    async fn ping(&self) -> StoreResult<()> {
        query::<D>("ping", "SELECT 1").run(self.pool()).await
    }
}

/// A backend error of operation `op` that is not the driver's.
pub(crate) fn backend(
    op: &'static str,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> StoreError {
    StoreError::backend(op, e)
}

/// Parses an id read by dialect code.
pub(crate) fn parse_id<T: std::str::FromStr>(op: &'static str, s: &str) -> StoreResult<T> {
    s.parse().map_err(|_| corrupt(op, format!("bad id `{s}`")))
}

/// Rows are fetched with one extra to learn whether another page follows.
pub(crate) fn page_of<T>(
    mut items: Vec<T>,
    page: &PageRequest,
    id_of: impl Fn(&T) -> String,
) -> Page<T> {
    let next_cursor = if items.len() > page.limit as usize {
        items.truncate(page.limit as usize);
        items.last().map(id_of)
    } else {
        None
    };
    Page { items, next_cursor }
}

/// A page's limit as bound: one more row than asked for (see [`page_of`]).
pub(crate) fn limit_plus_one(page: &PageRequest) -> i64 {
    i64::from(page.limit) + 1
}

/// A count or size as BIGINT (saturating; past `i64::MAX` is absurd).
pub(crate) fn amount(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Writes a JSON text column.
pub(crate) fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("domain values serialise")
}

/// Commits a transaction of operation `op`.
pub(crate) async fn commit<D: Dialect>(
    tx: Transaction<'static, D>,
    op: &'static str,
) -> StoreResult<()> {
    tx.commit().await.map_err(|e| failed(op, e))
}
