//! The email flows against a real SMTP server on loopback (Python's
//! aiosmtpd from PyPI, with tests/mail/handler.py writing each message it
//! receives as JSON): a new account's verification link, password reset
//! (202 whether or not the address has an account; the link works once;
//! every session ends), and invitations (the invitee chooses a password
//! and is signed in with the role). `DOCENT_TEST_SMTP_PYTHON` names a
//! Python with aiosmtpd (scripts/test.sh installs it).

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

/// A real SMTP server, stopped when dropped.
struct Smtp {
    port: u16,
    dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl Smtp {
    async fn start() -> Option<Self> {
        let python = docent_testkit::backends::backend_url("DOCENT_TEST_SMTP_PYTHON")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let handlers = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/mail");
        let child = tokio::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "handler.JsonDir"])
            .arg(dir.path())
            .env("PYTHONPATH", handlers)
            .kill_on_drop(true)
            .spawn()
            .expect("aiosmtpd starts");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(Self {
                    port,
                    dir,
                    _child: child,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the SMTP server did not start");
    }

    fn read(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
        files
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// The messages received once there are `n` (10 s at most).
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..400 {
            let got = self.read();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "the SMTP server got {} messages, not {n}",
            self.read().len()
        );
    }
}

async fn app_with(smtp: &Smtp) -> TestApp {
    let port = smtp.port;
    spawn_app_with(move |c| {
        c.mail.smtp_url = Some(docent_core::config::Secret::new(format!(
            "smtp://127.0.0.1:{port}"
        )));
        c.mail.from = Some("Docent <no-reply@docent.test>".into());
        c.server.public_url = Some("https://docent.test".into());
    })
    .await
}

/// The `token` of the link a message carries to `page`, checked to be in
/// both bodies.
fn token_of(mail: &Value, page: &str) -> String {
    let text = mail["text"].as_str().unwrap();
    let prefix = format!("https://docent.test/app/{page}?token=");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no {page} link: {text}"))
        + prefix.len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    assert!(
        mail["html"]
            .as_str()
            .unwrap()
            .contains(&format!("{prefix}{token}"))
    );
    assert_eq!(mail["header_from"], "Docent <no-reply@docent.test>");
    token
}

async fn post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::POST, path, None, Some(body)).await
}

#[tokio::test]
async fn a_new_account_verifies_its_address_and_resets_a_forgotten_password() {
    let Some(smtp) = Smtp::start().await else {
        return;
    };
    let app = app_with(&smtp).await;
    let owner = app.signup("ann@acme.io").await;
    let welcome = smtp.wait_for(1).await;
    assert_eq!(welcome[0]["to"], json!(["ann@acme.io"]));
    let verify = token_of(&welcome[0], "verify");
    let (_, me) = app.get("/api/v1/auth/me", &owner.token).await;
    assert!(me["user"]["email_verified_at"].is_null(), "{me}");
    let (status, _) = post(&app, "/api/v1/auth/verify-email", json!({"token": verify})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, me) = app.get("/api/v1/auth/me", &owner.token).await;
    assert!(me["user"]["email_verified_at"].is_string(), "{me}");
    let (status, _) = post(&app, "/api/v1/auth/verify-email", json!({"token": verify})).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a link works once"
    );

    // A reset answers the same for an unknown address, and mails nothing.
    for email in ["ann@acme.io", "nobody@acme.io"] {
        let (status, body) =
            post(&app, "/api/v1/auth/password-reset", json!({"email": email})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{email}: {body}");
    }
    let got = smtp.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = if smtp.read().len() > got.len() {
        smtp.read()
    } else {
        got
    };
    assert_eq!(
        got.len(),
        2,
        "one reset mail, for the account only: {got:?}"
    );
    assert_eq!(got[1]["to"], json!(["ann@acme.io"]));
    let reset = token_of(&got[1], "reset");

    let (status, _) = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        json!({"token": reset, "password": "short"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        json!({"token": reset, "password": "a brand new secret"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Every session of the user ended; the new password signs in.
    let (status, _) = post(
        &app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": owner.refresh}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.login("ann@acme.io", "password123").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.login("ann@acme.io", "a brand new secret").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        json!({"token": reset, "password": "yet another secret"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reset link works once"
    );
    // Audited.
    let (_, login) = app.login("ann@acme.io", "a brand new secret").await;
    let token = login["access_token"].as_str().unwrap();
    for action in [
        "user.email_verify",
        "user.password_reset_request",
        "user.password_reset",
    ] {
        let (status, audit) = app
            .get(&format!("/api/v1/admin/audit-logs?action={action}"), token)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            audit["entries"].as_array().unwrap().len(),
            1,
            "{action}: {audit}"
        );
    }
}

#[tokio::test]
async fn an_invitation_makes_a_member_with_the_role_and_says_nothing_of_other_accounts() {
    let Some(smtp) = Smtp::start().await else {
        return;
    };
    let app = app_with(&smtp).await;
    let owner = app.signup("ann@acme.io").await;
    let other = app.signup("bob@globex.io").await;
    smtp.wait_for(2).await; // the two verification mails
    for email in ["new@acme.io", "bob@globex.io"] {
        let (status, body) = app
            .post(
                "/api/v1/invitations",
                &owner.token,
                json!({"email": email, "role": "editor"}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{email}: {body}");
    }
    let got = smtp.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        smtp.read().len(),
        3,
        "nothing is sent to an address with an account"
    );
    let invitation = &got[2];
    assert_eq!(invitation["to"], json!(["new@acme.io"]));
    assert!(
        invitation["subject"]
            .as_str()
            .unwrap()
            .contains("Org of ann@acme.io")
    );
    let token = token_of(invitation, "invitation");

    let (status, session) = post(
        &app,
        "/api/v1/invitations/accept",
        json!({"token": token, "password": "the invitee's own"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(session["user"]["role"], "editor");
    assert_eq!(session["tenant"]["id"], owner.id.as_str());
    assert!(session["user"]["email_verified_at"].is_string());
    let (status, _) = app.login("new@acme.io", "the invitee's own").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(
        &app,
        "/api/v1/invitations/accept",
        json!({"token": token, "password": "the invitee's own"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an invitation works once"
    );

    // An editor invites nobody; an admin grants no more than their role.
    let editor = session["access_token"].as_str().unwrap();
    let (status, _) = app
        .post(
            "/api/v1/invitations",
            editor,
            json!({"email": "x@acme.io", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin = app.user_with_role(&owner, "adm@acme.io", "admin").await;
    let (status, _) = app
        .post(
            "/api/v1/invitations",
            &admin,
            json!({"email": "y@acme.io", "role": "owner"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for action in ["invitation.create", "invitation.accept"] {
        let (_, audit) = app
            .get(
                &format!("/api/v1/admin/audit-logs?action={action}"),
                &owner.token,
            )
            .await;
        assert!(
            !audit["entries"].as_array().unwrap().is_empty(),
            "{action}: {audit}"
        );
    }
    // The other tenant never saw any of it.
    let (_, users) = app.get("/api/v1/users", &other.token).await;
    assert_eq!(users["users"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn without_smtp_the_flows_answer_the_same_and_send_nothing() {
    let app = spawn_app_with(|_| {}).await;
    app.signup("ann@acme.io").await;
    let (status, _) = post(
        &app,
        "/api/v1/auth/password-reset",
        json!({"email": "ann@acme.io"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        json!({"token": "eml_guess", "password": "a brand new secret"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid, used or expired")
    );
    let (status, _) = post(
        &app,
        "/api/v1/auth/password-reset",
        json!({"email": "not an address"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
