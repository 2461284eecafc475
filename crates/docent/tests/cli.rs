//! The `docent` binary as a user and an operator run it: help, migrate,
//! configuration errors, logs, the operator commands, serve and its stop
//! (grace period, a second signal, a crawl resumed after a crash).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::Server;

mod support;

fn docent() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_docent"));
    // Tests must not pick up a developer's environment or docent.toml.
    for (key, _) in std::env::vars() {
        if key.starts_with("DOCENT_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

#[test]
fn help_explains_the_subcommands_and_flags() {
    let out = docent().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for word in ["serve", "migrate", "DOCENT_"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    let out = docent().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in ["--listen", "--data-dir", "127.0.0.1:8080", "./data"] {
        assert!(help.contains(flag), "serve --help lacks {flag}:\n{help}");
    }
    // The operator commands explain themselves too.
    for (args, words) in [
        (
            &["tenants", "--help"][..],
            &["list", "create", "set-plan"][..],
        ),
        (
            &["tenants", "create", "--help"],
            &["--name", "--email", "--password-stdin", "--plan"],
        ),
        (
            &["keys", "create", "--help"],
            &["--tenant", "--name", "--role"],
        ),
        (&["status", "--help"], &["job queue", "--data-dir"]),
    ] {
        let out = docent().args(args).output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        for word in words {
            assert!(help.contains(word), "{args:?} lacks {word}:\n{help}");
        }
    }
}

#[test]
fn migrate_creates_the_database_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = docent()
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("docent.db").exists());
    // Running it again is a no-op.
    let again = docent()
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(again.status.success());
}

#[test]
fn invalid_configuration_is_refused_with_the_setting_named() {
    let out = docent()
        .args(["migrate"])
        .env("DOCENT_JWT_SECRET", "too-short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DOCENT_JWT_SECRET"), "{err}");

    // Values parsed into types are refused while the configuration is read,
    // under their variable's name.
    for (var, value, reason) in [
        ("DOCENT_DATABASE_URL", "mysql://db/docent", "sqlite://PATH"),
        ("DOCENT_STORAGE_URL", "ftp://files", "file://DIR"),
        ("DOCENT_EMBEDDER", "onnx", "hash"),
        ("DOCENT_CRAWL_DELAY_MS", "soon", "DOCENT_CRAWL_DELAY_MS"),
    ] {
        let out = docent().args(["migrate"]).env(var, value).output().unwrap();
        assert!(!out.status.success(), "{var}={value} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(var) && err.contains(reason), "{err}");
    }

    let out = docent()
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn serve_answers_then_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[("DOCENT_EMBEDDER", "hash")]);
    let body = reqwest::blocking::get(format!("{}/health", server.base))
        .unwrap()
        .text()
        .unwrap();
    assert!(body.contains("\"ok\""), "{body}");
    server.signal("TERM");
    let exit = server.exit_within(Duration::from_secs(30));
    assert!(exit.success(), "exit after SIGTERM: {exit:?}");
    assert!(
        dir.path().join("jwt_secret").exists(),
        "a signing key was generated"
    );
}

/// Text logs written anywhere but a terminal carry no colour codes.
#[test]
fn logs_to_a_pipe_are_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let out = docent()
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .env("DOCENT_LOG_FORMAT", "text")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("migrations applied"), "{err}");
    assert!(!err.contains('\u{1b}'), "escape codes in {err:?}");
}

/// Blocking calls to a server, for these synchronous tests.
fn get(server: &Server, token: &str, path: &str) -> serde_json::Value {
    let response = reqwest::blocking::Client::new()
        .get(format!("{}{path}", server.origin))
        .bearer_auth(token)
        .send();
    response.unwrap().json().unwrap()
}

fn post(server: &Server, token: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    let response = reqwest::blocking::Client::new()
        .post(format!("{}{path}", server.origin))
        .bearer_auth(token)
        .json(&body)
        .send();
    response.unwrap().json().unwrap()
}

/// Signs a tenant up; returns its owner's access token.
fn signup(server: &Server, email: &str) -> String {
    let body = serde_json::json!({"name": "Acme", "email": email, "password": "correct horse"});
    let session = post(server, "", "/api/v1/tenants", body);
    session["access_token"].as_str().unwrap().to_string()
}

/// Creates a bot and starts a crawl of `site`; returns the bot and the job.
fn crawl(server: &Server, token: &str, site: &str, max_depth: u32) -> (String, String) {
    let bot = post(
        server,
        token,
        "/api/v1/bots",
        serde_json::json!({"name": "Site"}),
    );
    let bot = bot["id"].as_str().unwrap().to_string();
    let body = serde_json::json!({"url": site, "max_pages": 10, "max_depth": max_depth});
    let crawl = post(server, token, &format!("/api/v1/bots/{bot}/crawl"), body);
    (bot, crawl["job_id"].as_str().unwrap().to_string())
}

