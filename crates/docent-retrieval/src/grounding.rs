//! Grounding: whether each sentence of an answer is supported by the
//! passages it cites.
//!
//! No entailment or cross-encoder model ships on a registry reachable here,
//! so support is a measured score (docent eval --grounding, the labelled
//! sentences of eval/grounding.jsonl; figures in docs/BENCHMARKS.md):
//!
//! - lexical: the share of the sentence's content words (stemmed) that the
//!   passage holds;
//! - semantic: the best cosine between the sentence and a window of the
//!   passage (one sentence, or two adjacent ones for a sentence that sums
//!   them up), mapped to [0, 1] by the embedder's calibration;
//! - two penalties for what keeps the wording and changes the fact, the
//!   commonest kind of unsupported sentence: a number or a name (a word with
//!   a digit or an underscore, an upper-case keyword such as `CONCURRENTLY`)
//!   that the passage lacks, and a negation the closest window does not share
//!   (or the reverse).
//!
//! A sentence is supported when its best passage scores at least the
//! calibration's threshold.

use std::collections::HashSet;
use std::sync::Arc;

use docent_core::embed::{EmbedError, Embedder};

use crate::lexical::Terms;
use crate::sentences;

/// Windows of one passage embedded at most; longer passages are checked on
/// their first ones.
const MAX_WINDOWS: usize = 48;
/// Characters of a sentence or window embedded at most.
const MAX_WINDOW_CHARS: usize = 1000;
/// Content words a sentence needs to be a claim worth checking ("Sure!",
/// "See the manual." are not).
const MIN_CLAIM_TERMS: usize = 2;

/// How support is scored for one embedder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroundingCalibration {
    /// Share of the lexical signal in the support score, in [0, 1].
    pub lexical_weight: f32,
    /// Cosine at which a window counts as unrelated to the sentence (0).
    pub cosine_unrelated: f32,
    /// Cosine at which it says the same (1).
    pub cosine_same: f32,
    /// Factor for a number or name the passage lacks.
    pub missing_penalty: f32,
    /// Factor for a negation the closest window does not share.
    pub negation_penalty: f32,
    /// Support at which a sentence counts as supported.
    pub threshold: f32,
}

impl GroundingCalibration {
    /// Feature hashing measures shared words, which the lexical signal
    /// measures better: lean on it. The best F1 of the grid
    /// (scripts/tune_grounding.py; the same in one of its two cross-validation
    /// folds).
    pub const HASH: Self = Self {
        lexical_weight: 0.6,
        cosine_unrelated: 0.4,
        cosine_same: 0.8,
        missing_penalty: 0.5,
        negation_penalty: 0.7,
        threshold: 0.5,
    };

    /// all-MiniLM-L6-v2; also the starting point for models not measured.
    /// Chosen for precision over the grid's best F1 (which flags 3 in 10
    /// supported sentences to catch 87% of the unsupported ones): a right
    /// sentence flagged, or dropped, costs the visitor a true answer.
    pub const MINILM: Self = Self {
        lexical_weight: 0.5,
        cosine_unrelated: 0.3,
        cosine_same: 0.85,
        missing_penalty: 0.6,
        negation_penalty: 0.7,
        threshold: 0.6,
    };

    /// The calibration of an embedder, by its id.
    pub fn for_embedder(id: &str) -> Self {
        if id.starts_with("hash-") {
            Self::HASH
        } else {
            Self::MINILM
        }
    }

    fn cosine(&self, cosine: f32) -> f32 {
        let span = (self.cosine_same - self.cosine_unrelated).max(f32::EPSILON);
        ((cosine - self.cosine_unrelated) / span).clamp(0.0, 1.0)
    }
}

/// A sentence to check, and the passages (indexes into the evidence) it
/// cites; none: it is checked against every passage.
#[derive(Clone, Debug)]
pub struct Claim {
    pub text: String,
    pub cites: Vec<usize>,
}

