//! Retrieval: finding the passages of a bot's knowledge base that answer a
//! question. Keyword search (BM25) runs in the store; vector search runs over
//! an in-process index of the bot's vectors; hybrid fuses both by calibrated
//! relevance.

pub mod grounding;
pub mod lexical;
mod relevance;
pub mod retriever;
pub mod sentences;
pub mod vector;

pub use relevance::Calibration;
pub use retriever::{Hit, Params, Retriever, SearchError, Searched, Signals, StageTimings};
