//! The README's walk-through, run as written: every block fenced as
//! ```` ```sh test ```` is run, in order, in one bash session against a real
//! `docent serve` (so variables carry from block to block), with only the
//! server's address and the example site's put in place of
//! `localhost:8080` and `https://docs.example.com/`. A README whose commands
//! stopped working fails here.

use std::path::Path;
use std::process::Command;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use support::Server;

mod support;

/// The `sh test` blocks of `markdown`, in order.
fn walkthrough(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh test") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// A two-page site for the walk-through's crawl.
async fn site() -> String {
    let app = Router::new()
        .route("/", get(|| async {
            Html("<html><head><title>Shipping</title></head><body><main><p>Orders ship within two \
                  working days.</p><a href=\"/returns\">Returns</a></main></body></html>")
        }))
        .route("/returns", get(|| async {
            Html("<html><head><title>Returns</title></head><body><main><p>Returns are free for \
                  members.</p></main></body></html>")
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_walkthrough_works_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = walkthrough(&readme);
    assert!(
        blocks.len() >= 6,
        "the walk-through lost its blocks: {blocks:?}"
    );
    let script = blocks.concat();
    for step in [
        "/api/v1/tenants",
        "/api-keys",
        "/files",
        "/crawl",
        "/status",
        "/chat",
        "/widget/",
    ] {
        assert!(
            script.contains(step),
            "the walk-through no longer shows {step}"
        );
    }

    let site = site().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            // No model hub here: the hashing embedder, as a server offline uses.
            ("DOCENT_EMBEDDER", "hash"),
            // The example site listens on loopback.
            ("DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS", "true"),
            ("DOCENT_CRAWL_DELAY_MS", "5"),
        ],
    );
    let addr = server.origin.trim_start_matches("http://").to_string();
    let script = script
        .replace("localhost:8080", &addr)
        .replace("https://docs.example.com/", &site);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(root)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    drop(server);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walk-through failed:\n{stdout}\n{stderr}"
    );
    // The asked question is answered from the text added, cited, both ways.
    let answer = stdout
        .lines()
        .find(|l| l.contains("\"answer\""))
        .unwrap_or_else(|| panic!("no answer in:\n{stdout}"));
    assert!(
        answer.contains("30 days") && answer.contains("[1]"),
        "{answer}"
    );
    assert!(stdout.contains("\"answered\": true"), "{stdout}");
    assert!(
        stdout.contains("event: meta") && stdout.contains("event: done"),
        "no stream in:\n{stdout}"
    );
    assert!(
        stdout.contains("Hi! Ask me about Acme."),
        "no widget config in:\n{stdout}"
    );
}
