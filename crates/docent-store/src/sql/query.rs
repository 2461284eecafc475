//! The small typed layer the shared SQL is written against: a statement with
//! its operation's name, values bound as [`Value`], rows read by column name.
//!
//! Why not sqlx's generic API directly: code generic over `D: Database` must
//! restate, on every impl, that each bound type encodes and decodes for `D`
//! and that its connection executes (Rust does not carry such bounds from a
//! trait to its users). Here they are stated once, on the blanket impl of
//! [`Sql`], and everything else needs only `D: Dialect`. Not `sqlx::Any`,
//! which has no timestamps or vectors.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::ids::{
    ApiKeyId, AuditId, BotId, ChunkId, DeliveryId, DocumentId, FileId, JobId, LeadId, MessageId,
    SessionId, TenantId, TokenFamilyId, UserId, WebhookId,
};
use docent_core::store::{StoreError, StoreResult};
use sqlx::query::Query;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, SqlSafeStr,
    Transaction, Type,
};

use super::{Ts, Vector};

/// A bound parameter. Every variant carries its type, so a NULL is typed too.
#[derive(Clone, Debug)]
pub enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Time(Option<DateTime<Utc>>),
    Vector(Vector),
}

/// Values bound in order: one value, or a tuple of them (`.bind((tenant, bot))`).
pub trait Bind: Send {
    fn bind_to<D: Sql>(self, q: Q<D>) -> Q<D>;
}

impl Bind for Value {
    fn bind_to<D: Sql>(self, q: Q<D>) -> Q<D> {
        Q {
            op: q.op,
            query: D::bind_value(q.query, self),
        }
    }
}

macro_rules! value_from {
    ($variant:ident: $($t:ty => $conv:expr),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant($conv(v))
            }
        }
        impl Bind for $t {
            fn bind_to<D: Sql>(self, q: Q<D>) -> Q<D> {
                Value::from(self).bind_to(q)
            }
        })*
    };
}

value_from!(Text:
    String => Some,
    &str => |v: &str| Some(v.to_owned()),
    &String => |v: &String| Some(v.clone()),
    Option<String> => |v| v,
    Option<&str> => |v: Option<&str>| v.map(str::to_owned),
    &Option<String> => |v: &Option<String>| v.clone(),
);
value_from!(Int: i64 => Some, Option<i64> => |v| v);
value_from!(Float: f64 => Some, Option<f64> => |v| v);
value_from!(Bool: bool => Some, Option<bool> => |v| v);
value_from!(Time: DateTime<Utc> => Some, Option<DateTime<Utc>> => |v| v);
value_from!(Vector: Vector => |v| v);
// JSON columns are text on both databases.
value_from!(Text:
    serde_json::Value => |v: serde_json::Value| Some(v.to_string()),
    &serde_json::Value => |v: &serde_json::Value| Some(v.to_string()),
);

/// Ids are stored as their text.
macro_rules! ids_bind_as_text {
    ($($id:ty),*) => {
        $(value_from!(Text:
            $id => |v: $id| Some(v.to_string()),
            Option<$id> => |v: Option<$id>| v.map(|v| v.to_string()),
        );)*
    };
}

ids_bind_as_text!(
    TenantId,
    UserId,
    ApiKeyId,
    BotId,
    AuditId,
    TokenFamilyId,
    DocumentId,
    FileId,
    ChunkId,
    JobId,
    SessionId,
    MessageId,
    LeadId,
    WebhookId,
    DeliveryId
);

macro_rules! tuples_bind_in_order {
    ($(($($t:ident),+))*) => {
        $(impl<$($t: Bind),+> Bind for ($($t,)+) {
            #[allow(non_snake_case)]
            fn bind_to<D: Sql>(self, q: Q<D>) -> Q<D> {
                let ($($t,)+) = self;
                $(let q = $t.bind_to(q);)+
                q
            }
        })*
    };
}

tuples_bind_in_order!((A, B)(A, B, C)(A, B, C, E)(A, B, C, E, F)(A, B, C, E, F, G));

