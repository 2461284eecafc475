//! The reranking seam: a model that reads the question with each candidate
//! passage (a cross-encoder) and says how well the passage answers it. Its
//! relevance replaces the fused score of the candidates it sees, so the floor
//! and "I don't know" rest on the stronger judgement.

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum RerankError {
    /// Down, overloaded or timed out: search goes on with the fused order.
    #[error("reranker unavailable: {0}")]
    Unavailable(String),
    /// A bad answer or configuration.
    #[error("reranking failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Reranker: Send + Sync {
    /// Names the model (for example `api:bge-reranker-base`).
    fn id(&self) -> &str;
    /// The relevance of each document to `query`, in [0, 1], in the order
    /// given.
    async fn rerank(&self, query: &str, documents: &[String]) -> Result<Vec<f32>, RerankError>;
}
