//! Chat: a question to a bot becomes a grounded, cited answer. Retrieval with
//! the bot's settings, then either the language model (prompted with fenced,
//! numbered passages and the recent conversation) or, with none configured,
//! an extractive answer. Both turns are stored in the session.

mod extractive;
mod prompt;

use std::time::Instant;

use chrono::Utc;
use docent_core::domain::{ChatMessage, ChatSession, Citation, MessageRole, Role};
use docent_core::ids::{BotId, ChunkId, MessageId, SessionId};
use docent_core::llm::{ChatEvent, ChatRequest, LlmError};
use docent_core::store::{Page, PageRequest};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Ctx, ServiceError, ServiceResult, Services};

/// Longest question accepted, in characters.
const MAX_MESSAGE_CHARS: usize = 4000;
/// Earlier messages read for the prompt and the follow-up rule.
const HISTORY_MESSAGES: u32 = 12;
/// Characters of a passage shown as a citation's snippet.
const SNIPPET_CHARS: usize = 300;

pub const DONT_KNOW: &str = "I don't know: the knowledge base has nothing on that question.";

#[derive(Debug, Deserialize, ToSchema)]
pub struct AskRequest {
    pub bot_id: BotId,
    pub message: String,
    /// Continue this conversation; omitted: a new one.
    pub session_id: Option<SessionId>,
    /// `true`: answer as server-sent events.
    #[serde(default)]
    pub stream: bool,
}

#[derive(Clone, Copy, Debug, Default, Serialize, ToSchema)]
pub struct UsageView {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatAnswer {
    pub session_id: SessionId,
    pub message_id: MessageId,
    pub answer: String,
    pub citations: Vec<Citation>,
    /// `generative` (a language model wrote it) or `extractive` (quoted).
    pub mode: String,
    pub usage: UsageView,
}

impl From<LlmError> for ServiceError {
    fn from(e: LlmError) -> Self {
        match e {
            LlmError::Unavailable(m) | LlmError::Timeout(m) => {
                ServiceError::Unavailable(format!("the language model is unavailable: {m}"))
            }
            LlmError::Failed(m) => ServiceError::Internal(m),
        }
    }
}

impl Services {
    pub async fn ask(&self, ctx: &Ctx, req: AskRequest) -> ServiceResult<ChatAnswer> {
        ctx.actor.require(Role::Viewer)?;
        let started = Instant::now();
        let tenant = ctx.actor.tenant_id;
        let bot = self.store.get_bot(tenant, req.bot_id).await?;
        let question = req.message.trim().to_string();
        if question.is_empty() {
            return Err(ServiceError::Invalid("`message` is empty".into()));
        }
        if question.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ServiceError::Invalid(format!(
                "`message` is longer than {MAX_MESSAGE_CHARS} characters"
            )));
        }
        let (session, is_new) = match req.session_id {
            Some(id) => {
                let session = self.store.get_session(tenant, id).await?;
                if session.bot_id != bot.id {
                    return Err(ServiceError::NotFound);
                }
                (session, false)
            }
            None => {
                let now = Utc::now();
                let session = ChatSession {
                    id: SessionId::new(),
                    tenant_id: tenant,
                    bot_id: bot.id,
                    visitor: None,
                    message_count: 0,
                    created_at: now,
                    last_message_at: now,
                };
                (session, true)
            }
        };
        let history = if is_new {
            Vec::new()
        } else {
            self.store
                .list_messages(tenant, session.id, Some(HISTORY_MESSAGES))
                .await?
        };
        let user_message = ChatMessage {
            id: MessageId::new(),
            tenant_id: tenant,
            session_id: session.id,
            role: MessageRole::User,
            content: question.clone(),
            citations: Vec::new(),
            mode: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            latency_ms: None,
            created_at: Utc::now(),
        };

