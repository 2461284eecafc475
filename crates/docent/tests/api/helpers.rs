use std::net::SocketAddr;
use std::sync::Arc;

use docent::startup::App;
use docent_core::config::{Config, DatabaseUrl, RateLimits, Secret, StorageUrl};
use docent_core::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// The address `client` connects from: 127.0.0.1, or on the scale-out
    /// run a loopback address of this app's own, so that limits keyed on the
    /// client's address (shared through Redis) do not mix concurrent tests.
    pub client_ip: std::net::IpAddr,
    /// The database the app runs on (`sqlite://…` or `postgres://…`).
    pub database_url: String,
    /// Set by tests that make jobs fail on purpose (see the `Drop` check).
    failures_expected: std::sync::atomic::AtomicBool,
    pub store: Arc<dyn Store>,
    stop: tokio::sync::watch::Sender<bool>,
    workers: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    _dir: Option<tempfile::TempDir>,
}

pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret";

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut app = spawn_app_at(dir.path(), tweak).await;
    app._dir = Some(dir);
    app
}

/// A server whose clock the test moves (monthly usage periods).
pub async fn spawn_app_with_clock(
    tweak: impl FnOnce(&mut Config),
    clock: Arc<dyn docent_core::clock::Clock>,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut app = spawn(dir.path(), tweak, clock).await;
    app._dir = Some(dir);
    app
}

/// A server over an existing data dir (to restart on the same data).
pub async fn spawn_app_at(data_dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn(data_dir, tweak, Arc::new(docent_core::clock::SystemClock)).await
}

async fn spawn(
    data_dir: &std::path::Path,
    tweak: impl FnOnce(&mut Config),
    clock: Arc<dyn docent_core::clock::Clock>,
) -> TestApp {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.server.data_dir = data_dir.to_path_buf();
    config.auth.jwt_secret = Some(Secret::new(TEST_SECRET));
    config.embedder.kind = Some(docent_core::config::EmbedderKind::Hash);
    config.jobs.backoff_base_ms = 20;
    config.ingest.extract_program = Some(docent_testkit::docent_binary());
    // The test sites listen on loopback; the network guard has its own tests.
    config.crawl.allow_private_networks = true;
    // Tests poll and sign in far more often than people do; the limits have
    // their own test.
    config.limits = RateLimits {
        sign_in_per_minute: 100_000,
        credential_per_minute: 100_000,
        ip_per_minute: 100_000,
        widget_token_per_minute: 100_000,
        visitor_ip_per_minute: 100_000,
        redis_url: None,
    };
    tweak(&mut config);
    scale_out(&mut config).await;
    let database_url = config.database().url();
    let app = App::build_with_clock(config, clock)
        .await
        .expect("app builds");
    let addr = app.local_addr();
    let store = app.state().store().clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut rx = stopped.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let workers = app.spawn_workers(until_stopped());
    tokio::spawn(app.run(until_stopped()));
    static APPS: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
    let client_ip = if scaled_out() {
        let n = APPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 250;
        std::net::IpAddr::from([127, 0, 0, 2 + n])
    } else {
        std::net::IpAddr::from([127, 0, 0, 1])
    };
    TestApp {
        addr,
        client_ip,
        database_url,
        client: reqwest::Client::builder()
            .user_agent("docent-tests/1")
            .local_address(client_ip)
            .build()
            .unwrap(),
        store,
        stop,
        workers: tokio::sync::Mutex::new(Some(workers)),
        failures_expected: std::sync::atomic::AtomicBool::new(false),
        _dir: None,
    }
}

/// A test that leaves work behind proves less than it seems: when it ends,
/// no job of its app may still be queued or running (wait for them, e.g.
/// with `wait_job`), and none may have failed unless the test said it
/// expects failures. Checked over a connection of its own, on a thread of
/// its own (`Drop` cannot await the test's runtime).
impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let url = self.database_url.clone();
        let (pending, failed) = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(leftover_jobs(&url))
        })
        .join()
        .unwrap();
        let report = std::env::var("DOCENT_TEST_JOB_CHECK").as_deref() == Ok("report");
        let failures_expected = self
            .failures_expected
            .load(std::sync::atomic::Ordering::Relaxed);
        let complaint = if !pending.is_empty() {
            Some(format!("the test left jobs queued or running: {pending:?}"))
        } else if !failed.is_empty() && !failures_expected {
            Some(format!(
                "jobs failed that the test did not expect to: {failed:?}"
            ))
        } else {
            None
        };
        if let Some(complaint) = complaint {
            if report {
                let test = std::thread::current().name().unwrap_or("?").to_string();
                eprintln!("JOB CHECK {test}: {complaint}");
            } else {
                panic!("{complaint}");
            }
        }
    }
}

/// The app's jobs still queued or running, and those that failed (kind and error).
async fn leftover_jobs(url: &str) -> (Vec<String>, Vec<String>) {
    const SQL: &str = "SELECT kind, status, coalesce(error, '') FROM jobs
                       WHERE status IN ('queued', 'running', 'failed')";
    let rows: Vec<(String, String, String)> = if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    } else {
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        sqlx::query_as(SQL).fetch_all(&mut conn).await.unwrap()
    };
    let (failed, pending): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, s, _)| s == "failed");
    let show = |rows: Vec<(String, String, String)>| {
        rows.into_iter()
            .map(|(kind, status, error)| format!("{kind} {status} {error}").trim_end().to_string())
            .collect()
    };
    (show(pending), show(failed))
}

