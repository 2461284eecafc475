//! The synthetic corpora of `docent bench search`. Both need no model:
//!
//! - `clustered` (the default): passages fall in topics. A passage's words
//!   come mostly from its topic's share of the vocabulary, and its vector is
//!   its topic's centroid plus Gaussian noise, normalised, so passages of a
//!   topic are near one another and a question lies near its topic's
//!   passages: the neighbourhood structure real embeddings have, which is
//!   what approximate indexes are built for (and struggle with: the nearest
//!   ten among a topic's passages are decided by the noise).
//! - `hash`: Zipf-skewed pseudo-words embedded by the hashing embedder, the
//!   earlier corpus, kept so its figures stay comparable. Its vectors have
//!   no neighbourhood structure to speak of.

use std::sync::Arc;

use async_trait::async_trait;
use docent_core::embed::{EmbedError, Embedder, TokenCounter};
use docent_llm::embed::{ApproxTokens, HashEmbedder};

pub const DIMS: usize = 384;
const VOCABULARY: usize = 5_000;
/// Passages per topic of the clustered corpus (on average).
const PER_TOPIC: usize = 100;
/// Noise per dimension against the centroid's unit variance: passages of a
/// topic then lie at a cosine of about 0.66 from one another, passages of
/// two topics at about 0.
const SPREAD: f32 = 0.7;
/// Share of a clustered passage's words that come from its topic.
const ON_TOPIC: u64 = 3; // of 4

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CorpusKind {
    Clustered,
    Hash,
}

impl CorpusKind {
    pub fn name(self) -> &'static str {
        match self {
            CorpusKind::Clustered => "clustered",
            CorpusKind::Hash => "hash",
        }
    }
}

/// Deterministic xorshift, so every run searches the same corpus.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.unit().max(f64::MIN_POSITIVE), self.unit());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    /// A word index skewed towards small ones (roughly Zipf).
    fn word(&mut self) -> usize {
        ((VOCABULARY as f64).powf(self.unit()) as usize).min(VOCABULARY - 1)
    }
}

/// Generates the passages and questions of one corpus, and embeds them.
pub struct Corpus {
    kind: CorpusKind,
    topics: usize,
    rng: Rng,
}

impl Corpus {
    /// A corpus for a bot of `passages` passages.
    pub fn new(kind: CorpusKind, passages: usize, seed: u64) -> Self {
        Self {
            kind,
            topics: (passages / PER_TOPIC).max(10),
            rng: Rng(seed),
        }
    }

    pub fn embedder(&self) -> Arc<dyn Embedder> {
        match self.kind {
            CorpusKind::Clustered => Arc::new(ClusteredEmbedder {
                id: format!("clustered-{DIMS}"),
            }),
            CorpusKind::Hash => Arc::new(HashEmbedder::new(DIMS)),
        }
    }

    pub fn passage(&mut self, words: usize) -> String {
        self.text(words)
    }

    pub fn question(&mut self) -> String {
        self.text(6)
    }

    fn text(&mut self, words: usize) -> String {
        match self.kind {
            CorpusKind::Hash => (0..words)
                .map(|_| format!("w{}", self.rng.word()))
                .collect::<Vec<_>>()
                .join(" "),
            CorpusKind::Clustered => {
                // The topic is the first word, which the embedder reads.
                let topic = (self.rng.next() % self.topics as u64) as usize;
                let mut text = format!("k{topic}");
                for _ in 1..words {
                    let word = if self.rng.next() % 4 < ON_TOPIC {
                        // The topic's own words: a window of the vocabulary.
                        (topic * 37 + self.rng.word() % 50) % VOCABULARY
                    } else {
                        self.rng.word()
                    };
                    text.push_str(&format!(" w{word}"));
                }
                text
            }
        }
    }
}

/// The clustered corpus's "model": a text's vector is its topic's centroid
/// (seeded by the topic named in its first word) plus noise seeded by the
/// text itself, normalised.
struct ClusteredEmbedder {
    id: String,
}

impl ClusteredEmbedder {
    fn embed_one(text: &str) -> Vec<f32> {
        let topic: u64 = text
            .split_whitespace()
            .next()
            .and_then(|w| w.strip_prefix('k'))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let mut centroid = Rng(0x9E37_79B9_7F4A_7C15 ^ (topic.wrapping_mul(0x2545_F491) | 1));
        let seed = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let mut noise = Rng(seed | 1);
        let mut v: Vec<f32> = (0..DIMS)
            .map(|_| centroid.normal() + SPREAD * noise.normal())
            .collect();
        let norm = v
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }
}

#[async_trait]
impl Embedder for ClusteredEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dims(&self) -> usize {
        DIMS
    }

    fn batch_size(&self) -> usize {
        256
    }

    fn max_tokens(&self) -> usize {
        512
    }

    fn tokens(&self) -> Arc<dyn TokenCounter> {
        Arc::new(ApproxTokens)
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| Self::embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Passages of a topic are near each other and far from another topic's.
    #[tokio::test]
    async fn the_clustered_corpus_has_neighbourhoods() {
        let embedder = Corpus::new(CorpusKind::Clustered, 10_000, 1).embedder();
        let v = embedder
            .embed(&["k3 w1 w2".into(), "k3 w9 w7".into(), "k4 w1 w2".into()])
            .await
            .unwrap();
        let (same, other) = (cos(&v[0], &v[1]), cos(&v[0], &v[2]));
        assert!((0.55..0.8).contains(&same), "same topic: {same}");
        assert!(other.abs() < 0.25, "other topic: {other}");
        assert_eq!(
            v,
            embedder
                .embed(&["k3 w1 w2".into(), "k3 w9 w7".into(), "k4 w1 w2".into()])
                .await
                .unwrap()
        );
    }
}
