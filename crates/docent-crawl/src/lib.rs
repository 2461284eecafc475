//! A polite, same-host website crawler.
//!
//! [`crawl`] walks a site breadth-first from a start URL, honouring
//! robots.txt, sitemaps, meta robots, canonical URLs and a per-host delay, and
//! streams every fetched page to the caller as a [`CrawlEvent`]. It keeps no
//! state beyond one crawl; turning pages into documents is the caller's job.
//!
//! Every request goes through a [`GuardedClient`] (see [`guard`]), which
//! reaches only public addresses unless the operator allows private
//! networks; the caller builds it with its `User-Agent`.
//! [`CrawlOptions::user_agent`] is only the token matched against robots.txt
//! and `<meta name>`.

mod fetch;
mod frontier;
pub mod guard;
mod links;
mod options;
mod robots;
mod sitemap;
mod urls;

use std::collections::HashSet;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc::Sender;
use url::Url;

use crate::fetch::{FetchFailure, Fetched, HostGate, fetch_page, is_html};
use crate::frontier::Frontier;
use crate::robots::RobotsPolicy;
use crate::urls::{PathFilter, normalize, same_host};

pub use crate::guard::{GuardedClient, NetworkPolicy};
pub use crate::options::CrawlOptions;

/// One fetched page of indexable content.
#[derive(Debug, Clone)]
pub struct Page {
    /// Canonical URL: the normalized final URL, or the page's same-host
    /// `<link rel="canonical">`.
    pub url: Url,
    /// Mime type without parameters, lowercased, e.g. `text/html`.
    pub content_type: String,
    pub body: Bytes,
    /// Link hops from the start page (sitemap URLs are depth 1).
    pub depth: u32,
}

/// What the crawler reports, in completion order.
#[derive(Debug, Clone)]
pub enum CrawlEvent {
    Page(Page),
    /// Fetch errors, 4xx/5xx, robots-disallowed, noindex, too large,
    /// unsupported type, off-host redirect.
    Skipped {
        url: Url,
        reason: String,
    },
    /// Where the crawl stands, every [`CrawlOptions::checkpoint_every`]:
    /// pass the latest as [`CrawlOptions::resume`] to go on from there after
    /// a stop or a crash.
    Checkpoint(Checkpoint),
}

/// A crawl's state between pages: the URLs still to fetch (with their depth),
/// those known and those fetched, the canonical URLs delivered, and the
/// counts so far. Plain strings, so it stores as JSON anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub pending: Vec<(String, u32)>,
    pub seen: Vec<String>,
    pub fetched: Vec<String>,
    pub delivered: Vec<String>,
    pub summary: CrawlSummary,
}

/// Counts of the events sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CrawlSummary {
    pub pages: u32,
    pub skipped: u32,
}

/// Why a crawl could not run at all. Per-page problems are
/// [`CrawlEvent::Skipped`] instead.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error("start URL {0} is not an http(s) URL with a host")]
    InvalidStart(Url),
    #[error("invalid glob {glob:?}: {source}")]
    InvalidGlob {
        glob: String,
        #[source]
        source: globset::Error,
    },
    /// The start page could not be fetched at all (refused by the network
    /// guard, or no answer); the message names no port state.
    #[error("{source}")]
    Unreachable {
        url: Url,
        #[source]
        source: guard::FetchError,
    },
}

