//! The in-process limiter: GCRA state per (class, limit, key) in a map.
//! Enough for one API node; several need the shared one in `redis.rs`.
//!
//! Hand-written rather than `governor`'s keyed limiter because sign-in
//! protection must read a key's state without counting a request ("is this
//! account locked out?"), which governor cannot do. It is the same algorithm
//! and arithmetic as the Redis script, so limits mean the same on either.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use docent_core::ratelimit::{Decision, Limit, RateLimiter};

type Key = (&'static str, u32, String);

/// Theoretical arrival time of each key's next request.
#[derive(Default)]
pub struct LocalRateLimiter {
    tats: Mutex<HashMap<Key, Instant>>,
}

impl LocalRateLimiter {
    /// Forgets keys whose state has fully recovered, so memory follows the
    /// number of recently active clients.
    pub fn prune(&self) {
        let now = Instant::now();
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        tats.retain(|_, tat| *tat > now);
    }

    fn decide(&self, class: &'static str, key: &str, limit: Limit, count: bool) -> Decision {
        let per_minute = limit.per_minute.max(1);
        let interval = Duration::from_secs(60) / per_minute;
        let burst = interval * per_minute;
        let now = Instant::now();
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        let entry = (class, per_minute, key.to_string());
        let tat = tats.get(&entry).copied().unwrap_or(now).max(now);
        let new_tat = tat + interval;
        // The request is allowed if it would arrive no earlier than one
        // burst before its theoretical time.
        let allow_at = new_tat.checked_sub(burst).unwrap_or(now);
        if allow_at > now {
            return Decision {
                allowed: false,
                limit: per_minute,
                remaining: 0,
                retry_after: allow_at - now,
            };
        }
        if count {
            tats.insert(entry, new_tat);
        }
        let slack = now.duration_since(allow_at);
        Decision {
            allowed: true,
            limit: per_minute,
            remaining: (slack.as_nanos() / interval.as_nanos().max(1)) as u32,
            retry_after: Duration::ZERO,
        }
    }
}

#[async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn check(&self, class: &'static str, key: &str, limit: Limit) -> Decision {
        self.decide(class, key, limit, true)
    }

    async fn peek(&self, class: &'static str, key: &str, limit: Limit) -> Decision {
        self.decide(class, key, limit, false)
    }
}
