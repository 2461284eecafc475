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

use docent_core::config::DatabaseUrl;
use docent_core::store::{Store, StoreError};

/// Opens the database `url` names, applying pending migrations.
pub async fn open(url: &DatabaseUrl) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match url {
        DatabaseUrl::Sqlite(_) => Arc::new(sqlite::SqliteStore::open(&url.url()).await?),
        DatabaseUrl::Postgres(url) => Arc::new(postgres::PgStore::open(url).await?),
    })
}
