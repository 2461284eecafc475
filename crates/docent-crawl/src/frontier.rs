//! The BFS frontier and the "at most once" bookkeeping.

use std::collections::{HashSet, VecDeque};

use url::Url;

/// FIFO queue of `(url, depth)`; since depths are pushed in non-decreasing
/// order, FIFO is breadth-first.
#[derive(Debug, Default)]
pub(crate) struct Frontier {
    queue: VecDeque<(Url, u32)>,
    /// Every URL ever queued, fetched, redirected to or declared canonical.
    seen: HashSet<Url>,
    /// URLs whose content was requested or obtained (directly or as a
    /// redirect target); a URL is fetched at most once.
    claimed: HashSet<Url>,
}

impl Frontier {
    /// Records `url` as known; false if it already was.
    pub(crate) fn mark_seen(&mut self, url: &Url) -> bool {
        if self.seen.contains(url) {
            return false;
        }
        self.seen.insert(url.clone())
    }

    /// Reserves `url` for fetching; false if it was already fetched.
    pub(crate) fn claim(&mut self, url: &Url) -> bool {
        if self.claimed.contains(url) {
            return false;
        }
        self.claimed.insert(url.clone())
    }

    pub(crate) fn push(&mut self, url: Url, depth: u32) {
        self.queue.push_back((url, depth));
    }

    pub(crate) fn pop(&mut self) -> Option<(Url, u32)> {
        self.queue.pop_front()
    }

    /// Its state, for a checkpoint: what is queued (with `in_flight` first,
    /// as not fetched yet), what is known and what was fetched.
    pub(crate) fn save(
        &self,
        in_flight: &[(Url, u32)],
    ) -> (Vec<(String, u32)>, Vec<String>, Vec<String>) {
        let pending = in_flight
            .iter()
            .chain(&self.queue)
            .map(|(u, d)| (u.to_string(), *d))
            .collect();
        let seen = self.seen.iter().map(Url::to_string).collect();
        let fetched = self
            .claimed
            .iter()
            .filter(|u| !in_flight.iter().any(|(f, _)| f == *u))
            .map(Url::to_string)
            .collect();
        (pending, seen, fetched)
    }

    /// The state [`Frontier::save`] gave; URLs that no longer parse are dropped.
    pub(crate) fn restore(pending: &[(String, u32)], seen: &[String], fetched: &[String]) -> Self {
        let urls = |list: &[String]| -> HashSet<Url> {
            list.iter().filter_map(|u| Url::parse(u).ok()).collect()
        };
        Self {
            queue: pending
                .iter()
                .filter_map(|(u, d)| Some((Url::parse(u).ok()?, *d)))
                .collect(),
            seen: urls(seen),
            claimed: urls(fetched),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_seen() {
        let mut f = Frontier::default();
        let a = Url::parse("http://h/a").expect("url");
        let b = Url::parse("http://h/b").expect("url");
        assert!(f.mark_seen(&a));
        assert!(!f.mark_seen(&a));
        f.push(a.clone(), 1);
        f.push(b.clone(), 2);
        assert_eq!(f.pop(), Some((a, 1)));
        assert_eq!(f.pop(), Some((b.clone(), 2)));
        assert_eq!(f.pop(), None);
        assert!(f.claim(&b));
        assert!(!f.claim(&b));
    }
}