/// How well a claim is supported by its best passage.
#[derive(Clone, Debug, PartialEq)]
pub struct Support {
    /// That passage (an index into the evidence).
    pub passage: usize,
    pub lexical: f32,
    /// The best share of them one window holds (a changed name that the
    /// passage holds elsewhere shows here).
    pub window_lexical: f32,
    /// The best cosine with a window of the passage, as measured.
    pub cosine: f32,
    /// That cosine mapped to [0, 1] by the calibration.
    pub semantic: f32,
    /// Numbers and names of the sentence that the passage lacks.
    pub missing: Vec<String>,
    pub negation_mismatch: bool,
    /// The support score in [0, 1].
    pub score: f32,
    pub supported: bool,
}

/// The passages an answer drew on, prepared for checking (their windows
/// embedded once per answer).
pub struct Evidence {
    passages: Vec<PassageEvidence>,
}

struct PassageEvidence {
    text: String,
    exact: HashSet<String>,
    windows: Vec<Window>,
}

struct Window {
    text: String,
    vector: Vec<f32>,
    negated: bool,
}

impl Evidence {
    pub fn len(&self) -> usize {
        self.passages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }
}

/// Scores sentences against passages with the instance's embedder.
#[derive(Clone)]
pub struct Checker {
    embedder: Arc<dyn Embedder>,
    calibration: GroundingCalibration,
    terms: Arc<Terms>,
}

impl Checker {
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        let calibration = GroundingCalibration::for_embedder(embedder.id());
        Self::with_calibration(embedder, calibration)
    }

    pub fn with_calibration(
        embedder: Arc<dyn Embedder>,
        calibration: GroundingCalibration,
    ) -> Self {
        Self {
            embedder,
            calibration,
            terms: Arc::new(Terms::default()),
        }
    }

    pub fn calibration(&self) -> GroundingCalibration {
        self.calibration
    }

    /// Embeds the windows of `passages`: one sentence each, and each two
    /// adjacent sentences.
    pub async fn prepare(&self, passages: &[String]) -> Result<Evidence, EmbedError> {
        let mut texts = Vec::new();
        let mut owners = Vec::new();
        for (i, passage) in passages.iter().enumerate() {
            let sentences = sentences::split(passage);
            let pairs = sentences.windows(2).map(|w| format!("{} {}", w[0], w[1]));
            let windows = sentences
                .iter()
                .map(|s| s.to_string())
                .chain(pairs)
                .take(MAX_WINDOWS);
            for w in windows {
                texts.push(clip(&w));
                owners.push(i);
            }
        }
        let vectors = self.embed(&texts).await?;
        let mut out: Vec<PassageEvidence> = passages
            .iter()
            .map(|p| PassageEvidence {
                text: p.clone(),
                exact: exact_tokens(p, false),
                windows: Vec::new(),
            })
            .collect();
        for ((owner, text), vector) in owners.into_iter().zip(&texts).zip(vectors) {
            out[owner].windows.push(Window {
                text: text.clone(),
                vector,
                negated: negated(text),
            });
        }
        Ok(Evidence { passages: out })
    }

    /// One result per claim: `None` for a sentence that makes no claim (too
    /// few content words) or has no passage to be checked against.
    pub async fn check(
        &self,
        evidence: &Evidence,
        claims: &[Claim],
    ) -> Result<Vec<Option<Support>>, EmbedError> {
        let checked: Vec<(usize, HashSet<String>)> = claims
            .iter()
            .enumerate()
            .map(|(i, c)| (i, self.terms.of(&c.text)))
            .filter(|(_, terms)| terms.len() >= MIN_CLAIM_TERMS)
            .collect();
        let texts: Vec<String> = checked
            .iter()
            .map(|(i, _)| clip(&claims[*i].text))
            .collect();
        let vectors = self.embed(&texts).await?;
        let mut out = vec![None; claims.len()];
        for ((i, terms), vector) in checked.into_iter().zip(vectors) {
            out[i] = self.support(evidence, &claims[i], &terms, &vector);
        }
        Ok(out)
    }

    fn support(
        &self,
        evidence: &Evidence,
        claim: &Claim,
        terms: &HashSet<String>,
        vector: &[f32],
    ) -> Option<Support> {
        let all: Vec<usize> = (0..evidence.len()).collect();
        let cites: Vec<usize> = claim
            .cites
            .iter()
            .copied()
            .filter(|&i| i < evidence.len())
            .collect();
        let candidates = if cites.is_empty() { &all } else { &cites };
        let exact = exact_tokens(&claim.text, true);
        let claim_negated = negated(&claim.text);
        let c = &self.calibration;
        candidates
            .iter()
            .map(|&i| {
                let p = &evidence.passages[i];
                let lexical = self.terms.coverage(terms, &p.text);
                let window_lexical = p
                    .windows
                    .iter()
                    .map(|w| self.terms.coverage(terms, &w.text))
                    .fold(0.0f32, f32::max);
                let best = p
                    .windows
                    .iter()
                    .map(|w| (dot(vector, &w.vector), w.negated))
                    .max_by(|a, b| a.0.total_cmp(&b.0));
                let (cosine, window_negated) = best.unwrap_or((0.0, false));
                let semantic = c.cosine(cosine);
                let mut missing: Vec<String> = exact.difference(&p.exact).cloned().collect();
                missing.sort();
                let negation_mismatch = best.is_some() && window_negated != claim_negated;
                let mut score = c.lexical_weight * lexical + (1.0 - c.lexical_weight) * semantic;
                if !missing.is_empty() {
                    score *= c.missing_penalty;
                }
                if negation_mismatch {
                    score *= c.negation_penalty;
                }
                let score = score.clamp(0.0, 1.0);
                Support {
                    passage: i,
                    lexical,
                    window_lexical,
                    cosine,
                    semantic,
                    missing,
                    negation_mismatch,
                    score,
                    supported: score >= c.threshold,
                }
            })
            .max_by(|a, b| a.score.total_cmp(&b.score).then(b.passage.cmp(&a.passage)))
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.embedder.batch_size().max(1)) {
            out.extend(self.embedder.embed(batch).await?);
        }
        Ok(out)
    }
}

