//! The chat-model seam. Providers (any OpenAI-compatible Chat Completions
//! endpoint) implement [`ChatModel`]; the chat service streams answers through
//! it without knowing which server runs the model.

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatTurn {
    pub role: ChatRole,
    pub content: String,
}

#[derive(Clone, Debug, Default)]
pub struct ChatRequest {
    pub messages: Vec<ChatTurn>,
    /// Overrides the provider's configured model (a bot's `model`).
    pub model: Option<String>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

/// Tokens as the provider counted them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ChatEvent {
    /// The next piece of the answer.
    Delta(String),
    /// The answer is complete. `usage` is `None` when the provider did not
    /// report it.
    Done {
        usage: Option<Usage>,
        finish_reason: Option<String>,
    },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LlmError {
    /// Down, overloaded or erroring (after retries): worth trying later.
    #[error("language model unavailable: {0}")]
    Unavailable(String),
    /// No first token, or no next token, within the time limit.
    #[error("language model timed out: {0}")]
    Timeout(String),
    /// Retrying will not help (bad request, bad configuration).
    #[error("language model request failed: {0}")]
    Failed(String),
}

pub type ChatStream = BoxStream<'static, Result<ChatEvent, LlmError>>;

#[async_trait]
pub trait ChatModel: Send + Sync {
    /// The default model name, as configured.
    fn model(&self) -> &str;
    /// Starts an answer. Resolves once the provider accepted the request
    /// (retries on 429/5xx happen before that); the stream then yields deltas
    /// and ends with [`ChatEvent::Done`] or an error. Dropping the stream
    /// cancels the request.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, LlmError>;
    /// Whether the provider answers now, cheaply (no model run): for
    /// readiness. `Err` says why not.
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}
