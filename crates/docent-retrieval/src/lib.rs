//! Retrieval: finding the passages of a bot's knowledge base that answer a
//! question. Keyword search (BM25) runs in the store; vector search runs over
//! an in-process index of the bot's vectors; hybrid fuses both rankings.

pub mod fusion;
pub mod retriever;
pub mod vector;

pub use retriever::{Hit, Retriever, SearchError};