/// Polls the job until `done` holds of its status.
fn wait_job(
    server: &Server,
    token: &str,
    job: &str,
    done: impl Fn(&str) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = get(server, token, &format!("/api/v1/jobs/{job}"));
        if done(status["status"].as_str().unwrap_or_default()) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the job did not get there: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs an operator command over `dir`; returns what it printed.
fn operate(dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = docent()
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("DOCENT_EMBEDDER", "hash")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "docent {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The operator's tasks without curl: create a tenant with its owner, list
/// tenants, change a plan, create a key that the API then accepts, and see
/// what the instance runs.
#[test]
fn operator_commands_manage_tenants_keys_and_report_status() {
    let dir = tempfile::tempdir().unwrap();
    let create = [
        "tenants",
        "create",
        "--name",
        "Acme",
        "--email",
        "ops@acme.io",
        "--password-stdin",
    ];
    let created = operate(dir.path(), &create, Some("correct horse battery\n"));
    assert!(
        created.contains("plan free") && created.contains("ops@acme.io"),
        "{created}"
    );
    let tenant = created.split_whitespace().nth(2).unwrap().to_string();

    let listed = operate(dir.path(), &["tenants", "list"], None);
    let line = listed.lines().find(|l| l.starts_with(&tenant)).unwrap();
    assert!(line.contains("free") && line.ends_with("Acme"), "{listed}");

    let moved = operate(
        dir.path(),
        &["tenants", "set-plan", &tenant, "enterprise"],
        None,
    );
    assert!(moved.contains("enterprise"), "{moved}");
    let listed = operate(dir.path(), &["tenants", "list"], None);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&tenant) && l.contains("enterprise"))
    );

    let create_key = [
        "keys", "create", "--tenant", &tenant, "--name", "deploy", "--role", "admin",
    ];
    let key = operate(dir.path(), &create_key, None).trim().to_string();
    assert!(key.starts_with("dct_"), "{key}");

    let status = operate(dir.path(), &["status"], None);
    for expected in [
        "database  SQLite",
        "embedder  hash",
        "llm       none",
        "jobs      0 queued",
        "tenants   1",
    ] {
        assert!(status.contains(expected), "{expected} not in:\n{status}");
    }

    // Bad input is refused with a reason.
    let out = docent()
        .args(["tenants", "set-plan", &tenant, "gold", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("free, pro or enterprise"));

    // The key works against the API of a server on the same data.
    let server = Server::start(dir.path(), &[("DOCENT_EMBEDDER", "hash")]);
    let me = get(&server, &key, "/api/v1/auth/me");
    assert_eq!(me["tenant"]["id"], tenant.as_str(), "{me}");
    assert_eq!(me["tenant"]["plan"], "enterprise");
}

/// A site for crawls: `/` links to `/a` and `/b`; `/b` answers only once
/// released (never, unless the test releases it). Counts the start page's
/// fetches.
struct Site {
    url: String,
    released: Arc<AtomicBool>,
    home_hits: Arc<AtomicUsize>,
}

impl Site {
    fn start() -> Self {
        let released = Arc::new(AtomicBool::new(false));
        let home_hits = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let (held, hits) = (released.clone(), home_hits.clone());
        std::thread::spawn(move || {
            let page = |body: &'static str| {
                axum::response::Html(format!("<html><body><main>{body}</main></body></html>"))
            };
            let app = axum::Router::new()
                .route(
                    "/",
                    axum::routing::get(move || async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                        page(r#"<p>Home of Acme.</p><a href="/a">A</a> <a href="/b">B</a>"#)
                    }),
                )
                .route(
                    "/a",
                    axum::routing::get(move || async move { page("<p>Page a.</p>") }),
                )
                .route(
                    "/b",
                    axum::routing::get(move || async move {
                        while !held.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        page("<p>Page b.</p>")
                    }),
                );
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    tx.send(format!("http://{}/", listener.local_addr().unwrap()))
                        .unwrap();
                    axum::serve(listener, app).await.unwrap();
                });
        });
        Self {
            url: rx.recv().unwrap(),
            released,
            home_hits,
        }
    }
}

/// On SIGTERM a job still running after the grace period goes back to the
/// queue, its attempt not counted, and the server says so and exits.
#[test]
fn a_stop_hands_running_jobs_back_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::start();
    let env = [
        ("DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS", "true"),
        ("DOCENT_SHUTDOWN_GRACE_SECS", "1"),
    ];
    let mut server = Server::start(dir.path(), &env);
    let token = signup(&server, "stop@acme.io");
    let (_, job) = crawl(&server, &token, &format!("{}b", site.url), 0);
    wait_job(&server, &token, &job, |s| s == "running");
    server.signal("TERM");
    let exit = server.exit_within(Duration::from_secs(20));
    assert!(exit.success(), "{exit:?}");
    let lines: Vec<String> = server.log.try_iter().collect();
    for said in [
        "stopping: waiting for running jobs",
        "stopping: job handed back to the queue",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(said)),
            "no `{said}` in {lines:#?}"
        );
    }
    let db = format!("sqlite://{}", dir.path().join("docent.db").display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, attempts): (String, i64) = runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
        sqlx::query_as("SELECT status, attempts FROM jobs WHERE id = $1")
            .bind(&job)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    });
    assert_eq!((status.as_str(), attempts), ("queued", 0));
}

