//! The outbound network guard: every fetch a tenant can aim (crawl start
//! URLs, links, redirects, sitemaps, robots.txt, and later webhooks and
//! identity-provider URLs) goes through a client built here, which reaches
//! only public addresses unless the operator allows private networks.
//!
//! How: names are resolved by [`GuardedResolver`], which checks every
//! address of the answer and hands reqwest exactly the checked addresses, so
//! the connection goes where the check looked (no second lookup to rebind).
//! IP literals never reach a resolver, so [`check_url`] checks them before
//! the first request and on every redirect, where credentials in URLs and
//! other schemes are refused as well. Proxies from the environment are
//! ignored: through a proxy the check would see the proxy's address.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why a URL or address is refused; its text says so without port detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Which destinations outbound requests may reach.
#[derive(Clone)]
pub struct NetworkPolicy {
    /// `DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS`: loopback, private and
    /// link-local destinations are allowed (self-hosted intranets, tests).
    pub allow_private: bool,
    /// Turns a host name into addresses; the system resolver by default.
    pub lookup: Arc<dyn Lookup>,
    /// Non-public addresses reachable all the same. Empty in the server;
    /// the guard's own tests use one to stand for a public site, so that
    /// redirects from it into loopback run over real sockets.
    pub exempt: Vec<IpAddr>,
}

impl NetworkPolicy {
    pub fn new(allow_private: bool) -> Self {
        Self {
            allow_private,
            lookup: Arc::new(SystemLookup),
            exempt: Vec::new(),
        }
    }

    /// Why this policy refuses `ip`, if it does.
    pub fn refuses(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allow_private || self.exempt.contains(&ip) {
            return None;
        }
        classify(ip)
    }

    /// Checks what can be checked of a URL without resolving it: the
    /// scheme, credentials, and a host given as an IP literal (or
    /// `localhost`).
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused("only http and https URLs can be fetched".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused("URLs with credentials are not fetched".into()));
        }
        let reason = match url.host() {
            None => return Err(Refused("the URL has no host".into())),
            Some(Host::Ipv4(ip)) => self.refuses(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.refuses(IpAddr::V6(ip)),
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                (!self.allow_private && (name == "localhost" || name.ends_with(".localhost")))
                    .then_some("a loopback address")
            }
        };
        match reason {
            Some(reason) => Err(refusal(reason)),
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for NetworkPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkPolicy")
            .field("allow_private", &self.allow_private)
            .finish_non_exhaustive()
    }
}

/// The lookup half of a resolver, a seam so tests can answer with any
/// address without touching the network.
pub trait Lookup: Send + Sync {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;
}

/// The operating system's resolver (getaddrinfo on a blocking thread).
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        let host = host.to_string();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// Why `ip` is not a public unicast address, or `None` when it is.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip.is_unspecified() || a == 0 => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_private() => "a private network address",
        _ if ip.is_link_local() => "a link-local address",
        _ if a == 100 && (64..128).contains(&b) => "a shared (CGNAT) address",
        _ if ip.is_multicast() => "a multicast address",
        _ if ip.is_broadcast() || a >= 240 => "a reserved address",
        _ if a == 192 && b == 0 && c == 0 => "a reserved address",
        _ if a == 198 && (18..20).contains(&b) => "a reserved address",
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    Some(match () {
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.to_ipv4_mapped().is_some() => "an IPv4-mapped address",
        // IPv4-compatible (deprecated), ::/96.
        _ if segments[..6] == [0; 6] => "an IPv4-compatible address",
        _ if ip.is_multicast() => "a multicast address",
        _ if ip.is_unique_local() => "a unique-local address",
        _ if ip.is_unicast_link_local() => "a link-local address",
        // Site-local (deprecated), fec0::/10.
        _ if segments[0] & 0xffc0 == 0xfec0 => "a site-local address",
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address.
        _ if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => {
            return classify_v4(v4_of(segments[6], segments[7]));
        }
        _ if segments[0] == 0x2002 => return classify_v4(v4_of(segments[1], segments[2])),
        _ => return None,
    })
}

/// The IPv4 address carried in two segments of an IPv6 one.
fn v4_of(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// [`NetworkPolicy::check_url`] with the system resolver's policy.
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), Refused> {
    NetworkPolicy::new(allow_private).check_url(url)
}

fn refusal(reason: &str) -> Refused {
    Refused(format!(
        "it points to {reason}, which is not fetched (set DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS=true to allow private networks)"
    ))
}

