//! Chat sessions and messages. Messages keep the order they were appended
//! (SQLite's rowid, PostgreSQL's `seq` sequence: [`Dialect::MESSAGE_ORDER`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::{ChatMessage, ChatSession, MessageRole};
use docent_core::ids::{BotId, SessionId, TenantId};
use docent_core::store::{ChatStore, Page, PageRequest, SessionOwner, StoreError, StoreResult};

use sqlx::{ColumnIndex, Encode, Executor, Type};

use super::{
    Column, Dialect, SqlStore, Ts, Vector, backend, convert, limit_plus_one, map_err, page_of,
    parse_id,
};

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    tenant_id: String,
    bot_id: String,
    visitor: Option<String>,
    started_by: Option<String>,
    message_count: i64,
    created_at: DateTime<Utc>,
    last_message_at: DateTime<Utc>,
}

impl TryFrom<SessionRow> for ChatSession {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> StoreResult<Self> {
        Ok(ChatSession {
            id: parse_id(&r.id)?,
            tenant_id: parse_id(&r.tenant_id)?,
            bot_id: parse_id(&r.bot_id)?,
            visitor: r.visitor,
            started_by: r.started_by,
            message_count: r.message_count as u32,
            created_at: r.created_at,
            last_message_at: r.last_message_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: String,
    session_id: String,
    role: String,
    content: String,
    citations: String,
    mode: Option<String>,
    prompt_tokens: i64,
    completion_tokens: i64,
    latency_ms: Option<i64>,
    partial: bool,
    answered: Option<bool>,
    finish_reason: Option<String>,
    created_at: DateTime<Utc>,
}

impl MessageRow {
    fn into_message(self, tenant: TenantId) -> StoreResult<ChatMessage> {
        Ok(ChatMessage {
            id: parse_id(&self.id)?,
            tenant_id: tenant,
            session_id: parse_id(&self.session_id)?,
            role: MessageRole::parse(&self.role)
                .ok_or_else(|| backend(format!("bad role `{}`", self.role)))?,
            content: self.content,
            citations: serde_json::from_str(&self.citations).map_err(backend)?,
            mode: self.mode,
            prompt_tokens: self.prompt_tokens as u32,
            completion_tokens: self.completion_tokens as u32,
            latency_ms: self.latency_ms.map(|l| l as u32),
            partial: self.partial,
            answered: self.answered,
            finish_reason: self.finish_reason,
            created_at: self.created_at,
        })
    }
}

macro_rules! session_columns {
    () => {
        "id, tenant_id, bot_id, visitor, started_by, message_count, created_at, last_message_at"
    };
}

#[async_trait]
impl<D> ChatStore for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'r> &'r str: ColumnIndex<D::Row> + Encode<'r, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    for<'a> Option<&'a str>: Encode<'a, D> + Type<D>,
    String: Column<D>,
    Option<String>: Column<D>,
    i64: Column<D>,
    Option<i64>: Column<D>,
    Option<f64>: Column<D>,
    bool: Column<D>,
    Option<bool>: Column<D>,
    Ts: Column<D>,
    Option<Ts>: Column<D>,
    DateTime<Utc>: Column<D>,
    Option<DateTime<Utc>>: Column<D>,
    Vector: Column<D>,
{
    async fn create_session(&self, s: &ChatSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO chat_sessions (id, tenant_id, bot_id, visitor, started_by, message_count,
                 created_at, last_message_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(s.id.to_string())
        .bind(s.tenant_id.to_string())
        .bind(s.bot_id.to_string())
        .bind(&s.visitor)
        .bind(&s.started_by)
        .bind(i64::from(s.message_count))
        .bind(Ts(s.created_at))
        .bind(Ts(s.last_message_at))
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_session(&self, tenant: TenantId, id: SessionId) -> StoreResult<ChatSession> {
        let row: SessionRow = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM chat_sessions WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?;
        row.try_into()
    }

    async fn list_sessions(
        &self,
        tenant: TenantId,
        bot: Option<BotId>,
        owner: SessionOwner<'_>,
        page: &PageRequest,
    ) -> StoreResult<Page<ChatSession>> {
        let (visitor, started_by) = owner.filters();
        // Optional filters are NULL parameters.
        let rows: Vec<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM chat_sessions
             WHERE tenant_id = $1
               AND ($2 IS NULL OR bot_id = $2)
               AND ($3 IS NULL OR visitor = $3)
               AND ($4 IS NULL OR started_by = $4)
               AND ($5 IS NULL OR id < $5)
             ORDER BY id DESC LIMIT $6"
        ))
        .bind(tenant.to_string())
        .bind(bot.map(|b| b.to_string()))
        .bind(visitor)
        .bind(started_by)
        .bind(&page.after)
        .bind(limit_plus_one(page))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        Ok(page_of(convert(rows)?, page, |s: &ChatSession| s.id.to_string()))
    }

    async fn append_messages(
        &self,
        tenant: TenantId,
        id: SessionId,
        messages: &[ChatMessage],
    ) -> StoreResult<()> {
        let Some(last) = messages.last() else {
            return Ok(());
        };
        let mut tx = self.write_tx().await?;
        // Updating the session first locks its row, so concurrent appends to
        // one session run one after the other and `seq` follows their commits.
        let done = sqlx::query(
            "UPDATE chat_sessions SET message_count = message_count + $1, last_message_at = $2
             WHERE tenant_id = $3 AND id = $4",
        )
        .bind(messages.len() as i64)
        .bind(Ts(last.created_at))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if D::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        for m in messages {
            sqlx::query(
                "INSERT INTO chat_messages (id, tenant_id, session_id, role, content, citations,
                     mode, prompt_tokens, completion_tokens, latency_ms, partial, answered,
                     finish_reason, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(m.id.to_string())
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(m.role.as_str())
            .bind(&m.content)
            .bind(serde_json::to_string(&m.citations).map_err(backend)?)
            .bind(&m.mode)
            .bind(i64::from(m.prompt_tokens))
            .bind(i64::from(m.completion_tokens))
            .bind(m.latency_ms.map(i64::from))
            .bind(m.partial)
            .bind(m.answered)
            .bind(&m.finish_reason)
            .bind(Ts(m.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn list_messages(
        &self,
        tenant: TenantId,
        id: SessionId,
        last: Option<u32>,
    ) -> StoreResult<Vec<ChatMessage>> {
        // Newest first to apply `last`, then reversed.
        let mut rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, session_id, role, content, citations, mode, prompt_tokens,
                    completion_tokens, latency_ms, partial, answered, finish_reason, created_at
             FROM chat_messages WHERE tenant_id = $1 AND session_id = $2
             ORDER BY {} DESC LIMIT $3",
            D::MESSAGE_ORDER
        )))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(last.map_or(i64::MAX, i64::from))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.reverse();
        rows.into_iter().map(|r| r.into_message(tenant)).collect()
    }
}
