use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_and_ready() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert!(body["version"].is_string());

    let res = app
        .client
        .get(app.url("/api/v1/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["storage"], "ok");
    for check in ["queue", "embedder", "llm"] {
        assert!(body["checks"][check].is_string(), "{check}");
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app().await;
    let owner = app.signup("metrics@acme.io").await;
    app.get("/api/v1/bots", &owner.token).await;
    app.get("/api/v1/bots/not-an-id", &owner.token).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("docent_http_requests_total")
                && l.contains(r#"route="/api/v1/bots""#)
                && l.contains(r#"status="200""#)),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/bots/{bot_id}""#),
        "route patterns, not raw paths"
    );
    assert!(
        text.contains("docent_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn openapi_documents_every_route_and_docs_are_served() {
    let app = spawn_app().await;
    let spec: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("/api/v1/health", "get"),
        ("/api/v1/ready", "get"),
        ("/api/v1/tenants", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users", "get"),
        ("/api/v1/users/{user_id}", "patch"),
        ("/api/v1/users/{user_id}", "delete"),
        ("/api/v1/api-keys", "post"),
        ("/api/v1/api-keys", "get"),
        ("/api/v1/api-keys/{key_id}", "delete"),
        ("/api/v1/bots", "post"),
        ("/api/v1/bots", "get"),
        ("/api/v1/bots/{bot_id}", "get"),
        ("/api/v1/bots/{bot_id}", "patch"),
        ("/api/v1/bots/{bot_id}", "delete"),
    ];
    for (path, method) in expected {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} missing from the spec"
        );
    }
    let res = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().to_lowercase().contains("swagger"));
}

/// The public `/metrics` names no tenant and keeps label values bounded;
/// the operator's token shows the per-tenant usage series.
#[tokio::test]
async fn public_metrics_name_no_tenant_and_stay_bounded() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.auth.admin_token = Some(docent_core::config::Secret::new(
            "operator-token-0123456789",
        ))
    })
    .await;
    let owner = app.signup("usage-metrics@acme.io").await;
    let bot = app.create_bot(&owner.token, "Docs").await;
    app.add_text(
        &owner.token,
        &bot,
        "Guide",
        "Some words to embed and count.",
    )
    .await;
    for i in 0..50 {
        let method = reqwest::Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        app.client
            .request(method, app.url(&format!("/no/such/path/{i}")))
            .send()
            .await
            .unwrap();
    }
    let scrape = |token: Option<&'static str>| {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let public = scrape(None).await;
    assert!(!public.contains("tenant="), "{public}");
    assert!(
        !public.contains(&owner.id),
        "no tenant id in public metrics"
    );
    assert!(!public.contains("MADEUP"), "made-up methods collapse");
    assert!(public.contains(r#"method="other""#), "{public}");
    assert!(
        !public.contains("/no/such/path"),
        "unmatched paths collapse"
    );
    assert!(public.contains("docent_http_requests_total"));
    let wrong = scrape(Some("not-the-operator-token")).await;
    assert!(!wrong.contains("tenant="));
    let operator = scrape(Some("operator-token-0123456789")).await;
    assert!(
        operator
            .lines()
            .any(|l| l.starts_with("docent_usage_total") && l.contains(&owner.id)),
        "the operator sees usage per tenant"
    );
}

/// `/ready` asks the model providers whether they answer: a chat model and
/// an embeddings API that are up are `ok`; one that is down is an `error`
/// with the reason, and the status is `degraded` (still 200).
#[tokio::test]
async fn ready_probes_the_model_providers() {
    let fake = docent_testkit::FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = crate::helpers::spawn_app_with(|c| {
        c.llm.base_url = Some(base.clone());
        c.embedder.kind = Some(docent_core::config::EmbedderKind::OpenAi);
        c.embedder.base_url = Some(base.clone());
        c.embedder.dims = Some(8);
    })
    .await;
    let (_, body) = app.get_public("/api/v1/ready").await;
    assert_eq!(body["status"], "ok", "{body}");
    assert!(
        body["checks"]["llm"].as_str().unwrap().starts_with("ok: "),
        "{body}"
    );
    assert!(
        body["checks"]["embedder"]
            .as_str()
            .unwrap()
            .starts_with("ok: openai:"),
        "{body}"
    );

    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = format!("http://{closed}/v1");
    let app = crate::helpers::spawn_app_with(|c| c.llm.base_url = Some(down)).await;
    let (status, body) = app.get_public("/api/v1/ready").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "degraded", "{body}");
    let llm = body["checks"]["llm"].as_str().unwrap();
    assert!(
        llm.starts_with("error: ") && llm.contains("unreachable"),
        "{body}"
    );
    assert_eq!(body["checks"]["database"], "ok");
}

/// A browser opening the server finds a page that says where to go, and the
/// guide it links to.
#[tokio::test]
async fn the_root_leads_a_browser_to_the_guide_and_the_reference() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = res.text().await.unwrap();
    for link in [
        "href=\"/docs\"",
        "href=\"/readme\"",
        "href=\"/api/v1/health\"",
    ] {
        assert!(page.contains(link), "{link} missing");
    }
    assert!(
        page.contains(&app.url("/api/v1/tenants")),
        "the example names this server"
    );
    let res = app
        .client
        .get(app.url("/"))
        .header("host", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    assert!(
        !res.text().await.unwrap().contains("<script>alert"),
        "the Host is not echoed raw"
    );
    let readme = app.client.get(app.url("/readme")).send().await.unwrap();
    assert_eq!(readme.status(), StatusCode::OK);
    assert!(readme.text().await.unwrap().starts_with("# Docent"));
}

/// New tenants get the configured default plan.
#[tokio::test]
async fn new_tenants_get_the_default_plan() {
    let app = spawn_app().await;
    let owner = app.signup("free@acme.io").await;
    let (_, me) = app.get("/api/v1/auth/me", &owner.token).await;
    assert_eq!(me["tenant"]["plan"], "free");
    let app = crate::helpers::spawn_app_with(|c| {
        c.plans.default = docent_core::domain::Plan::Enterprise;
    })
    .await;
    let owner = app.signup("own@acme.io").await;
    let (_, me) = app.get("/api/v1/auth/me", &owner.token).await;
    assert_eq!(me["tenant"]["plan"], "enterprise");
}
