//! Feature hashing: each lower-cased word and word pair adds ±1 to a bucket
//! chosen by a stable hash. No model, no download, fully deterministic; it
//! captures shared vocabulary (not meaning), which is what keyword-heavy
//! support questions mostly need. The fallback when no model is configured.

use std::sync::Arc;

use async_trait::async_trait;
use docent_core::embed::{EmbedError, Embedder, TokenCounter};
use xxhash_rust::xxh3::xxh3_64;

use super::{ApproxTokens, normalize};

pub(crate) const DEFAULT_DIMS: usize = 384;

pub struct HashEmbedder {
    dims: usize,
    id: String,
}

impl HashEmbedder {
    pub fn new(dims: usize) -> Self {
        let dims = dims.max(8);
        Self {
            dims,
            id: format!("hash-{dims}"),
        }
    }

    /// The vector of one text (synchronous: it takes microseconds).
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dims];
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let mut add = |feature: &[u8], weight: f32| {
            let h = xxh3_64(feature);
            let bucket = (h % self.dims as u64) as usize;
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            v[bucket] += sign * weight;
        };
        for w in &words {
            add(w.as_bytes(), 1.0);
        }
        for pair in words.windows(2) {
            add(format!("{} {}", pair[0], pair[1]).as_bytes(), 0.5);
        }
        normalize(&mut v);
        v
    }
}

#[async_trait]
impl Embedder for HashEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dims(&self) -> usize {
        self.dims
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
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn deterministic_unit_vectors_that_reflect_shared_words() {
        let e = HashEmbedder::new(384);
        let a = e.embed_one("How do I reset my password?");
        assert_eq!(a, e.embed_one("How do I reset my password?"));
        assert!((cos(&a, &a) - 1.0).abs() < 1e-5);
        let near = e.embed_one("password reset instructions");
        let far = e.embed_one("shipping costs to Norway");
        assert!(cos(&a, &near) > cos(&a, &far));
        assert_eq!(e.embed_one("").iter().filter(|x| **x != 0.0).count(), 0);
        assert_eq!(e.id(), "hash-384");
    }
}
