//! What happened between a question and its answer: the retrieval trace
//! stored with every answer, so its owner can see why the bot said what it
//! said (or declined), and a visitor's verdict on it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::RetrievalMode;
use crate::ids::{ChunkId, DocumentId, MessageId};

/// Candidates kept per retriever in a trace: the list is bounded so a trace
/// stays a few kilobytes whatever a bot's `top_k`.
pub const TRACE_CANDIDATES: usize = 50;
/// Characters of the question and of the search query kept in a trace.
pub const TRACE_TEXT_CHARS: usize = 2000;

/// The whole path of one answer, stored with it and kept as long as it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageTrace {
    pub message_id: MessageId,
    /// The visitor's question, as asked.
    pub question: String,
    /// What was searched: the question made standalone (a follow-up joined
    /// to the conversation, by the model or by rule).
    pub search_query: String,
    pub retrieval: RetrievalTrace,
    pub decision: Decision,
    /// The passages given to the model (or quoted from), in prompt order.
    pub context: Vec<ContextPassage>,
    /// Who wrote the answer and what it cost.
    pub generation: GenerationTrace,
    /// Each sentence of a generated answer against the passages it cites;
    /// null for quotes, declines and answers whose check could not run.
    #[serde(default)]
    pub grounding: Option<super::GroundingTrace>,
    /// Per-stage wall-clock times, in milliseconds.
    pub timings_ms: Timings,
}

/// One retriever's ranked list, as the search engine returned it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RankedCandidate {
    pub chunk_id: ChunkId,
    /// 1-based.
    pub rank: u32,
    /// Keyword: BM25 (its scale depends on the query and the backend);
    /// vector: cosine similarity, -1–1.
    pub score: f32,
}

/// How the search ran and what each stage said of each candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RetrievalTrace {
    pub mode: RetrievalMode,
    pub top_k: u32,
    /// The relevance floor the candidates were cut at, 0–1.
    pub floor: f32,
    /// Where the floor came from: `bot` (its `min_score`), `calibrated` (the
    /// embedder's default for the mode) or `reranker` (the reranker's).
    pub floor_source: String,
    /// Whether a reranker scored the candidates (and its scores decided).
    pub reranked: bool,
    /// Why reranking was asked for and did not decide, when it failed.
    pub rerank_error: Option<String>,
    /// The keyword engine's list (empty in vector mode), best first.
    pub keyword: Vec<RankedCandidate>,
    /// The nearest vectors (empty in keyword mode), best first.
    pub vector: Vec<RankedCandidate>,
    /// Every fused candidate, best first, with what each stage measured.
    pub candidates: Vec<CandidateTrace>,
    /// Candidates left out of `keyword`, `vector` and `candidates` to bound
    /// the trace's size.
    pub omitted: u32,
}

/// One candidate passage after fusion (and reranking).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CandidateTrace {
    pub chunk_id: ChunkId,
    pub document_id: DocumentId,
    pub title: String,
    pub keyword_rank: Option<u32>,
    pub keyword_score: Option<f32>,
    /// Share of the question's content words the passage holds, 0–1.
    pub coverage: Option<f32>,
    pub vector_rank: Option<u32>,
    pub cosine: Option<f32>,
    /// The calibrated relevance fusion gave it, 0–1.
    pub fused: f32,
    /// The reranker's relevance, 0–1, when it ran.
    pub rerank: Option<f32>,
    /// The relevance the floor was compared with: `rerank` when reranked,
    /// else `fused`.
    pub score: f32,
    /// `kept` (given to the answer), `below_floor` or `beyond_top_k`.
    pub outcome: String,
}

/// Whether the bot answered, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Decision {
    pub answered: bool,
    /// `passages_found`, `no_passage_above_floor`, `no_sentence_answers`
    /// (extractive: the passages hold no sentence on the question),
    /// `no_sentence_supported` (the bot drops unsupported sentences and
    /// none of the model's was supported), or `partial` (the answer stopped
    /// early).
    pub reason: String,
}

/// A passage as sent to the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ContextPassage {
    /// Its `[n]` in the prompt and in the answer's citations.
    pub n: u32,
    pub chunk_id: ChunkId,
    /// Tokens of its text, as counted when it was chunked.
    pub tokens: u32,
    /// Whether the answer cites it.
    pub cited: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GenerationTrace {
    /// `generative` (a model wrote it), `extractive` (quoted) or `declined`
    /// (the fixed "I don't know": nothing was asked of a model).
    pub mode: String,
    /// The model asked, when one was: the bot's, or the instance default.
    pub model: Option<String>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub finish_reason: Option<String>,
    pub partial: bool,
}

/// Milliseconds per stage; a stage that did not run is null.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Timings {
    /// Making a follow-up standalone (a model call when one is configured).
    pub rewrite: Option<f64>,
    /// Embedding the query.
    pub embed: Option<f64>,
    pub keyword: Option<f64>,
    pub vector: Option<f64>,
    /// Reading the candidates and fusing their scores.
    pub fusion: Option<f64>,
    pub rerank: Option<f64>,
    /// Writing the answer: the model's stream, or the extractive quotes.
    pub generate: Option<f64>,
    /// Checking the answer's sentences against their passages.
    #[serde(default)]
    pub grounding: Option<f64>,
    /// Question received to answer complete.
    pub total: f64,
}

/// A visitor's or user's verdict on an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    Up,
    Down,
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "up" => Some(Self::Up),
            "down" => Some(Self::Down),
            _ => None,
        }
    }
}

/// Feedback on one answer; a new verdict replaces the previous one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Feedback {
    pub rating: Rating,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Characters of a feedback comment accepted.
pub const FEEDBACK_COMMENT_CHARS: usize = 2000;

/// Keeps the first `max` characters of `s`.
pub fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
