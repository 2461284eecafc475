//! HTTP fetching: per-host politeness, streamed size limits, content types.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Response, StatusCode};
use tokio::time::Instant;
use url::Url;

use crate::guard::{FetchError, GuardedClient};
use crate::urls::{host_key, same_host};

/// Per-request timeout so one stuck server cannot stall the crawl.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Types delivered to the caller; everything else is skipped.
const DELIVERED_TYPES: &[&str] = &[
    "text/html",
    "application/xhtml+xml",
    "text/plain",
    "text/markdown",
    "text/csv",
    "application/json",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
];

/// Spaces out request starts per host.
///
/// Each caller reserves the next free slot under the lock and then sleeps
/// outside it, so concurrent requests queue up `delay` apart instead of all
/// waking at once. The last reserved start is kept (not the next free one) so
/// a delay raised later by robots.txt applies to the very next request.
#[derive(Debug)]
pub(crate) struct HostGate {
    inner: Mutex<GateState>,
}

#[derive(Debug)]
struct GateState {
    delay: Duration,
    last_start: HashMap<String, Instant>,
}

impl HostGate {
    pub(crate) fn new(delay: Duration) -> Self {
        Self {
            inner: Mutex::new(GateState {
                delay,
                last_start: HashMap::new(),
            }),
        }
    }

    pub(crate) fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Waits until a request to `url`'s host may start.
    pub(crate) async fn wait(&self, url: &Url) {
        let at = {
            let mut state = self.lock();
            let now = Instant::now();
            let delay = state.delay;
            let at = match state.last_start.get(&host_key(url)) {
                Some(last) => (*last + delay).max(now),
                None => now,
            };
            state.last_start.insert(host_key(url), at);
            at
        };
        tokio::time::sleep_until(at).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // The state stays consistent even if a holder panicked.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sends a GET once the host gate allows it.
pub(crate) async fn send(
    client: &GuardedClient,
    gate: &HostGate,
    url: &Url,
) -> Result<Response, FetchError> {
    gate.wait(url).await;
    client.get(url, REQUEST_TIMEOUT).await
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    TooLarge(usize),
    Read(reqwest::Error),
}

/// Streams the body, giving up as soon as it exceeds `max` bytes.
pub(crate) async fn read_body(mut response: Response, max: usize) -> Result<Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(BodyError::TooLarge(max));
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if buf.len() + chunk.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Mime type without parameters, lowercased; guessed from the extension only
/// when the server sent none.
pub(crate) fn content_type(response: &Response) -> String {
    match response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        Some(raw) => essence(raw),
        None => guess_type(response.url()).to_owned(),
    }
}

fn essence(raw: &str) -> String {
    let mime = raw.split(';').next().unwrap_or_default().trim();
    match mime.to_ascii_lowercase().as_str() {
        "text/x-markdown" => "text/markdown".to_owned(),
        other => other.to_owned(),
    }
}

fn guess_type(url: &Url) -> &'static str {
    let path = url.path().to_ascii_lowercase();
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match ext {
        "html" | "htm" => "text/html",
        "txt" => "text/plain",
        "md" | "markdown" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ => "application/octet-stream",
    }
}

pub(crate) fn is_delivered_type(mime: &str) -> bool {
    DELIVERED_TYPES.contains(&mime)
}

pub(crate) fn is_html(mime: &str) -> bool {
    matches!(mime, "text/html" | "application/xhtml+xml")
}

/// A successfully fetched page, before HTML processing.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// Where the request ended up after redirects.
    pub final_url: Url,
    pub content_type: String,
    pub body: Bytes,
}

/// Why a page fetch did not produce content.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchFailure {
    #[error("{0}")]
    Transport(#[source] FetchError),
    #[error("HTTP {0}")]
    Status(StatusCode),
    #[error("redirected off-host to {0}")]
    OffHost(Url),
    #[error("unsupported content type {0:?}")]
    Unsupported(String),
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    #[error("reading body failed: {0}")]
    Body(#[source] reqwest::Error),
}

/// Fetches one page, rejecting off-host redirects, error statuses and
/// unsupported types before the body is read.
pub(crate) async fn fetch_page(
    client: &GuardedClient,
    gate: &HostGate,
    url: &Url,
    start: &Url,
    max_bytes: usize,
) -> Result<Fetched, FetchFailure> {
    let response = send(client, gate, url)
        .await
        .map_err(FetchFailure::Transport)?;
    let final_url = response.url().clone();
    if !same_host(&final_url, start) {
        return Err(FetchFailure::OffHost(final_url));
    }
    let status = response.status();
    if !status.is_success() {
        return Err(FetchFailure::Status(status));
    }
    let content_type = content_type(&response);
    if !is_delivered_type(&content_type) {
        return Err(FetchFailure::Unsupported(content_type));
    }
    let body = read_body(response, max_bytes).await.map_err(|e| match e {
        BodyError::TooLarge(max) => FetchFailure::TooLarge(max),
        BodyError::Read(e) => FetchFailure::Body(e),
    })?;
    Ok(Fetched {
        final_url,
        content_type,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essence_strips_parameters_and_lowercases() {
        assert_eq!(essence("Text/HTML; charset=UTF-8"), "text/html");
        assert_eq!(essence("text/x-markdown"), "text/markdown");
    }

    #[test]
    fn guesses_only_known_extensions() {
        let u = |s| Url::parse(s).expect("test url");
        assert_eq!(guess_type(&u("http://h/a/readme.MD")), "text/markdown");
        assert_eq!(guess_type(&u("http://h/a")), "application/octet-stream");
    }

    #[tokio::test]
    async fn gate_spaces_starts_per_host() {
        let gate = HostGate::new(Duration::from_millis(100));
        let a = Url::parse("http://a.test/").expect("url");
        let b = Url::parse("http://b.test/").expect("url");
        let t0 = Instant::now();
        gate.wait(&a).await;
        gate.wait(&b).await;
        assert!(
            t0.elapsed() < Duration::from_millis(100),
            "other host not delayed"
        );
        gate.wait(&a).await;
        assert!(t0.elapsed() >= Duration::from_millis(100));
        gate.set_delay(Duration::from_millis(200));
        gate.wait(&a).await;
        assert!(
            t0.elapsed() >= Duration::from_millis(300),
            "raised delay applies at once"
        );
    }
}
