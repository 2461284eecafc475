//! The network guard over real sockets. A site on 127.0.0.1 is exempted to
//! stand for a public site; it redirects and links into loopback (a "secret"
//! server on 127.0.0.2), and every such hop must be refused before a
//! connection is made: the secret server counts its requests. Names resolve
//! through a test lookup, so no query leaves the machine.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::response::{Html, Redirect};
use axum::routing::get;
use docent_crawl::guard::{Lookup, NetworkPolicy};
use docent_crawl::{CrawlError, CrawlEvent, CrawlOptions, GuardedClient, crawl};
use url::Url;

struct TestLookup {
    names: HashMap<String, Vec<IpAddr>>,
    asked: AtomicUsize,
}

impl Lookup for TestLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let answer = self.names.get(host).cloned().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no such test host {host}"),
            )
        });
        Box::pin(async move { answer })
    }
}

async fn serve(addr: &str, app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let bound = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    bound
}

/// The secret server on 127.0.0.2, counting every request it gets.
async fn secret() -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { "internal secret: the root password is hunter2" }
    });
    (serve("127.0.0.2:0", app).await, hits)
}

fn policy(exempt: IpAddr, names: &[(&str, &str)]) -> (NetworkPolicy, Arc<TestLookup>) {
    let lookup = Arc::new(TestLookup {
        names: names
            .iter()
            .map(|(n, ip)| (n.to_string(), vec![ip.parse().expect("ip")]))
            .collect(),
        asked: AtomicUsize::new(0),
    });
    let policy = NetworkPolicy {
        allow_private: false,
        lookup: lookup.clone(),
        exempt: vec![exempt],
    };
    (policy, lookup)
}

async fn run(client: &GuardedClient, start: Url) -> (Result<u32, CrawlError>, Vec<CrawlEvent>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let mut opts = CrawlOptions::new(start);
    opts.delay = Duration::ZERO;
    opts.max_depth = 3;
    let task = tokio::spawn({
        let client = client.clone();
        async move { crawl(&client, opts, tx).await.map(|s| s.pages) }
    });
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (task.await.expect("crawl task"), events)
}

