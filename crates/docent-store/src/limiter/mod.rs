//! Rate-limiter backends behind `docent_core::ratelimit::RateLimiter`: the
//! in-process one for a single node, and one shared through Redis for many.
//! Both implement the same GCRA (a steady rate of `per_minute` with a burst
//! of the same size), so limits mean the same on either.

mod local;
mod redis;

pub use local::LocalRateLimiter;
pub use redis::RedisRateLimiter;
