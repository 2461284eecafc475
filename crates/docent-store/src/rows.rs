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

/// The statements that set each tenant's held counters to what is really
/// stored: documents, and bytes of documents plus files no document uses.
/// Standard SQL both dialects run as is (`WHERE true` settles SQLite's
/// parse of an upsert after a `SELECT`); each changes only counters that
/// drifted, so the rows affected are the repairs.
pub(crate) fn recount_held_statements() -> [String; 2] {
    const TRUTH: [(&str, &str); 2] = [
        (
            "documents",
            "SELECT count(*) FROM documents d WHERE d.tenant_id = t.id",
        ),
        (
            "storage_bytes",
            "SELECT coalesce((SELECT sum(size_bytes) FROM documents d WHERE d.tenant_id = t.id), 0)
                  + coalesce((SELECT sum(size_bytes) FROM files f WHERE f.tenant_id = t.id
                       AND NOT EXISTS (SELECT 1 FROM documents d
                                        WHERE d.tenant_id = f.tenant_id AND d.file_id = f.id)), 0)",
        ),
    ];
    TRUTH.map(|(kind, truth)| {
        format!(
            "INSERT INTO usage_counters (tenant_id, period, kind, used)
             SELECT t.id, 'held', '{kind}', ({truth}) FROM tenants t WHERE true
             ON CONFLICT (tenant_id, period, kind) DO UPDATE SET used = excluded.used
             WHERE usage_counters.used <> excluded.used"
        )
    })
}
