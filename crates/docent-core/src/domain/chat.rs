//! Conversations: sessions of one bot, their messages, and the passages an
//! answer cites.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Feedback;
use crate::ids::{BotId, ChunkId, DocumentId, MessageId, SessionId, TenantId};

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ChatSession {
    pub id: SessionId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub bot_id: BotId,
    /// The visitor's identity when an embed token carried one.
    pub visitor: Option<String>,
    /// Who started it when it was not a visitor: `user:<id>` or
    /// `api_key:<id>`. Viewers see only the conversations they started.
    #[serde(skip)]
    pub started_by: Option<String>,
    pub message_count: u32,
    pub created_at: DateTime<Utc>,
    pub last_message_at: DateTime<Utc>,
}

/// A retrieved passage an answer points to with `[n]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Citation {
    pub n: u32,
    pub document_id: DocumentId,
    pub chunk_id: ChunkId,
    pub title: String,
    pub source_url: Option<String>,
    pub page: Option<u32>,
    pub heading: Option<String>,
    /// The uploaded file's name, for documents that came from a file.
    #[serde(default)]
    pub filename: Option<String>,
    pub snippet: String,
    pub score: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
}

impl MessageRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "assistant" => Some(Self::Assistant),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ChatMessage {
    pub id: MessageId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub session_id: SessionId,
    pub role: MessageRole,
    pub content: String,
    pub citations: Vec<Citation>,
    /// For answers: `generative` or `extractive`.
    pub mode: Option<String>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// For answers: time from question to complete answer.
    pub latency_ms: Option<u32>,
    /// The answer stopped early: the client disconnected or the model failed
    /// midway; `content` is what had arrived.
    pub partial: bool,
    /// For answers: `false` when the bot said it does not know (no passage
    /// was relevant enough), `true` otherwise.
    pub answered: Option<bool>,
    /// For answers a model wrote: why it stopped, `stop` or `length` (cut at
    /// the bot's `max_tokens`).
    pub finish_reason: Option<String>,
    /// For generated answers: each sentence checked against the passages it
    /// cites; null for quotes, declines and answers not checked.
    pub grounding: Option<super::Grounding>,
    /// For answers: the latest thumbs up or down on it, with its comment.
    pub feedback: Option<Feedback>,
    pub created_at: DateTime<Utc>,
}

impl ChatMessage {
    /// A message stamped now, without citations or usage (yet).
    pub fn new(
        tenant_id: TenantId,
        session_id: SessionId,
        role: MessageRole,
        content: String,
    ) -> Self {
        Self {
            id: MessageId::new(),
            tenant_id,
            session_id,
            role,
            content,
            citations: Vec::new(),
            mode: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            latency_ms: None,
            partial: false,
            answered: None,
            finish_reason: None,
            grounding: None,
            feedback: None,
            created_at: Utc::now(),
        }
    }
}
