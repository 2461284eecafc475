//! The widget's public surface: its script and settings, embed tokens (origin
//! rules, scope, expiry), visitors' conversations, leads, visitor rate limits
//! and CORS.

use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TEST_SECRET, TestApp, assert_error, spawn_app, spawn_app_with};

const SHOP: &str = "https://shop.example.com";

async fn widget_bot(app: &TestApp, token: &str, origins: Value) -> String {
    let (status, bot) = app
        .post(
            "/api/v1/bots",
            token,
            json!({"name": "Help", "public": true, "allowed_origins": origins,
                   "welcome_message": "Hi!", "theme": {"primary_color": "#0f766e"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bot}");
    bot["id"].as_str().unwrap().to_string()
}

/// `POST /widget/{bot}/token` from a page of `origin` (none: no header).
async fn widget_token(
    app: &TestApp,
    bot: &str,
    origin: Option<&str>,
    body: Value,
) -> (StatusCode, Value, Option<String>) {
    let mut req = app
        .client
        .post(app.url(&format!("/api/v1/widget/{bot}/token")))
        .json(&body);
    if let Some(origin) = origin {
        req = req.header(ORIGIN, origin);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let acao = res
        .headers()
        .get(ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|v| v.to_str().unwrap().to_string());
    (status, res.json().await.unwrap(), acao)
}

async fn visitor(app: &TestApp, bot: &str) -> String {
    let (status, body, _) = widget_token(app, bot, Some(SHOP), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// A call with a bearer and an `Origin`, as a browser on a customer page makes it.
async fn from_page(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    origin: &str,
    body: Option<Value>,
) -> (StatusCode, Value, Option<String>) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header(ORIGIN, origin);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let acao = res
        .headers()
        .get(ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|v| v.to_str().unwrap().to_string());
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        acao,
    )
}

#[tokio::test]
async fn widget_script_and_public_config_are_served() {
    let app = spawn_app().await;
    let owner = app.signup("o@a.io").await;
    let bot = widget_bot(&app, &owner.token, json!([SHOP])).await;

    let res = app.client.get(app.url("/widget.js")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let script = res.text().await.unwrap();
    assert!(
        script.len() < 60 * 1024,
        "widget.js is {} bytes",
        script.len()
    );
    assert!(script.contains("data-docent-launcher"));

    let (status, config) = app
        .call(
            Method::GET,
            &format!("/api/v1/widget/{bot}/config"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(config["name"], "Help");
    assert_eq!(config["welcome_message"], "Hi!");
    assert_eq!(config["theme"]["primary_color"], "#0f766e");
    assert!(config.get("allowed_origins").is_none() && config.get("system_prompt").is_none());

    let private = app.create_bot(&owner.token, "internal").await;
    for bot in [private.as_str(), "00000000-0000-7000-8000-000000000000"] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/widget/{bot}/config"),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_error(&body, "not_found");
    }
}

#[tokio::test]
async fn widget_tokens_follow_the_origin_table() {
    let app = spawn_app().await;
    let owner = app.signup("o@a.io").await;
    let bot = widget_bot(
        &app,
        &owner.token,
        json!([SHOP, "https://*.acme.io", "http://localhost:3000"]),
    )
    .await;
    let cases: [(Option<&str>, bool); 14] = [
        (Some(SHOP), true),
        (Some("https://shop.example.com:443"), true),
        (Some("https://SHOP.example.com"), true),
        (Some("http://shop.example.com"), false),
        (Some("https://shop.example.com:8443"), false),
        (Some("https://shop.example.com.evil.io"), false),
        (Some("https://www.acme.io"), true),
        (Some("https://a.b.acme.io"), true),
        (Some("https://acme.io"), false),
        (Some("http://www.acme.io"), false),
        (Some("http://localhost:3000"), true),
        (Some("http://localhost:3001"), false),
        (Some("null"), false),
        (None, false),
    ];
    for (origin, allowed) in cases {
        let (status, body, acao) = widget_token(&app, &bot, origin, json!({})).await;
        if allowed {
            assert_eq!(status, StatusCode::CREATED, "{origin:?}: {body}");
            assert!(body["token"].as_str().is_some_and(|t| !t.is_empty()));
            assert!(body["expires_at"].is_string());
            assert!(body["visitor_id"].as_str().unwrap().starts_with("anon:"));
            assert_eq!(acao.as_deref(), origin, "CORS names the allowed origin");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{origin:?}: {body}");
            assert_error(&body, "forbidden");
            assert_eq!(acao, None, "{origin:?} gets no CORS permission");
        }
    }

    // A visitor keeps their identity with the id an earlier token gave them;
    // ids this server did not issue are refused.
    let (_, first, _) = widget_token(&app, &bot, Some(SHOP), json!({})).await;
    let (status, again, _) = widget_token(
        &app,
        &bot,
        Some(SHOP),
        json!({"visitor_id": first["visitor_id"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["visitor_id"], first["visitor_id"]);
    let (status, body, _) =
        widget_token(&app, &bot, Some(SHOP), json!({"visitor_id": "admin"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Private and unknown bots issue nothing.
    let (status, _) = app
        .patch(
            &format!("/api/v1/bots/{bot}"),
            &owner.token,
            json!({"public": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = widget_token(&app, &bot, Some(SHOP), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = widget_token(
        &app,
        "00000000-0000-7000-8000-000000000000",
        Some(SHOP),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_embed_token_opens_no_management_route() {
    let app = spawn_app().await;
    let owner = app.signup("o@a.io").await;
    let bot = widget_bot(&app, &owner.token, json!([SHOP])).await;
    let (doc, job) = app
        .add_text(
            &owner.token,
            &bot,
            "Returns",
            "Returns are accepted within 30 days.",
        )
        .await;
    let (_, chat) = app
        .post(
            "/api/v1/chat",
            &owner.token,
            json!({"bot_id": bot, "message": "returns?"}),
        )
        .await;
    let (key_id, _) = app.api_key(&owner.token, "viewer").await;
    let ids = [
        ("{tenant_id}", owner.id.clone()),
        ("{bot_id}", bot.clone()),
        ("{user_id}", owner.user_id.clone()),
        ("{key_id}", key_id),
        ("{doc_id}", doc),
        ("{job_id}", job["id"].as_str().unwrap().to_string()),
        ("{file_id}", "00000000-0000-7000-8000-000000000000".into()),
        (
            "{webhook_id}",
            "00000000-0000-7000-8000-000000000001".into(),
        ),
        (
            "{delivery_id}",
            "00000000-0000-7000-8000-000000000002".into(),
        ),
        (
            "{session_id}",
            chat["session_id"].as_str().unwrap().to_string(),
        ),
        (
            "{message_id}",
            chat["message_id"].as_str().unwrap().to_string(),
        ),
    ];
    let token = visitor(&app, &bot).await;
    // What an embed token may do; everything else must refuse it.
    let open = [
        ("POST", "/api/v1/chat"),
        ("GET", "/api/v1/chat/ws"),
        ("GET", "/api/v1/chat/sessions"),
        ("GET", "/api/v1/chat/sessions/{session_id}/messages"),
        ("POST", "/api/v1/leads"),
        ("POST", "/api/v1/chat/messages/{message_id}/feedback"),
    ];
    let spec: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut tried = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        let mut concrete = path.clone();
        for (param, id) in &ids {
            concrete = concrete.replace(param, id);
        }
        assert!(!concrete.contains('{'), "no id for {path}: extend the test");
        for (method, op) in ops.as_object().unwrap() {
            let upper = method.to_uppercase();
            if op.get("security").is_none() || open.contains(&(upper.as_str(), path.as_str())) {
                continue;
            }
            let method: Method = upper.parse().unwrap();
            let body = matches!(method, Method::POST | Method::PATCH | Method::PUT)
                .then(|| json!({"name": "x", "role": "owner", "plan": "pro", "bot_id": bot}));
            let (status, body) = app
                .call(method.clone(), &concrete, Some(&token), body)
                .await;
            assert!(
                status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED,
                "{method} {path} answered {status} to an embed token: {body}"
            );
            tried += 1;
        }
    }
    assert!(tried >= 25, "only {tried} routes tried");
    // Nothing changed.
    let (_, bots) = app.get("/api/v1/bots", &owner.token).await;
    assert_eq!(bots["bots"][0]["name"], "Help");
}

#[tokio::test]
async fn visitors_chat_with_their_bot_and_see_only_their_conversations() {
    let app = spawn_app().await;
    let owner = app.signup("o@a.io").await;
    let bot = widget_bot(&app, &owner.token, json!([SHOP])).await;
    let other_bot = widget_bot(&app, &owner.token, json!([SHOP])).await;
    app.add_text(
        &owner.token,
        &bot,
        "Returns policy",
        "Acme accepts returns within 30 days of purchase.",
    )
    .await;
    let (ann, bob) = (visitor(&app, &bot).await, visitor(&app, &bot).await);

    let ask = |message: &str| json!({"bot_id": bot, "message": message});
    let (status, answer, acao) = from_page(
        &app,
        Method::POST,
        "/api/v1/chat",
        &ann,
        SHOP,
        Some(ask("How long do returns take?")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(acao.as_deref(), Some(SHOP));
    assert!(answer["answer"].as_str().unwrap().contains("30 days"));
    let session = answer["session_id"].as_str().unwrap().to_string();

    // Only its own bot.
    let (status, body, _) = from_page(
        &app,
        Method::POST,
        "/api/v1/chat",
        &ann,
        SHOP,
        Some(json!({"bot_id": other_bot, "message": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Only from the page it was issued to (servers send no Origin).
    let (status, _, acao) = from_page(
        &app,
        Method::POST,
        "/api/v1/chat",
        &ann,
        "https://evil.example",
        Some(ask("returns?")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(acao, None);

    // Ann sees her conversation; Bob sees nothing of it.
    let (status, mine) = app.get("/api/v1/chat/sessions", &ann).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["sessions"].as_array().unwrap().len(), 1);
    let ann_id = mine["sessions"][0]["visitor"].as_str().unwrap().to_string();
    assert!(ann_id.starts_with("anon:"));
    let (status, messages) = app
        .get(&format!("/api/v1/chat/sessions/{session}/messages"), &ann)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(messages["messages"].as_array().unwrap().len(), 2);

    let (_, theirs) = app.get("/api/v1/chat/sessions", &bob).await;
    assert!(theirs["sessions"].as_array().unwrap().is_empty());
    let (status, _) = app
        .get(&format!("/api/v1/chat/sessions/{session}/messages"), &bob)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            "/api/v1/chat",
            &bob,
            json!({"bot_id": bot, "message": "and then?", "session_id": session}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The owner's own conversations are not the visitor's either.
    let (_, owners) = app
        .post("/api/v1/chat", &owner.token, ask("returns?"))
        .await;
    let (status, _) = app
        .get(
            &format!(
                "/api/v1/chat/sessions/{}/messages",
                owners["session_id"].as_str().unwrap()
            ),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The tenant sees every conversation with the visitor's identity.
    let (_, all) = app
        .get(&format!("/api/v1/chat/sessions?bot_id={bot}"), &owner.token)
        .await;
    let visitors: Vec<&Value> = all["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["visitor"])
        .collect();
    assert!(visitors.contains(&&json!(ann_id)) && visitors.contains(&&Value::Null));
}

#[tokio::test]
async fn servers_mint_embed_tokens_for_known_visitors() {
    let app = spawn_app().await;
    let owner = app.signup("o@a.io").await;
    // A private bot: server-minted tokens do not need the widget to be public.
    let bot = app.create_bot(&owner.token, "members").await;
    let (_, key) = app.api_key(&owner.token, "viewer").await;

    let (status, minted) = app
        .post(
            "/api/v1/embed/token",
            &key,
            json!({"bot_id": bot, "ttl_seconds": 3600,
                   "visitor": {"id": "cust-42", "email": "ann@shop.io", "name": "Ann"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    assert_eq!(minted["visitor_id"], "cust-42");
    let token = minted["token"].as_str().unwrap();
    let (status, answer) = app
        .post(
            "/api/v1/chat",
            token,
            json!({"bot_id": bot, "message": "hello"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, sessions) = app
        .get(&format!("/api/v1/chat/sessions?bot_id={bot}"), &owner.token)
        .await;
    assert_eq!(sessions["sessions"][0]["visitor"], "cust-42");

    for (body, expected) in [
        (
            json!({"bot_id": bot, "ttl_seconds": 3601}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"bot_id": bot, "ttl_seconds": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"bot_id": bot, "visitor": {"id": "anon:0123"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"bot_id": bot, "visitor": {"email": "not-an-email"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"bot_id": "00000000-0000-7000-8000-000000000000"}),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (status, answer) = app.post("/api/v1/embed/token", &key, body.clone()).await;
        assert_eq!(status, expected, "{body}: {answer}");
    }

    // Users: editors and stronger; viewers may not vouch for visitors.
    let editor = app.user_with_role(&owner, "ed@a.io", "editor").await;
    let viewer = app.user_with_role(&owner, "vi@a.io", "viewer").await;
    let (status, _) = app
        .post("/api/v1/embed/token", &editor, json!({"bot_id": bot}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .post("/api/v1/embed/token", &viewer, json!({"bot_id": bot}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "forbidden");
    // Another tenant cannot mint tokens for this bot.
    let other = app.signup("x@b.io").await;
    let (status, _) = app
        .post("/api/v1/embed/token", &other.token, json!({"bot_id": bot}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn expired_tampered_and_orphaned_embed_tokens_are_refused() {
    use docent_core::auth::jwt::{EMBED_TYP, EmbedClaims, JwtKeys};
    use docent_core::config::Secret;

    let app = spawn_app().await;
    let owner = app.signup("o@a.io").await;
    let bot = widget_bot(&app, &owner.token, json!([SHOP])).await;
    let token = visitor(&app, &bot).await;
    let keys = JwtKeys::new(&Secret::new(TEST_SECRET));
    let mut claims = keys.verify_embed(&token).unwrap();
    let now = chrono::Utc::now().timestamp();
    claims.iat = now - 7200;
    claims.exp = now - 3600;
    let expired = keys.sign(&claims);
    let forged =
        JwtKeys::new(&Secret::new("some-other-secret-some-other-secret")).sign(&EmbedClaims {
            exp: now + 600,
            typ: EMBED_TYP.into(),
            ..claims.clone()
        });
    let ask = json!({"bot_id": bot, "message": "hi"});
    for bad in [expired.as_str(), forged.as_str(), &format!("{token}x")] {
        let (status, body, acao) = from_page(
            &app,
            Method::POST,
            "/api/v1/chat",
            bad,
            SHOP,
            Some(ask.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_error(&body, "unauthorized");
        if bad == expired {
            // The widget must be able to read the 401 to fetch a new token.
            assert_eq!(acao.as_deref(), Some(SHOP));
        }
    }
    // A deleted bot takes its tokens with it.
    let (status, _) = app
        .delete(&format!("/api/v1/bots/{bot}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.post("/api/v1/chat", &token, ask).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn visitors_leave_leads_that_editors_read() {
    let app = spawn_app().await;
    let owner = app.signup("o@a.io").await;
    let bot = widget_bot(&app, &owner.token, json!([SHOP])).await;
    let (ann, bob) = (visitor(&app, &bot).await, visitor(&app, &bot).await);
    let (_, chat) = app
        .post(
            "/api/v1/chat",
            &ann,
            json!({"bot_id": bot, "message": "hello"}),
        )
        .await;
    let session = chat["session_id"].as_str().unwrap();

    let (status, lead, acao) = from_page(
        &app,
        Method::POST,
        "/api/v1/leads",
        &ann,
        SHOP,
        Some(
            json!({"session_id": session, "email": "ann@example.com", "name": "Ann",
                    "phone": "+1 (555) 010-0100", "metadata": {"page": "/pricing"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{lead}");
    assert_eq!(acao.as_deref(), Some(SHOP));
    assert_eq!(lead["bot_id"], bot.as_str());
    assert_eq!(lead["session_id"], session);
    assert!(lead["visitor"].as_str().unwrap().starts_with("anon:"));

    // Not on someone else's conversation; bad input is a clear 422.
    let (status, _) = app
        .post(
            "/api/v1/leads",
            &bob,
            json!({"session_id": session, "email": "bob@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for body in [
        json!({"email": "nope"}),
        json!({"email": "b@example.com", "phone": "call me"}),
        json!({"email": "b@example.com", "metadata": [1]}),
    ] {
        let (status, answer) = app.post("/api/v1/leads", &bob, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_error(&answer, "invalid_request");
    }
    let (status, _) = app
        .post("/api/v1/leads", &bob, json!({"email": "bob@example.com"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Editors add leads by naming the bot, and read them.
    let editor = app.user_with_role(&owner, "ed@a.io", "editor").await;
    let (status, _) = app
        .post(
            "/api/v1/leads",
            &editor,
            json!({"bot_id": bot, "email": "phone-in@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .post("/api/v1/leads", &editor, json!({"email": "x@example.com"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, list) = app
        .get(&format!("/api/v1/leads?bot_id={bot}"), &editor)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let emails: Vec<&str> = list["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["phone-in@example.com", "bob@example.com", "ann@example.com"]
    );

    // Viewers, visitors and other tenants read none.
    let viewer = app.user_with_role(&owner, "vi@a.io", "viewer").await;
    for token in [viewer.as_str(), ann.as_str()] {
        let (status, _) = app.get("/api/v1/leads", token).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let other = app.signup("x@b.io").await;
    let (status, theirs) = app.get("/api/v1/leads", &other.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(theirs["leads"].as_array().unwrap().is_empty());
    let (status, _) = app
        .get(&format!("/api/v1/leads?bot_id={bot}"), &other.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn visitors_and_widget_tokens_are_rate_limited() {
    let app = spawn_app_with(|c| {
        c.limits.widget_token_per_minute = 3;
        c.limits.visitor_ip_per_minute = 100;
    })
    .await;
    let owner = app.signup("o@a.io").await;
    let bot = widget_bot(&app, &owner.token, json!([SHOP])).await;
    let (status, _) = app
        .patch(
            &format!("/api/v1/bots/{bot}"),
            &owner.token,
            json!({"visitor_messages_per_minute": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (ann, bob) = (visitor(&app, &bot).await, visitor(&app, &bot).await);

    let ask = json!({"bot_id": bot, "message": "hello"});
    for _ in 0..2 {
        let (status, _) = app.post("/api/v1/chat", &ann, ask.clone()).await;
        assert_eq!(status, StatusCode::OK);
    }
    let res = app
        .client
        .post(app.url("/api/v1/chat"))
        .bearer_auth(&ann)
        .header(ORIGIN, SHOP)
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(
        res.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        SHOP,
        "the widget can read the 429"
    );
    assert_error(&res.json().await.unwrap(), "rate_limited");
    // Another visitor has their own allowance.
    let (status, _) = app.post("/api/v1/chat", &bob, ask.clone()).await;
    assert_eq!(status, StatusCode::OK);

    // Token requests per IP: two were made above, one more is allowed.
    let (status, _, _) = widget_token(&app, &bot, Some(SHOP), json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body, _) = widget_token(&app, &bot, Some(SHOP), json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");

    // Out of range per-bot limits are refused.
    let (status, _) = app
        .patch(
            &format!("/api/v1/bots/{bot}"),
            &owner.token,
            json!({"visitor_messages_per_minute": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn visitors_from_one_ip_share_a_limit() {
    let app = spawn_app_with(|c| c.limits.visitor_ip_per_minute = 2).await;
    let owner = app.signup("o@a.io").await;
    let bot = widget_bot(&app, &owner.token, json!([SHOP])).await;
    let ask = json!({"bot_id": bot, "message": "hello"});
    let mut statuses = Vec::new();
    for _ in 0..3 {
        // A fresh identity each time does not escape the per-IP limit.
        let token = visitor(&app, &bot).await;
        statuses.push(app.post("/api/v1/chat", &token, ask.clone()).await.0);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

#[tokio::test]
async fn cors_answers_only_allowed_origins_and_only_on_widget_routes() {
    let app = spawn_app().await;
    let owner = app.signup("o@a.io").await;
    let bot = widget_bot(&app, &owner.token, json!([SHOP])).await;
    let preflight = |path: String, origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url(&path))
            .header(ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let res = preflight(format!("/api/v1/widget/{bot}/token"), SHOP)
        .await
        .unwrap();
    assert!(res.status().is_success());
    assert_eq!(res.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], SHOP);
    assert!(
        res.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let res = preflight(
        format!("/api/v1/widget/{bot}/token"),
        "https://evil.example",
    )
    .await
    .unwrap();
    assert!(res.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let res = preflight("/api/v1/chat".into(), SHOP).await.unwrap();
    assert_eq!(res.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], SHOP);

    // Management routes send no CORS headers, preflight or not.
    let res = preflight("/api/v1/bots".into(), SHOP).await.unwrap();
    assert!(res.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let (status, _, acao) =
        from_page(&app, Method::GET, "/api/v1/bots", &owner.token, SHOP, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(acao, None);
    // Nor does chat with a user's token: only embed tokens are for pages.
    let (status, _, acao) = from_page(
        &app,
        Method::POST,
        "/api/v1/chat",
        &owner.token,
        SHOP,
        Some(json!({"bot_id": bot, "message": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(acao, None);
    // The widget config names allowed origins only.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/widget/{bot}/config")))
        .header(ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn visitors_chat_over_websocket_with_their_own_bot_only() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let app = spawn_app().await;
    let owner = app.signup("o@a.io").await;
    let bot = widget_bot(&app, &owner.token, json!([SHOP])).await;
    let other_bot = widget_bot(&app, &owner.token, json!([SHOP])).await;
    app.add_text(
        &owner.token,
        &bot,
        "Returns",
        "You have 30 days to return an item.",
    )
    .await;
    let token = visitor(&app, &bot).await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/api/v1/chat/ws?token={token}", app.addr))
            .await
            .unwrap();
    let mut next = async |message: Value| -> Vec<Value> {
        ws.send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
        let mut frames = Vec::new();
        while let Some(Ok(Message::Text(text))) = ws.next().await {
            let frame: Value = serde_json::from_str(&text).unwrap();
            let last = frame["type"] == "done" || frame["type"] == "error";
            frames.push(frame);
            if last {
                break;
            }
        }
        frames
    };
    let frames = next(json!({"type": "message", "bot_id": other_bot, "message": "hi"})).await;
    assert_eq!(frames[0]["error"]["code"], "forbidden", "{frames:?}");
    let frames = next(
        json!({"type": "message", "bot_id": bot, "message": "How long do I have to return an item?"}),
    )
    .await;
    assert_eq!(frames.last().unwrap()["type"], "done", "{frames:?}");
    let (_, mine) = app.get("/api/v1/chat/sessions", &token).await;
    assert_eq!(mine["sessions"][0]["id"], frames[0]["session_id"]);
    assert!(
        mine["sessions"][0]["visitor"]
            .as_str()
            .unwrap()
            .starts_with("anon:")
    );

    // A page of another origin cannot open the socket with the token.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/api/v1/chat/ws?token={token}",
            app.addr
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_err());
}

#[tokio::test]
async fn one_visitor_cannot_renew_tokens_without_limit() {
    let app = spawn_app_with(|c| c.limits.widget_token_per_minute = 2).await;
    let owner = app.signup("o@a.io").await;
    let bot = widget_bot(&app, &owner.token, json!([SHOP])).await;
    let (_, first, _) = widget_token(&app, &bot, Some(SHOP), json!({})).await;
    let visitor = json!({"visitor_id": first["visitor_id"]});
    // Each address has its own allowance; the visitor's is counted across
    // addresses.
    let from = |last: u8| {
        let client = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .build()
            .unwrap();
        let url = app.url(&format!("/api/v1/widget/{bot}/token"));
        let visitor = visitor.clone();
        async move {
            client
                .post(url)
                .header(ORIGIN, SHOP)
                .json(&visitor)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(from(2).await, StatusCode::CREATED);
    assert_eq!(from(3).await, StatusCode::CREATED);
    assert_eq!(from(4).await, StatusCode::TOO_MANY_REQUESTS);
}

/// One visitor cannot flood a bot with leads: a few a minute per visitor,
/// a plan limit per month, and small metadata.
#[tokio::test]
async fn leads_are_limited_per_visitor_and_by_the_plan() {
    let app = spawn_app_with(|c| c.plans.free.leads_per_month = Some(12)).await;
    let owner = app.signup("o@a.io").await;
    let bot = widget_bot(&app, &owner.token, json!([SHOP])).await;
    let ann = visitor(&app, &bot).await;
    let lead = |i: usize| json!({"email": format!("ann{i}@example.com")});
    let mut statuses = Vec::new();
    for i in 0..11 {
        let (status, _) = app.post("/api/v1/leads", &ann, lead(i)).await;
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses[..10], [201; 10], "{statuses:?}");
    assert_eq!(statuses[10], 429, "ten a minute per visitor");
    let (status, body) = app
        .post(
            "/api/v1/leads",
            &visitor(&app, &bot).await,
            json!({"email": "big@example.com", "metadata": {"blob": "x".repeat(5000)}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Leads 11 and 12 of the month use the plan's allowance; the 13th is refused.
    let bob = visitor(&app, &bot).await;
    for i in 20..22 {
        let (status, _) = app.post("/api/v1/leads", &bob, lead(i)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, body) = app.post("/api/v1/leads", &bob, lead(30)).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    let (_, usage) = app.get("/api/v1/admin/usage", &owner.token).await;
    assert_eq!(usage["usage"]["leads"], 12, "{usage}");
    assert_eq!(usage["limits"]["leads_per_month"], 12);
}
