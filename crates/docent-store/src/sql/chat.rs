//! Chat sessions and messages. Messages keep the order they were appended
//! (SQLite's rowid, PostgreSQL's `seq` sequence: [`Dialect::MESSAGE_ORDER`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::{ChatMessage, ChatSession, Feedback, MessageRole, Rating};
use docent_core::ids::{BotId, MessageId, SessionId, TenantId};
use docent_core::store::{ChatStore, Page, PageRequest, SessionOwner, StoreResult, TimeRange};

use sqlx::{AssertSqlSafe, Transaction};

use super::{Dialect, Row, SqlStore, commit, json, limit_plus_one, page_of, query};

fn read_session<D: Dialect>(r: Row<'_, D>) -> StoreResult<ChatSession> {
    Ok(ChatSession {
        id: r.id("id")?,
        tenant_id: r.id("tenant_id")?,
        bot_id: r.id("bot_id")?,
        visitor: r.opt_text("visitor")?,
        started_by: r.opt_text("started_by")?,
        message_count: r.count("message_count")?,
        created_at: r.time("created_at")?,
        last_message_at: r.time("last_message_at")?,
    })
}

fn read_message<D: Dialect>(r: Row<'_, D>) -> StoreResult<ChatMessage> {
    Ok(ChatMessage {
        id: r.id("id")?,
        tenant_id: r.id("tenant_id")?,
        session_id: r.id("session_id")?,
        role: r.name("role", MessageRole::parse)?,
        content: r.text("content")?,
        citations: r.json("citations")?,
        mode: r.opt_text("mode")?,
        prompt_tokens: r.count("prompt_tokens")?,
        completion_tokens: r.count("completion_tokens")?,
        latency_ms: r.opt_int("latency_ms")?.map(|l| l as u32),
        partial: r.flag("partial")?,
        answered: r.opt_flag("answered")?,
        finish_reason: r.opt_text("finish_reason")?,
        grounding: r.opt_json("grounding")?,
        feedback: read_feedback(&r)?,
        created_at: r.time("created_at")?,
    })
}

fn read_feedback<D: Dialect>(r: &Row<'_, D>) -> StoreResult<Option<Feedback>> {
    let Some(rating) = r.opt_text("feedback")? else {
        return Ok(None);
    };
    Ok(Some(Feedback {
        rating: Rating::parse(&rating).unwrap_or(Rating::Down),
        comment: r.opt_text("feedback_comment")?,
        created_at: r.time("feedback_at")?,
    }))
}

