//! Ranking metrics over the distinct documents of a result list, in the
//! order each first appears (several passages of one document count once).

/// Rank (from 1) of the first relevant document within the first `k`.
pub fn first_hit(relevant: &[bool], k: usize) -> Option<usize> {
    relevant.iter().take(k).position(|&r| r).map(|i| i + 1)
}

/// 1 when a relevant document is within the first `k`, else 0.
pub fn recall_at(relevant: &[bool], k: usize) -> f64 {
    f64::from(u8::from(first_hit(relevant, k).is_some()))
}

/// Reciprocal rank of the first relevant document (0 when none in the first 10).
pub fn reciprocal_rank(relevant: &[bool]) -> f64 {
    first_hit(relevant, 10).map_or(0.0, |r| 1.0 / r as f64)
}

/// nDCG@10 with binary relevance: the ideal ranking puts all `acceptable`
/// documents first (at most 10).
pub fn ndcg_at_10(relevant: &[bool], acceptable: usize) -> f64 {
    let gain = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let dcg: f64 = relevant
        .iter()
        .take(10)
        .enumerate()
        .filter(|(_, r)| **r)
        .map(|(i, _)| gain(i))
        .sum();
    let ideal: f64 = (0..acceptable.clamp(1, 10)).map(gain).sum();
    dcg / ideal
}

/// The `p`-quantile (0..=1) of `values` (nearest rank); 0 for none.
pub fn quantile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_follow_their_definitions() {
        let ranked = [false, true, false, true];
        assert_eq!(first_hit(&ranked, 10), Some(2));
        assert_eq!(recall_at(&ranked, 1), 0.0);
        assert_eq!(recall_at(&ranked, 2), 1.0);
        assert_eq!(reciprocal_rank(&ranked), 0.5);
        assert_eq!(reciprocal_rank(&[false; 12]), 0.0);
        assert!((ndcg_at_10(&[true], 1) - 1.0).abs() < 1e-12);
        let two = ndcg_at_10(&ranked, 2);
        let expected = (1.0 / 3f64.log2() + 1.0 / 5f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        assert!((two - expected).abs() < 1e-12, "{two} vs {expected}");
        assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 0.5), 2.0);
        assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 0.95), 4.0);
    }
}
