//! Storage backends behind `docent_core::store::Store`. The SQL is written
//! once (`sql/`) and runs on both databases; `sqlite/` and `postgres/` hold
//! only what each does its own way. The embedded SQLite backend is the
//! default, PostgreSQL with pgvector the scale-out one; the backend is chosen
//! once, at start, from the database URL.

#[macro_use]
mod sql;

pub mod blob;
pub mod copy;
pub mod limiter;
pub mod postgres;
pub mod sqlite;

pub use sql::{Column, Dialect, SqlStore, Ts, Vector};

use std::sync::Arc;

use docent_core::config::{DatabaseUrl, VectorQuantization};
use docent_core::store::{Store, StoreError};

/// How a store keeps what it derives from its rows; the defaults suit most.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreOptions {
    /// The embedded vector index's vectors (PostgreSQL: pgvector keeps f32).
    pub vector_quantization: VectorQuantization,
}

/// Opens the database `url` names, applying pending migrations.
pub async fn open(url: &DatabaseUrl) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, StoreOptions::default()).await
}

/// [`open`] with options.
pub async fn open_with(
    url: &DatabaseUrl,
    options: StoreOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match url {
        DatabaseUrl::Sqlite(_) => {
            Arc::new(sqlite::SqliteStore::open_with(&url.url(), options).await?)
        }
        DatabaseUrl::Postgres(url) => Arc::new(postgres::PgStore::open(url).await?),
    })
}
