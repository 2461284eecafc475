//! The retry policy shared by the embeddings and chat clients: three tries,
//! exponential backoff from 200 ms with 0–50% jitter, never sooner than the
//! server's `Retry-After`, at most 10 s per wait.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Attempts per call before the error goes back to the caller.
pub(crate) const TRIES: u32 = 3;
const BASE: Duration = Duration::from_millis(200);
const MAX_WAIT: Duration = Duration::from_secs(10);

/// The server's `Retry-After`, in its seconds form.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// How long to wait after failed attempt number `attempt` (from 1).
pub(crate) fn wait(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let backoff = BASE * 2u32.pow(attempt.saturating_sub(1).min(10));
    let jittered = backoff.mul_f64(1.0 + rand::random::<f64>() * 0.5);
    jittered.max(retry_after.unwrap_or_default()).min(MAX_WAIT)
}
