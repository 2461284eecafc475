//! The console's sessions and guards over real HTTP, as a browser speaks it
//! (cookies kept by hand): sign-in through the form, an expired access
//! cookie renewed by the refresh rotation, forged requests refused, and
//! another tenant's bots and documents out of reach. The pages themselves
//! are driven in Chromium by tests/e2e/console.test.mjs.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};

use crate::helpers::{TestApp, spawn_app_with};

/// A browser's view of the console: its cookies, and requests from the
/// console's own origin unless told otherwise.
struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(app.client_ip)
            .build()
            .unwrap();
        Self {
            app,
            http,
            cookies: HashMap::new(),
        }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.app.addr)
    }

    fn keep(&mut self, res: &reqwest::Response) {
        for value in res.headers().get_all(SET_COOKIE) {
            let value = value.to_str().unwrap();
            let (pair, attrs) = value.split_once(';').unwrap_or((value, ""));
            let (name, v) = pair.split_once('=').unwrap();
            assert!(attrs.contains("HttpOnly"), "{value}");
            assert!(attrs.contains("SameSite=Strict"), "{value}");
            assert!(attrs.contains("Path=/app"), "{value}");
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), v.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String, Option<String>) {
        let res = self
            .http
            .get(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.answer(res).await
    }

    async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (StatusCode, String, Option<String>) {
        let mut req = self
            .http
            .post(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            );
        if let Some(origin) = origin {
            req = req.header(ORIGIN, origin);
        }
        let res = req.send().await.unwrap();
        self.answer(res).await
    }

    async fn answer(&mut self, res: reqwest::Response) -> (StatusCode, String, Option<String>) {
        self.keep(&res);
        let status = res.status();
        let location = res
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        (status, res.text().await.unwrap(), location)
    }

    fn csrf(&self) -> String {
        self.cookies["docent_csrf"].clone()
    }

    /// Signs up through the form; the browser is then signed in.
    async fn sign_up(&mut self, org: &str, email: &str) {
        let (status, _, _) = self.get("/app/signup").await;
        assert_eq!(status, StatusCode::OK);
        let csrf = self.csrf();
        let origin = self.origin();
        let form = [
            ("csrf", csrf.as_str()),
            ("name", org),
            ("email", email),
            ("password", "correct horse battery"),
        ];
        let (status, body, location) = self.post("/app/signup", &form, Some(&origin)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        assert_eq!(location.as_deref(), Some("/app/bots"));
        assert!(self.cookies.contains_key("docent_access"));
    }

    /// Signs in through the form.
    async fn sign_in(&mut self, email: &str, password: &str) -> StatusCode {
        self.get("/app/login").await;
        let csrf = self.csrf();
        let origin = self.origin();
        let form = [
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
        ];
        self.post("/app/login", &form, Some(&origin)).await.0
    }

    /// A signed-up tenant's browser with one bot holding one ingested text.
    async fn with_bot_and_text(app: &'a TestApp, email: &str, text: &str) -> (Self, String) {
        let mut browser = Self::new(app);
        browser.sign_up("Acme", email).await;
        let bot = browser.create_bot("Acme Help").await;
        let csrf = browser.csrf();
        let origin = browser.origin();
        let form = [
            ("csrf", csrf.as_str()),
            ("title", "Refunds"),
            ("text", text),
        ];
        let (status, _, _) = browser
            .post(&format!("/app/bots/{bot}/texts"), &form, Some(&origin))
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        app.wait_idle().await;
        (browser, bot)
    }

    async fn create_bot(&mut self, name: &str) -> String {
        let csrf = self.csrf();
        let origin = self.origin();
        let form = [("csrf", csrf.as_str()), ("name", name)];
        let (status, body, location) = self.post("/app/bots", &form, Some(&origin)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        location
            .unwrap()
            .trim_start_matches("/app/bots/")
            .to_string()
    }
}

#[tokio::test]
async fn an_expired_console_session_is_renewed_by_its_refresh_cookie_once() {
    let app = spawn_app_with(|c| c.auth.access_token_ttl_secs = 1).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("Acme", "ann@acme.io").await;
    let (status, body, _) = browser.get("/app/bots").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("No bot yet."), "{body}");

    // The access cookie expires; the next page renews both cookies.
    let old_access = browser.cookies["docent_access"].clone();
    let old_refresh = browser.cookies["docent_refresh"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body, _) = browser.get("/app/bots").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(browser.cookies["docent_access"], old_access);
    assert_ne!(browser.cookies["docent_refresh"], old_refresh);

    // A stolen copy of the old refresh cookie, presented after the rotation,
    // revokes the whole login: both sessions must sign in again.
    let mut thief = Browser::new(&app);
    thief.cookies.insert("docent_refresh".into(), old_refresh);
    let (status, _, location) = thief.get("/app/bots").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/app/login"));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, location) = browser.get("/app/bots").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/app/login"));
    assert!(!browser.cookies.contains_key("docent_refresh"));
}

