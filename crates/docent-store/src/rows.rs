//! What both SQL backends share: error mapping, id parsing and keyset pages.

use std::str::FromStr;

use docent_core::store::{Page, PageRequest, StoreError, StoreResult};

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
