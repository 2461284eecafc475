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

use docent_core::store::{Store, StoreError};

/// Opens the database named by `url`, applying pending migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::open(url).await?))
    } else {
        Err(StoreError::backend(
            "open",
            format!(
                "unsupported database URL scheme in `{}`",
                url.split(':').next().unwrap_or_default()
            ),
        ))
    }
}