#[tokio::test]
async fn forged_console_requests_are_refused() {
    let app = spawn_app_with(|_| {}).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("Acme", "ann@acme.io").await;
    let csrf = browser.csrf();
    let origin = browser.origin();

    // Another site's page, even with the cookies and the token: refused.
    let form = [("csrf", csrf.as_str()), ("name", "Evil")];
    let (status, body, _) = browser
        .post("/app/bots", &form, Some("https://evil.example"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    // No origin at all: refused too.
    let (status, _, _) = browser.post("/app/bots", &form, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The right origin with a wrong token: refused.
    let bad = [("csrf", "csrf_guess"), ("name", "Evil")];
    let (status, _, _) = browser.post("/app/bots", &bad, Some(&origin)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A login form without the token: refused, and nothing is counted.
    let mut stranger = Browser::new(&app);
    let form = [
        ("email", "ann@acme.io"),
        ("password", "correct horse battery"),
    ];
    let (status, _, _) = stranger.post("/app/login", &form, Some(&origin)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!stranger.cookies.contains_key("docent_access"));

    // Nothing was created.
    let (_, body, _) = browser.get("/app/bots").await;
    assert!(body.contains("No bot yet."), "{body}");
}

#[tokio::test]
async fn another_tenants_bots_and_documents_are_out_of_the_consoles_reach() {
    let app = spawn_app_with(|_| {}).await;
    let (mut ann, bot) = Browser::with_bot_and_text(
        &app,
        "ann@acme.io",
        "Refunds are granted within thirty days.",
    )
    .await;
    let origin = ann.origin();
    let (_, page, _) = ann.get(&format!("/app/bots/{bot}/knowledge")).await;
    let doc = page
        .split("/app/documents/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_string();

    let mut bob = Browser::new(&app);
    bob.sign_up("Globex", "bob@globex.io").await;
    let csrf = bob.csrf();
    let job = docent_core::ids::JobId::new();
    for path in [
        format!("/app/bots/{bot}"),
        format!("/app/bots/{bot}/knowledge"),
        format!("/app/bots/{bot}/delete"),
        format!("/app/bots/{bot}/playground"),
        format!("/app/bots/{bot}/crawls/{job}"),
        format!("/app/bots/{bot}/crawls/{job}/status"),
        format!("/app/documents/{doc}"),
    ] {
        let (status, body, _) = bob.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("Acme Help"), "{path}");
    }
    let posts = [
        format!("/app/bots/{bot}/crawl"),
        format!("/app/bots/{bot}"),
        format!("/app/bots/{bot}/delete"),
        format!("/app/documents/{doc}/reingest"),
        format!("/app/documents/{doc}/delete"),
    ];
    for path in &posts {
        let form = [
            ("csrf", csrf.as_str()),
            ("name", "Mine"),
            ("top_k", "3"),
            ("confirm", "Acme Help"),
        ];
        let (status, _, _) = bob.post(path, &form, Some(&origin)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let form = [("csrf", csrf.as_str()), ("title", "x"), ("text", "y")];
    let (_, _, location) = bob
        .post(&format!("/app/bots/{bot}/texts"), &form, Some(&origin))
        .await;
    assert!(
        location.unwrap().contains("error="),
        "a text for another tenant's bot"
    );

    // Ann's bot and document are as they were.
    let (status, page, _) = ann.get(&format!("/app/bots/{bot}/knowledge")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Refunds") && page.contains("ready"), "{page}");
    assert!(!page.contains(">x<"));
}

#[tokio::test]
async fn the_playground_answers_without_scripts_and_shows_the_trace_to_its_tenant_only() {
    let app = spawn_app_with(|_| {}).await;
    let (mut ann, bot) = Browser::with_bot_and_text(
        &app,
        "ann@acme.io",
        "Refunds are granted within thirty days of purchase.",
    )
    .await;
    let csrf = ann.csrf();
    let origin = ann.origin();
    let form = [
        ("csrf", csrf.as_str()),
        ("message", "How many days do I have for a refund?"),
        ("session_id", ""),
    ];
    let (status, page, _) = ann
        .post(&format!("/app/bots/{bot}/playground"), &form, Some(&origin))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("thirty days"), "{page}");
    let trace_path = page
        .split("href=\"")
        .find(|s| s.starts_with("/app/messages/"))
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let (status, trace, _) = ann.get(&trace_path).await;
    assert_eq!(status, StatusCode::OK);
    let trace: serde_json::Value = serde_json::from_str(&trace).unwrap();
    assert_eq!(trace["decision"]["answered"], true);
    assert!(
        !trace["retrieval"]["candidates"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The conversation is listed, with its transcript.
    let (status, list, _) = ann.get(&format!("/app/bots/{bot}/conversations")).await;
    assert_eq!(status, StatusCode::OK);
    let transcript = list
        .split("href=\"")
        .find(|s| s.starts_with("/app/conversations/"))
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let (status, page, _) = ann.get(&transcript).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("How many days do I have for a refund?"),
        "{page}"
    );

    // A vote from the page without scripts lands on the transcript, which
    // shows it; another tenant cannot vote on the answer.
    let vote_path = trace_path.replace("/trace", "/feedback");
    let vote = [
        ("csrf", csrf.as_str()),
        ("rating", "down"),
        ("comment", "too vague"),
    ];
    let (status, _, location) = ann.post(&vote_path, &vote, Some(&origin)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some(transcript.as_str()));
    let (_, page, _) = ann.get(&transcript).await;
    assert!(page.contains("not helpful: “too vague”"), "{page}");

    let mut bob = Browser::new(&app);
    bob.sign_up("Globex", "bob@globex.io").await;
    for path in [
        trace_path.clone(),
        transcript,
        format!("/app/bots/{bot}/conversations"),
    ] {
        let (status, body, _) = bob.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("refund"), "{path}");
    }
    let csrf = bob.csrf();
    let vote = [("csrf", csrf.as_str()), ("rating", "up")];
    let (status, _, _) = bob.post(&vote_path, &vote, Some(&origin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let form = [("csrf", csrf.as_str()), ("message", "Refunds?")];
    let (status, _, _) = bob
        .post(&format!("/app/bots/{bot}/playground"), &form, Some(&origin))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn team_and_keys_are_for_owners_and_admins_of_their_own_tenant() {
    let app = spawn_app_with(|_| {}).await;
    let mut ann = Browser::new(&app);
    ann.sign_up("Acme", "ann@acme.io").await;
    let csrf = ann.csrf();
    let origin = ann.origin();
    let form = [
        ("csrf", csrf.as_str()),
        ("email", "ed@acme.io"),
        ("password", "staple battery horse"),
        ("role", "editor"),
    ];
    let (status, page, _) = ann.post("/app/team/users", &form, Some(&origin)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("ed@acme.io"));
    let ed_id = page
        .split("/app/team/users/")
        .filter_map(|s| s.split('/').next())
        .find(|id| page.contains(&format!("role-{id}\">Role of ed@acme.io")))
        .unwrap()
        .to_string();

    // An editor signs in, but the team is not theirs to see.
    let mut ed = Browser::new(&app);
    assert_eq!(
        ed.sign_in("ed@acme.io", "staple battery horse").await,
        StatusCode::SEE_OTHER
    );
    let (status, page, _) = ed.get("/app/team").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!page.contains("ann@acme.io"));

    // Another tenant's admin cannot touch Acme's users.
    let mut bob = Browser::new(&app);
    bob.sign_up("Globex", "bob@globex.io").await;
    let csrf = bob.csrf();
    for path in [
        format!("/app/team/users/{ed_id}/role"),
        format!("/app/team/users/{ed_id}/delete"),
    ] {
        let form = [("csrf", csrf.as_str()), ("role", "owner")];
        let (status, page, _) = bob.post(&path, &form, Some(&origin)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.contains("ed@acme.io"), "{path}");
    }
    let (_, page, _) = ann.get("/app/team").await;
    assert!(page.contains(&format!("role-{ed_id}")), "ed is still there");
    assert!(
        page.contains("<option value=\"editor\" selected>editor</option>"),
        "{page}"
    );
    // Pages that show a tenant's data are never cached.
    let res = ann
        .http
        .get(app.url("/app/team"))
        .header(COOKIE, ann.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn a_new_password_keeps_this_session_and_ends_the_others() {
    let app = spawn_app_with(|c| c.auth.access_token_ttl_secs = 1).await;
    let mut laptop = Browser::new(&app);
    laptop.sign_up("Acme", "ann@acme.io").await;
    let mut phone = Browser::new(&app);
    assert_eq!(
        phone.sign_in("ann@acme.io", "correct horse battery").await,
        StatusCode::SEE_OTHER
    );

    let csrf = laptop.csrf();
    let origin = laptop.origin();
    let wrong = [
        ("csrf", csrf.as_str()),
        ("current", "not my password"),
        ("new", "a much better password"),
        ("confirm", "a much better password"),
    ];
    let (status, page, _) = laptop
        .post("/app/account/password", &wrong, Some(&origin))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("the current password is not right"), "{page}");
    let right = [
        ("csrf", csrf.as_str()),
        ("current", "correct horse battery"),
        ("new", "a much better password"),
        ("confirm", "a much better password"),
    ];
    let (status, page, _) = laptop
        .post("/app/account/password", &right, Some(&origin))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Password changed"), "{page}");

    // Once the access cookies expire, the laptop renews on its new pair and
    // the phone's old refresh cookie no longer works.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, _, _) = laptop.get("/app/bots").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, location) = phone.get("/app/bots").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/app/login"));
    let mut again = Browser::new(&app);
    assert_eq!(
        again.sign_in("ann@acme.io", "correct horse battery").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        again.sign_in("ann@acme.io", "a much better password").await,
        StatusCode::SEE_OTHER
    );
}

impl Browser<'_> {
    /// The preview's token request as the widget sends it: a JSON POST.
    async fn preview_token(&self, bot: &str, origin: &str, json: bool) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.app.url(&format!("/app/bots/{bot}/preview/token")))
            .header(COOKIE, self.cookie_header())
            .header(ORIGIN, origin)
            .body("{}");
        if json {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        req.send().await.unwrap()
    }
}

#[tokio::test]
async fn the_widget_preview_chats_from_the_consoles_own_page_only() {
    let app = spawn_app_with(|_| {}).await;
    let (mut ann, bot) = Browser::with_bot_and_text(
        &app,
        "ann@acme.io",
        "Refunds are granted within 30 days of purchase.",
    )
    .await;
    let own = ann.origin();

    // The page loads the real widget, pointed at the console's routes.
    let (status, page, _) = ann
        .get(&format!("/app/bots/{bot}/preview?primary_color=%23b91c1c"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("src=\"/widget.js\""), "{page}");
    assert!(page.contains(&format!(
        "data-config-url=\"/app/bots/{bot}/preview/config?primary_color=%23b91c1c\""
    )));
    // The theme being edited, for a bot that is not public; what is not a
    // colour, a corner or a short label is left out.
    let (status, config, _) = ann
        .get(&format!(
            "/app/bots/{bot}/preview/config?primary_color=%23B91C1C&text_color=red\
             &position=top&launcher_label=Ask%20us"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{config}");
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(
        config["theme"],
        serde_json::json!({"primary_color": "#b91c1c", "launcher_label": "Ask us"})
    );

    // A token for the signed-in editor, asked for as the widget does.
    let res = ann.preview_token(&bot, &own, true).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let token: serde_json::Value = res.json().await.unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    // It chats from the console's own page, where the bot's allowed sites
    // do not list this server ...
    let chat = |origin: &str| {
        app.client
            .post(app.url("/api/v1/chat"))
            .bearer_auth(&token)
            .header(ORIGIN, origin)
            .json(&serde_json::json!({"bot_id": bot, "message": "How long do refunds take?"}))
            .send()
    };
    let res = chat(&own).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let answer: serde_json::Value = res.json().await.unwrap();
    assert!(
        answer["answer"].as_str().unwrap().contains("30 days"),
        "{answer}"
    );
    // ... and from no other site.
    let res = chat("https://evil.example").await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A form from another site cannot ask for a token, nor a form of ours.
    let res = ann.preview_token(&bot, "https://evil.example", true).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = ann.preview_token(&bot, &own, false).await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A viewer may look, not chat as a visitor (as with `POST /embed/token`).
    let csrf = ann.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("email", "val@acme.io"),
        ("password", "staple battery horse"),
        ("role", "viewer"),
    ];
    let (status, page, _) = ann.post("/app/team/users", &form, Some(&own)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut val = Browser::new(&app);
    val.sign_in("val@acme.io", "staple battery horse").await;
    let (status, _, _) = val.get(&format!("/app/bots/{bot}/preview")).await;
    assert_eq!(status, StatusCode::OK);
    let res = val.preview_token(&bot, &own, true).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Another tenant sees no such bot.
    let mut bob = Browser::new(&app);
    bob.sign_up("Globex", "bob@globex.io").await;
    let res = bob.preview_token(&bot, &own, true).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (status, page, _) = bob.get(&format!("/app/bots/{bot}/preview/config")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains("Acme Help"));
}

#[tokio::test]
async fn a_plan_limit_is_named_on_the_page_that_reached_it() {
    let app = spawn_app_with(|c| c.plans.free.documents = Some(1)).await;
    let (mut ann, bot) =
        Browser::with_bot_and_text(&app, "ann@acme.io", "Refunds take 30 days.").await;
    let csrf = ann.csrf();
    let origin = ann.origin();
    let form = [
        ("csrf", csrf.as_str()),
        ("title", "Shipping"),
        ("text", "Parcels leave within two days."),
    ];
    let (status, _, location) = ann
        .post(&format!("/app/bots/{bot}/texts"), &form, Some(&origin))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, page, _) = ann.get(&location.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your plan's limit is reached"), "{page}");
    assert!(page.contains("1 documents"), "{page}");
    assert!(!page.contains(">Shipping<"), "nothing was added: {page}");
}

#[tokio::test]
async fn the_pages_of_emailed_links_take_their_token_to_the_services() {
    let app = spawn_app_with(|_| {}).await;
    let mut visitor = Browser::new(&app);
    let (status, page, _) = visitor.get("/app/login").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("href=\"/app/reset/request\""), "{page}");
    let origin = visitor.origin();

    visitor.get("/app/reset/request").await;
    let csrf = visitor.csrf();
    let form = [("csrf", csrf.as_str()), ("email", "nobody@acme.io")];
    let (status, page, _) = visitor
        .post("/app/reset/request", &form, Some(&origin))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("If the address has an account"), "{page}");

    // The link's token is carried, escaped, into the form.
    for (path, action) in [
        ("/app/reset?token=eml_x%22y", "/app/reset"),
        ("/app/verify?token=eml_x%22y", "/app/verify"),
        ("/app/invitation?token=eml_x%22y", "/app/invitation"),
    ] {
        let (status, page, _) = visitor.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            page.contains("name=\"token\" value=\"eml_x&quot;y\""),
            "{path}: {page}"
        );
        let csrf = visitor.csrf();
        let form = [
            ("csrf", csrf.as_str()),
            ("token", "eml_guess"),
            ("password", "a long enough secret"),
        ];
        let (status, page, _) = visitor.post(action, &form, Some(&origin)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{action}");
        assert!(
            page.contains("invalid, used or expired"),
            "{action}: {page}"
        );
        // Another site's form is refused.
        let (status, _, _) = visitor
            .post(action, &form, Some("https://evil.example"))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}");
    }
}

#[tokio::test]
async fn a_console_sign_in_asks_for_the_second_factor_of_an_owner_who_has_one() {
    let app = spawn_app_with(|_| {}).await;
    let mut ann = Browser::new(&app);
    ann.sign_up("Acme", "ann@acme.io").await;
    let token = ann.cookies["docent_access"].clone();
    let (_, setup) = app
        .post("/api/v1/auth/mfa/setup", &token, serde_json::json!({}))
        .await;
    let secret = setup["secret"].as_str().unwrap().to_string();
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(&secret).unwrap())
        .build()
        .unwrap();
    let now = chrono::Utc::now().timestamp() as u64;
    let (status, _) = app
        .post(
            "/api/v1/auth/mfa/enable",
            &token,
            serde_json::json!({"code": totp.generate(now).to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let mut again = Browser::new(&app);
    again.get("/app/login").await;
    let csrf = again.csrf();
    let origin = again.origin();
    let form = [
        ("csrf", csrf.as_str()),
        ("email", "ann@acme.io"),
        ("password", "correct horse battery"),
    ];
    let (status, page, _) = again.post("/app/login", &form, Some(&origin)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Code from your authenticator app"), "{page}");
    assert!(
        !again.cookies.contains_key("docent_access"),
        "no session before the code"
    );
    let mfa_token = page
        .split("name=\"mfa_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let wrong = [
        ("csrf", csrf.as_str()),
        ("mfa_token", mfa_token.as_str()),
        ("code", "000000"),
    ];
    let (status, page, _) = again.post("/app/login/mfa", &wrong, Some(&origin)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("That code is not right"), "{page}");
    let code = totp.generate(now + 30).to_string();
    let right = [
        ("csrf", csrf.as_str()),
        ("mfa_token", mfa_token.as_str()),
        ("code", code.as_str()),
    ];
    let (status, _, location) = again.post("/app/login/mfa", &right, Some(&origin)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/app/bots"));
    assert!(again.cookies.contains_key("docent_access"));
}