/// Crawls until `max_pages` pages were delivered or the frontier is empty,
/// sending events in the order they complete.
///
/// Stops early (with `Ok`) if the receiver is dropped. Fails only when the
/// options are invalid or the start URL cannot be fetched at all.
pub async fn crawl(
    client: &GuardedClient,
    mut opts: CrawlOptions,
    events: Sender<CrawlEvent>,
) -> Result<CrawlSummary, CrawlError> {
    let start =
        normalize(&opts.start).ok_or_else(|| CrawlError::InvalidStart(opts.start.clone()))?;
    let filter = PathFilter::new(&opts.include, &opts.exclude)?;
    if opts.max_pages == 0 {
        return Ok(CrawlSummary::default());
    }

    let gate = HostGate::new(opts.delay);
    let robots = robots::fetch(client, &gate, &start, &opts.user_agent).await;
    gate.set_delay(robots.delay(opts.delay));

    let mut crawler = Crawler {
        start: start.clone(),
        max_pages: opts.max_pages,
        max_depth: opts.max_depth,
        user_agent: opts.user_agent.clone(),
        filter,
        robots,
        frontier: Frontier::default(),
        delivered: HashSet::new(),
        events,
        summary: CrawlSummary::default(),
        in_flight: Vec::new(),
        checkpoint_every: opts.checkpoint_every,
        last_checkpoint: std::time::Instant::now(),
    };
    if let Some(checkpoint) = opts.resume.take() {
        crawler.restore(&checkpoint);
    } else if let Some(summary) = crawler.begin(client, &gate, &opts).await? {
        return Ok(summary);
    }

    let concurrency = opts.concurrency.max(1);
    let (gate, start) = (&gate, &start);
    let mut in_flight = FuturesUnordered::new();
    loop {
        // Never more in flight than pages still wanted, to avoid wasted fetches.
        let remaining = crawler.max_pages.saturating_sub(crawler.summary.pages) as usize;
        while in_flight.len() < concurrency.min(remaining) {
            let Some((url, depth)) = crawler.frontier.pop() else {
                break;
            };
            if !crawler.frontier.claim(&url) {
                continue;
            }
            crawler.in_flight.push((url.clone(), depth));
            let max_bytes = opts.max_page_bytes;
            in_flight.push(async move {
                let result = fetch_page(client, gate, &url, start, max_bytes).await;
                (url, depth, result)
            });
        }
        let Some((url, depth, result)) = in_flight.next().await else {
            break;
        };
        crawler.in_flight.retain(|(u, _)| *u != url);
        if crawler.handle(url, depth, result).await == Flow::Stop
            || crawler.checkpoint(false).await == Flow::Stop
        {
            break;
        }
    }
    Ok(crawler.summary)
}

impl Crawler {
    /// The start page, fetched alone (if it fails at the transport level the
    /// site is unreachable and nothing else is worth trying), then the
    /// sitemap. `Some` when the crawl is over already.
    async fn begin(
        &mut self,
        client: &GuardedClient,
        gate: &HostGate,
        opts: &CrawlOptions,
    ) -> Result<Option<CrawlSummary>, CrawlError> {
        let start = self.start.clone();
        self.frontier.mark_seen(&start);
        self.frontier.claim(&start);
        if self.robots.allowed(&start) {
            let result = fetch_page(client, gate, &start, &start, opts.max_page_bytes).await;
            if let Err(FetchFailure::Transport(source)) = result {
                return Err(CrawlError::Unreachable { url: start, source });
            }
            if self.handle(start.clone(), 0, result).await == Flow::Stop {
                return Ok(Some(self.summary));
            }
        } else if self.skip(start.clone(), "disallowed by robots.txt").await == Flow::Stop {
            return Ok(Some(self.summary));
        }
        if opts.max_depth >= 1 {
            let urls =
                sitemap::discover(client, gate, &start, &self.robots, opts.max_page_bytes).await;
            for url in urls {
                if self.consider(url, 1).await == Flow::Stop {
                    return Ok(Some(self.summary));
                }
            }
        }
        if self.checkpoint(true).await == Flow::Stop {
            return Ok(Some(self.summary));
        }
        Ok(None)
    }

    fn restore(&mut self, checkpoint: &Checkpoint) {
        self.frontier =
            Frontier::restore(&checkpoint.pending, &checkpoint.seen, &checkpoint.fetched);
        self.delivered = checkpoint
            .delivered
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .collect();
        self.summary = checkpoint.summary;
    }

