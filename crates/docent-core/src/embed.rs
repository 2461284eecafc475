//! The embedding seam. Providers (feature hashing, a local model, any
//! OpenAI-compatible API) implement [`Embedder`]; ingestion and retrieval use it
//! without knowing which one runs.

use std::sync::Arc;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// Worth retrying later: the provider is down, overloaded (429) or timed out.
    #[error("embedding provider unavailable: {0}")]
    Unavailable(String),
    /// Retrying will not help: bad configuration, bad input, malformed answer.
    #[error("embedding failed: {0}")]
    Failed(String),
}

/// Counts tokens the way a model does, so chunks can be sized for it.
pub trait TokenCounter: Send + Sync {
    fn count(&self, text: &str) -> usize;

    /// Byte ranges of `text`'s tokens, in order, when the counter can give
    /// them. Chunking sizes many candidate slices of one section; with the
    /// spans it counts each by binary search instead of tokenizing it again.
    fn spans(&self, _text: &str) -> Option<Vec<std::ops::Range<usize>>> {
        None
    }
}

#[async_trait]
pub trait Embedder: Send + Sync {
    /// Names model and dimension (for example `hash-384` or
    /// `local:all-MiniLM-L6-v2`). Stored with every vector: when a bot's embedder
    /// id changes, its chunks are embedded again.
    fn id(&self) -> &str;
    /// Length of every vector returned.
    fn dims(&self) -> usize;
    /// How many texts to send per `embed` call for best throughput.
    fn batch_size(&self) -> usize;
    /// Largest input, in this model's tokens, that it embeds without truncation.
    fn max_tokens(&self) -> usize;
    /// The model's own token count, for chunk sizing.
    fn tokens(&self) -> Arc<dyn TokenCounter>;
    /// One L2-normalised vector per text, in order (so cosine similarity is a
    /// dot product).
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// Whether a remote provider answers now, cheaply (no model run): for
    /// readiness. In-process embedders are always there.
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}
