//! robots.txt: fetched once from the start host.

use std::time::Duration;

use texting_robots::Robot;
use url::Url;

use crate::fetch::{HostGate, read_body, send};
use crate::guard::GuardedClient;

/// Largest robots.txt read (Google's limit is 500 KiB).
const MAX_ROBOTS_BYTES: usize = 512 * 1024;
/// A site cannot slow us below one request per this long.
const MAX_CRAWL_DELAY: Duration = Duration::from_secs(10);

/// The rules that apply to our user agent.
#[derive(Debug, Default)]
pub(crate) struct RobotsPolicy {
    /// `None` means everything is allowed (missing or unreadable robots.txt).
    robot: Option<Robot>,
}

impl RobotsPolicy {
    /// Parses a robots.txt body for `user_agent`; unparsable input allows all.
    pub(crate) fn parse(user_agent: &str, body: &[u8]) -> Self {
        match Robot::new(user_agent, body) {
            Ok(robot) => Self { robot: Some(robot) },
            Err(e) => {
                tracing::warn!(error = %e, "unparsable robots.txt, allowing everything");
                Self::default()
            }
        }
    }

    pub(crate) fn allowed(&self, url: &Url) -> bool {
        self.robot.as_ref().is_none_or(|r| r.allowed(url.as_str()))
    }

    /// The larger of `base` and the site's `Crawl-delay` (the latter capped at 10 s).
    pub(crate) fn delay(&self, base: Duration) -> Duration {
        let site = self
            .robot
            .as_ref()
            .and_then(|r| r.delay)
            .filter(|d| d.is_finite() && *d > 0.0)
            .map(|d| Duration::from_secs_f32(d.min(MAX_CRAWL_DELAY.as_secs_f32())))
            .unwrap_or_default();
        base.max(site)
    }

    /// `Sitemap:` lines, as written (may be relative or on other hosts).
    pub(crate) fn sitemaps(&self) -> &[String] {
        self.robot.as_ref().map_or(&[], |r| r.sitemaps.as_slice())
    }
}

/// Fetches `/robots.txt` from the start host. 4xx allows everything; 5xx or
/// an unreachable server also allows everything but is logged, because the
/// crawl should still make progress on a flaky site.
pub(crate) async fn fetch(
    client: &GuardedClient,
    gate: &HostGate,
    start: &Url,
    user_agent: &str,
) -> RobotsPolicy {
    let Ok(url) = start.join("/robots.txt") else {
        return RobotsPolicy::default();
    };
    let response = match send(client, gate, &url).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(%url, error = %e, "robots.txt unreachable, allowing everything");
            return RobotsPolicy::default();
        }
    };
    let status = response.status();
    if status.is_client_error() {
        tracing::debug!(%url, %status, "no robots.txt");
        return RobotsPolicy::default();
    }
    if !status.is_success() {
        tracing::warn!(%url, %status, "robots.txt error status, allowing everything");
        return RobotsPolicy::default();
    }
    match read_body(response, MAX_ROBOTS_BYTES).await {
        Ok(body) => RobotsPolicy::parse(user_agent, &body),
        Err(e) => {
            tracing::warn!(%url, error = ?e, "robots.txt unreadable, allowing everything");
            RobotsPolicy::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXT: &[u8] = b"User-agent: *\nDisallow: /private\n\n\
        User-agent: DocentBot\nDisallow: /secret\nAllow: /secret/open\nCrawl-delay: 2\n\n\
        Sitemap: https://example.com/extra-sitemap.xml\n";

    fn u(s: &str) -> Url {
        Url::parse(s).expect("test url")
    }

    #[test]
    fn specific_agent_group_wins() {
        let p = RobotsPolicy::parse("DocentBot", TXT);
        assert!(!p.allowed(&u("https://example.com/secret/x")));
        assert!(p.allowed(&u("https://example.com/secret/open/x")));
        // Our group replaces `*`, as the spec says.
        assert!(p.allowed(&u("https://example.com/private")));
        let other = RobotsPolicy::parse("OtherBot", TXT);
        assert!(!other.allowed(&u("https://example.com/private")));
        assert!(other.allowed(&u("https://example.com/secret")));
    }

    #[test]
    fn crawl_delay_is_max_of_both_and_capped() {
        let p = RobotsPolicy::parse("DocentBot", TXT);
        assert_eq!(p.delay(Duration::from_millis(250)), Duration::from_secs(2));
        assert_eq!(p.delay(Duration::from_secs(3)), Duration::from_secs(3));
        let slow = RobotsPolicy::parse("DocentBot", b"User-agent: *\nCrawl-delay: 3600\n");
        assert_eq!(slow.delay(Duration::ZERO), MAX_CRAWL_DELAY);
        assert_eq!(
            RobotsPolicy::default().delay(Duration::ZERO),
            Duration::ZERO
        );
    }

    #[test]
    fn sitemaps_are_reported() {
        let p = RobotsPolicy::parse("DocentBot", TXT);
        assert_eq!(p.sitemaps(), ["https://example.com/extra-sitemap.xml"]);
    }
}
