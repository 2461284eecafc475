//! Crawl configuration.

use std::time::Duration;

use url::Url;

/// What to crawl and how politely.
#[derive(Debug, Clone)]
pub struct CrawlOptions {
    /// Where the crawl starts; only this host (and port) is crawled.
    pub start: Url,
    /// Hard cap on delivered pages (successful fetches of indexable content).
    pub max_pages: u32,
    /// Link hops from the start page (start = 0); sitemap URLs count as depth 1.
    pub max_depth: u32,
    /// Globs on the URL path (e.g. `/docs/**`); empty means everything.
    pub include: Vec<String>,
    /// Globs on the URL path; exclude wins over include.
    pub exclude: Vec<String>,
    /// Maximum requests in flight overall (values below 1 are treated as 1).
    pub concurrency: usize,
    /// Minimum gap between the starts of two requests to the same host.
    pub delay: Duration,
    /// Product token used for robots.txt and `<meta name=...>` matching.
    pub user_agent: String,
    /// Bodies larger than this are skipped without being buffered.
    pub max_page_bytes: usize,
    /// Where an interrupted crawl stood (its last [`crate::CrawlEvent::Checkpoint`]):
    /// the crawl goes on from there instead of from the start page.
    pub resume: Option<crate::Checkpoint>,
    /// How often a checkpoint is reported while crawling (zero: after every
    /// page delivered).
    pub checkpoint_every: Duration,
}

impl CrawlOptions {
    /// Defaults sized for a small documentation site.
    pub fn new(start: Url) -> Self {
        Self {
            start,
            max_pages: 50,
            max_depth: 2,
            include: Vec::new(),
            exclude: Vec::new(),
            concurrency: 4,
            delay: Duration::from_millis(250),
            user_agent: "DocentBot".to_owned(),
            max_page_bytes: 10 * 1024 * 1024,
            resume: None,
            checkpoint_every: Duration::from_secs(10),
        }
    }
}
