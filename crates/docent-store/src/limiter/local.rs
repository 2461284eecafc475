//! The in-process limiter: `governor`'s GCRA, keyed per class and limit.
//! Enough for one API node; several need the shared one in `redis.rs`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use docent_core::ratelimit::{Decision, Limit, RateLimiter};
use governor::Quota;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;

type Keyed = governor::RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// One keyed GCRA limiter per (class, limit), created on first use.
#[derive(Default)]
pub struct LocalRateLimiter {
    limiters: Mutex<HashMap<(&'static str, Limit), Arc<Keyed>>>,
}

impl LocalRateLimiter {
    fn limiter(&self, class: &'static str, limit: Limit) -> Arc<Keyed> {
        let mut map = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((class, limit))
            .or_insert_with(|| {
                let per_minute = NonZeroU32::new(limit.per_minute.max(1)).expect("at least 1");
                Arc::new(
                    governor::RateLimiter::keyed(Quota::per_minute(per_minute))
                        .with_middleware::<StateInformationMiddleware>(),
                )
            })
            .clone()
    }

    /// Forgets keys whose state has fully recovered, so memory follows the
    /// number of recently active clients.
    pub fn prune(&self) {
        let map = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        for limiter in map.values() {
            limiter.retain_recent();
        }
    }
}

#[async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn check(&self, class: &'static str, key: &str, limit: Limit) -> Decision {
        let limiter = self.limiter(class, limit);
        match limiter.check_key(&key.to_string()) {
            Ok(state) => Decision {
                allowed: true,
                limit: limit.per_minute,
                remaining: state.remaining_burst_capacity(),
                retry_after: std::time::Duration::ZERO,
            },
            Err(not_until) => Decision {
                allowed: false,
                limit: limit.per_minute,
                remaining: 0,
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            },
        }
    }
}
