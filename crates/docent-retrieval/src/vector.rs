//! Exact nearest-neighbour search over one bot's vectors. Vectors are
//! L2-normalised, so cosine similarity is a dot product. An exact scan keeps
//! recall at 1.0 and costs one pass over `n × dims` floats per query; it is
//! written so the compiler vectorises it (fixed-width lanes, no bounds checks
//! in the inner loop). See docs/BENCHMARKS.md for its measured cost.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use docent_core::ids::ChunkId;

/// The vectors of one bot, row-major.
#[derive(Clone, Debug, Default)]
pub struct FlatIndex {
    pub ids: Vec<ChunkId>,
    pub vectors: Vec<f32>,
    pub dims: usize,
}

impl FlatIndex {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The `k` most similar vectors to `query`, best first, with their cosine
    /// similarity. A query of another dimension matches nothing.
    pub fn search(&self, query: &[f32], k: usize) -> Vec<(ChunkId, f32)> {
        if k == 0 || self.dims == 0 || query.len() != self.dims {
            return Vec::new();
        }
        // A min-heap of the best k so far: O(n log k).
        let mut heap: BinaryHeap<Scored> = BinaryHeap::with_capacity(k + 1);
        for (i, row) in self.vectors.chunks_exact(self.dims).enumerate() {
            let score = dot(row, query);
            if heap.len() < k {
                heap.push(Scored { score, index: i });
            } else if heap.peek().is_some_and(|worst| score > worst.score) {
                heap.pop();
                heap.push(Scored { score, index: i });
            }
        }
        let mut best: Vec<Scored> = heap.into_vec();
        best.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        best.into_iter()
            .map(|s| (self.ids[s.index], s.score))
            .collect()
    }
}

/// Dot product in eight independent lanes, which LLVM turns into SIMD.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0f32; 8];
    let chunks = n / 8;
    for c in 0..chunks {
        let (x, y) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    let mut sum: f32 = lanes.iter().sum();
    for i in chunks * 8..n {
        sum += a[i] * b[i];
    }
    sum
}

/// Ordered so that `BinaryHeap` (a max-heap) keeps the *worst* on top.
struct Scored {
    score: f32,
    index: usize,
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.index.cmp(&other.index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn index(rows: &[Vec<f32>]) -> FlatIndex {
        FlatIndex {
            ids: rows.iter().map(|_| ChunkId::new()).collect(),
            vectors: rows.concat(),
            dims: rows.first().map_or(0, Vec::len),
        }
    }

    #[test]
    fn dot_matches_the_naive_sum() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.1).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-4);
    }

    #[test]
    fn wrong_dimension_or_empty_index_finds_nothing() {
        let idx = index(&[vec![1.0, 0.0]]);
        assert!(idx.search(&[1.0, 0.0, 0.0], 3).is_empty());
        assert!(FlatIndex::default().search(&[1.0], 3).is_empty());
        assert!(idx.search(&[1.0, 0.0], 0).is_empty());
    }

    proptest! {
        /// The heap-based top-k equals a full sort (ties broken by position).
        #[test]
        fn top_k_equals_full_sort(rows in prop::collection::vec(prop::collection::vec(-1.0f32..1.0, 4), 1..60),
                                  q in prop::collection::vec(-1.0f32..1.0, 4), k in 1usize..20) {
            let idx = index(&rows);
            let got = idx.search(&q, k);
            let mut all: Vec<(usize, f32)> = rows.iter().enumerate().map(|(i, r)| (i, dot(r, &q))).collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let want: Vec<(ChunkId, f32)> = all.into_iter().take(k).map(|(i, s)| (idx.ids[i], s)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
