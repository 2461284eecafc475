//! Chat sessions and messages in SQLite.

use async_trait::async_trait;
use docent_core::domain::{ChatMessage, ChatSession, MessageRole};
use docent_core::ids::{BotId, SessionId, TenantId};
use docent_core::store::{ChatStore, Page, PageRequest, SessionOwner, StoreError, StoreResult};

use super::{SqliteStore, backend, map_err, page_of, parse_id, parse_ts, ts};

type SessionRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    String,
    String,
);
type MessageRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<i64>,
    bool,
    Option<bool>,
    Option<String>,
    String,
);

fn session(row: SessionRow) -> StoreResult<ChatSession> {
    let (id, tenant, bot, visitor, started_by, count, created, last) = row;
    Ok(ChatSession {
        id: parse_id(&id)?,
        tenant_id: parse_id(&tenant)?,
        bot_id: parse_id(&bot)?,
        visitor,
        started_by,
        message_count: count as u32,
        created_at: parse_ts(&created)?,
        last_message_at: parse_ts(&last)?,
    })
}

fn message(tenant: TenantId, row: MessageRow) -> StoreResult<ChatMessage> {
    let (
        id,
        session,
        role,
        content,
        citations,
        mode,
        prompt,
        completion,
        latency,
        partial,
        answered,
        finish_reason,
        created,
    ) = row;
    Ok(ChatMessage {
        id: parse_id(&id)?,
        tenant_id: tenant,
        session_id: parse_id(&session)?,
        role: MessageRole::parse(&role).ok_or_else(|| backend(format!("bad role `{role}`")))?,
        content,
        citations: serde_json::from_str(&citations).map_err(backend)?,
        mode,
        prompt_tokens: prompt as u32,
        completion_tokens: completion as u32,
        latency_ms: latency.map(|l| l as u32),
        partial,
        answered,
        finish_reason,
        created_at: parse_ts(&created)?,
    })
}

#[async_trait]
impl ChatStore for SqliteStore {
    async fn create_session(&self, s: &ChatSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO chat_sessions (id, tenant_id, bot_id, visitor, started_by, message_count,
                 created_at, last_message_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(s.id.to_string())
        .bind(s.tenant_id.to_string())
        .bind(s.bot_id.to_string())
        .bind(&s.visitor)
        .bind(&s.started_by)
        .bind(s.message_count as i64)
        .bind(ts(s.created_at))
        .bind(ts(s.last_message_at))
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_session(&self, tenant: TenantId, id: SessionId) -> StoreResult<ChatSession> {
        let row: SessionRow = sqlx::query_as(
            "SELECT id, tenant_id, bot_id, visitor, started_by, message_count, created_at, last_message_at
             FROM chat_sessions WHERE tenant_id = ? AND id = ?",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?;
        session(row)
    }

    async fn list_sessions(
        &self,
        tenant: TenantId,
        bot: Option<BotId>,
        owner: SessionOwner<'_>,
        page: &PageRequest,
    ) -> StoreResult<Page<ChatSession>> {
        let bot = bot.map(|b| b.to_string());
        let (visitor, started_by) = owner.filters();
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT id, tenant_id, bot_id, visitor, started_by, message_count, created_at, last_message_at
             FROM chat_sessions
             WHERE tenant_id = ? AND (? IS NULL OR bot_id = ?) AND (? IS NULL OR visitor = ?)
               AND (? IS NULL OR started_by = ?) AND (? IS NULL OR id < ?)
             ORDER BY id DESC LIMIT ?",
        )
        .bind(tenant.to_string())
        .bind(&bot)
        .bind(&bot)
        .bind(visitor)
        .bind(visitor)
        .bind(started_by)
        .bind(started_by)
        .bind(&page.after)
        .bind(&page.after)
        .bind(page.limit as i64 + 1)
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        let sessions = rows
            .into_iter()
            .map(session)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page_of(sessions, page, |s| s.id.to_string()))
    }

    async fn append_messages(
        &self,
        tenant: TenantId,
        id: SessionId,
        messages: &[ChatMessage],
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let Some(last) = messages.last() else {
            return Ok(());
        };
        let done = sqlx::query(
            "UPDATE chat_sessions SET message_count = message_count + ?, last_message_at = ?
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(messages.len() as i64)
        .bind(ts(last.created_at))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        for m in messages {
            sqlx::query(
                "INSERT INTO chat_messages (id, tenant_id, session_id, role, content, citations, mode,
                     prompt_tokens, completion_tokens, latency_ms, partial, answered, finish_reason,
                     created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(m.id.to_string())
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(m.role.as_str())
            .bind(&m.content)
            .bind(serde_json::to_string(&m.citations).map_err(backend)?)
            .bind(&m.mode)
            .bind(m.prompt_tokens as i64)
            .bind(m.completion_tokens as i64)
            .bind(m.latency_ms.map(i64::from))
            .bind(m.partial)
            .bind(m.answered)
            .bind(&m.finish_reason)
            .bind(ts(m.created_at))
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
        let mut rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT id, session_id, role, content, citations, mode, prompt_tokens, completion_tokens,
                    latency_ms, partial, answered, finish_reason, created_at
             FROM chat_messages WHERE tenant_id = ? AND session_id = ?
             ORDER BY rowid DESC LIMIT ?", // rowid: the order appended
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(last.map_or(-1, i64::from))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.reverse();
        rows.into_iter().map(|r| message(tenant, r)).collect()
    }
}
