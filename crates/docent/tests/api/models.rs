//! The default embedding model: with no embedder configured, the server
//! fetches all-MiniLM-L6-v2 from a model source in the hub's layout (here a
//! local HTTP server serving the genuine files), verifies the pinned
//! SHA-256 sums, caches it in the data dir and needs no network after; a
//! source that cannot be reached or serves other bytes leaves the hashing
//! fallback running, reported as degraded; knowledge embedded with the model
//! is never silently re-embedded with the fallback.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use docent::startup::App;
use docent_core::config::{Config, Secret};

use crate::helpers::{spawn_app_at, spawn_app_with};

/// The genuine model files the test script installs.
fn model_dir() -> PathBuf {
    std::env::var_os("DOCENT_TEST_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/models/all-MiniLM-L6-v2")
        })
}

type HubState = (Arc<HashMap<String, Vec<u8>>>, Arc<AtomicUsize>);

/// A model hub on loopback: `/{repo}/resolve/{revision}/{file}`.
struct Hub {
    url: String,
    requests: Arc<AtomicUsize>,
}

async fn hub(tamper: Option<&str>) -> Hub {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    for name in ["config.json", "tokenizer.json", "model.safetensors"] {
        let mut bytes = std::fs::read(model_dir().join(name)).expect("the model is installed");
        if tamper == Some(name) {
            bytes.extend_from_slice(b" ");
        }
        files.insert(
            format!("sentence-transformers/all-MiniLM-L6-v2/resolve/main/{name}"),
            bytes,
        );
    }
    let requests = Arc::new(AtomicUsize::new(0));
    let state = (Arc::new(files), requests.clone());
    let app = axum::Router::new()
        .route(
            "/{*path}",
            axum::routing::get(
                |State((files, requests)): State<HubState>,
                 UrlPath(path): UrlPath<String>| async move {
                    requests.fetch_add(1, Ordering::SeqCst);
                    match files.get(&path) {
                        Some(bytes) => bytes.clone().into_response(),
                        None => StatusCode::NOT_FOUND.into_response(),
                    }
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Hub { url, requests }
}

/// A port nothing listens on.
const DEAD_SOURCE: &str = "http://127.0.0.1:9";

fn default_embedder(source: &str) -> impl FnOnce(&mut Config) + '_ {
    move |c| {
        c.embedder.kind = None;
        c.embedder.model_source = Some(source.to_string());
    }
}

async fn embedder_check(app: &crate::helpers::TestApp) -> String {
    let res = app
        .client
        .get(app.url("/api/v1/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    body["checks"]["embedder"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_default_model_is_fetched_verified_cached_and_kept() {
    let hub = hub(None).await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_at(dir.path(), default_embedder(&hub.url)).await;
    assert_eq!(embedder_check(&app).await, "ok: local:all-MiniLM-L6-v2");
    assert_eq!(hub.requests.load(Ordering::SeqCst), 3);
    let cached = dir.path().join("models/all-MiniLM-L6-v2");
    assert!(cached.join(".verified").is_file());
    app.shutdown().await;

    // The next start needs no source at all.
    let app = spawn_app_at(dir.path(), default_embedder(DEAD_SOURCE)).await;
    assert_eq!(embedder_check(&app).await, "ok: local:all-MiniLM-L6-v2");
    assert_eq!(hub.requests.load(Ordering::SeqCst), 3);
    app.shutdown().await;

    // Moving the model elsewhere changes nothing about its identity.
    let moved = dir.path().join("elsewhere/renamed-model");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&cached, &moved).unwrap();
    let app = spawn_app_at(dir.path(), |c| {
        c.embedder.kind = None;
        c.embedder.model_dir = Some(moved.clone());
    })
    .await;
    assert_eq!(embedder_check(&app).await, "ok: local:all-MiniLM-L6-v2");
}

#[tokio::test]
async fn a_local_directory_in_the_hub_layout_is_a_source_too() {
    let source = tempfile::tempdir().unwrap();
    let laid_out = source
        .path()
        .join("sentence-transformers/all-MiniLM-L6-v2/resolve/main");
    std::fs::create_dir_all(&laid_out).unwrap();
    for name in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(model_dir().join(name), laid_out.join(name)).unwrap();
    }
    let app = spawn_app_with(default_embedder(source.path().to_str().unwrap())).await;
    assert_eq!(embedder_check(&app).await, "ok: local:all-MiniLM-L6-v2");
}

#[tokio::test]
async fn unreachable_or_tampered_sources_leave_the_fallback_reported_as_degraded() {
    let app = spawn_app_with(default_embedder(DEAD_SOURCE)).await;
    let check = embedder_check(&app).await;
    assert!(check.starts_with("degraded: hash-384 ("), "{check}");
    assert!(check.contains("127.0.0.1:9"), "{check}");

    let tampered = hub(Some("tokenizer.json")).await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_at(dir.path(), default_embedder(&tampered.url)).await;
    let check = embedder_check(&app).await;
    assert!(
        check.starts_with("degraded: hash-384") && check.contains("not the genuine file"),
        "{check}"
    );
    // Nothing that looks like a model is left in the cache.
    assert!(!dir.path().join("models/all-MiniLM-L6-v2").exists());
}

#[tokio::test]
async fn knowledge_embedded_with_the_model_is_never_silently_re_embedded() {
    let hub = hub(None).await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_at(dir.path(), default_embedder(&hub.url)).await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    app.add_text(
        &owner.token,
        &bot,
        "Refunds",
        "Refunds are granted within thirty days.",
    )
    .await;
    app.shutdown().await;
    drop(app);

    // The cached model is gone and the source unreachable: no start.
    std::fs::remove_dir_all(dir.path().join("models")).unwrap();
    let mut config = config_at(dir.path(), DEAD_SOURCE);
    crate::helpers::scale_out(&mut config).await;
    let err = App::build(config)
        .await
        .err()
        .expect("the server refuses to start");
    let message = format!("{err:#}");
    assert!(
        message.contains("was embedded with a sentence embedding model")
            && message.contains("DOCENT_EMBEDDER=hash"),
        "{message}"
    );
}

fn config_at(data_dir: &Path, source: &str) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.server.data_dir = data_dir.to_path_buf();
    config.auth.jwt_secret = Some(Secret::new(crate::helpers::TEST_SECRET));
    config.embedder.model_source = Some(source.to_string());
    config.ingest.extract_program = Some(docent_testkit::docent_binary());
    config
}