fn clip(text: &str) -> String {
    text.chars().take(MAX_WINDOW_CHARS).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Number words, read as their digits so "three scans" and "3 scans" are
/// one number and "two" against "three" is a changed one.
/// ("once" is left out: it is more often "as soon as".)
const NUMBER_WORDS: [(&str, &str); 12] = [
    ("zero", "0"),
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("twice", "2"),
];

/// Words that must appear as they are, lower-cased: numbers, identifiers
/// (with a digit or an underscore) and, for a claim (`keywords`), words
/// written in capitals (SQL keywords, option names); every word of a passage
/// counts, so a claim's exact word is looked up among all of them.
fn exact_tokens(text: &str, keywords: bool) -> HashSet<String> {
    let mut out = HashSet::new();
    for w in text
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
    {
        let lower = w.to_lowercase();
        if let Some((_, digits)) = NUMBER_WORDS.iter().find(|(word, _)| *word == lower) {
            out.insert(digits.to_string());
            continue;
        }
        let exact = w.chars().any(|c| c.is_ascii_digit() || c == '_')
            || (w.chars().count() >= 3 && w.chars().all(char::is_uppercase));
        if !keywords || exact {
            out.insert(lower);
        }
    }
    out
}

/// Whether a sentence is negated (an odd count of negations would be more
/// exact; double negation is rare in answers and manuals alike).
fn negated(text: &str) -> bool {
    const NEGATIONS: [&str; 8] = [
        "not", "no", "never", "cannot", "none", "neither", "nor", "without",
    ];
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(str::to_lowercase)
        .any(|w| NEGATIONS.contains(&w.as_str()) || w.ends_with("n't"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_exact() {
        let claim = exact_tokens(
            "Use CREATE INDEX CONCURRENTLY with work_mem of 64 MB, in two scans.",
            true,
        );
        for w in ["create", "index", "concurrently", "work_mem", "64", "2"] {
            assert!(claim.contains(w), "{w}");
        }
        assert!(!claim.contains("use") && !claim.contains("mb"));
        assert!(exact_tokens("It takes two passes.", false).contains("2"));
        assert!(negated("You cannot do that."));
        assert!(negated("It doesn't lock the table."));
        assert!(!negated("It locks the table."));
    }
}
