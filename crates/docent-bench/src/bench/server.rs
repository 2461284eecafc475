//! A real server in this process, on loopback and a scratch data dir, for the
//! scenarios that measure through HTTP (`ingest`, `chat`), and the JSON calls
//! they make to it.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use docent_core::config::Config;
use docent_core::domain::PlanLimits;
use futures::future::BoxFuture;
use serde_json::{Value, json};

/// How a benchmark starts the real server: given a configuration and a
/// signal that turns `true` to stop it, serve (with in-process workers) and
/// answer the bound address. The binary passes `docent::startup`'s, so the
/// benchmarks measure exactly what `docent serve` runs without depending on
/// the binary.
pub type Launch = Arc<
    dyn Fn(
            Config,
            tokio::sync::watch::Receiver<bool>,
        ) -> BoxFuture<'static, anyhow::Result<SocketAddr>>
        + Send
        + Sync,
>;

static LAUNCH: OnceLock<Launch> = OnceLock::new();

pub(crate) fn set_launch(launch: Launch) {
    let _ = LAUNCH.set(launch);
}

pub struct Server {
    /// `http://ADDR`, where `/metrics` is.
    pub root: String,
    /// `http://ADDR/api/v1`.
    pub base: String,
    /// Dropping it stops the server and its workers.
    _stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

/// Starts a server with in-process workers. `configure` adjusts a config
/// whose limits are lifted: rate limits are for abuse and plans for billing,
/// not for a benchmark of one tenant.
pub async fn start(configure: impl FnOnce(&mut Config)) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse()?;
    config.server.data_dir = dir.path().to_path_buf();
    config.embedder.kind = Some(docent_core::config::EmbedderKind::Hash);
    // The benchmark's sites are served on loopback.
    config.crawl.allow_private_networks = true;
    config.limits.credential_per_minute = 1_000_000;
    config.limits.ip_per_minute = 1_000_000;
    config.plans.free = PlanLimits::UNLIMITED;
    configure(&mut config);
    let launch = LAUNCH.get().context("no server launcher was given")?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let root = format!("http://{}", launch(config, stopped).await?);
    Ok(Server {
        base: format!("{root}/api/v1"),
        root,
        _stop: stop,
        _dir: dir,
    })
}

impl Server {
    /// POSTs JSON to `base` + `path`; a non-2xx answer is an error naming it.
    pub async fn post(
        &self,
        http: &reqwest::Client,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> anyhow::Result<Value> {
        let mut req = http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await?;
        let status = res.status();
        let body: Value = res.json().await?;
        anyhow::ensure!(status.is_success(), "{path}: {status}: {body}");
        Ok(body)
    }

    /// Signs up the bench tenant and returns its owner's access token.
    pub async fn sign_up(&self, http: &reqwest::Client) -> anyhow::Result<String> {
        let signup = self
            .post(
                http,
                "/tenants",
                None,
                json!({"name": "Bench", "email": "bench@example.com", "password": "password123"}),
            )
            .await?;
        Ok(signup["access_token"]
            .as_str()
            .context("no access token")?
            .to_string())
    }
}
