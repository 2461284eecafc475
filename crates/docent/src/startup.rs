//! Building and running a Docent process: the components every role is
//! built from (storage, blobs, the embedder, the services), the workers, and
//! the HTTP server around `docent_api::router`. `docent serve`, `docent
//! worker`, the tests and the benchmarks all start through here; the worker
//! role builds no HTTP.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use docent_api::{AppState, router};
use docent_core::auth::jwt::{JwtKeys, load_or_create_secret};
use docent_core::auth::upload::UploadSigner;
use docent_core::blob::BlobStore;
use docent_core::clock::{Clock, SystemClock};
use docent_core::config::Config;
use docent_core::config::Secret;
use docent_core::embed::Embedder;
use docent_core::llm::ChatModel;
use docent_core::ratelimit::RateLimiter;
use docent_core::store::Store;
use docent_llm::chat::{ChatSettings, OpenAiChat};
use docent_service::pipeline::{JobContext, PipelineSettings, Worker, WorkerSettings};
use docent_service::{Deps, Meter, Services, Settings, TokenSettings};
use docent_store::blob::ObjectBlobStore;
use docent_store::limiter::{LocalRateLimiter, RedisRateLimiter};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Where the default embedding model comes from (`DOCENT_MODEL_SOURCE`) and
/// where it is cached (`{data_dir}/models`).
pub fn model_source(config: &Config) -> docent_llm::embed::ModelSource {
    docent_llm::embed::ModelSource {
        source: config
            .embedder
            .model_source
            .clone()
            .unwrap_or_else(|| docent_llm::embed::models::DEFAULT_SOURCE.to_string()),
        cache_root: config.server.data_dir.join("models"),
        wait: Duration::from_secs(10),
    }
}

/// The parts every process role is built from: storage, blobs, the embedder
/// and the services over them. `serve` and `worker` build the same thing.
pub struct Components {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub blob: Arc<dyn BlobStore>,
    pub embedder: Arc<dyn Embedder>,
    /// Set when the hashing fallback runs for want of the default model.
    pub embedder_degraded: Option<String>,
    pub llm: Option<Arc<dyn ChatModel>>,
    pub services: Services,
    pub meter: Meter,
    /// Run for every extraction (see `docent_ingest::sandbox`).
    pub extract_program: std::path::PathBuf,
}

/// What a process is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The API and the workers: the embedder is resolved (the default model
    /// loaded or fetched) and the database's vector index prepared.
    Serve,
    /// The operator commands (`docent tenants`, `keys`, `status`): they embed
    /// nothing, so no model is loaded and the vector index is left alone.
    Operate,
}