/// Resolves with the policy's lookup and refuses the name if any of its
/// addresses is not public.
pub struct GuardedResolver {
    policy: NetworkPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = policy.lookup.lookup(&host).await?;
            if ips.is_empty() {
                return Err(Box::new(Refused("the host name has no address".into())) as _);
            }
            if let Some(reason) = ips.iter().find_map(|ip| policy.refuses(*ip)) {
                return Err(Box::new(refusal(reason)) as _);
            }
            let addrs: Addrs = Box::new(
                ips.into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

/// Redirects followed by one request at most.
const MAX_REDIRECTS: usize = 5;

/// An HTTP client that reaches only what its policy allows: the only way the
/// crawler (and every other tenant-aimed fetch) sends a request.
#[derive(Clone, Debug)]
pub struct GuardedClient {
    inner: reqwest::Client,
    policy: NetworkPolicy,
}

/// A failed outbound request, in words safe to show the tenant.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    message: String,
    /// Refused by the policy (trying again cannot help), not a network failure.
    refused: bool,
}

impl FetchError {
    pub fn is_refused(&self) -> bool {
        self.refused
    }
}

impl GuardedClient {
    pub fn new(user_agent: &str, policy: NetworkPolicy) -> Self {
        Self {
            inner: client(user_agent, policy.clone(), true),
            policy,
        }
    }

    /// A client that follows no redirect: for deliveries (webhooks), where
    /// a 3xx is the receiver's answer, not a new place to send to.
    pub fn without_redirects(user_agent: &str, policy: NetworkPolicy) -> Self {
        Self {
            inner: client(user_agent, policy.clone(), false),
            policy,
        }
    }

    /// POSTs `body` with `headers` to `url` after checking it.
    pub async fn post(
        &self,
        url: &Url,
        headers: reqwest::header::HeaderMap,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<reqwest::Response, FetchError> {
        let request = self.inner.post(url.clone()).headers(headers).body(body);
        self.send(url, request, timeout).await
    }

    /// GETs `url` after checking it; redirects and resolved names are
    /// checked by the client itself.
    pub async fn get(&self, url: &Url, timeout: Duration) -> Result<reqwest::Response, FetchError> {
        self.send(url, self.inner.get(url.clone()), timeout).await
    }

    async fn send(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<reqwest::Response, FetchError> {
        self.policy.check_url(url).map_err(|r| FetchError {
            message: format!("could not fetch {url}: {r}"),
            refused: true,
        })?;
        request
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| FetchError {
                message: describe(url, &e),
                refused: refusal_of(&e).is_some(),
            })
    }
}

/// A client that reaches only what `policy` allows, on every redirect too
/// (when it follows them).
fn client(user_agent: &str, policy: NetworkPolicy, follow: bool) -> reqwest::Client {
    let checks = policy.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if !follow {
            return attempt.stop();
        }
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(Refused("too many redirects".into()));
        }
        match checks.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    });
    reqwest::Client::builder()
        .user_agent(user_agent)
        .redirect(redirects)
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

/// The guard's refusal inside a client error, if that is why it failed.
pub fn refusal_of(error: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        source = e.source();
    }
    None
}

/// A transport error in words that name the URL and, for a refusal, the
/// reason, but nothing that tells a closed port from an open one.
pub fn describe(url: &Url, error: &reqwest::Error) -> String {
    match refusal_of(error) {
        Some(refused) => format!("could not fetch {url}: {refused}"),
        None if error.is_timeout() => format!("could not fetch {url}: no answer in time"),
        None => format!("could not fetch {url}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn classifies_every_non_public_range() {
        for blocked in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "64:ff9b::a00:1",
            "2002:7f00:1::1",
        ] {
            assert!(classify(ip(blocked)).is_some(), "{blocked} must be refused");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.2.1",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(classify(ip(public)), None, "{public} is public");
        }
    }

    #[test]
    fn checks_literal_hosts_in_every_spelling() {
        for url in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://LocalHost./admin",
            "http://api.localhost/",
            "http://0.0.0.0/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://017700000001/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00::1]/",
        ] {
            let parsed = Url::parse(url).expect("test url");
            assert!(check_url(&parsed, false).is_err(), "{url} must be refused");
            assert!(
                check_url(&parsed, true).is_ok(),
                "{url} allowed when private is"
            );
        }
        for refused_always in [
            "http://user:pass@example.com/",
            "http://user@example.com/",
            "ftp://example.com/",
            "file:///etc/passwd",
        ] {
            let parsed = Url::parse(refused_always).expect("test url");
            assert!(check_url(&parsed, true).is_err(), "{refused_always}");
        }
        let public = Url::parse("https://docs.example.com/a").expect("url");
        assert!(check_url(&public, false).is_ok());
    }
}
