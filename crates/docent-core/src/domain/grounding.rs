//! Grounding: how the sentences of a generated answer stand against the
//! passages they cite, and what a bot does with those its passages do not
//! support.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a bot does with a sentence of a generated answer that the passages
/// it cites do not support.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UnsupportedSentences {
    /// Keep it, and say which it is (`grounding.flagged`); the widget marks it.
    #[default]
    Flag,
    /// Leave it out of the answer; in a stream a sentence is sent only once
    /// it is checked.
    Drop,
}

impl UnsupportedSentences {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flag => "flag",
            Self::Drop => "drop",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "flag" => Some(Self::Flag),
            "drop" => Some(Self::Drop),
            _ => None,
        }
    }
}

/// The grounding check of a generated answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Grounding {
    /// Sentences found supported by the passages they cite.
    pub supported: u32,
    /// 0-based indexes, among the sentences the model wrote, of those found
    /// unsupported. Sentences that make no claim ("Sure!") are in neither
    /// list.
    pub unsupported: Vec<u32>,
    /// Mean support of the checked sentences, 0–1.
    pub score: f32,
    /// What the bot did with the unsupported ones: `flag` or `drop`.
    pub action: UnsupportedSentences,
    /// With `flag`: the unsupported sentences as the answer shows them, for
    /// a client to mark. With `drop`: empty (they are not in the answer).
    pub flagged: Vec<String>,
}

/// Characters of a sentence kept in a grounding trace.
pub const GROUNDING_SENTENCE_CHARS: usize = 500;

/// The grounding check as the trace shows it: every sentence with what each
/// signal said.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroundingTrace {
    /// Support at which a sentence counted as supported.
    pub threshold: f32,
    pub sentences: Vec<SentenceCheck>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SentenceCheck {
    /// 0-based, among the sentences the model wrote.
    pub index: u32,
    pub text: String,
    /// The `[n]` passages it cites; empty: checked against every passage.
    pub cites: Vec<u32>,
    /// The passage that supports it best, its `[n]`; null when it makes no
    /// claim.
    pub passage: Option<u32>,
    /// Share of its content words that passage holds, 0–1.
    pub lexical: Option<f32>,
    /// Its best similarity with a window of that passage, 0–1.
    pub semantic: Option<f32>,
    /// Its numbers and names that passage lacks.
    pub missing: Vec<String>,
    /// It is negated where the closest window is not, or the reverse.
    pub negation_mismatch: bool,
    pub score: Option<f32>,
    /// Null: it makes no claim and was not judged.
    pub supported: Option<bool>,
    /// Left out of the answer (`drop`).
    pub dropped: bool,
}
