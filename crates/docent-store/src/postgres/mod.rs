//! The scale-out backend: PostgreSQL 15+ with pgvector (>= 0.7). Vector
//! search runs in the database on an HNSW index (cosine) with pgvector's
//! iterative index scans, so a tenant-filtered search still fills `top_k`
//! when the tenant is a small part of the table; keyword search uses a
//! generated `tsvector` with a GIN index; the job queue claims with
//! `FOR UPDATE SKIP LOCKED`, so any number of workers share it.

mod dialect;
mod search;

use std::str::FromStr;
use std::time::Duration;

use docent_core::store::StoreResult;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::sql::{SqlStore, backend, failed};
pub use dialect::PgExtra;
pub use search::{vector_search_settings, vector_search_sql};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Oldest PostgreSQL and pgvector this backend runs on.
const MIN_SERVER_VERSION: i64 = 150000;
const MIN_PGVECTOR: (u32, u32) = (0, 7);

pub type PgStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects, checks the server and pgvector versions (with a clear
    /// message when too old or missing), and migrates.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url).map_err(|e| backend("open", e))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| backend("open", format!("cannot connect to PostgreSQL: {e}")))?;
        let pgvector = check_versions(&pool).await?;
        MIGRATOR.run(&pool).await.map_err(|e| backend("open", e))?;
        let iterative_scan = pgvector >= (0, 8);
        Ok(Self::new(pool, PgExtra { iterative_scan }))
    }

    /// pgvector 0.8+: filtered HNSW scans can continue until they have
    /// enough rows.
    pub fn iterative_scan(&self) -> bool {
        self.extra.iterative_scan
    }
}

/// Checks the server and the pgvector it offers; returns pgvector's version.
async fn check_versions(pool: &PgPool) -> StoreResult<(u32, u32)> {
    let (version,): (String,) = sqlx::query_as("SHOW server_version_num")
        .fetch_one(pool)
        .await
        .map_err(|e| failed("open", e))?;
    let version: i64 = version.trim().parse().map_err(|e| backend("open", e))?;
    if version < MIN_SERVER_VERSION {
        return Err(backend(
            "open",
            format!(
                "PostgreSQL {}.{} is too old: Docent needs PostgreSQL 15 or newer",
                version / 10000,
                version % 10000
            ),
        ));
    }
    let available: Option<(String,)> =
        sqlx::query_as("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
            .fetch_optional(pool)
            .await
            .map_err(|e| failed("open", e))?;
    let Some((pgvector,)) = available else {
        return Err(backend(
            "open",
            "the pgvector extension is not installed on this PostgreSQL server: \
             Docent needs pgvector 0.7 or newer (https://github.com/pgvector/pgvector)",
        ));
    };
    let mut parts = pgvector.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < MIN_PGVECTOR {
        return Err(backend(
            "open",
            format!("pgvector {pgvector} is too old: Docent needs pgvector 0.7 or newer"),
        ));
    }
    Ok((major, minor))
}
