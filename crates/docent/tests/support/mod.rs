//! Starting the real `docent` binary on a data dir and talking to it.

#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Server {
    pub child: Child,
    /// `http://ADDR/api/v1`.
    pub base: String,
    /// `http://ADDR`.
    pub origin: String,
    /// Its log lines (JSON), as they come.
    pub log: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `docent serve` on a random loopback port with only the given
    /// `DOCENT_*` settings (the caller's own are removed).
    pub fn start(data: &std::path::Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_docent"));
        for (key, _) in std::env::vars() {
            if key.starts_with("DOCENT_") {
                cmd.env_remove(key);
            }
        }
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .env("DOCENT_LOG_FORMAT", "json")
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        // Read on a thread of its own, so the server never blocks on a full
        // pipe and the test can look at what it logged.
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let addr = loop {
            let line = log
                .recv_timeout(Duration::from_secs(30))
                .expect("the server reports its address");
            let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if event["message"] == "listening" {
                break event["addr"].as_str().unwrap().to_string();
            }
        };
        Server {
            child,
            base: format!("http://{addr}/api/v1"),
            origin: format!("http://{addr}"),
            log,
        }
    }

    /// Sends a signal (`TERM`, `INT`) to the server.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `within`.
    pub fn exit_within(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no shutdown, no cleanup.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Peak resident memory of the server process (not its children), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> Value {
    let mut req = client.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap().json().await.unwrap()
}

pub async fn job(client: &reqwest::Client, server: &Server, token: &str, id: &str) -> Value {
    call(
        client,
        reqwest::Method::GET,
        format!("{}/jobs/{id}", server.base),
        Some(token),
        None,
    )
    .await
}

/// `GET /docs/{id}`: the document and its chunks.
pub async fn document(client: &reqwest::Client, server: &Server, token: &str, id: &str) -> Value {
    call(
        client,
        reqwest::Method::GET,
        format!("{}/docs/{id}", server.base),
        Some(token),
        None,
    )
    .await
}

/// Signs a tenant up and creates a bot; returns (access token, bot id).
pub async fn tenant_with_bot(client: &reqwest::Client, server: &Server) -> (String, String) {
    let signup = call(
        client,
        reqwest::Method::POST,
        format!("{}/tenants", server.base),
        None,
        Some(
            serde_json::json!({"name": "Acme", "email": "ann@acme.io", "password": "password123"}),
        ),
    )
    .await;
    let token = signup["access_token"].as_str().unwrap().to_string();
    let bot = call(
        client,
        reqwest::Method::POST,
        format!("{}/bots", server.base),
        Some(&token),
        Some(serde_json::json!({"name": "B"})),
    )
    .await;
    (token, bot["id"].as_str().unwrap().to_string())
}

/// Polls a job until it succeeds or fails.
pub async fn finished_job(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    id: &str,
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let j = job(client, server, token, id).await;
        if j["status"] == "succeeded" || j["status"] == "failed" {
            return j;
        }
        assert!(Instant::now() < deadline, "job did not finish: {j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
