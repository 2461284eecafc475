//! The SQL both backends share, written once. Every query here runs on
//! SQLite and on PostgreSQL as is: numbered placeholders (`$1`, which sqlx
//! binds on SQLite too), standard SQL, and column types that encode and
//! decode on both (ids and JSON as text, timestamps through [`Ts`]).
//! What genuinely differs — opening and migrating, the write transaction,
//! row locks, the job claim, keyword and vector search — is the [`Dialect`],
//! implemented in `sqlite/` and `postgres/`.
//!
//! The impls are generic over the dialect with the same `where` clause
//! each: Rust does not carry a trait's bounds on other types (`String:
//! Encode<D>`, the connection's `Executor`) to its users, so each impl
//! states them.

/// The job columns, as a macro so that each dialect's claim statement stays
/// one `&'static str` (no dynamic SQL).
macro_rules! job_columns {
    () => {
        "id, tenant_id, kind, payload, status, attempts, max_attempts, error, progress_done, \
         progress_total, run_at, created_at, started_at, finished_at"
    };
}

mod accounts;
mod audit;
mod bots;
mod chat;
mod jobs;
mod knowledge;
mod leads;
mod usage;

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::Chunk;
use docent_core::ids::{BotId, ChunkId, TenantId};
use docent_core::store::{
    BotVectors, Page, PageRequest, Store, StoreError, StoreResult,
};
use sqlx::query_builder::Separated;
use sqlx::{Database, Decode, Encode, IntoArguments, Pool, Transaction, Type};

pub(crate) use jobs::insert_job;

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
pub trait Dialect: Database<Arguments: IntoArguments<Self>> {
    /// What opening the database found out, kept with the pool.
    type Extra: Clone + Send + Sync + 'static;
    /// Appended to a `SELECT` that must lock its rows until commit (empty
    /// where the write transaction already excludes other writers).
    const FOR_UPDATE: &'static str;
    /// The column that orders chat messages as they were appended.
    const MESSAGE_ORDER: &'static str;
    /// Deleting a bot starts with this statement (binds: tenant, bot).
    const DELETE_BOT_CONTENTS: &'static str;
    /// The vector column(s) of a chunk row, as `push_vector` fills them.
    const VECTOR_COLUMNS: &'static str;
    /// The vector column as it is read back into a [`Vector`].
    const VECTOR_OUT: &'static str;
    /// The job claim (binds: worker, now, lease end; returns job columns).
    const CLAIM_JOB: &'static str;

    fn rows_affected(done: &Self::QueryResult) -> u64;

    /// A transaction for a read-check-write sequence.
    async fn begin_write(pool: &Pool<Self>) -> StoreResult<Transaction<'static, Self>>;

    /// A read-only transaction whose reads agree with each other.
    async fn begin_snapshot(pool: &Pool<Self>) -> StoreResult<Transaction<'static, Self>>;

    /// Binds one chunk's embedding into the row of a multi-row insert.
    fn push_vector(row: &mut Separated<'_, Self, &'static str>, embedding: &[f32]);

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

/// A Rust type that is a column type of the dialect: bound, and read back.
pub trait Column<D: Database>:
    for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D> + Send + Sync
{
}

impl<D: Database, T> Column<D> for T where
    T: for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D> + Send + Sync
{
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
pub(crate) async fn insert_chunks<D>(
    conn: &mut D::Connection,
    tenant: &str,
    bot: &str,
    doc: &str,
    chunks: &[Chunk],
) -> StoreResult<()>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: sqlx::Executor<'c, Database = D>,
    for<'a> &'a str: Encode<'a, D> + Type<D>,
    for<'a> Option<&'a str>: Encode<'a, D> + Type<D>,
    String: Column<D>,
    i64: Column<D>,
    Option<i64>: Column<D>,
{
    for batch in chunks.chunks(200) {
        let mut insert = sqlx::QueryBuilder::<D>::new(format!(
            "INSERT INTO chunks (id, tenant_id, bot_id, document_id, idx, text, token_count, \
             page, heading, text_hash, embedder_id, {}) ",
            D::VECTOR_COLUMNS
        ));
        insert.push_values(batch, |mut row, c| {
            row.push_bind(c.id.to_string())
                .push_bind(tenant)
                .push_bind(bot)
                .push_bind(doc)
                .push_bind(c.index as i64)
                .push_bind(c.text.as_str())
                .push_bind(c.token_count as i64)
                .push_bind(c.page.map(i64::from))
                .push_bind(c.heading.as_deref())
                .push_bind(c.text_hash.as_str())
                .push_bind(c.embedder_id.as_str());
            D::push_vector(&mut row, &c.embedding);
        });
        insert.build().execute(&mut *conn).await.map_err(map_err)?;
    }
    Ok(())
}

/// Collects one bot's vectors of one embedder into the in-process layout.
pub(crate) fn bot_vectors_of(
    version: i64,
    rows: Vec<(String, Vector)>,
) -> StoreResult<BotVectors> {
    let mut out = BotVectors {
        version,
        ..BotVectors::default()
    };
    for (id, Vector(v)) in rows {
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

#[async_trait]
impl<D> Store for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: sqlx::Executor<'c, Database = D>,
    for<'r> &'r str: sqlx::ColumnIndex<D::Row> + Encode<'r, D> + Type<D>,
    usize: sqlx::ColumnIndex<D::Row>,
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
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps driver errors: unique violations become `Conflict`, missing rows
/// `NotFound`, everything else an opaque backend error.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_string())
        }
        _ => backend(e),
    }
}

pub(crate) fn parse_id<T: FromStr>(s: &str) -> StoreResult<T> {
    s.parse().map_err(|_| backend(format!("bad id `{s}`")))
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

/// Converts rows with a fallible mapping, as every listing does.
pub(crate) fn convert<R, T>(rows: Vec<R>) -> StoreResult<Vec<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

/// A page's limit as bound: one more row than asked for (see [`page_of`]).
pub(crate) fn limit_plus_one(page: &PageRequest) -> i64 {
    i64::from(page.limit) + 1
}

/// A count or size as BIGINT (saturating; past `i64::MAX` is absurd).
pub(crate) fn amount(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Reads a JSON text column.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(backend)
}

/// Writes a JSON text column.
pub(crate) fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("domain values serialise")
}
