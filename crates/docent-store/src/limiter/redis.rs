//! The shared limiter: GCRA state in Redis, one key per (class, limit, key),
//! updated by a Lua script so check-and-update is atomic across any number
//! of API nodes. Time is Redis's own clock, so nodes' clocks need not agree.
//!
//! The script is written here because no maintained crate offers GCRA over a
//! plain Redis (redis-cell needs a server module); it follows the algorithm
//! of `governor` and of go-redis/redis_rate.

use std::time::Duration;

use async_trait::async_trait;
use docent_core::ratelimit::{Decision, Limit, RateLimiter};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// KEYS[1]: the key. ARGV[1]: emission interval in ms (one request's worth
/// of time); ARGV[2]: burst; ARGV[3]: 1 to count the request, 0 to only
/// look. Returns {allowed, remaining, retry_after_ms}.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, 0, math.ceil(allow_at - now)}
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now))
end
return {1, math.floor((now - allow_at) / interval), 0}
"#;

/// Redis could not be reached or used at start; names the step.
#[derive(Debug, thiserror::Error)]
#[error("{step}")]
pub struct RedisUnavailable {
    step: &'static str,
    #[source]
    source: redis::RedisError,
}

impl RedisUnavailable {
    fn on(step: &'static str) -> impl FnOnce(redis::RedisError) -> Self {
        move |source| Self { step, source }
    }
}

pub struct RedisRateLimiter {
    conn: ConnectionManager,
    script: redis::Script,
}

impl RedisRateLimiter {
    /// Connects to `url` (`redis://HOST:PORT[/DB]`) and checks it answers.
    pub async fn connect(url: &str) -> Result<Self, RedisUnavailable> {
        let client = redis::Client::open(url).map_err(RedisUnavailable::on("DOCENT_REDIS_URL"))?;
        // Fail fast at start and per request rather than queue behind a
        // dead server: a request waits at most a second for its limit.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(1)));
        let mut conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(RedisUnavailable::on("cannot connect to Redis"))?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map_err(RedisUnavailable::on("Redis does not answer"))?;
        Ok(Self {
            conn,
            script: redis::Script::new(GCRA),
        })
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, class: &'static str, key: &str, limit: Limit) -> Decision {
        self.run(class, key, limit, true).await
    }

    async fn peek(&self, class: &'static str, key: &str, limit: Limit) -> Decision {
        self.run(class, key, limit, false).await
    }
}

impl RedisRateLimiter {
    async fn run(&self, class: &'static str, key: &str, limit: Limit, count: bool) -> Decision {
        let per_minute = limit.per_minute.max(1);
        let interval_ms = 60_000.0 / f64::from(per_minute);
        let mut conn = self.conn.clone();
        let answer: Result<(i64, i64, i64), _> = self
            .script
            .key(format!("docent:rl:{class}:{per_minute}:{key}"))
            .arg(interval_ms)
            .arg(per_minute)
            .arg(if count { "1" } else { "0" })
            .invoke_async(&mut conn)
            .await;
        match answer {
            Ok((allowed, remaining, retry_ms)) => Decision {
                allowed: allowed == 1,
                limit: per_minute,
                remaining: remaining.max(0) as u32,
                retry_after: Duration::from_millis(retry_ms.max(0) as u64),
            },
            // Limits protect the service; an outage of Redis should not take
            // the API down with it, so requests pass (and the failure is logged).
            Err(error) => {
                tracing::error!(%error, class, "rate limiter unavailable; request allowed");
                metrics::counter!("docent_rate_limiter_errors_total").increment(1);
                Decision {
                    allowed: true,
                    limit: per_minute,
                    remaining: 0,
                    retry_after: Duration::ZERO,
                }
            }
        }
    }
}
