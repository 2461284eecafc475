//! What the crawler needs from an HTML page: links, canonical, meta robots.

use std::collections::HashSet;

use scraper::{Html, Selector};
use url::Url;

use crate::urls::normalize;

/// Links kept from one page; a hostile page may carry millions.
pub(crate) const MAX_LINKS: usize = 1_000;

/// Crawl-relevant facts of one HTML page. Owned, so the non-`Send` parsed
/// document never lives across an await point.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct HtmlInfo {
    /// Followable links, normalized, in document order, without duplicates;
    /// the first [`MAX_LINKS`].
    pub links: Vec<Url>,
    /// `<link rel="canonical">`, normalized (host not checked).
    pub canonical: Option<Url>,
    /// `<meta name="robots" content="noindex">`: do not deliver.
    pub noindex: bool,
    /// `<meta name="robots" content="nofollow">`: do not follow links.
    pub nofollow: bool,
}

/// Parses `body` fetched from `page_url`. `user_agent` also matches
/// `<meta name="DocentBot">`.
pub(crate) fn parse(body: &[u8], page_url: &Url, user_agent: &str) -> HtmlInfo {
    // Parsing a hostile page this deep costs minutes (see docent-ingest's
    // nesting module); its links are not followed, and extraction refuses it.
    if docent_ingest::html_nests_deeper_than(body, docent_ingest::MAX_HTML_NESTING) {
        tracing::debug!(url = %page_url, "page nests too deeply; links not read");
        return HtmlInfo::default();
    }
    let html = String::from_utf8_lossy(body);
    let doc = Html::parse_document(&html);
    let mut info = HtmlInfo::default();

    for meta in doc.select(&selector("meta[name][content]")) {
        let name = meta.value().attr("name").unwrap_or_default();
        if !name.eq_ignore_ascii_case("robots") && !name.eq_ignore_ascii_case(user_agent) {
            continue;
        }
        let content = meta.value().attr("content").unwrap_or_default();
        for directive in content.split(',').map(|d| d.trim().to_ascii_lowercase()) {
            match directive.as_str() {
                "noindex" => info.noindex = true,
                "nofollow" => info.nofollow = true,
                "none" => (info.noindex, info.nofollow) = (true, true),
                _ => {}
            }
        }
    }

    // Relative links resolve against <base href> when present.
    let base = doc
        .select(&selector("base[href]"))
        .next()
        .and_then(|b| page_url.join(b.value().attr("href")?.trim()).ok())
        .unwrap_or_else(|| page_url.clone());

    info.canonical = doc
        .select(&selector("link[rel][href]"))
        .find(|l| has_token(l.value().attr("rel"), "canonical"))
        .and_then(|l| base.join(l.value().attr("href")?.trim()).ok())
        .and_then(|u| normalize(&u));

    let mut seen = HashSet::new();
    for a in doc.select(&selector("a[href]")) {
        if info.links.len() >= MAX_LINKS {
            break;
        }
        if has_token(a.value().attr("rel"), "nofollow") {
            continue;
        }
        let Some(href) = a.value().attr("href").map(str::trim) else {
            continue;
        };
        // normalize() keeps only http(s), which drops mailto:, javascript:, tel:, data:.
        if let Some(url) = base.join(href).ok().and_then(|u| normalize(&u))
            && seen.insert(url.clone())
        {
            info.links.push(url);
        }
    }
    info
}

fn has_token(attr: Option<&str>, token: &str) -> bool {
    attr.is_some_and(|v| {
        v.split_ascii_whitespace()
            .any(|t| t.eq_ignore_ascii_case(token))
    })
}

fn selector(css: &str) -> Selector {
    // Only called with the constant selectors above, which are valid.
    Selector::parse(css).unwrap_or_else(|e| panic!("invalid built-in selector {css:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://example.com/docs/guide/index.html").expect("test url")
    }

    fn strs(urls: &[Url]) -> Vec<&str> {
        urls.iter().map(Url::as_str).collect()
    }

    #[test]
    fn extracts_resolves_and_filters_links() {
        let html = br#"<html><head><link rel="canonical" href="/docs/guide/"></head><body>
            <a href="intro.html#part">Intro</a>
            <a href="intro.html">Intro again</a>
            <a href="../api/">API</a>
            <a href="https://other.example/x">Other</a>
            <a href="mailto:a@example.com">Mail</a>
            <a href="javascript:void(0)">JS</a>
            <a href="tel:+123">Tel</a>
            <a rel="external NoFollow" href="/sponsored">Ad</a>
            <a>no href</a>
        </body></html>"#;
        let info = parse(html, &page(), "DocentBot");
        assert_eq!(
            strs(&info.links),
            [
                "https://example.com/docs/guide/intro.html",
                "https://example.com/docs/api/",
                "https://other.example/x",
            ]
        );
        assert_eq!(
            info.canonical.as_ref().map(Url::as_str),
            Some("https://example.com/docs/guide/")
        );
        assert!(!info.noindex && !info.nofollow);
    }

    #[test]
    fn respects_base_href() {
        let html = br#"<head><base href="https://example.com/v2/"></head><a href="page">p</a>"#;
        let info = parse(html, &page(), "DocentBot");
        assert_eq!(strs(&info.links), ["https://example.com/v2/page"]);
    }

    #[test]
    fn meta_robots_directives() {
        let noindex = parse(
            br#"<meta name="robots" content="noindex, follow">"#,
            &page(),
            "DocentBot",
        );
        assert!(noindex.noindex && !noindex.nofollow);
        let ours = parse(
            br#"<meta name="docentbot" content="NOFOLLOW">"#,
            &page(),
            "DocentBot",
        );
        assert!(!ours.noindex && ours.nofollow);
        let other = parse(
            br#"<meta name="googlebot" content="none">"#,
            &page(),
            "DocentBot",
        );
        assert!(!other.noindex && !other.nofollow);
        let none = parse(
            br#"<meta name="robots" content="none">"#,
            &page(),
            "DocentBot",
        );
        assert!(none.noindex && none.nofollow);
    }
}