    /// Reports where the crawl stands, if it is time to (or `now`).
    async fn checkpoint(&mut self, now: bool) -> Flow {
        if !now && self.last_checkpoint.elapsed() < self.checkpoint_every {
            return Flow::Continue;
        }
        self.last_checkpoint = std::time::Instant::now();
        let (pending, seen, fetched) = self.frontier.save(&self.in_flight);
        let checkpoint = Checkpoint {
            pending,
            seen,
            fetched,
            delivered: self.delivered.iter().map(Url::to_string).collect(),
            summary: self.summary,
        };
        if self
            .events
            .send(CrawlEvent::Checkpoint(checkpoint))
            .await
            .is_err()
        {
            return Flow::Stop;
        }
        Flow::Continue
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// Mutable crawl state; fetching happens outside it so in-flight requests
/// never borrow it.
struct Crawler {
    start: Url,
    /// URLs being fetched (claimed, not yet handled): a checkpoint counts
    /// them as still to fetch.
    in_flight: Vec<(Url, u32)>,
    checkpoint_every: std::time::Duration,
    last_checkpoint: std::time::Instant,
    max_pages: u32,
    max_depth: u32,
    user_agent: String,
    filter: PathFilter,
    robots: RobotsPolicy,
    frontier: Frontier,
    /// Page URLs (canonical) already delivered.
    delivered: HashSet<Url>,
    events: Sender<CrawlEvent>,
    summary: CrawlSummary,
}

impl Crawler {
    /// Queues a discovered URL if it is on the site, passes the filters and
    /// is new; robots-disallowed URLs are reported once.
    async fn consider(&mut self, url: Url, depth: u32) -> Flow {
        if !same_host(&url, &self.start)
            || !self.filter.allows(&url)
            || !self.frontier.mark_seen(&url)
        {
            return Flow::Continue;
        }
        if !self.robots.allowed(&url) {
            return self.skip(url, "disallowed by robots.txt").await;
        }
        self.frontier.push(url, depth);
        Flow::Continue
    }

    /// Delivers or skips a completed fetch, then queues its links.
    async fn handle(
        &mut self,
        requested: Url,
        depth: u32,
        result: Result<Fetched, FetchFailure>,
    ) -> Flow {
        let fetched = match result {
            Ok(fetched) => fetched,
            Err(failure) => return self.skip(requested, failure.to_string()).await,
        };
        let final_url = normalize(&fetched.final_url).unwrap_or_else(|| requested.clone());
        if final_url != requested {
            self.frontier.mark_seen(&final_url);
            if !self.frontier.claim(&final_url) {
                tracing::debug!(%requested, %final_url, "redirect to an already fetched URL");
                return Flow::Continue;
            }
            if !self.robots.allowed(&final_url) {
                return self
                    .skip(
                        requested,
                        format!("redirected to {final_url}, disallowed by robots.txt"),
                    )
                    .await;
            }
        }

        let info = if is_html(&fetched.content_type) {
            links::parse(&fetched.body, &final_url, &self.user_agent)
        } else {
            links::HtmlInfo::default()
        };

        let flow = if info.noindex {
            self.skip(final_url.clone(), "noindex").await
        } else if !self.filter.allows(&final_url) {
            // Only the start page (or a redirect target) gets here.
            self.skip(final_url.clone(), "excluded by include/exclude filters")
                .await
        } else {
            let url = info
                .canonical
                .clone()
                .filter(|c| {
                    same_host(c, &self.start) && self.filter.allows(c) && self.robots.allowed(c)
                })
                .unwrap_or_else(|| final_url.clone());
            self.deliver(Page {
                url,
                content_type: fetched.content_type,
                body: fetched.body,
                depth,
            })
            .await
        };
        if flow == Flow::Stop {
            return Flow::Stop;
        }

        if !info.nofollow && depth < self.max_depth {
            for link in info.links {
                if self.consider(link, depth + 1).await == Flow::Stop {
                    return Flow::Stop;
                }
            }
        }
        Flow::Continue
    }

    /// Sends a page unless its canonical URL was already delivered.
    async fn deliver(&mut self, page: Page) -> Flow {
        if !self.delivered.insert(page.url.clone()) {
            tracing::debug!(url = %page.url, "canonical already delivered");
            return Flow::Continue;
        }
        // The canonical page has the same content: no need to fetch it again.
        self.frontier.mark_seen(&page.url);
        self.frontier.claim(&page.url);
        if self.events.send(CrawlEvent::Page(page)).await.is_err() {
            return Flow::Stop;
        }
        self.summary.pages += 1;
        if self.summary.pages >= self.max_pages {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    async fn skip(&mut self, url: Url, reason: impl Into<String>) -> Flow {
        let reason = reason.into();
        tracing::debug!(%url, %reason, "skipped");
        let event = CrawlEvent::Skipped { url, reason };
        if self.events.send(event).await.is_err() {
            return Flow::Stop;
        }
        self.summary.skipped += 1;
        Flow::Continue
    }
}
