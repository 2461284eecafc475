//! Reciprocal rank fusion (Cormack et al., 2009): each list contributes
//! `1 / (K + rank)` for every item it ranks, with `K = 60`. It needs no score
//! calibration between BM25 and cosine similarity, which live on different
//! scales, and rewards passages both methods rank well.

use std::collections::HashMap;

use docent_core::ids::ChunkId;

pub const RRF_K: f32 = 60.0;

/// Fuses ranked lists (best first) into one, best first. Scores are RRF sums:
/// at most `lists.len() / (K + 1)`; ties keep first appearance order.
pub fn reciprocal_rank_fusion(lists: &[&[(ChunkId, f32)]], limit: usize) -> Vec<(ChunkId, f32)> {
    let mut scores: HashMap<ChunkId, (f32, usize)> = HashMap::new();
    let mut order = 0;
    for list in lists {
        for (rank, (id, _)) in list.iter().enumerate() {
            let entry = scores.entry(*id).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            entry.0 += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
    }
    let mut fused: Vec<(ChunkId, f32, usize)> =
        scores.into_iter().map(|(id, (s, o))| (id, s, o)).collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused
        .into_iter()
        .take(limit)
        .map(|(id, s, _)| (id, s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_ranked_well_by_both_lists_win() {
        let (a, b, c, d) = (
            ChunkId::new(),
            ChunkId::new(),
            ChunkId::new(),
            ChunkId::new(),
        );
        let keyword = [(a, 9.0), (b, 5.0), (c, 1.0)];
        let vector = [(b, 0.9), (d, 0.8), (a, 0.1)];
        let fused = reciprocal_rank_fusion(&[&keyword, &vector], 10);
        let ids: Vec<ChunkId> = fused.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids[0], b, "second and first beats first and third");
        assert_eq!(ids[1], a);
        assert_eq!(ids.len(), 4);
        assert!((fused[0].1 - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-6);
        assert_eq!(reciprocal_rank_fusion(&[&keyword, &vector], 2).len(), 2);
    }
}