#[tokio::test]
async fn redirects_and_links_into_loopback_are_refused_before_connecting() {
    let (secret_addr, hits) = secret().await;
    let port = secret_addr.port();
    let to_literal = format!("http://127.0.0.2:{port}/admin");
    let to_name = format!("http://secret.test:{port}/admin");
    let to_mapped = format!("http://[::ffff:127.0.0.2]:{port}/admin");
    let site = Router::new()
        .route(
            "/",
            get(|| async {
                Html(
                    r#"<html><body><h1>Public site</h1><p>Welcome.</p>
                    <a href="/go-literal">a</a><a href="/go-name">b</a><a href="/go-mapped">c</a>
                    <a href="/go-creds">d</a></body></html>"#,
                )
            }),
        )
        .route(
            "/go-literal",
            get(move || async move { Redirect::temporary(&to_literal) }),
        )
        .route(
            "/go-name",
            get(move || async move { Redirect::temporary(&to_name) }),
        )
        .route(
            "/go-mapped",
            get(move || async move { Redirect::temporary(&to_mapped) }),
        )
        .route(
            "/go-creds",
            get(|| async { Redirect::temporary("http://user:pw@public.test/") }),
        );
    let site_addr = serve("127.0.0.1:0", site).await;
    let (policy, lookup) = policy(
        site_addr.ip(),
        &[("public.test", "127.0.0.1"), ("secret.test", "127.0.0.2")],
    );
    let client = GuardedClient::new("DocentBot-test", policy);
    let start = Url::parse(&format!("http://public.test:{}/", site_addr.port())).expect("url");
    let (result, events) = run(&client, start).await;
    assert_eq!(result.expect("the public page is crawled"), 1);
    let skipped: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            CrawlEvent::Skipped { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(skipped.len(), 4, "every redirect is refused: {skipped:?}");
    for reason in &skipped {
        assert!(
            reason.contains("is not fetched") || reason.contains("credentials"),
            "{reason}"
        );
        assert!(
            !reason.contains("refused") && !reason.contains("Connection"),
            "{reason}"
        );
    }
    assert!(
        lookup.asked.load(Ordering::SeqCst) >= 2,
        "names went through the guard"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no request reached loopback"
    );
}

#[tokio::test]
async fn start_urls_into_private_networks_fail_without_a_connection() {
    let (secret_addr, hits) = secret().await;
    let port = secret_addr.port();
    // Names whose answers are private: nothing listens at those addresses,
    // and the refusal comes from the resolver, before any connect.
    let (policy, _lookup) = policy(
        "192.0.2.1".parse().expect("ip"),
        &[
            ("intranet.test", "10.0.0.5"),
            ("metadata.test", "169.254.169.254"),
            ("cgnat.test", "100.64.1.1"),
            ("ula.test", "fd00::1"),
            ("secret.test", "127.0.0.2"),
        ],
    );
    let client = GuardedClient::new("DocentBot-test", policy);
    for start in [
        format!("http://intranet.test:{port}/"),
        format!("http://metadata.test:{port}/latest/meta-data/"),
        format!("http://cgnat.test:{port}/"),
        format!("http://ula.test:{port}/"),
        format!("http://secret.test:{port}/"),
        format!("http://127.0.0.2:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.2]:{port}/"),
    ] {
        let (result, _) = run(&client, Url::parse(&start).expect("url")).await;
        match result {
            Err(CrawlError::Unreachable { source, .. }) => {
                assert!(source.is_refused(), "{start}: {source}");
                let text = source.to_string();
                assert!(text.starts_with("could not fetch"), "{text}");
                assert!(
                    text.contains("DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS"),
                    "{text}"
                );
            }
            other => panic!("{start} must be refused, got {other:?}"),
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn closed_and_open_ports_fail_alike() {
    // With private networks allowed, an unreachable start page reads the
    // same whatever the port's state.
    let client = GuardedClient::new("DocentBot-test", NetworkPolicy::new(true));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let open_not_http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let open_port = open_not_http.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = open_not_http.accept().await {
            drop(socket);
        }
    });
    let mut messages = Vec::new();
    for port in [closed, open_port] {
        let (result, _) = run(
            &client,
            Url::parse(&format!("http://127.0.0.1:{port}/")).expect("url"),
        )
        .await;
        let Err(CrawlError::Unreachable { source, .. }) = result else {
            panic!("port {port} must be unreachable");
        };
        messages.push(source.to_string().replace(&port.to_string(), "PORT"));
    }
    assert_eq!(messages[0], messages[1]);
    assert_eq!(messages[0], "could not fetch http://127.0.0.1:PORT/");
}

#[tokio::test]
async fn deliveries_reach_no_private_address_and_follow_no_redirect() {
    let (secret_addr, hits) = secret().await;
    let port = secret_addr.port();
    // A "public" receiver that answers with a redirect into loopback.
    let to_secret = format!("http://127.0.0.2:{port}/");
    let receiver = Router::new().fallback(move || {
        let to = to_secret.clone();
        async move { Redirect::temporary(&to) }
    });
    let receiver_addr = serve("127.0.0.1:0", receiver).await;
    let (policy, _lookup) = policy(
        receiver_addr.ip(),
        &[("hooks.test", "127.0.0.1"), ("secret.test", "127.0.0.2")],
    );
    let client = GuardedClient::without_redirects("Docent-Webhooks-test", policy);
    let post = |url: String| {
        let client = client.clone();
        async move {
            let url = Url::parse(&url).expect("url");
            client
                .post(
                    &url,
                    Default::default(),
                    b"{}".to_vec(),
                    Duration::from_secs(5),
                )
                .await
        }
    };
    // A name whose answer is private is refused before any connection.
    let refused = post(format!("http://secret.test:{port}/hook"))
        .await
        .unwrap_err();
    assert!(refused.is_refused(), "{refused}");
    // The redirect is the answer: not followed into loopback.
    let answer = post(format!("http://hooks.test:{}/hook", receiver_addr.port()))
        .await
        .expect("the receiver answers");
    assert_eq!(answer.status().as_u16(), 307);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing reached loopback");
}
