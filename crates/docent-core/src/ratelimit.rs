//! The rate-limiting seam: an in-process limiter in embedded mode, a shared one
//! (Redis) when several API nodes must agree.

use std::time::Duration;

use async_trait::async_trait;

/// What one key may do: `per_minute` requests, as a steady rate with a burst
/// of the same size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limit {
    pub per_minute: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests left in the current burst.
    pub remaining: u32,
    /// When refused: how long until one more request is allowed.
    pub retry_after: Duration,
}

#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request of `key` in `class` (e.g. `login`, `credential`)
    /// against `limit`.
    async fn check(&self, class: &'static str, key: &str, limit: Limit) -> Decision;
    /// What `check` would decide now, without counting a request: whether a
    /// key is locked out (sign-in failures are counted only when they happen).
    async fn peek(&self, class: &'static str, key: &str, limit: Limit) -> Decision;
}