/// Where a statement runs: on the pool, or inside a transaction.
pub enum Exec<'e, D: Database> {
    Pool(&'e Pool<D>),
    Conn(&'e mut D::Connection),
}

impl<'e, D: Database> From<&'e Pool<D>> for Exec<'e, D> {
    fn from(pool: &'e Pool<D>) -> Self {
        Exec::Pool(pool)
    }
}

impl<'e, D: Database> From<&'e mut Transaction<'_, D>> for Exec<'e, D> {
    fn from(tx: &'e mut Transaction<'_, D>) -> Self {
        Exec::Conn(&mut **tx)
    }
}

type Statement<D> = Query<'static, D, <D as Database>::Arguments>;

/// The driver operations the shared SQL needs, for any database whose
/// driver provides them (SQLite's and PostgreSQL's do).
#[async_trait]
pub trait Sql: Database {
    fn bind_value(query: Statement<Self>, value: Value) -> Statement<Self>;
    async fn run(query: Statement<Self>, on: Exec<'_, Self>) -> sqlx::Result<Self::QueryResult>;
    async fn fetch_all(query: Statement<Self>, on: Exec<'_, Self>) -> sqlx::Result<Vec<Self::Row>>;
    async fn fetch_optional(
        query: Statement<Self>,
        on: Exec<'_, Self>,
    ) -> sqlx::Result<Option<Self::Row>>;
    fn get_text(row: &Self::Row, col: &str) -> sqlx::Result<Option<String>>;
    fn get_int(row: &Self::Row, col: &str) -> sqlx::Result<Option<i64>>;
    fn get_float(row: &Self::Row, col: &str) -> sqlx::Result<Option<f64>>;
    fn get_bool(row: &Self::Row, col: &str) -> sqlx::Result<Option<bool>>;
    fn get_time(row: &Self::Row, col: &str) -> sqlx::Result<Option<DateTime<Utc>>>;
    fn get_vector(row: &Self::Row, col: &str) -> sqlx::Result<Vector>;
}

/// A Rust type that binds as, and reads back from, a column of `D`.
pub trait Column<D: Database>:
    for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D> + Send + Sync
{
}

impl<D: Database, T> Column<D> for T where
    T: for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D> + Send + Sync
{
}

#[async_trait]
impl<D> Sql for D
where
    D: Database<Arguments: IntoArguments<D>>,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'r> &'r str: ColumnIndex<D::Row>,
    Option<String>: Column<D>,
    Option<i64>: Column<D>,
    Option<f64>: Column<D>,
    Option<bool>: Column<D>,
    Option<Ts>: Column<D>,
    Option<DateTime<Utc>>: Column<D>,
    Vector: Column<D>,
{
    fn bind_value(query: Statement<D>, value: Value) -> Statement<D> {
        match value {
            Value::Text(v) => query.bind(v),
            Value::Int(v) => query.bind(v),
            Value::Float(v) => query.bind(v),
            Value::Bool(v) => query.bind(v),
            Value::Time(v) => query.bind(v.map(Ts)),
            Value::Vector(v) => query.bind(v),
        }
    }

    async fn run(query: Statement<D>, on: Exec<'_, D>) -> sqlx::Result<D::QueryResult> {
        match on {
            Exec::Pool(pool) => query.execute(pool).await,
            Exec::Conn(conn) => query.execute(conn).await,
        }
    }

    async fn fetch_all(query: Statement<D>, on: Exec<'_, D>) -> sqlx::Result<Vec<D::Row>> {
        match on {
            Exec::Pool(pool) => query.fetch_all(pool).await,
            Exec::Conn(conn) => query.fetch_all(conn).await,
        }
    }

    async fn fetch_optional(query: Statement<D>, on: Exec<'_, D>) -> sqlx::Result<Option<D::Row>> {
        match on {
            Exec::Pool(pool) => query.fetch_optional(pool).await,
            Exec::Conn(conn) => query.fetch_optional(conn).await,
        }
    }

    fn get_text(row: &D::Row, col: &str) -> sqlx::Result<Option<String>> {
        row.try_get(col)
    }
    fn get_int(row: &D::Row, col: &str) -> sqlx::Result<Option<i64>> {
        row.try_get(col)
    }
    fn get_float(row: &D::Row, col: &str) -> sqlx::Result<Option<f64>> {
        row.try_get(col)
    }
    fn get_bool(row: &D::Row, col: &str) -> sqlx::Result<Option<bool>> {
        row.try_get(col)
    }
    fn get_time(row: &D::Row, col: &str) -> sqlx::Result<Option<DateTime<Utc>>> {
        row.try_get(col)
    }
    fn get_vector(row: &D::Row, col: &str) -> sqlx::Result<Vector> {
        row.try_get(col)
    }
}

/// One statement of a named store operation (the name goes into errors).
pub struct Q<D: Sql> {
    op: &'static str,
    query: Statement<D>,
}

pub fn query<D: Sql>(op: &'static str, sql: impl SqlSafeStr) -> Q<D> {
    Q {
        op,
        query: sqlx::query(sql),
    }
}

impl<D: Sql> Q<D> {
    pub fn bind(self, values: impl Bind) -> Self {
        values.bind_to(self)
    }

    /// Runs the statement; returns the rows it changed.
    pub async fn execute<'e>(self, on: impl Into<Exec<'e, D>>) -> StoreResult<D::QueryResult> {
        D::run(self.query, on.into())
            .await
            .map_err(|e| failed(self.op, e))
    }

    pub async fn fetch_all<'e, T>(
        self,
        on: impl Into<Exec<'e, D>>,
        map: impl Fn(Row<'_, D>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let op = self.op;
        let rows = D::fetch_all(self.query, on.into())
            .await
            .map_err(|e| failed(op, e))?;
        rows.iter().map(|r| map(Row { op, row: r })).collect()
    }

    pub async fn fetch_optional<'e, T>(
        self,
        on: impl Into<Exec<'e, D>>,
        map: impl Fn(Row<'_, D>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let op = self.op;
        let row = D::fetch_optional(self.query, on.into())
            .await
            .map_err(|e| failed(op, e))?;
        row.as_ref().map(|r| map(Row { op, row: r })).transpose()
    }

    /// The one row, or `NotFound`.
    pub async fn fetch_one<'e, T>(
        self,
        on: impl Into<Exec<'e, D>>,
        map: impl Fn(Row<'_, D>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.fetch_optional(on, map)
            .await?
            .ok_or(StoreError::NotFound)
    }
}

impl<D: super::Dialect> Q<D> {
    /// Runs the statement; returns how many rows it changed.
    pub async fn changed<'e>(self, on: impl Into<Exec<'e, D>>) -> StoreResult<u64> {
        Ok(D::rows_affected(&self.execute(on).await?))
    }

