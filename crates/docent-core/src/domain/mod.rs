//! The product's nouns, as they are stored and as the API shows them.

mod api_key;
mod audit;
mod bot;
mod chat;
mod document;
mod email;
mod grounding;
mod job;
mod lead;
mod tenant;
mod trace;
mod usage;
mod user;
mod webhook;

pub use api_key::{ApiKey, NewApiKey};
pub use audit::{AuditEntry, AuditQuery, NewAuditEntry, changes};
pub use bot::{
    Bot, BotPatch, DEFAULT_VISITOR_MESSAGES_PER_MINUTE, NewBot, RetrievalMode, RetrievalSettings,
    origin_matches,
};
pub use chat::{ChatMessage, ChatSession, Citation, MessageRole};
pub use document::{
    Chunk, ChunkView, Document, DocumentCounts, DocumentStatus, SourceType, StoredFile,
};
pub use email::{EmailPurpose, EmailToken};
pub use grounding::{
    GROUNDING_SENTENCE_CHARS, Grounding, GroundingTrace, SentenceCheck, UnsupportedSentences,
};
pub use job::{Job, JobSpec, JobStatus, NewJob, Progress};
pub use lead::Lead;
pub use tenant::{Plan, Tenant};
pub use trace::{
    CandidateTrace, ContextPassage, Decision, FEEDBACK_COMMENT_CHARS, Feedback, GenerationTrace,
    MessageTrace, RankedCandidate, Rating, RetrievalTrace, TRACE_CANDIDATES, TRACE_TEXT_CHARS,
    Timings, clip,
};
pub use usage::{Charge, HELD_PERIOD, Period, PlanLimits, UsageEvent, UsageKind};
pub use user::{Email, Role, User};
pub use webhook::{
    DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent,
};

/// Input a domain rule rejects; the text says which rule, in words fit for
/// the caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<&str> for Invalid {
    fn from(rule: &str) -> Self {
        Invalid(rule.to_owned())
    }
}

impl From<String> for Invalid {
    fn from(rule: String) -> Self {
        Invalid(rule)
    }
}
