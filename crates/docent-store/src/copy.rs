//! Moving an embedded instance to PostgreSQL: every table of the SQLite
//! database copied into an empty, migrated PostgreSQL database, in one
//! transaction (a failed copy leaves the target empty), then counted on both
//! sides.
//!
//! Columns are matched by name from the two schemas themselves (SQLite's
//! `PRAGMA table_info`, PostgreSQL's `information_schema`), and each value is
//! converted by the target column's type: RFC 3339 text to `timestamptz`,
//! 0/1 to `boolean`, little-endian f32 blobs to pgvector. Columns only the
//! target has (generated `tsv`, sequence-numbered `seq`, `dims`) are filled by
//! PostgreSQL or derived here. No general tool does this: pgloader knows
//! neither pgvector nor these blobs.

use std::collections::HashSet;

use futures::TryStreamExt;
use sqlx::{AssertSqlSafe, PgPool, Postgres, QueryBuilder, Row, SqlitePool};

use crate::sql::{Vector, backend, failed};
use docent_core::store::StoreResult;

/// Every table, parents before children.
const TABLES: [&str; 22] = [
    "tenants",
    "users",
    "refresh_tokens",
    "api_keys",
    "bots",
    "audit_log",
    "files",
    "documents",
    "chunks",
    "jobs",
    "chat_sessions",
    "chat_messages",
    "chat_traces",
    "leads",
    "usage_counters",
    "usage_events",
    "usage_days",
    "webhooks",
    "webhook_deliveries",
    "email_tokens",
    "user_mfa",
    "mfa_recovery_codes",
];

/// Rows per INSERT: a few thousand bind parameters, far below the limit.
const BATCH: usize = 200;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Text,
    Int,
    Float,
    Bool,
    Timestamp,
    Vector,
}

/// Rows copied per table.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, u64)>,
}

/// Copies the SQLite database at `src` into the PostgreSQL database at `dst`,
/// which must already be migrated and hold no tenant.
pub async fn sqlite_to_postgres(src: &SqlitePool, dst: &PgPool) -> StoreResult<CopyReport> {
    let (tenants,): (i64,) = sqlx::query_as("SELECT count(*) FROM tenants")
        .fetch_one(dst)
        .await
        .map_err(|e| failed("copy", e))?;
    if tenants > 0 {
        return Err(backend(
            "copy",
            "the target database already holds tenants: copy into an empty database",
        ));
    }
    let mut tx = dst.begin().await.map_err(|e| failed("copy", e))?;
    let mut report = CopyReport::default();
    for table in TABLES {
        let columns = shared_columns(src, &mut tx, table).await?;
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        // WITHOUT ROWID tables have no rowid; their order does not matter.
        let order = if matches!(
            table,
            "usage_counters" | "usage_days" | "mfa_recovery_codes"
        ) {
            ""
        } else {
            " ORDER BY rowid"
        };
        let select = format!("SELECT {} FROM {table}{order}", names.join(", "));
        let mut rows = sqlx::query(AssertSqlSafe(select))
            .fetch(src)
            .try_chunks(BATCH);
        let mut copied = 0u64;
        while let Some(batch) = rows.try_next().await.map_err(|e| backend("copy", e))? {
            insert_batch(&mut tx, table, &columns, &batch).await?;
            copied += batch.len() as u64;
        }
        let (target,): (i64,) =
            sqlx::query_as(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| failed("copy", e))?;
        if target as u64 != copied {
            return Err(backend(
                "copy",
                format!("{table}: {copied} rows read but {target} in the target"),
            ));
        }
        report.tables.push((table, copied));
    }
    tx.commit().await.map_err(|e| failed("copy", e))?;
    Ok(report)
}

/// The columns both schemas have, typed by the target's column type.
async fn shared_columns(
    src: &SqlitePool,
    dst: &mut sqlx::PgConnection,
    table: &str,
) -> StoreResult<Vec<(String, Kind)>> {
    let source: HashSet<String> = sqlx::query(AssertSqlSafe(format!(
        "SELECT name FROM pragma_table_info('{table}')"
    )))
    .fetch_all(src)
    .await
    .map_err(|e| backend("copy", e))?
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    let target: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_generated::text, column_default::text
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1
         ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *dst)
    .await
    .map_err(|e| failed("copy", e))?;
    let mut columns = Vec::new();
    for (name, data_type, generated, default) in target {
        let filled_by_target = generated == "ALWAYS"
            || default
                .as_deref()
                .is_some_and(|d| d.starts_with("nextval("));
        if filled_by_target || !source.contains(&name) {
            continue;
        }
        let kind = match data_type.as_str() {
            "text" => Kind::Text,
            "bigint" | "integer" => Kind::Int,
            "double precision" | "real" => Kind::Float,
            "boolean" => Kind::Bool,
            "timestamp with time zone" => Kind::Timestamp,
            "USER-DEFINED" => Kind::Vector,
            other => {
                return Err(backend(
                    "copy",
                    format!("{table}.{name}: no copy rule for {other}"),
                ));
            }
        };
        columns.push((name, kind));
    }
    Ok(columns)
}

async fn insert_batch(
    tx: &mut sqlx::PgConnection,
    table: &str,
    columns: &[(String, Kind)],
    rows: &[sqlx::sqlite::SqliteRow],
) -> StoreResult<()> {
    let vectors = columns.iter().any(|(_, k)| matches!(k, Kind::Vector));
    let mut names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    if vectors {
        names.push("dims");
    }
    let mut insert: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("INSERT INTO {table} ({}) ", names.join(", ")));
    let mut failure = None;
    insert.push_values(rows, |mut out, row| {
        let mut dims = 0i32;
        for (i, (name, kind)) in columns.iter().enumerate() {
            let value = match kind {
                Kind::Text => row.try_get::<Option<String>, _>(i).map(|v| {
                    out.push_bind(v);
                }),
                Kind::Int => row.try_get::<Option<i64>, _>(i).map(|v| {
                    out.push_bind(v);
                }),
                Kind::Float => row.try_get::<Option<f64>, _>(i).map(|v| {
                    out.push_bind(v);
                }),
                Kind::Bool => row.try_get::<Option<i64>, _>(i).map(|v| {
                    out.push_bind(v.map(|b| b != 0));
                }),
                Kind::Timestamp => row.try_get::<Option<String>, _>(i).map(|v| {
                    out.push_bind(v).push_unseparated("::timestamptz");
                }),
                Kind::Vector => row.try_get::<Vector, _>(i).map(|v| {
                    dims = v.0.len() as i32;
                    out.push_bind(v).push_unseparated("::real[]::vector");
                }),
            };
            if let Err(e) = value {
                failure.get_or_insert_with(|| format!("{table}.{name}: {e}"));
            }
        }
        if vectors {
            out.push_bind(dims);
        }
    });
    if let Some(f) = failure {
        return Err(backend("copy", f));
    }
    insert
        .build()
        .execute(tx)
        .await
        .map_err(|e| failed("copy", e))?;
    Ok(())
}
