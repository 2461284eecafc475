//! The `docent` binary as a user runs it: help, migrate, serve and a graceful
//! stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let mut child = docent()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("DOCENT_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        assert!(
            Instant::now() < deadline,
            "server did not report its address"
        );
        let line = lines.next().expect("server exited early").unwrap();
        let event: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("log line is not JSON: {line}"));
        if event["message"] == "listening" {
            break event["addr"].as_str().unwrap().to_string();
        }
    };
    let body = reqwest::blocking::get(format!("http://{addr}/api/v1/health"))
        .unwrap()
        .text()
        .unwrap();
    assert!(body.contains("\"ok\""), "{body}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit after SIGTERM: {exit:?}");
    assert!(
        dir.path().join("jwt_secret").exists(),
        "a signing key was generated"
    );
}