    /// Runs a statement meant for one row; whether it changed one (a lease
    /// check in its `WHERE` that no longer holds changes none).
    pub async fn changed_one<'e>(self, on: impl Into<Exec<'e, D>>) -> StoreResult<bool> {
        Ok(self.changed(on).await? == 1)
    }

    /// Runs the statement for its effect alone.
    pub async fn run<'e>(self, on: impl Into<Exec<'e, D>>) -> StoreResult<()> {
        self.execute(on).await.map(drop)
    }

    /// Runs a statement that must change a row: `NotFound` when it changed none.
    pub async fn execute_found<'e>(self, on: impl Into<Exec<'e, D>>) -> StoreResult<()> {
        let changed = self.changed(on).await?;
        (changed > 0).then_some(()).ok_or(StoreError::NotFound)
    }
}

/// A result row, read by column name.
#[derive(Clone, Copy)]
pub struct Row<'r, D: Sql> {
    op: &'static str,
    row: &'r D::Row,
}

impl<D: Sql> Row<'_, D> {
    fn read<T>(&self, col: &str, got: sqlx::Result<T>) -> StoreResult<T> {
        got.map_err(|e| corrupt(self.op, format!("column `{col}`: {e}")))
    }

    fn required<T>(&self, col: &str, got: Option<T>) -> StoreResult<T> {
        got.ok_or_else(|| corrupt(self.op, format!("column `{col}` is NULL")))
    }

    pub fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.read(col, D::get_text(self.row, col))
    }
    pub fn text(&self, col: &str) -> StoreResult<String> {
        self.required(col, self.opt_text(col)?)
    }
    pub fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.read(col, D::get_int(self.row, col))
    }
    pub fn int(&self, col: &str) -> StoreResult<i64> {
        self.required(col, self.opt_int(col)?)
    }
    /// A count or size column (never negative) as `u32`.
    pub fn count(&self, col: &str) -> StoreResult<u32> {
        Ok(u32::try_from(self.int(col)?.max(0)).unwrap_or(u32::MAX))
    }
    /// A count or size column (never negative) as `u64`.
    pub fn size(&self, col: &str) -> StoreResult<u64> {
        Ok(self.int(col)?.max(0) as u64)
    }
    pub fn opt_float(&self, col: &str) -> StoreResult<Option<f64>> {
        self.read(col, D::get_float(self.row, col))
    }
    pub fn float(&self, col: &str) -> StoreResult<f64> {
        self.required(col, self.opt_float(col)?)
    }
    pub fn opt_flag(&self, col: &str) -> StoreResult<Option<bool>> {
        self.read(col, D::get_bool(self.row, col))
    }
    pub fn flag(&self, col: &str) -> StoreResult<bool> {
        self.required(col, self.opt_flag(col)?)
    }
    pub fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.read(col, D::get_time(self.row, col))
    }
    pub fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        self.required(col, self.opt_time(col)?)
    }
    pub fn vector(&self, col: &str) -> StoreResult<Vec<f32>> {
        Ok(self.read(col, D::get_vector(self.row, col))?.0)
    }
    /// An id (or any text column parsed with `FromStr`).
    pub fn id<T: FromStr>(&self, col: &str) -> StoreResult<T> {
        let text = self.text(col)?;
        text.parse()
            .map_err(|_| corrupt(self.op, format!("column `{col}`: bad value `{text}`")))
    }
    pub fn opt_id<T: FromStr>(&self, col: &str) -> StoreResult<Option<T>> {
        self.opt_text(col)?
            .map(|text| {
                text.parse()
                    .map_err(|_| corrupt(self.op, format!("column `{col}`: bad value `{text}`")))
            })
            .transpose()
    }
    /// A JSON text column.
    pub fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> StoreResult<T> {
        serde_json::from_str(&self.text(col)?)
            .map_err(|e| corrupt(self.op, format!("column `{col}`: {e}")))
    }
    /// A JSON text column that may be NULL.
    pub fn opt_json<T: serde::de::DeserializeOwned>(&self, col: &str) -> StoreResult<Option<T>> {
        self.opt_text(col)?
            .map(|text| {
                serde_json::from_str(&text)
                    .map_err(|e| corrupt(self.op, format!("column `{col}`: {e}")))
            })
            .transpose()
    }
    /// A text column holding one of a closed set of names.
    pub fn name<T>(&self, col: &str, parse: impl Fn(&str) -> Option<T>) -> StoreResult<T> {
        let text = self.text(col)?;
        parse(&text).ok_or_else(|| corrupt(self.op, format!("column `{col}`: unknown `{text}`")))
    }
}

/// A driver error of operation `op`: unique violations become `Conflict`,
/// everything else a backend error that keeps its cause.
pub fn failed(op: &'static str, e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_string())
        }
        _ => StoreError::backend(op, e),
    }
}

/// A stored value this build cannot read.
pub fn corrupt(op: &'static str, what: String) -> StoreError {
    StoreError::backend(op, what)
}
