//! sitemap.xml discovery: `/sitemap.xml` plus robots.txt `Sitemap:` lines,
//! following sitemap indexes a bounded number of levels and files.

use std::collections::{HashSet, VecDeque};

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use url::Url;

use crate::fetch::{HostGate, read_body, send};
use crate::guard::GuardedClient;
use crate::robots::RobotsPolicy;
use crate::urls::{normalize, same_host};

/// Index nesting followed (a root index, its children and their children).
const MAX_LEVELS: u32 = 3;
/// Sitemap files fetched per crawl, so a hostile index cannot fan out.
const MAX_FILES: usize = 16;
/// URLs taken from all sitemaps (the protocol's per-file limit).
const MAX_URLS: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    UrlSet,
    Index,
}

/// The `<loc>` values of one sitemap file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Sitemap {
    pub kind: Kind,
    pub locs: Vec<String>,
}

/// Parses a `<urlset>` or `<sitemapindex>`; anything else yields `None`.
/// Malformed XML keeps the locations read before the error.
pub(crate) fn parse(body: &[u8]) -> Option<Sitemap> {
    let mut reader = Reader::from_reader(body);
    let mut kind = None;
    let mut locs = Vec::new();
    let mut current: Option<String> = None;
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(event) => event,
            Err(e) => {
                tracing::debug!(error = %e, "malformed sitemap");
                break;
            }
        };
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                b"urlset" if kind.is_none() => kind = Some(Kind::UrlSet),
                b"sitemapindex" if kind.is_none() => kind = Some(Kind::Index),
                b"loc" => current = Some(String::new()),
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == b"loc" => {
                if let Some(loc) = current.take() {
                    let loc = loc.trim();
                    if !loc.is_empty() {
                        locs.push(loc.to_owned());
                    }
                }
            }
            Event::Text(t) => {
                if let (Some(cur), Ok(text)) = (current.as_mut(), t.decode()) {
                    cur.push_str(&text);
                }
            }
            Event::CData(t) => {
                if let (Some(cur), Ok(text)) = (current.as_mut(), t.decode()) {
                    cur.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                let Some(cur) = current.as_mut() else {
                    continue;
                };
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    cur.push(c);
                } else if let Some(s) = r.decode().ok().and_then(|n| resolve_predefined_entity(&n))
                {
                    cur.push_str(s);
                }
            }
            _ => {}
        }
    }
    kind.map(|kind| Sitemap { kind, locs })
}

/// Fetches the site's sitemaps and returns the page URLs they list
/// (normalized; host and filter checks are left to the caller).
pub(crate) async fn discover(
    client: &GuardedClient,
    gate: &HostGate,
    start: &Url,
    robots: &RobotsPolicy,
    max_bytes: usize,
) -> Vec<Url> {
    let mut queue = VecDeque::new();
    let mut seen = HashSet::new();
    let roots = start
        .join("/sitemap.xml")
        .into_iter()
        .chain(robots.sitemaps().iter().filter_map(|s| start.join(s).ok()));
    for root in roots {
        push_sitemap(&mut queue, &mut seen, start, root, 0);
    }

    let mut pages = Vec::new();
    let mut files = 0;
    while let Some((url, level)) = queue.pop_front() {
        if files == MAX_FILES || pages.len() >= MAX_URLS {
            break;
        }
        if !robots.allowed(&url) {
            tracing::debug!(%url, "sitemap disallowed by robots.txt");
            continue;
        }
        files += 1;
        let Some(sitemap) = fetch_one(client, gate, &url, max_bytes).await else {
            continue;
        };
        let locs = sitemap.locs.iter().filter_map(|l| url.join(l).ok());
        match sitemap.kind {
            Kind::Index if level + 1 < MAX_LEVELS => {
                for child in locs {
                    push_sitemap(&mut queue, &mut seen, start, child, level + 1);
                }
            }
            Kind::Index => tracing::debug!(%url, "sitemap index nested too deep"),
            Kind::UrlSet => {
                let room = MAX_URLS - pages.len();
                pages.extend(locs.filter_map(|u| normalize(&u)).take(room));
            }
        }
    }
    pages
}

fn push_sitemap(
    queue: &mut VecDeque<(Url, u32)>,
    seen: &mut HashSet<Url>,
    start: &Url,
    url: Url,
    level: u32,
) {
    if let Some(url) = normalize(&url).filter(|u| same_host(u, start))
        && seen.insert(url.clone())
    {
        queue.push_back((url, level));
    }
}

async fn fetch_one(
    client: &GuardedClient,
    gate: &HostGate,
    url: &Url,
    max_bytes: usize,
) -> Option<Sitemap> {
    let response = send(client, gate, url)
        .await
        .inspect_err(|e| tracing::debug!(%url, error = %e, "sitemap unreachable"))
        .ok()?;
    if !response.status().is_success() {
        tracing::debug!(%url, status = %response.status(), "no sitemap");
        return None;
    }
    let body = read_body(response, max_bytes)
        .await
        .inspect_err(|e| tracing::debug!(%url, error = ?e, "sitemap unreadable"))
        .ok()?;
    parse(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urlset_with_namespace_and_entities() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <url><loc> https://example.com/a?x=1&amp;y=2 </loc><lastmod>2024-01-01</lastmod></url>
              <url><loc><![CDATA[https://example.com/b]]></loc></url>
              <url><loc>https://example.com/&#99;</loc></url>
            </urlset>"#;
        let s = parse(xml).expect("urlset");
        assert_eq!(s.kind, Kind::UrlSet);
        assert_eq!(
            s.locs,
            [
                "https://example.com/a?x=1&y=2",
                "https://example.com/b",
                "https://example.com/c"
            ]
        );
    }

    #[test]
    fn parses_index() {
        let xml = br#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <sitemap><loc>https://example.com/s1.xml</loc></sitemap>
            </sitemapindex>"#;
        let s = parse(xml).expect("index");
        assert_eq!(s.kind, Kind::Index);
        assert_eq!(s.locs, ["https://example.com/s1.xml"]);
    }

    #[test]
    fn rejects_non_sitemaps_and_survives_garbage() {
        assert!(parse(b"<html><body>hi</body></html>").is_none());
        assert!(parse(b"\x00\xff not xml").is_none());
        let truncated = parse(b"<urlset><url><loc>https://e.com/a</loc></url><url><loc>https://e")
            .expect("partial urlset");
        assert_eq!(truncated.locs, ["https://e.com/a"]);
    }
}
