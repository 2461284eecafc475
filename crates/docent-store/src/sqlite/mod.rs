//! The embedded backend: one SQLite file in WAL mode with foreign keys enforced.
//! Readers run concurrently; writers queue on SQLite's lock, waited for through
//! `busy_timeout` rather than failing. Keyword search runs on a tantivy index
//! per bot kept from a change log that triggers write ([`keyword`]); vectors
//! are blobs, searched through an HNSW index per large bot kept the same way
//! ([`vector`]) and scanned exactly by the retriever for small ones.

mod derived;
mod keyword;
mod vector;

pub use vector::HNSW_MIN;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use docent_core::ids::{BotId, ChunkId, TenantId};
use docent_core::store::StoreResult;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous, SqliteTypeInfo,
};
use sqlx::{Database, Decode, Encode, Pool, Sqlite, Transaction, Type};

use crate::sql::{Dialect, SqlStore, Ts, Value, Vector, backend, failed};
use keyword::KeywordIndexes;
use vector::VectorIndexes;

/// The indexes this process keeps beside the database, derived from its rows.
pub struct Indexes {
    keyword: KeywordIndexes,
    vector: VectorIndexes,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating if needed) the database at `url` and migrates it.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_with(url, crate::StoreOptions::default()).await
    }

    /// [`Self::open`] with options.
    pub async fn open_with(url: &str, options: crate::StoreOptions) -> StoreResult<Self> {
        let crate::StoreOptions {
            vector_quantization,
        } = options;
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| backend("open", e))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only an
            // OS crash can lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let file = connect.get_filename().to_path_buf();
        let in_memory = file.as_os_str() == ":memory:" || url.contains("mode=memory");
        if let Some(dir) = file.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| backend("open", e))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(connect)
            .await
            .map_err(|e| backend("open", e))?;
        MIGRATOR.run(&pool).await.map_err(|e| backend("open", e))?;
        let at = (!in_memory).then_some(file.as_path());
        let indexes = Indexes {
            keyword: KeywordIndexes::new(at),
            vector: VectorIndexes::new(at, vector_quantization),
        };
        indexes.keyword.sweep(&pool).await?;
        indexes.vector.sweep(&pool).await?;
        Ok(Self::new(pool, Arc::new(indexes)))
    }

    /// The bot's keyword index queried alone: no tenant check, no catching
    /// up with the log (a search through the store does both first). The
    /// search library's own cost, for `docent bench search`.
    #[doc(hidden)]
    pub async fn keyword_index_only(
        &self,
        bot: BotId,
        text: &str,
        limit: u32,
    ) -> StoreResult<Vec<(ChunkId, f32)>> {
        self.extra.keyword.search_index_only(bot, text, limit).await
    }
}