impl Components {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Components::build`], with another clock (tests of monthly periods).
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Self::build_for(config, clock, Purpose::Serve).await
    }

    /// The components of an operator command (see [`Purpose::Operate`]).
    pub async fn for_operator(config: Config) -> anyhow::Result<Self> {
        Self::build_for(config, Arc::new(SystemClock), Purpose::Operate).await
    }

    async fn build_for(
        config: Config,
        clock: Arc<dyn Clock>,
        purpose: Purpose,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.server.data_dir).with_context(|| {
            format!(
                "cannot create data dir {}",
                config.server.data_dir.display()
            )
        })?;
        let options = docent_store::StoreOptions {
            vector_quantization: config.storage.vector_quantization,
        };
        let store = docent_store::open_with(&config.database(), options)
            .await
            .context("cannot open the database")?;
        let blob: Arc<dyn BlobStore> = Arc::new(
            ObjectBlobStore::open(config.storage.url.as_ref(), &config.server.data_dir)
                .context("cannot open the object storage")?,
        );
        let resolved = match purpose {
            Purpose::Serve => docent_llm::embed::resolve(&config.embedder, &model_source(&config))
                .await
                .context("cannot set up the embedder")?,
            Purpose::Operate => docent_llm::embed::Resolved {
                embedder: Arc::new(docent_llm::embed::HashEmbedder::new(8)),
                degraded: None,
            },
        };
        let embedder = resolved.embedder;
        if let Some(reason) = &resolved.degraded {
            // Knowledge embedded with a model is never re-embedded with the
            // fallback just because the model is missing at start.
            let embedded_otherwise = store
                .stale_documents(embedder.id(), 1)
                .await
                .context("cannot read the knowledge base")?;
            anyhow::ensure!(
                embedded_otherwise.is_empty(),
                "the knowledge base was embedded with a sentence embedding model, which is not available now: {reason}. \
                 Make it available (DOCENT_MODEL_SOURCE, DOCENT_EMBED_MODEL_DIR or `docent models pull`), \
                 or set DOCENT_EMBEDDER=hash to re-embed everything with the hashing fallback"
            );
            tracing::warn!(%reason, "embedder degraded: running on the hashing fallback");
        }
        if purpose == Purpose::Serve {
            store
                .prepare_vector_index(embedder.dims())
                .await
                .context("cannot prepare the vector index")?;
        }
        let llm: Option<Arc<dyn ChatModel>> = match &config.llm.base_url {
            Some(base_url) => Some(Arc::new(
                OpenAiChat::new(ChatSettings {
                    base_url: base_url.clone(),
                    api_key: config.llm.api_key.as_ref().map(|k| k.expose().to_string()),
                    model: config.llm.model.clone(),
                    first_token_timeout: Duration::from_secs(config.llm.timeout_secs),
                    idle_timeout: Duration::from_secs(config.llm.timeout_secs),
                })
                .map_err(|e| anyhow::anyhow!(e))
                .context("cannot set up the chat model")?,
            )),
            None => None,
        };
        let reranker: Option<Arc<dyn docent_core::rerank::Reranker>> = match &config.rerank.base_url
        {
            Some(base_url) => Some(Arc::new(
                docent_llm::rerank::ApiReranker::new(
                    base_url,
                    config
                        .rerank
                        .api_key
                        .as_ref()
                        .map(|k| k.expose().to_string()),
                    config
                        .rerank
                        .model
                        .clone()
                        .unwrap_or_else(|| "rerank".to_string()),
                )
                .map_err(|e| anyhow::anyhow!(e))
                .context("cannot set up the reranker")?,
            )),
            None => None,
        };
        tracing::info!(
            embedder = if purpose == Purpose::Serve { embedder.id() } else { "none (operator command)" },
            reranker = reranker.as_ref().map_or("none", |r| r.id()),
            llm = llm.as_ref().map_or("none (extractive answers)", |l| l.model()),
            storage = %blob.describe(),
            "components ready"
        );
        let jwt_secret = match &config.auth.jwt_secret {
            Some(secret) => secret.clone(),
            None => {
                let (secret, created) = load_or_create_secret(&config.server.data_dir)
                    .context("cannot read or create the JWT secret in the data dir")?;
                if created {
                    tracing::warn!(
                        path = %config.server.data_dir.join("jwt_secret").display(),
                        "DOCENT_JWT_SECRET is not set: generated a signing key in the data dir; \
                         set DOCENT_JWT_SECRET when running more than one API node"
                    );
                }
                secret
            }
        };
        let meter = Meter::new(store.clone(), config.plans.clone(), clock)
            .with_webhook_attempts(config.webhooks.max_attempts);
        let services = Services::new(Deps {
            store: store.clone(),
            blob: blob.clone(),
            embedder: embedder.clone(),
            llm: llm.clone(),
            reranker: reranker.clone(),
            jwt: JwtKeys::new(&jwt_secret),
            uploads: UploadSigner::new(&jwt_secret),
            settings: Settings {
                tokens: TokenSettings {
                    access_ttl_secs: config.auth.access_token_ttl_secs,
                    refresh_ttl_secs: config.auth.refresh_token_ttl_secs,
                },
                max_upload_bytes: config.storage.max_upload_bytes,
                upload_url_ttl_secs: config.storage.upload_url_ttl_secs,
                job_max_attempts: config.jobs.max_attempts,
                crawl_allow_private_networks: config.crawl.allow_private_networks,
                llm_answer_timeout: Duration::from_secs(config.llm.answer_timeout_secs),
                llm_max_tokens: config.llm.max_tokens,
                llm_allowed_models: config
                    .llm
                    .base_url
                    .as_ref()
                    .map(|_| config.llm.allowed_models()),
                admin_token: config.auth.admin_token.clone(),
                visitor_ip_per_minute: config.limits.visitor_ip_per_minute,
                default_plan: config.plans.default,
                webhook_max_attempts: config.webhooks.max_attempts,
                public_url: config.server.public_url.clone().unwrap_or_else(|| {
                    // A wildcard address is no place to send people to.
                    let listen = config.server.listen;
                    match listen.ip().is_unspecified() {
                        true => format!("http://localhost:{}", listen.port()),
                        false => format!("http://{listen}"),
                    }
                }),
            },
            mailer: mailer(&config)?,
            meter: meter.clone(),
        });
        let extract_program = match &config.ingest.extract_program {
            Some(program) => program.clone(),
            None => std::env::current_exe()
                .context("cannot find this program's path to run the extraction sandbox")?,
        };
        Ok(Self {
            config: Arc::new(config),
            store,
            blob,
            embedder,
            embedder_degraded: resolved.degraded,
            llm,
            services,
            meter,
            extract_program,
        })
    }

    /// A worker over these components, sharing `wake` with the API.
    pub fn worker(&self, wake: Arc<Notify>) -> Worker {
        let c = &self.config;
        let ctx = JobContext {
            store: self.store.clone(),
            blob: self.blob.clone(),
            embedder: self.embedder.clone(),
            settings: PipelineSettings {
                sandbox: docent_ingest::Sandbox::new(
                    self.extract_program.clone(),
                    docent_ingest::SandboxLimits {
                        memory_bytes: c.ingest.extract_memory_mb << 20,
                        timeout: Duration::from_secs(c.ingest.extract_timeout_secs),
                        ..Default::default()
                    },
                ),
                chunk_max_tokens: c.ingest.chunk_max_tokens,
                chunk_overlap_tokens: c.ingest.chunk_overlap_tokens,
                crawl_concurrency: c.crawl.concurrency,
                crawl_delay: Duration::from_millis(c.crawl.delay_ms),
                max_page_bytes: c.storage.max_upload_bytes as usize,
                job_max_attempts: c.jobs.max_attempts,
            },
            http: docent_service::pipeline::crawler_client(c.crawl.allow_private_networks),
            meter: self.meter.clone(),
            webhooks: docent_service::pipeline::WebhookDelivery {
                http: docent_service::pipeline::webhook_client(c.crawl.allow_private_networks),
                timeout: Duration::from_secs(c.webhooks.timeout_secs),
                disable_after: c.webhooks.disable_after,
            },
            webhook_max_attempts: c.webhooks.max_attempts,
        };
        Worker::new(
            ctx,
            WorkerSettings {
                concurrency: c.jobs.worker_concurrency,
                lease: Duration::from_secs(c.jobs.lease_secs),
                backoff_base: Duration::from_millis(c.jobs.backoff_base_ms),
                maintenance: docent_service::pipeline::MaintenanceSettings {
                    interval: Duration::from_secs(c.jobs.maintenance_interval_secs),
                    upload_expiry: Duration::from_secs(c.storage.upload_expiry_secs),
                },
                grace: Duration::from_secs(c.server.shutdown_grace_secs),
                ..WorkerSettings::default()
            },
            wake,
        )
    }
}

pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
    components: Components,
}

impl App {
    /// Opens the database (migrating it), storage and embedder, prepares
    /// secrets and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`App::build`], with another clock (tests of monthly periods).
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let listen = config.server.listen;
        let components = Components::build_with_clock(config, clock).await?;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let bound = listener
            .local_addr()
            .context("the listener has no address")?;
        let public_base = match &components.config.server.public_url {
            Some(url) => Some(url.trim_end_matches('/').to_string()),
            None if bound.ip().is_unspecified() => None,
            None => Some(format!("http://{bound}")),
        };
        let limiter = limiter(components.config.limits.redis_url.as_ref()).await?;
        let state = AppState {
            services: components.services.clone().with_limiter(limiter.clone()),
            config: components.config.clone(),
            metrics: docent_api::metrics_handle(),
            embedder: components.embedder.clone(),
            embedder_degraded: components.embedder_degraded.clone(),
            llm: components.llm.clone(),
            limiter,
            wake: Arc::new(Notify::new()),
            public_base,
            probes: Arc::default(),
        };
        let router = router(state.clone());
        Ok(App {
            listener,
            router,
            state,
            components,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Starts this process's workers, sharing the API's wake-up signal so a
    /// job enqueued here starts at once. They stop when `shutdown` resolves,
    /// after their current jobs.
    pub fn spawn_workers(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let worker = self.components.worker(self.state.wake.clone());
        tokio::spawn(worker.run(shutdown))
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish
    /// within the grace period (`DOCENT_SHUTDOWN_GRACE_SECS`); a request
    /// still open then (a long answer stream) is cut.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(addr = %self.local_addr(), "listening");
        let grace = Duration::from_secs(self.components.config.server.shutdown_grace_secs);
        let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
        let server = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping_tx.send(true);
        });
        let cut = async {
            let _ = stopping.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            served = server.into_future() => served,
            () = cut => {
                tracing::warn!(grace_secs = grace.as_secs(), "stopping: requests still open after the grace period were cut");
                Ok(())
            }
        }
    }
}

/// The rate limiter: shared through Redis when `DOCENT_REDIS_URL` is set (so
/// limits hold across API nodes), else in-process.
async fn limiter(redis_url: Option<&Secret>) -> anyhow::Result<Arc<dyn RateLimiter>> {
    if let Some(url) = redis_url {
        let shared = RedisRateLimiter::connect(url.expose()).await?;
        tracing::info!("rate limits shared through Redis");
        return Ok(Arc::new(shared));
    }
    let local = Arc::new(LocalRateLimiter::default());
    let pruned = Arc::downgrade(&local);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        while let Some(limiter) = {
            every.tick().await;
            pruned.upgrade()
        } {
            limiter.prune();
        }
    });
    Ok(local)
}

/// Resolves on SIGTERM or Ctrl-C. A second one then exits at once.
pub async fn shutdown_signal() {
    signal().await;
    tracing::info!(
        "shutdown signal received; finishing in-flight requests and jobs (a second signal stops at once)"
    );
    // Whoever signals twice wants out now: a job not handed back lapses and
    // runs again elsewhere, as after a crash.
    tokio::spawn(async {
        signal().await;
        tracing::warn!("second shutdown signal: stopping at once");
        std::process::exit(130);
    });
}

async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The SMTP server of `DOCENT_SMTP_URL`, or none (links are then not sent,
/// and the start log says so).
fn mailer(config: &Config) -> anyhow::Result<Arc<dyn docent_core::mail::Mailer>> {
    let mail = &config.mail;
    match (&mail.smtp_url, &mail.from) {
        (Some(url), Some(from)) => Ok(Arc::new(
            docent_service::mail::SmtpMailer::new(url.expose(), from)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        )),
        _ => {
            tracing::warn!(
                "no SMTP server is configured (DOCENT_SMTP_URL): verification, password \
                 reset and invitation emails are not sent"
            );
            Ok(Arc::new(docent_core::mail::NoMailer))
        }
    }
}