        let query = prompt::standalone_query(&question, &history);
        let r = &bot.retrieval;
        let hits = self
            .retriever
            .search(
                tenant,
                bot.id,
                &query,
                r.mode,
                r.top_k as usize,
                r.min_score,
            )
            .await?;
        let ids: Vec<ChunkId> = hits.iter().map(|h| h.chunk_id).collect();
        let mut found = self.store.get_chunk_hits(tenant, &ids).await?;
        let mut passages = Vec::new();
        let mut texts = Vec::new();
        for hit in &hits {
            let Some(at) = found.iter().position(|p| p.chunk_id == hit.chunk_id) else {
                continue;
            };
            let p = found.swap_remove(at);
            passages.push(Citation {
                n: passages.len() as u32 + 1,
                document_id: p.document_id,
                chunk_id: p.chunk_id,
                title: p.title,
                source_url: p.source_url,
                page: p.page,
                heading: p.heading,
                snippet: p.text.chars().take(SNIPPET_CHARS).collect(),
                score: hit.score,
            });
            texts.push(p.text);
        }

        let mode = if self.llm.is_some() {
            "generative"
        } else {
            "extractive"
        };
        let (answer, citations, usage) = if passages.is_empty() {
            (DONT_KNOW.to_string(), Vec::new(), UsageView::default())
        } else if let Some(llm) = &self.llm {
            let request = ChatRequest {
                messages: prompt::build(
                    bot.system_prompt.as_deref(),
                    &passages,
                    &texts,
                    &history,
                    &question,
                ),
                model: bot.model.clone(),
                temperature: bot.temperature,
                max_tokens: None,
            };
            let mut stream = llm.stream(request).await?;
            let mut text = String::new();
            let mut usage = UsageView::default();
            while let Some(event) = stream.next().await {
                match event? {
                    ChatEvent::Delta(d) => text.push_str(&d),
                    ChatEvent::Done { usage: u, .. } => {
                        if let Some(u) = u {
                            usage = UsageView {
                                prompt_tokens: u.prompt_tokens,
                                completion_tokens: u.completion_tokens,
                            };
                        }
                        break;
                    }
                }
            }
            let (text, used) = prompt::cited(&text, passages.len());
            let citations = used
                .iter()
                .map(|&n| passages[n as usize - 1].clone())
                .collect();
            (text, citations, usage)
        } else {
            let text = extractive::answer(&question, &passages, &texts);
            let (text, used) = prompt::cited(&text, passages.len());
            let citations = used
                .iter()
                .map(|&n| passages[n as usize - 1].clone())
                .collect();
            (text, citations, UsageView::default())
        };

        let answer_message = ChatMessage {
            id: MessageId::new(),
            tenant_id: tenant,
            session_id: session.id,
            role: MessageRole::Assistant,
            content: answer.clone(),
            citations: citations.clone(),
            mode: Some(mode.to_string()),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            latency_ms: Some(started.elapsed().as_millis() as u32),
            created_at: Utc::now(),
        };
        if is_new {
            self.store.create_session(&session).await?;
        }
        self.store
            .append_messages(tenant, session.id, &[user_message, answer_message.clone()])
            .await?;
        metrics::counter!("docent_chat_answers_total", "mode" => mode).increment(1);
        Ok(ChatAnswer {
            session_id: session.id,
            message_id: answer_message.id,
            answer,
            citations,
            mode: mode.to_string(),
            usage,
        })
    }

    pub async fn list_sessions(
        &self,
        ctx: &Ctx,
        bot: Option<BotId>,
        page: &PageRequest,
    ) -> ServiceResult<Page<ChatSession>> {
        ctx.actor.require(Role::Viewer)?;
        if let Some(bot) = bot {
            self.store.get_bot(ctx.actor.tenant_id, bot).await?;
        }
        Ok(self
            .store
            .list_sessions(ctx.actor.tenant_id, bot, page)
            .await?)
    }

    pub async fn session_messages(
        &self,
        ctx: &Ctx,
        session: SessionId,
    ) -> ServiceResult<Vec<ChatMessage>> {
        ctx.actor.require(Role::Viewer)?;
        self.store.get_session(ctx.actor.tenant_id, session).await?;
        Ok(self
            .store
            .list_messages(ctx.actor.tenant_id, session, None)
            .await?)
    }
}