#[async_trait]
impl<D: Dialect> ChatStore for SqlStore<D> {
    async fn create_session(&self, s: &ChatSession, first: &[ChatMessage]) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let sql = insert!(chat_sessions: "$1, $2, $3, $4, $5, $6, $7, $8");
        query::<D>("create_session", sql)
            .bind((s.id, s.tenant_id, s.bot_id, &s.visitor, &s.started_by))
            .bind((i64::from(s.message_count), s.created_at))
            .bind(s.last_message_at)
            .execute(&mut tx)
            .await?;
        append(&mut tx, s.tenant_id, s.id, first).await?;
        commit(tx, "create_session").await
    }

    async fn get_session(&self, tenant: TenantId, id: SessionId) -> StoreResult<ChatSession> {
        let sql = select!(chat_sessions: "WHERE tenant_id = $1 AND id = $2");
        query::<D>("get_session", sql)
            .bind((tenant, id))
            .fetch_one(self.pool(), read_session)
            .await
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
        let sql = select!(chat_sessions: "WHERE tenant_id = $1
            AND ($2 IS NULL OR bot_id = $2) AND ($3 IS NULL OR visitor = $3)
            AND ($4 IS NULL OR started_by = $4) AND ($5 IS NULL OR id < $5)
            ORDER BY id DESC LIMIT $6");
        let sessions = query::<D>("list_sessions", sql)
            .bind((tenant, bot, visitor, started_by, &page.after))
            .bind(limit_plus_one(page))
            .fetch_all(self.pool(), read_session)
            .await?;
        Ok(page_of(sessions, page, |s| s.id.to_string()))
    }

    async fn append_messages(
        &self,
        tenant: TenantId,
        id: SessionId,
        messages: &[ChatMessage],
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        append(&mut tx, tenant, id, messages).await?;
        commit(tx, "append_messages").await
    }

    async fn list_messages(
        &self,
        tenant: TenantId,
        id: SessionId,
        last: Option<u32>,
    ) -> StoreResult<Vec<ChatMessage>> {
        // Newest first to apply `last`, then reversed.
        let sql = AssertSqlSafe(format!(
            "{} ORDER BY {} DESC LIMIT $3",
            select!(chat_messages: "WHERE tenant_id = $1 AND session_id = $2"),
            D::MESSAGE_ORDER
        ));
        let mut messages = query::<D>("list_messages", sql)
            .bind((tenant, id, last.map_or(i64::MAX, i64::from)))
            .fetch_all(self.pool(), read_message)
            .await?;
        messages.reverse();
        Ok(messages)
    }

    async fn get_message(&self, tenant: TenantId, id: MessageId) -> StoreResult<ChatMessage> {
        let sql = select!(chat_messages: "WHERE tenant_id = $1 AND id = $2");
        query::<D>("get_message", sql)
            .bind((tenant, id))
            .fetch_one(self.pool(), read_message)
            .await
    }

    async fn save_trace(
        &self,
        tenant: TenantId,
        message: MessageId,
        trace: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO chat_traces (message_id, tenant_id, trace, created_at)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (message_id) DO UPDATE SET trace = excluded.trace";
        query::<D>("save_trace", sql)
            .bind((message, tenant, trace, at))
            .run(self.pool())
            .await
    }

    async fn get_trace(&self, tenant: TenantId, message: MessageId) -> StoreResult<String> {
        let sql = "SELECT trace FROM chat_traces WHERE tenant_id = $1 AND message_id = $2";
        query::<D>("get_trace", sql)
            .bind((tenant, message))
            .fetch_one(self.pool(), |r| r.text("trace"))
            .await
    }

    async fn set_feedback(
        &self,
        tenant: TenantId,
        message: MessageId,
        feedback: Option<&Feedback>,
    ) -> StoreResult<()> {
        let sql = "UPDATE chat_messages SET feedback = $1, feedback_comment = $2, feedback_at = $3
                   WHERE tenant_id = $4 AND id = $5";
        query::<D>("set_feedback", sql)
            .bind((
                feedback.map(|f| f.rating.as_str()),
                feedback.and_then(|f| f.comment.as_deref()),
                feedback.map(|f| f.created_at),
            ))
            .bind((tenant, message))
            .execute_found(self.pool())
            .await
    }

    async fn sessions_between(
        &self,
        tenant: TenantId,
        bot: BotId,
        range: TimeRange,
        after: Option<SessionId>,
        limit: u32,
    ) -> StoreResult<Vec<ChatSession>> {
        let sql = select!(chat_sessions: "WHERE tenant_id = $1 AND bot_id = $2
            AND created_at >= $3 AND created_at < $4 AND ($5 IS NULL OR id > $5)
            ORDER BY id LIMIT $6");
        query::<D>("sessions_between", sql)
            .bind((tenant, bot, range.from, range.to, after))
            .bind(i64::from(limit))
            .fetch_all(self.pool(), read_session)
            .await
    }

    async fn bot_messages_between(
        &self,
        tenant: TenantId,
        bot: BotId,
        range: TimeRange,
        limit: u32,
    ) -> StoreResult<Vec<ChatMessage>> {
        let sql = AssertSqlSafe(format!(
            "{} ORDER BY session_id, {} LIMIT $5",
            select!(chat_messages: "WHERE tenant_id = $1
                AND session_id IN (SELECT id FROM chat_sessions WHERE tenant_id = $1 AND bot_id = $2)
                AND created_at >= $3 AND created_at < $4"),
            D::MESSAGE_ORDER
        ));
        query::<D>("bot_messages_between", sql)
            .bind((tenant, bot, range.from, range.to, i64::from(limit)))
            .fetch_all(self.pool(), read_message)
            .await
    }
}

/// Appends messages to a session inside the caller's transaction.
async fn append<D: Dialect>(
    tx: &mut Transaction<'static, D>,
    tenant: TenantId,
    id: SessionId,
    messages: &[ChatMessage],
) -> StoreResult<()> {
    let Some(last) = messages.last() else {
        return Ok(());
    };
    // Updating the session first locks its row, so concurrent appends to
    // one session run one after the other and `seq` follows their commits.
    let sql = "UPDATE chat_sessions SET message_count = message_count + $1, last_message_at = $2
               WHERE tenant_id = $3 AND id = $4";
    query::<D>("append_messages", sql)
        .bind((messages.len() as i64, last.created_at, tenant, id))
        .execute_found(&mut *tx)
        .await?;
    for m in messages {
        let sql = insert!(chat_messages: "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18");
        let feedback = m.feedback.as_ref();
        query::<D>("append_messages", sql)
            .bind((m.id, tenant, id, m.role.as_str(), &m.content))
            .bind((json(&m.citations), &m.mode, i64::from(m.prompt_tokens)))
            .bind(i64::from(m.completion_tokens))
            .bind((m.latency_ms.map(i64::from), m.partial, m.answered))
            .bind((&m.finish_reason, m.grounding.as_ref().map(json)))
            .bind((
                feedback.map(|f| f.rating.as_str()),
                feedback.and_then(|f| f.comment.as_deref()),
                feedback.map(|f| f.created_at),
            ))
            .bind(m.created_at)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}
