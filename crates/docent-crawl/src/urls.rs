//! URL normalization and the same-host rule.

use globset::{Glob, GlobSet, GlobSetBuilder};
use url::Url;

use crate::CrawlError;

/// Canonical form used for de-duplication: http(s) only, fragment dropped.
///
/// The `url` crate already lowercases scheme and host and drops default ports;
/// the query and path are kept as is because servers may treat them as
/// significant.
pub(crate) fn normalize(url: &Url) -> Option<Url> {
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    let mut url = url.clone();
    url.set_fragment(None);
    Some(url)
}

/// Same host name and same explicit port. `www.` is not stripped, and the
/// scheme may differ so that an http → https upgrade stays on the site.
pub(crate) fn same_host(a: &Url, b: &Url) -> bool {
    a.host_str() == b.host_str() && a.port() == b.port()
}

/// Key for per-host politeness.
pub(crate) fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

/// Include/exclude globs matched against the URL path.
#[derive(Debug)]
pub(crate) struct PathFilter {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl PathFilter {
    pub(crate) fn new(include: &[String], exclude: &[String]) -> Result<Self, CrawlError> {
        let include = if include.is_empty() {
            None
        } else {
            Some(build_set(include)?)
        };
        Ok(Self {
            include,
            exclude: build_set(exclude)?,
        })
    }

    pub(crate) fn allows(&self, url: &Url) -> bool {
        let path = url.path();
        !self.exclude.is_match(path) && self.include.as_ref().is_none_or(|s| s.is_match(path))
    }
}

fn build_set(globs: &[String]) -> Result<GlobSet, CrawlError> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        let parsed = Glob::new(glob).map_err(|source| CrawlError::InvalidGlob {
            glob: glob.clone(),
            source,
        })?;
        builder.add(parsed);
    }
    builder.build().map_err(|source| CrawlError::InvalidGlob {
        glob: globs.join(", "),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).expect("test url")
    }

    #[test]
    fn normalize_lowercases_and_drops_fragment_and_default_port() {
        let n = normalize(&u("HTTP://Example.COM:80/A/b?x=1#frag")).expect("http");
        assert_eq!(n.as_str(), "http://example.com/A/b?x=1");
        assert!(normalize(&u("mailto:a@example.com")).is_none());
        assert!(normalize(&u("ftp://example.com/")).is_none());
    }

    #[test]
    fn same_host_rules() {
        let start = u("https://example.com/");
        assert!(same_host(&start, &u("https://example.com/x")));
        assert!(same_host(&start, &u("http://example.com/x")));
        assert!(!same_host(&start, &u("https://www.example.com/x")));
        assert!(!same_host(&start, &u("https://example.com:8443/x")));
    }

    #[test]
    fn filters_exclude_wins() {
        let f = PathFilter::new(&["/docs/**".into()], &["*.pdf".into()]).expect("globs");
        assert!(f.allows(&u("http://h/docs/a")));
        assert!(!f.allows(&u("http://h/blog/a")));
        assert!(!f.allows(&u("http://h/docs/a.pdf")));
        let all = PathFilter::new(&[], &[]).expect("globs");
        assert!(all.allows(&u("http://h/anything")));
    }

    #[test]
    fn bad_glob_is_an_error() {
        assert!(PathFilter::new(&["/docs/[".into()], &[]).is_err());
    }
}
