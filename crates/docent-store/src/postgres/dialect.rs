//! How PostgreSQL does what the shared SQL leaves to the dialect.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::ids::{BotId, ChunkId, TenantId};
use docent_core::store::StoreResult;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgQueryResult, PgTypeInfo};
use sqlx::{AssertSqlSafe, Database, Decode, Encode, Pool, Postgres, Transaction, Type};

use super::PgStore;
use super::search::{hnsw_index, keyword_search_sql, vector_search_settings, vector_search_sql};
use crate::sql::{Dialect, Ts, Value, Vector, backend, commit, failed, parse_id, query, scored};

#[async_trait]
impl Dialect for Postgres {
    type Extra = PgExtra;
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const MESSAGE_ORDER: &'static str = "seq";
    // Documents first (their chunks by cascade), then the bot; the rest
    // (files, sessions, leads) follow it by cascade. Ingestion locks a
    // document before bumping its bot's index version, so taking the bot's
    // row first could deadlock with a document being ingested.
    const DELETE_BOT_CONTENTS: &'static str =
        "DELETE FROM documents WHERE tenant_id = $1 AND bot_id = $2";
    const VECTOR_COLUMNS: &'static str = "dims, embedding";
    const VECTOR_OUT: &'static str = "embedding::real[]";
    const NOT_INDEXED: &'static str = "";
    // The tenant is chosen from this statement's snapshot without locks
    // (aggregates cannot be locked); the job is then locked with SKIP
    // LOCKED, preferring that tenant's jobs but falling back to any
    // runnable job when concurrent claimers hold all of the tenant's, so
    // a worker never comes back empty-handed while unlocked work exists.
    // A job another worker claimed and committed after our snapshot is
    // re-checked against the WHERE clause when locked (READ COMMITTED)
    // and skipped, since it is no longer runnable.
    const CLAIM_JOB: &'static str = claim_job!(concat!(
        "WITH next_tenant AS (SELECT r.tenant_id FROM jobs r WHERE ",
        runnable!("r"),
        " GROUP BY r.tenant_id ORDER BY ",
        fair_tenant_order!(),
        " LIMIT 1)
         SELECT j.id FROM jobs j WHERE ",
        runnable!("j"),
        " ORDER BY j.tenant_id IS DISTINCT FROM (SELECT tenant_id FROM next_tenant), j.run_at, j.id
         LIMIT 1 FOR UPDATE OF j SKIP LOCKED"
    ));

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    async fn begin_write(pool: &Pool<Postgres>) -> StoreResult<Transaction<'static, Postgres>> {
        pool.begin().await.map_err(|e| failed("begin_write", e))
    }

    async fn begin_snapshot(pool: &Pool<Postgres>) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = pool
            .begin()
            .await
            .map_err(|e| failed("begin_snapshot", e))?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(|e| failed("begin_snapshot", e))?;
        Ok(tx)
    }

    fn vector_values(first: usize, embedding: &[f32]) -> (String, Vec<Value>) {
        let values = vec![
            Value::Int(Some(embedding.len() as i64)),
            Value::Vector(Vector(embedding.to_vec())),
        ];
        (format!("${first}, ${}::real[]::vector", first + 1), values)
    }

    async fn vector_search(
        store: &PgStore,
        tenant: TenantId,
        bot: BotId,
        embedder_id: &str,
        vector: &[f32],
        limit: u32,
    ) -> StoreResult<Option<Vec<(ChunkId, f32)>>> {
        let dims = vector.len();
        if dims == 0 {
            return Ok(Some(Vec::new()));
        }
        let mut tx = store.write_tx().await?;
        let settings = vector_search_settings(store.extra.iterative_scan, limit);
        query::<Postgres>("vector_search", AssertSqlSafe(settings))
            .run(&mut tx)
            .await?;
        let sql = AssertSqlSafe(vector_search_sql(dims, limit));
        let mut hits = query::<Postgres>("vector_search", sql)
            .bind((Vector(vector.to_vec()), tenant, bot, embedder_id))
            .fetch_all(&mut tx, scored)
            .await?;
        commit(tx, "vector_search").await?;
        hits.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(Some(hits))
    }

    async fn vector_similarity(
        store: &PgStore,
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
        .fetch_all(store.pool())
        .await
        .map_err(|e| failed("vector_similarity", e))?;
        rows.into_iter()
            .map(|(id, score)| Ok((parse_id("vector_similarity", &id)?, score)))
            .collect::<StoreResult<HashMap<_, _>>>()
            .map(Some)
    }

    /// Builds the HNSW index (cosine) for vectors of `dims` dimensions, if
    /// missing. Vector search works without it, by a scan; with it, in
    /// logarithmic time.
    async fn prepare_vector_index(store: &PgStore, dims: usize) -> StoreResult<()> {
        if !(1..=16_000).contains(&dims) {
            return Err(backend(
                "prepare_vector_index",
                format!("unsupported vector dimension {dims}"),
            ));
        }
        // `dims` is a number we checked: safe to splice into DDL, which takes
        // no bind parameters.
        let ddl = format!(
            "CREATE INDEX IF NOT EXISTS {} ON chunks USING hnsw ((embedding::vector({dims})) \
             vector_cosine_ops) WHERE dims = {dims}",
            hnsw_index(dims)
        );
        let mut tx = store.write_tx().await?;
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
        .map_err(|e| failed("prepare_vector_index", e))?;
        match sqlx::query(AssertSqlSafe(ddl)).execute(&mut *tx).await {
            Ok(_) => tx
                .commit()
                .await
                .map_err(|e| failed("prepare_vector_index", e)),
            // Another node created it at the same moment.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(()),
            Err(e) => Err(failed("prepare_vector_index", e)),
        }
    }

    async fn keyword_search(
        store: &PgStore,
        tenant: TenantId,
        bot: BotId,
        text: &str,
        limit: u32,
    ) -> StoreResult<Vec<(ChunkId, f32)>> {
        let sql = keyword_search_sql(limit);
        query::<Postgres>("keyword_search", AssertSqlSafe(sql))
            .bind((text, tenant, bot))
            .fetch_all(store.pool(), scored)
            .await
    }
}

/// What opening the database learned about its pgvector.
#[derive(Clone, Debug)]
pub struct PgExtra {
    /// pgvector 0.8+: filtered HNSW scans can continue until they have
    /// enough rows (`hnsw.iterative_scan`).
    pub iterative_scan: bool,
}

type Buffer = <Postgres as Database>::ArgumentBuffer;
type ValueRef<'r> = <Postgres as Database>::ValueRef<'r>;

/// PostgreSQL binds and reads these newtypes as their inner type: a
/// timestamp as `timestamptz`; a vector as `real[]`, cast in SQL
/// (`::real[]::vector`, `embedding::real[]`), since the extension's own type
/// has no fixed OID to bind.
macro_rules! as_inner {
    ($($outer:ident($inner:ty)),*) => {$(
        impl Type<Postgres> for $outer {
            fn type_info() -> PgTypeInfo {
                <$inner as Type<Postgres>>::type_info()
            }
        }

        impl Encode<'_, Postgres> for $outer {
            fn encode_by_ref(&self, buf: &mut Buffer) -> Result<IsNull, BoxDynError> {
                Encode::<Postgres>::encode_by_ref(&self.0, buf)
            }
        }

        impl<'r> Decode<'r, Postgres> for $outer {
            fn decode(value: ValueRef<'r>) -> Result<Self, BoxDynError> {
                <$inner as Decode<Postgres>>::decode(value).map($outer)
            }
        }
    )*};
}

as_inner!(Ts(DateTime<Utc>), Vector(Vec<f32>));
