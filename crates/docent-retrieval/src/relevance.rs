//! Calibrated relevance: one score in [0, 1] that means the same in every
//! search mode, so one floor decides "I don't know".
//!
//! - keyword side: a passage's BM25 (tantivy on SQLite, SQL on PostgreSQL)
//!   relative to the best of the query, times the share of the question's
//!   content words the passage holds ([`crate::lexical`]). The ratio orders
//!   passages; the coverage keeps an unrelated best hit low.
//! - vector side: cosine similarity mapped linearly from the embedder's
//!   "unrelated" level (0) to its "same meaning" level (1), clamped.
//! - hybrid: a convex combination of both sides (Bruch et al., 2023, found it
//!   ahead of reciprocal rank fusion once scores are normalised); a passage
//!   only one side found gets 0 from the other side's ratio and its measured
//!   cosine.
//!
//! The weights, cosine levels and default floors are tuned per embedder on
//! the PostgreSQL manual's development set (eval/postgres-manual.jsonl, the
//! figures in docs/BENCHMARKS.md): hybrid must never rank worse than its
//! better side, and the floor balances declined out-of-scope questions
//! against answered in-scope ones.

use docent_core::domain::RetrievalMode;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    /// Share of the keyword side in hybrid relevance, in [0, 1].
    pub keyword_weight: f32,
    /// Cosine similarity at which a passage counts as unrelated.
    pub cosine_unrelated: f32,
    /// Cosine similarity at which a passage counts as fully relevant.
    pub cosine_relevant: f32,
    /// Default floors per mode, used when a bot sets no `min_score`.
    pub floor_keyword: f32,
    pub floor_vector: f32,
    pub floor_hybrid: f32,
}

impl Calibration {
    /// Feature hashing measures shared words, which keyword search measures
    /// better: hybrid leans on keywords (0.85; hybrid then ranks as keyword
    /// search does at 5 and better at 10). Its cosine hardly separates
    /// related from unrelated passages: vector mode's floor declines nearly
    /// every question, which is what such a score can honestly support.
    pub const HASH: Self = Self {
        keyword_weight: 0.85,
        cosine_unrelated: 0.2,
        cosine_relevant: 0.7,
        floor_keyword: 0.54,
        floor_vector: 0.68,
        floor_hybrid: 0.50,
    };

    /// all-MiniLM-L6-v2 on passages embedded under their title and heading;
    /// also the starting point for models not measured yet (a bot's explicit
    /// `min_score` overrides the floor). Each floor is the lowest at which
    /// nine in ten out-of-scope questions of the development set are
    /// declined.
    pub const MINILM: Self = Self {
        keyword_weight: 0.2,
        cosine_unrelated: 0.2,
        cosine_relevant: 0.7,
        floor_keyword: 0.54,
        floor_vector: 0.60,
        floor_hybrid: 0.52,
    };

    /// The calibration of an embedder, by its id (`hash-384`,
    /// `local:all-MiniLM-L6-v2`, `openai:…`).
    pub fn for_embedder(id: &str) -> Self {
        if id.starts_with("hash-") {
            Self::HASH
        } else {
            Self::MINILM
        }
    }

    pub fn default_floor(&self, mode: RetrievalMode) -> f32 {
        match mode {
            RetrievalMode::Keyword => self.floor_keyword,
            RetrievalMode::Vector => self.floor_vector,
            RetrievalMode::Hybrid => self.floor_hybrid,
        }
    }

    /// A cosine similarity as relevance in [0, 1].
    pub fn cosine(&self, cosine: f32) -> f32 {
        let span = (self.cosine_relevant - self.cosine_unrelated).max(f32::EPSILON);
        ((cosine - self.cosine_unrelated) / span).clamp(0.0, 1.0)
    }

    /// Keyword relevance: `ratio` is the passage's keyword score over the
    /// query's best (0 when keyword search did not find it), `coverage` the
    /// share of question words it holds.
    pub fn keyword(ratio: f32, coverage: f32) -> f32 {
        (ratio.clamp(0.0, 1.0) * coverage.clamp(0.0, 1.0)).clamp(0.0, 1.0)
    }

    pub fn hybrid(&self, keyword: f32, cosine: f32) -> f32 {
        let w = self.keyword_weight.clamp(0.0, 1.0);
        (w * keyword + (1.0 - w) * self.cosine(cosine)).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relevance_stays_in_unit_range() {
        for c in [Calibration::HASH, Calibration::MINILM] {
            for cos in [-1.0, 0.0, 0.3, 0.6, 1.0] {
                let r = c.cosine(cos);
                assert!((0.0..=1.0).contains(&r));
                for k in [0.0, 0.5, 1.0] {
                    assert!((0.0..=1.0).contains(&c.hybrid(k, cos)));
                }
            }
        }
        assert_eq!(Calibration::MINILM.cosine(0.1), 0.0);
        assert_eq!(Calibration::MINILM.cosine(0.9), 1.0);
        assert!((Calibration::MINILM.cosine(0.45) - 0.5).abs() < 1e-6);
        assert_eq!(Calibration::keyword(2.0, 0.5), 0.5);
    }

    #[test]
    fn embedders_get_their_calibration() {
        assert_eq!(Calibration::for_embedder("hash-384"), Calibration::HASH);
        assert_eq!(
            Calibration::for_embedder("local:all-MiniLM-L6-v2"),
            Calibration::MINILM
        );
    }
}
