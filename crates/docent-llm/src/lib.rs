//! Model providers of Docent. Embedders: feature hashing (no download, the
//! fallback), a local all-MiniLM-L6-v2 on the CPU through candle, and any
//! OpenAI-compatible embeddings API. Chat: any OpenAI-compatible Chat
//! Completions endpoint, streamed. Reranking: any Cohere/Jina-style rerank API.

pub mod chat;
pub mod embed;
mod probe;
pub mod rerank;
mod retry;
