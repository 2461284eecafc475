//! End-to-end tests against fake sites served by axum on 127.0.0.1:0.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use docent_crawl::{
    CrawlError, CrawlEvent, CrawlOptions, CrawlSummary, GuardedClient, NetworkPolicy, Page, crawl,
};
use tokio::sync::mpsc;
use url::Url;

/// How the fake server answers one path.
#[derive(Clone)]
enum Reply {
    Body(&'static str, String),
    Status(u16),
    Redirect(String),
    /// 1 GiB streamed without Content-Length: only a streaming reader survives.
    Endless,
}

type Log = Arc<Mutex<Vec<(String, Instant)>>>;

struct Site {
    base: Url,
    log: Log,
}

impl Site {
    /// Requested paths (with query), in arrival order.
    fn requests(&self) -> Vec<String> {
        self.log
            .lock()
            .expect("log")
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn times(&self) -> Vec<Instant> {
        self.log
            .lock()
            .expect("log")
            .iter()
            .map(|(_, t)| *t)
            .collect()
    }

    fn hits(&self, path: &str) -> usize {
        self.requests().iter().filter(|p| *p == path).count()
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("url")
    }
}

/// The same server reached as `localhost`: a different host to the crawler.
fn other_host(base: &Url, path: &str) -> String {
    format!("http://localhost:{}{path}", base.port().expect("port"))
}

/// Serves `routes(base)`; the closure gets the base URL so pages can link
/// absolutely to themselves or to other hosts.
async fn serve(routes: impl FnOnce(&Url) -> Vec<(&'static str, Reply)>) -> Site {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let base = Url::parse(&format!("http://{addr}/")).expect("base");
    let routes: HashMap<String, Reply> = routes(&base)
        .into_iter()
        .map(|(p, r)| (p.to_owned(), r))
        .collect();
    let log = Log::default();
    let app = Router::new()
        .fallback(respond)
        .with_state((Arc::new(routes), log.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Site { base, log }
}

async fn respond(
    State((routes, log)): State<(Arc<HashMap<String, Reply>>, Log)>,
    uri: Uri,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    log.lock()
        .expect("log")
        .push((path.clone(), Instant::now()));
    match routes.get(&path) {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(Reply::Body(ctype, body)) => {
            ([(header::CONTENT_TYPE, *ctype)], body.clone()).into_response()
        }
        Some(Reply::Status(code)) => StatusCode::from_u16(*code).expect("status").into_response(),
        Some(Reply::Redirect(to)) => {
            (StatusCode::FOUND, [(header::LOCATION, to.clone())]).into_response()
        }
        Some(Reply::Endless) => {
            let chunks =
                (0..16 * 1024).map(|_| Ok::<_, Infallible>(Bytes::from(vec![b'x'; 64 * 1024])));
            (
                [(header::CONTENT_TYPE, "text/html")],
                Body::from_stream(futures::stream::iter(chunks)),
            )
                .into_response()
        }
    }
}

fn html(body: &str) -> Reply {
    Reply::Body(
        "text/html; charset=utf-8",
        format!("<!doctype html><html>{body}</html>"),
    )
}

fn links(paths: &[&str]) -> Reply {
    let anchors: String = paths
        .iter()
        .map(|p| format!(r#"<a href="{p}">{p}</a>"#))
        .collect();
    html(&format!("<body>{anchors}</body>"))
}

/// The test sites listen on loopback, which the guard refuses by default.
fn client() -> GuardedClient {
    GuardedClient::new("DocentBot-test", NetworkPolicy::new(true))
}

fn options(site: &Site) -> CrawlOptions {
    let mut opts = CrawlOptions::new(site.url("/"));
    opts.delay = Duration::ZERO;
    opts
}

struct Outcome {
    events: Vec<CrawlEvent>,
    summary: CrawlSummary,
}

impl Outcome {
    fn pages(&self) -> Vec<&Page> {
        self.events
            .iter()
            .filter_map(|e| match e {
                CrawlEvent::Page(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// Delivered page paths, sorted.
    fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self
            .pages()
            .iter()
            .map(|p| p.url.path().to_owned())
            .collect();
        paths.sort();
        paths
    }

    fn page(&self, path: &str) -> &Page {
        self.pages()
            .into_iter()
            .find(|p| p.url.path() == path)
            .unwrap_or_else(|| panic!("no page {path}"))
    }

    /// Reason the URL with this path was skipped.
    fn skip_reason(&self, path: &str) -> String {
        self.events
            .iter()
            .find_map(|e| match e {
                CrawlEvent::Skipped { url, reason } if url.path() == path => Some(reason.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{path} not skipped"))
    }
}

/// Runs the crawl on its own task (which also proves the future is `Send`).
async fn run_result(opts: CrawlOptions) -> (Vec<CrawlEvent>, Result<CrawlSummary, CrawlError>) {
    let (tx, mut rx) = mpsc::channel(8);
    let task = tokio::spawn(async move { crawl(&client(), opts, tx).await });
    let mut events = Vec::new();
    while let Some(event) = rx.recv().await {
        if !matches!(event, CrawlEvent::Checkpoint(_)) {
            events.push(event);
        }
    }
    (events, task.await.expect("crawl task"))
}

async fn run(opts: CrawlOptions) -> Outcome {
    let (events, summary) = run_result(opts).await;
    let summary = summary.expect("crawl ok");
    let pages = events
        .iter()
        .filter(|e| matches!(e, CrawlEvent::Page(_)))
        .count();
    assert_eq!(summary.pages as usize, pages, "summary counts pages");
    assert_eq!(
        summary.skipped as usize,
        events.len() - pages,
        "summary counts skips"
    );
    Outcome { events, summary }
}

#[tokio::test]
async fn follows_links_on_the_same_host_only() {
    let other_port = serve(|_| vec![("/x", html("other port"))]).await;
    let other_port_link = other_port.url("/x").to_string();
    let site = serve(move |base| {
        let localhost = other_host(base, "/offhost");
        vec![
            ("/", links(&["/a", "b", &localhost, &other_port_link])),
            ("/a", links(&["/"])),
            ("/b", html("b")),
            ("/offhost", html("must not be fetched")),
        ]
    })
    .await;
    let out = run(options(&site)).await;
    assert_eq!(out.paths(), ["/", "/a", "/b"]);
    assert_eq!(site.hits("/offhost"), 0);
    assert!(
        other_port.requests().is_empty(),
        "a different port is a different host"
    );
    assert_eq!(
        out.summary.skipped, 0,
        "off-host links are ignored, not skipped"
    );
    let root = out.page("/");
    assert_eq!((root.depth, root.content_type.as_str()), (0, "text/html"));
    assert_eq!(out.page("/a").depth, 1);
}

#[tokio::test]
async fn include_and_exclude_globs_filter_paths_but_start_is_always_fetched() {
    let site = serve(|_| {
        vec![
            ("/", links(&["/docs/a", "/docs/b.pdf", "/blog/x"])),
            ("/docs/a", links(&["/docs/deep/c", "/blog/y"])),
            ("/docs/deep/c", html("c")),
            ("/docs/b.pdf", Reply::Body("application/pdf", "%PDF".into())),
            ("/blog/x", html("blog")),
        ]
    })
    .await;
    let mut opts = options(&site);
    opts.include = vec!["/docs/**".into()];
    opts.exclude = vec!["*.pdf".into()];
    let out = run(opts).await;
    assert_eq!(out.paths(), ["/docs/a", "/docs/deep/c"]);
    assert_eq!(site.hits("/"), 1, "start page fetched for its links");
    assert!(out.skip_reason("/").contains("excluded"));
    assert_eq!(
        site.hits("/docs/b.pdf") + site.hits("/blog/x") + site.hits("/blog/y"),
        0
    );
}

#[tokio::test]
async fn invalid_glob_is_an_error() {
    let site = serve(|_| vec![("/", html("x"))]).await;
    let mut opts = options(&site);
    opts.include = vec!["/docs/[".into()];
    let (_, result) = run_result(opts).await;
    assert!(
        matches!(result, Err(CrawlError::InvalidGlob { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn robots_txt_disallow_and_allow_are_honoured() {
    let site = serve(|_| {
        vec![
            (
                "/robots.txt",
                Reply::Body(
                    "text/plain",
                    "User-agent: *\nDisallow: /\n\n\
                     User-agent: DocentBot\nDisallow: /private\nAllow: /private/open\n"
                        .into(),
                ),
            ),
            (
                "/",
                links(&["/private/secret", "/private/open/ok", "/public"]),
            ),
            ("/private/secret", html("secret")),
            ("/private/open/ok", html("ok")),
            ("/public", html("public")),
        ]
    })
    .await;
    let out = run(options(&site)).await;
    assert_eq!(out.paths(), ["/", "/private/open/ok", "/public"]);
    assert!(out.skip_reason("/private/secret").contains("robots"));
    assert_eq!(site.hits("/private/secret"), 0);
    assert_eq!(site.hits("/robots.txt"), 1, "robots.txt fetched once");

    // Another agent falls back to the `*` group, which blocks everything.
    let mut opts = options(&site);
    opts.user_agent = "OtherBot".into();
    let out = run(opts).await;
    assert!(out.pages().is_empty());
    assert!(out.skip_reason("/").contains("robots"));
}

#[tokio::test]
async fn missing_or_broken_robots_txt_allows_everything() {
    let missing = serve(|_| vec![("/", links(&["/a"])), ("/a", html("a"))]).await;
    let out = run(options(&missing)).await;
    assert_eq!(out.paths(), ["/", "/a"]);

    let broken = serve(|_| {
        vec![
            ("/robots.txt", Reply::Status(503)),
            ("/", links(&["/a"])),
            ("/a", html("a")),
        ]
    })
    .await;
    let out = run(options(&broken)).await;
    assert_eq!(out.paths(), ["/", "/a"]);
}

#[tokio::test]
async fn robots_crawl_delay_raises_the_delay() {
    let site = serve(|_| {
        vec![
            (
                "/robots.txt",
                Reply::Body("text/plain", "User-agent: *\nCrawl-delay: 0.3\n".into()),
            ),
            ("/", links(&["/a", "/b"])),
            ("/a", html("a")),
            ("/b", html("b")),
        ]
    })
    .await;
    let mut opts = options(&site);
    opts.concurrency = 4;
    let out = run(opts).await;
    assert_eq!(out.paths(), ["/", "/a", "/b"]);
    assert_gaps(&site, Duration::from_millis(300));
}

#[tokio::test]
async fn per_host_delay_spaces_request_starts() {
    let site = serve(|_| {
        vec![
            ("/", links(&["/1", "/2", "/3", "/4", "/5"])),
            ("/1", html("1")),
            ("/2", html("2")),
            ("/3", html("3")),
            ("/4", html("4")),
            ("/5", html("5")),
        ]
    })
    .await;
    let mut opts = options(&site);
    opts.delay = Duration::from_millis(100);
    opts.concurrency = 4;
    let out = run(opts).await;
    assert_eq!(out.pages().len(), 6);
    // robots.txt, /, sitemap.xml and the five pages all go through the gate.
    assert_eq!(site.requests().len(), 8);
    assert_gaps(&site, Duration::from_millis(100));
}

/// Server-side arrival gaps; some slack absorbs scheduling jitter between
/// the client's start and the server's timestamp (seen up to 13 ms on a
/// loaded 2-core machine).
fn assert_gaps(site: &Site, delay: Duration) {
    let times = site.times();
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(
            gap + Duration::from_millis(25) >= delay,
            "gap {gap:?} < {delay:?} in {:?}",
            site.requests()
        );
    }
}

#[tokio::test]
async fn sitemap_urls_are_added_at_depth_one() {
    let site = serve(|base| {
        let sitemap = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <url><loc>{base}orphan</loc></url>
              <url><loc>{base}private/hidden</loc></url>
              <url><loc>{base}blog/skipped-by-filter</loc></url>
              <url><loc>{offhost}</loc></url>
            </urlset>"#,
            offhost = other_host(base, "/offhost"),
        );
        vec![
            (
                "/robots.txt",
                Reply::Body("text/plain", "User-agent: *\nDisallow: /private\n".into()),
            ),
            ("/", html("no links")),
            ("/sitemap.xml", Reply::Body("application/xml", sitemap)),
            ("/orphan", html("orphan")),
            ("/private/hidden", html("hidden")),
            ("/offhost", html("offhost")),
        ]
    })
    .await;
    let mut opts = options(&site);
    opts.exclude = vec!["/blog/**".into()];
    let out = run(opts.clone()).await;
    assert_eq!(out.paths(), ["/", "/orphan"]);
    assert_eq!(out.page("/orphan").depth, 1);
    assert!(out.skip_reason("/private/hidden").contains("robots"));
    assert_eq!(site.hits("/offhost") + site.hits("/private/hidden"), 0);

    // Sitemap URLs count as depth 1, so depth 0 ignores them.
    opts.max_depth = 0;
    let out = run(opts).await;
    assert_eq!(out.paths(), ["/"]);
}

#[tokio::test]
async fn sitemap_index_and_robots_sitemap_lines_are_followed() {
    let site = serve(|base| {
        let urlset = |path: &str| {
            Reply::Body(
                "text/xml",
                format!("<urlset><url><loc>{base}{path}</loc></url></urlset>"),
            )
        };
        vec![
            (
                "/robots.txt",
                Reply::Body("text/plain", format!("User-agent: *\nAllow: /\nSitemap: {base}maps/index.xml\n")),
            ),
            ("/", html("home")),
            (
                "/maps/index.xml",
                Reply::Body(
                    "application/xml",
                    format!(
                        "<sitemapindex><sitemap><loc>{base}maps/one.xml</loc></sitemap>\
                         <sitemap><loc>/maps/nested.xml</loc></sitemap></sitemapindex>"
                    ),
                ),
            ),
            ("/maps/one.xml", urlset("from-one")),
            (
                "/maps/nested.xml",
                Reply::Body(
                    "application/xml",
                    format!("<sitemapindex><sitemap><loc>{base}maps/two.xml</loc></sitemap></sitemapindex>"),
                ),
            ),
            ("/maps/two.xml", urlset("from-two")),
            ("/from-one", html("1")),
            ("/from-two", html("2")),
        ]
    })
    .await;
    let out = run(options(&site)).await;
    assert_eq!(out.paths(), ["/", "/from-one", "/from-two"]);
    assert_eq!(site.hits("/sitemap.xml"), 1, "default location tried too");
}

#[tokio::test]
async fn max_depth_limits_link_hops() {
    let site = serve(|_| {
        vec![
            ("/", links(&["/1"])),
            ("/1", links(&["/2"])),
            ("/2", links(&["/3"])),
            ("/3", html("too deep")),
        ]
    })
    .await;
    let out = run(options(&site)).await;
    assert_eq!(out.paths(), ["/", "/1", "/2"]);
    assert_eq!(out.page("/2").depth, 2);
    assert_eq!(site.hits("/3"), 0);
}

#[tokio::test]
async fn max_pages_is_a_hard_cap() {
    let site = serve(|_| {
        let mut routes = vec![(
            "/",
            links(&["/p0", "/p1", "/p2", "/p3", "/p4", "/p5", "/p6", "/p7"]),
        )];
        for p in ["/p0", "/p1", "/p2", "/p3", "/p4", "/p5", "/p6", "/p7"] {
            routes.push((p, html(p)));
        }
        routes
    })
    .await;
    let mut opts = options(&site);
    opts.max_pages = 3;
    opts.concurrency = 4;
    let out = run(opts).await;
    assert_eq!(out.pages().len(), 3);
    assert_eq!(out.summary.pages, 3);
}

#[tokio::test]
async fn bfs_order_with_single_concurrency() {
    let site = serve(|_| {
        vec![
            ("/", links(&["/a", "/b"])),
            ("/a", links(&["/a1"])),
            ("/b", links(&["/b1"])),
            ("/a1", html("a1")),
            ("/b1", html("b1")),
        ]
    })
    .await;
    let mut opts = options(&site);
    opts.concurrency = 1;
    run(opts).await;
    assert_eq!(
        site.requests(),
        ["/robots.txt", "/", "/sitemap.xml", "/a", "/b", "/a1", "/b1"]
    );
}

#[tokio::test]
async fn canonical_duplicates_are_delivered_once() {
    let site = serve(|base| {
        let canonical = |href: &str| {
            html(&format!(
                r#"<head><link rel="canonical" href="{href}"></head><body>same</body>"#
            ))
        };
        vec![
            ("/", links(&["/dup1", "/dup2?ref=x", "/foreign"])),
            ("/dup1", canonical("/canon")),
            ("/dup2?ref=x", canonical(&format!("{base}canon"))),
            ("/foreign", canonical("https://elsewhere.example/foreign")),
            ("/canon", canonical("/canon")),
        ]
    })
    .await;
    let mut opts = options(&site);
    opts.concurrency = 1;
    let out = run(opts).await;
    assert_eq!(
        out.paths(),
        ["/", "/canon", "/foreign"],
        "off-host canonical ignored"
    );
    assert_eq!(out.page("/canon").url, site.url("/canon"));
    assert_eq!(
        site.hits("/canon"),
        0,
        "a delivered canonical is not fetched again"
    );
}

#[tokio::test]
async fn urls_are_normalized_and_fetched_at_most_once() {
    let site = serve(|base| {
        let upper = base.as_str().replace("http://", "HTTP://");
        vec![
            (
                "/",
                links(&[
                    "/a#one",
                    "/a#two",
                    "/a",
                    &format!("{upper}a"),
                    "/",
                    "/b?q=1",
                    "/b?q=1#x",
                ]),
            ),
            ("/a", links(&["/", "/a"])),
            ("/b?q=1", html("b")),
        ]
    })
    .await;
    let out = run(options(&site)).await;
    assert_eq!(out.paths(), ["/", "/a", "/b"]);
    assert_eq!(
        (site.hits("/"), site.hits("/a"), site.hits("/b?q=1")),
        (1, 1, 1)
    );
    assert!(out.pages().iter().all(|p| p.url.fragment().is_none()));
}

#[tokio::test]
async fn redirects_stay_on_host_and_dedupe_on_final_url() {
    let site = serve(|base| {
        let away = other_host(base, "/elsewhere");
        vec![
            ("/", links(&["/old", "/away", "/new"])),
            ("/old", Reply::Redirect("/new".into())),
            ("/away", Reply::Redirect(away)),
            ("/new", html("new")),
            ("/elsewhere", html("elsewhere")),
        ]
    })
    .await;
    let mut opts = options(&site);
    opts.concurrency = 1;
    let out = run(opts).await;
    assert_eq!(out.paths(), ["/", "/new"]);
    assert_eq!(
        site.hits("/new"),
        1,
        "final URL of a redirect is not fetched again"
    );
    assert!(out.skip_reason("/away").contains("off-host"));
}

#[tokio::test]
async fn content_types_decide_delivery_and_link_parsing() {
    let site = serve(|_| {
        vec![
            (
                "/",
                links(&[
                    "/image.png",
                    "/doc.pdf",
                    "/data.json",
                    "/notes.txt",
                    "/page.xhtml",
                ]),
            ),
            ("/image.png", Reply::Body("image/png", "\u{89}PNG".into())),
            (
                "/doc.pdf",
                Reply::Body("application/pdf", r#"%PDF <a href="/from-pdf">"#.into()),
            ),
            (
                "/data.json",
                Reply::Body("application/json; charset=utf-8", "{}".into()),
            ),
            (
                "/notes.txt",
                Reply::Body("text/plain", r#"<a href="/from-text">x</a>"#.into()),
            ),
            (
                "/page.xhtml",
                Reply::Body(
                    "Application/XHTML+XML",
                    r#"<html><body><a href="/from-xhtml">x</a></body></html>"#.into(),
                ),
            ),
            ("/from-pdf", html("no")),
            ("/from-text", html("no")),
            ("/from-xhtml", html("yes")),
        ]
    })
    .await;
    let out = run(options(&site)).await;
    assert_eq!(
        out.paths(),
        [
            "/",
            "/data.json",
            "/doc.pdf",
            "/from-xhtml",
            "/notes.txt",
            "/page.xhtml"
        ]
    );
    assert!(out.skip_reason("/image.png").contains("image/png"));
    assert_eq!(out.page("/doc.pdf").content_type, "application/pdf");
    assert_eq!(out.page("/data.json").content_type, "application/json");
    assert_eq!(
        out.page("/page.xhtml").content_type,
        "application/xhtml+xml"
    );
    assert_eq!(
        out.page("/doc.pdf").body.as_ref(),
        br#"%PDF <a href="/from-pdf">"#
    );
    assert_eq!(
        site.hits("/from-pdf") + site.hits("/from-text"),
        0,
        "only HTML is parsed for links"
    );
}

#[tokio::test]
async fn nofollow_and_noindex_are_honoured() {
    let site = serve(|_| {
        vec![
            (
                "/",
                html(
                    r#"<body><a rel="nofollow" href="/nf">nf</a><a href="/noindex">ni</a>
                       <a href="/nofollow-page">nfp</a><a href="mailto:x@y.z">m</a></body>"#,
                ),
            ),
            ("/nf", html("nf")),
            (
                "/noindex",
                html(r#"<head><meta name="robots" content="noindex"></head><body><a href="/via-noindex">v</a></body>"#),
            ),
            ("/via-noindex", html("v")),
            (
                "/nofollow-page",
                html(r#"<head><meta name="ROBOTS" content="nofollow"></head><body><a href="/never">n</a></body>"#),
            ),
            ("/never", html("never")),
        ]
    })
    .await;
    let out = run(options(&site)).await;
    assert_eq!(out.paths(), ["/", "/nofollow-page", "/via-noindex"]);
    assert!(out.skip_reason("/noindex").contains("noindex"));
    assert_eq!(site.hits("/nf") + site.hits("/never"), 0);
}

#[tokio::test]
async fn oversized_bodies_are_skipped_without_buffering() {
    let site = serve(|_| {
        vec![
            ("/", links(&["/endless", "/big", "/small"])),
            ("/endless", Reply::Endless),
            ("/big", html(&"y".repeat(200 * 1024))),
            ("/small", html("small")),
        ]
    })
    .await;
    let mut opts = options(&site);
    opts.max_page_bytes = 64 * 1024;
    let out = run(opts).await;
    assert_eq!(out.paths(), ["/", "/small"]);
    assert!(out.skip_reason("/endless").contains("larger than"));
    assert!(out.skip_reason("/big").contains("larger than"));
}

#[tokio::test]
async fn http_errors_are_skipped() {
    let site = serve(|_| {
        vec![
            ("/", links(&["/missing", "/broken", "/ok"])),
            ("/broken", Reply::Status(500)),
            ("/ok", html("ok")),
        ]
    })
    .await;
    let out = run(options(&site)).await;
    assert_eq!(out.paths(), ["/", "/ok"]);
    assert!(out.skip_reason("/missing").contains("404"));
    assert!(out.skip_reason("/broken").contains("500"));
    assert_eq!(
        out.summary,
        CrawlSummary {
            pages: 2,
            skipped: 2
        }
    );
}

#[tokio::test]
async fn unreachable_or_invalid_start_is_an_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let start = Url::parse(&format!("http://127.0.0.1:{port}/")).expect("url");
    let (events, result) = run_result(CrawlOptions::new(start)).await;
    assert!(
        matches!(result, Err(CrawlError::Unreachable { .. })),
        "{result:?}"
    );
    assert!(events.is_empty());

    let ftp = Url::parse("ftp://example.com/").expect("url");
    let (_, result) = run_result(CrawlOptions::new(ftp)).await;
    assert!(
        matches!(result, Err(CrawlError::InvalidStart(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn dropped_receiver_stops_the_crawl() {
    let site = serve(|_| {
        vec![
            ("/", links(&["/a", "/b"])),
            ("/a", html("a")),
            ("/b", html("b")),
        ]
    })
    .await;
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let summary = crawl(&client(), options(&site), tx).await.expect("ok");
    assert_eq!(summary, CrawlSummary::default());
    assert_eq!(site.hits("/a") + site.hits("/b"), 0);
}

#[test]
fn defaults_match_the_contract() {
    let opts = CrawlOptions::new(Url::parse("https://example.com/").expect("url"));
    assert_eq!(
        (opts.max_pages, opts.max_depth, opts.concurrency),
        (50, 2, 4)
    );
    assert_eq!(opts.delay, Duration::from_millis(250));
    assert_eq!(opts.user_agent, "DocentBot");
    assert_eq!(opts.max_page_bytes, 10 * 1024 * 1024);
    assert!(opts.include.is_empty() && opts.exclude.is_empty());
}

/// A crawl stopped midway goes on from its last checkpoint: the pages
/// delivered before are not fetched or delivered again, and the two runs
/// together deliver what one uninterrupted crawl does.
#[tokio::test]
async fn a_crawl_resumes_from_its_checkpoint() {
    let site = serve(|_| {
        vec![
            ("/", links(&["/a", "/b", "/c"])),
            ("/a", links(&["/a1", "/a2"])),
            ("/b", html("b")),
            ("/c", html("c")),
            ("/a1", html("a1")),
            ("/a2", html("a2")),
        ]
    })
    .await;
    let mut opts = options(&site);
    opts.concurrency = 1;
    opts.checkpoint_every = Duration::ZERO;
    // The first run is cut after three pages (its receiver goes away).
    let (tx, mut rx) = mpsc::channel(1);
    let first = tokio::spawn({
        let opts = opts.clone();
        async move { crawl(&client(), opts, tx).await }
    });
    let (mut before, mut checkpoint) = (Vec::new(), None);
    while let Some(event) = rx.recv().await {
        match event {
            CrawlEvent::Page(p) => before.push(p.url.path().to_owned()),
            CrawlEvent::Checkpoint(c) => {
                checkpoint = Some(c);
                if before.len() == 3 {
                    break;
                }
            }
            CrawlEvent::Skipped { .. } => {}
        }
    }
    drop(rx);
    first.await.unwrap().unwrap();
    let checkpoint = checkpoint.unwrap();
    assert_eq!(checkpoint.summary.pages, 3);
    let fetched_before = site.requests().len();

    opts.resume = Some(checkpoint);
    let (events, summary) = run_result(opts).await;
    let after: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            CrawlEvent::Page(p) => Some(p.url.path().to_owned()),
            _ => None,
        })
        .collect();
    let mut all: Vec<String> = before.iter().chain(&after).cloned().collect();
    all.sort();
    assert_eq!(all, ["/", "/a", "/a1", "/a2", "/b", "/c"]);
    for path in &before {
        assert!(!after.contains(path), "{path} delivered twice");
        assert_eq!(site.hits(path), 1, "{path} fetched again");
    }
    assert_eq!(
        summary.unwrap().pages,
        6,
        "the counts go on from the checkpoint"
    );
    assert!(site.requests().len() > fetched_before);
}
