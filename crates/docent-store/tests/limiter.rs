//! One conformance suite for every rate-limiter backend: the in-process one
//! and the one shared through Redis (on the server at
//! `DOCENT_TEST_REDIS_URL`, which `scripts/test.sh` starts).

use std::sync::Arc;

use docent_core::ratelimit::{Limit, RateLimiter};
use docent_store::limiter::{LocalRateLimiter, RedisRateLimiter};

/// A fresh key namespace, so runs and tests never see each other's counts.
fn unique(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

async fn bursts_are_exact_then_refused(limiter: Arc<dyn RateLimiter>) {
    let key = unique("ip");
    let limit = Limit { per_minute: 5 };
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let d = limiter.check("test", &key, limit).await;
        assert!(d.allowed);
        assert_eq!(d.limit, 5);
        remaining.push(d.remaining);
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    let refused = limiter.check("test", &key, limit).await;
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    // One request's worth of time (12 s at 5 a minute), give or take.
    let wait = refused.retry_after.as_secs_f64();
    assert!((10.0..=12.5).contains(&wait), "retry after {wait} s");
    // Other keys, classes and limits are counted apart.
    assert!(limiter.check("test", &unique("ip"), limit).await.allowed);
    assert!(limiter.check("other", &key, limit).await.allowed);
    assert!(
        limiter
            .check("test", &key, Limit { per_minute: 50 })
            .await
            .allowed
    );
}

async fn concurrent_requests_get_exactly_the_burst(limiters: Vec<Arc<dyn RateLimiter>>) {
    let key = unique("visitor");
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let limiter = limiters[i % limiters.len()].clone();
            let key = key.clone();
            tokio::spawn(async move {
                limiter
                    .check("test", &key, Limit { per_minute: 12 })
                    .await
                    .allowed
            })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        allowed += usize::from(t.await.unwrap());
    }
    assert_eq!(allowed, 12);
}

/// Peeking tells what a check would decide without counting a request.
async fn peeking_counts_nothing(limiter: Arc<dyn RateLimiter>) {
    let key = unique("peek");
    let limit = Limit { per_minute: 3 };
    for _ in 0..10 {
        assert!(limiter.peek("test", &key, limit).await.allowed);
    }
    for _ in 0..3 {
        assert!(limiter.check("test", &key, limit).await.allowed);
    }
    let peeked = limiter.peek("test", &key, limit).await;
    assert!(!peeked.allowed, "used up");
    assert!(peeked.retry_after > std::time::Duration::ZERO);
    assert!(!limiter.check("test", &key, limit).await.allowed);
}

async fn redis() -> Option<String> {
    docent_testkit::backends::backend_url("DOCENT_TEST_REDIS_URL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_limiter_bursts_are_exact() {
    bursts_are_exact_then_refused(Arc::new(LocalRateLimiter::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_limiter_is_exact_under_concurrency() {
    concurrent_requests_get_exactly_the_burst(vec![Arc::new(LocalRateLimiter::default())]).await;
}

#[tokio::test]
async fn local_limiter_peeks_without_counting() {
    peeking_counts_nothing(Arc::new(LocalRateLimiter::default())).await;
}

#[tokio::test]
async fn redis_limiter_peeks_without_counting() {
    let Some(url) = redis().await else { return };
    peeking_counts_nothing(Arc::new(RedisRateLimiter::connect(&url).await.unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_limiter_bursts_are_exact() {
    let Some(url) = redis().await else { return };
    let limiter = RedisRateLimiter::connect(&url).await.unwrap();
    bursts_are_exact_then_refused(Arc::new(limiter)).await;
}

/// Two limiters stand for two API nodes: together they allow one burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_limiter_is_shared_and_exact_across_nodes() {
    let Some(url) = redis().await else { return };
    let a: Arc<dyn RateLimiter> = Arc::new(RedisRateLimiter::connect(&url).await.unwrap());
    let b: Arc<dyn RateLimiter> = Arc::new(RedisRateLimiter::connect(&url).await.unwrap());
    concurrent_requests_get_exactly_the_burst(vec![a, b]).await;
}

#[tokio::test]
async fn redis_urls_are_checked() {
    assert!(RedisRateLimiter::connect("http://nope").await.is_err());
    // Nothing listens on port 9: a clear error, not a hang.
    let err = RedisRateLimiter::connect("redis://127.0.0.1:9")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("Redis"), "{err}");
}