/// A second signal does not wait for the grace period.
#[test]
fn a_second_signal_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::start();
    let env = [
        ("DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS", "true"),
        ("DOCENT_SHUTDOWN_GRACE_SECS", "600"),
    ];
    let mut server = Server::start(dir.path(), &env);
    let token = signup(&server, "twice@acme.io");
    let (_, job) = crawl(&server, &token, &format!("{}b", site.url), 0);
    wait_job(&server, &token, &job, |s| s == "running");
    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "it waits for its running job"
    );
    server.signal("INT");
    assert_eq!(
        server.exit_within(Duration::from_secs(10)).code(),
        Some(130)
    );
}

/// A crawl whose server was killed goes on, after a restart, from its last
/// checkpoint: the start page is not fetched again, and no page is stored
/// twice.
#[test]
fn a_crawl_killed_midway_resumes_from_its_checkpoint() {
    let site = Site::start();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("DOCENT_EMBEDDER", "hash"),
        ("DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS", "true"),
        ("DOCENT_CRAWL_DELAY_MS", "0"),
        ("DOCENT_JOB_LEASE_SECS", "2"),
    ];
    let first = Server::start(dir.path(), &env);
    let token = signup(&first, "crash@acme.io");
    let (bot, job) = crawl(&first, &token, &site.url, 1);
    let documents = |server: &Server| -> Vec<String> {
        let list = get(server, &token, &format!("/api/v1/docs?bot_id={bot}"));
        let mut urls: Vec<String> = list["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["source_url"].as_str().unwrap().to_string())
            .collect();
        urls.sort();
        urls
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while documents(&first).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the crawl did not store its first pages"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(first); // killed, mid-crawl (waiting on /b)

    site.released.store(true, Ordering::SeqCst);
    let second = Server::start(dir.path(), &env);
    let status = wait_job(&second, &token, &job, |s| s == "succeeded" || s == "failed");
    assert_eq!(status["status"], "succeeded", "{status}");
    let url = &site.url;
    assert_eq!(
        documents(&second),
        [url.clone(), format!("{url}a"), format!("{url}b")]
    );
    assert_eq!(
        site.home_hits.load(Ordering::SeqCst),
        1,
        "the start page was fetched again"
    );
}

/// On a stop, a request still open when the grace period ends (an answer
/// stream whose model went silent) is cut, so the server exits in bounded
/// time and says so.
#[test]
fn a_stop_cuts_requests_still_open_after_the_grace_period() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let script = docent_testkit::Script {
                    stall_after: Some(1),
                    ..Default::default()
                };
                tx.send(docent_testkit::FakeOpenAi::start_with(script).await)
                    .unwrap();
                std::future::pending::<()>().await
            });
    });
    let model = rx.recv().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base_url = model.base_url();
    let env = [
        ("DOCENT_EMBEDDER", "hash"),
        ("DOCENT_LLM_BASE_URL", base_url.as_str()),
        ("DOCENT_LLM_TIMEOUT_SECS", "600"),
        ("DOCENT_SHUTDOWN_GRACE_SECS", "1"),
    ];
    let mut server = Server::start(dir.path(), &env);
    let token = signup(&server, "cut@acme.io");
    let bot = post(
        &server,
        &token,
        "/api/v1/bots",
        serde_json::json!({"name": "B"}),
    );
    let bot = bot["id"].as_str().unwrap().to_string();
    let text = serde_json::json!({"bot_id": bot, "title": "Refunds",
        "text": "Refunds are granted within 30 days of purchase."});
    let added = post(&server, &token, "/api/v1/docs", text);
    wait_job(&server, &token, added["job_id"].as_str().unwrap(), |s| {
        s == "succeeded"
    });

    let url = format!("{}/chat", server.base);
    let (token2, bot2) = (token.clone(), bot.clone());
    std::thread::spawn(move || {
        let response = reqwest::blocking::Client::new()
            .post(url)
            .bearer_auth(token2)
            .json(&serde_json::json!({"bot_id": bot2, "message": "How many days for a refund?", "stream": true}))
            .send();
        let _ = response.and_then(|r| r.text());
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while model.requests() == 0 {
        assert!(Instant::now() < deadline, "the answer did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    server.signal("TERM");
    let exit = server.exit_within(Duration::from_secs(15));
    assert!(exit.success(), "{exit:?}");
    let lines: Vec<String> = server.log.try_iter().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("requests still open after the grace period were cut")),
        "{lines:#?}"
    );
}