/// With `DOCENT_TEST_HTTP_BACKENDS=scale-out` (the test command's second run
/// of this suite) every app runs on PostgreSQL, Redis and S3 instead of the
/// embedded default (where the test did not choose one itself): one
/// database per data dir, so a restart on the same dir finds its data;
/// Redis's database 1, emptied once per run, so no limit carries over from
/// an earlier run.
pub async fn scale_out(config: &mut Config) {
    use docent_testkit::backends::{backend_url, postgres_database};
    if !scaled_out() {
        return;
    }
    let need = |var| backend_url(var).unwrap_or_else(|| panic!("the scale-out run needs {var}"));
    let hash = config
        .server
        .data_dir
        .to_string_lossy()
        .bytes()
        .fold(0xcbf29ce484222325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        });
    let name = format!("docent_http_{hash:016x}");
    if config.storage.database_url.is_none() {
        let server = need("DOCENT_TEST_POSTGRES_URL");
        let url = postgres_database(&server, &name, false).await;
        config.storage.database_url = Some(DatabaseUrl::Postgres(url));
    }
    if config.storage.url.is_none() {
        config.storage.url = Some(StorageUrl::parse(&need("DOCENT_TEST_S3_URL")).unwrap());
    }
    if config.limits.redis_url.is_some() {
        return;
    }
    let redis = format!("{}/1", need("DOCENT_TEST_REDIS_URL").trim_end_matches('/'));
    static FLUSHED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    FLUSHED
        .get_or_init(|| async {
            let client = redis::Client::open(redis.as_str()).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let () = redis::cmd("FLUSHDB").query_async(&mut conn).await.unwrap();
        })
        .await;
    config.limits.redis_url = Some(Secret::new(redis));
}

/// Whether this run of the suite is on the scale-out backends.
pub fn scaled_out() -> bool {
    std::env::var("DOCENT_TEST_HTTP_BACKENDS").as_deref() == Ok("scale-out")
}

/// For the few tests about the embedded backend itself (its files on disk):
/// true, after saying so, when they do not apply to this run.
pub fn skip_unless_embedded(test: &str) -> bool {
    if scaled_out() {
        eprintln!("skipped on the scale-out backends: {test} is about the embedded default");
    }
    scaled_out()
}

/// A tenant signed up through the API, with its owner's credentials.
pub struct Tenant {
    pub id: String,
    pub user_id: String,
    pub token: String,
    pub refresh: String,
}

impl TestApp {
    /// Waits until none of the app's jobs is queued or running.
    pub async fn wait_idle(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let depth = self.store.queue_depth().await.unwrap();
            if depth.queued == 0 && depth.running == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "jobs still pending: {depth:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Declares that this test makes jobs fail on purpose.
    pub fn expect_failed_jobs(&self) {
        self.failures_expected
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stops the server and waits for its workers to finish.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        if let Some(workers) = self.workers.lock().await.take() {
            let _ = workers.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with an optional bearer token and JSON body; returns the
    /// status and the parsed body (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request is sent");
        let status = res.status();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body {status}: {text}"))
        };
        (status, body)
    }

    /// A GET without credentials.
    pub async fn get_public(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, None).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    pub async fn signup(&self, email: &str) -> Tenant {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/tenants",
                None,
                Some(json!({"name": format!("Org of {email}"), "email": email, "password": "password123"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Tenant {
            id: body["tenant"]["id"].as_str().unwrap().into(),
            user_id: body["user"]["id"].as_str().unwrap().into(),
            token: body["access_token"].as_str().unwrap().into(),
            refresh: body["refresh_token"].as_str().unwrap().into(),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    /// Adds a user with `role` to the owner's tenant and returns their access token.
    pub async fn user_with_role(&self, owner: &Tenant, email: &str, role: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/users",
                &owner.token,
                json!({"email": email, "password": "password123", "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = self.login(email, "password123").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().into()
    }

    pub async fn create_bot(&self, token: &str, name: &str) -> String {
        let (status, body) = self
            .post("/api/v1/bots", token, json!({"name": name}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().into()
    }

    /// Polls a job until it finishes (succeeded or failed), failing the test
    /// after a generous deadline. Returns the job's final JSON.
    pub async fn wait_job(&self, token: &str, job_id: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let (status, job) = self.get(&format!("/api/v1/jobs/{job_id}"), token).await;
            assert_eq!(status, StatusCode::OK, "{job}");
            if job["status"] == "succeeded" || job["status"] == "failed" {
                return job;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "job did not finish: {job}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Posts a text document and waits for its ingestion.
    pub async fn add_text(
        &self,
        token: &str,
        bot: &str,
        title: &str,
        text: &str,
    ) -> (String, Value) {
        let (status, body) = self
            .post(
                "/api/v1/docs",
                token,
                json!({"bot_id": bot, "title": title, "text": text}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let job = self.wait_job(token, body["job_id"].as_str().unwrap()).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        (body["document"]["id"].as_str().unwrap().to_string(), job)
    }

    pub async fn upload(
        &self,
        token: &str,
        bot: &str,
        filename: &str,
        bytes: Vec<u8>,
    ) -> (StatusCode, Value) {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string());
        let form = reqwest::multipart::Form::new().part("file", part);
        let res = self
            .client
            .post(self.url(&format!("/api/v1/bots/{bot}/files")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn api_key(&self, token: &str, role: &str) -> (String, String) {
        let (status, body) = self
            .post(
                "/api/v1/api-keys",
                token,
                json!({"name": "ci", "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["id"].as_str().unwrap().into(),
            body["key"].as_str().unwrap().into(),
        )
    }
}

/// Asserts the contract's error body: the code, a message, and the request id
/// that the response header also carries.
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}