#[async_trait]
impl Dialect for Sqlite {
    type Extra = Arc<Indexes>;
    // The write transaction holds the database's write lock.
    const FOR_UPDATE: &'static str = "";
    const MESSAGE_ORDER: &'static str = "rowid";
    // Chunks explicitly, so the keyword log's triggers run; documents, files
    // and the rest follow the bot by cascade.
    const DELETE_BOT_CONTENTS: &'static str =
        "DELETE FROM chunks WHERE tenant_id = $1 AND bot_id = $2";
    const VECTOR_COLUMNS: &'static str = "embedding";
    const VECTOR_OUT: &'static str = "embedding";
    const NOT_INDEXED: &'static str = "+";
    // SQLite runs one writer at a time, so the second claimer sees the
    // first's lease.
    const CLAIM_JOB: &'static str = claim_job!(concat!(
        "WITH runnable AS (SELECT id, tenant_id, run_at FROM jobs j WHERE ",
        runnable!("j"),
        "), next_tenant AS (SELECT r.tenant_id FROM runnable r GROUP BY r.tenant_id ORDER BY ",
        fair_tenant_order!(),
        " LIMIT 1)
         SELECT id FROM runnable WHERE tenant_id = (SELECT tenant_id FROM next_tenant)
         ORDER BY run_at, id LIMIT 1"
    ));

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    /// Takes SQLite's write lock at once. A deferred transaction that reads
    /// before writing fails outright (`SQLITE_BUSY`, no waiting) when another
    /// writer committed in between; an immediate one waits its turn under
    /// `busy_timeout`.
    async fn begin_write(pool: &Pool<Sqlite>) -> StoreResult<Transaction<'static, Sqlite>> {
        pool.begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| failed("begin_write", e))
    }

    async fn begin_snapshot(pool: &Pool<Sqlite>) -> StoreResult<Transaction<'static, Sqlite>> {
        Self::begin_write(pool).await
    }

    fn vector_values(first: usize, embedding: &[f32]) -> (String, Vec<Value>) {
        (
            format!("${first}"),
            vec![Value::Vector(Vector(embedding.to_vec()))],
        )
    }

    async fn keyword_search(
        store: &SqlStore<Sqlite>,
        tenant: TenantId,
        bot: BotId,
        text: &str,
        limit: u32,
    ) -> StoreResult<Vec<(ChunkId, f32)>> {
        store
            .extra
            .keyword
            .search(store.pool(), tenant, bot, text, limit)
            .await
    }

    /// Large bots through their HNSW index; `None` (the retriever scans
    /// exactly) for small ones.
    async fn vector_search(
        store: &SqlStore<Sqlite>,
        tenant: TenantId,
        bot: BotId,
        embedder_id: &str,
        query: &[f32],
        limit: u32,
    ) -> StoreResult<Option<Vec<(ChunkId, f32)>>> {
        store
            .extra
            .vector
            .search(store.pool(), tenant, bot, embedder_id, query, limit)
            .await
    }

    async fn vector_similarity(
        store: &SqlStore<Sqlite>,
        tenant: TenantId,
        embedder_id: &str,
        query: &[f32],
        ids: &[ChunkId],
    ) -> StoreResult<Option<HashMap<ChunkId, f32>>> {
        let found = vector::exact_cosines(store.pool(), tenant, embedder_id, query, ids).await?;
        Ok(Some(found.into_iter().collect()))
    }
}

type Buffer = <Sqlite as Database>::ArgumentBuffer;
type ValueRef<'r> = <Sqlite as Database>::ValueRef<'r>;

impl Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <DateTime<Utc> as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Ts {
    fn encode_by_ref(&self, buf: &mut Buffer) -> Result<IsNull, BoxDynError> {
        // Fixed width, so text order is time order.
        Encode::<Sqlite>::encode(self.0.to_rfc3339_opts(SecondsFormat::Micros, true), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(value: ValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<Sqlite>>::decode(value).map(Ts)
    }
}

impl Type<Sqlite> for Vector {
    fn type_info() -> SqliteTypeInfo {
        <Vec<u8> as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for Vector {
    fn encode_by_ref(&self, buf: &mut Buffer) -> Result<IsNull, BoxDynError> {
        let blob: Vec<u8> = self.0.iter().flat_map(|x| x.to_le_bytes()).collect();
        Encode::<Sqlite>::encode(blob, buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Vector {
    fn decode(value: ValueRef<'r>) -> Result<Self, BoxDynError> {
        let blob = <&[u8] as Decode<Sqlite>>::decode(value)?;
        if !blob.len().is_multiple_of(4) {
            return Err("embedding blob length is not a multiple of 4".into());
        }
        Ok(Vector(
            blob.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::AssertSqlSafe;

    /// Passages are looked up by primary key however many are asked for:
    /// left to itself, SQLite walks the tenant's index (every chunk of the
    /// tenant) once the `IN` list holds more than about ten ids.
    #[tokio::test]
    async fn passages_are_read_by_primary_key() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        for n in [1, 10, 40, 400] {
            let sql = format!(
                "EXPLAIN QUERY PLAN {}",
                crate::sql::chunk_hits_sql::<Sqlite>(n)
            );
            let plan: Vec<String> = sqlx::query(AssertSqlSafe(sql))
                .fetch_all(store.pool())
                .await
                .unwrap()
                .iter()
                .map(|row| sqlx::Row::get(row, "detail"))
                .collect();
            let chunks = plan.iter().find(|step| step.contains(" c ")).unwrap();
            assert!(
                chunks.contains("sqlite_autoindex_chunks_1"),
                "{n} ids: {plan:?}"
            );
        }
    }
}
