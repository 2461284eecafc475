//! The MCP server at `/mcp`: refused without the API's credentials, and
//! driven by the official `mcp` Python SDK (PyPI), unchanged, through
//! tests/mcp/client.py: it lists the tools, calls them, lists the
//! documents as resources and reads one; another tenant's key reaches none
//! of it. `DOCENT_TEST_MCP_PYTHON` names a Python with the SDK
//! (scripts/test.sh installs it).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}})
}

async fn post_mcp(app: &TestApp, bearer: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&initialize());
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn the_endpoint_takes_the_apis_credentials_only() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    for bearer in [None, Some("dct_not-a-key"), Some("not-a-token")] {
        let res = post_mcp(&app, bearer).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bearer:?}");
        assert!(
            res.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    // A widget visitor's token is for chat only.
    let bot = app.create_bot(&owner.token, "Help").await;
    let (status, embed) = app
        .post("/api/v1/embed/token", &owner.token, json!({"bot_id": bot}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let res = post_mcp(&app, embed["token"].as_str()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // An API key starts a session: the server names itself.
    let (_, key) = app.api_key(&owner.token, "viewer").await;
    let res = post_mcp(&app, Some(&key)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["result"]["serverInfo"]["name"], "docent", "{body}");
    assert!(
        body["result"]["capabilities"]["tools"].is_object(),
        "{body}"
    );
}

/// Runs the SDK client; its JSON report.
async fn sdk_client(python: &str, app: &TestApp, key: &str, foreign: &[&str]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/mcp/client.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .arg(app.url("/mcp"))
        .arg(key)
        .args(foreign)
        .output()
        .await
        .expect("the Python of DOCENT_TEST_MCP_PYTHON runs");
    assert!(
        out.status.success(),
        "the SDK client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the client prints JSON")
}

#[tokio::test]
async fn the_official_python_sdk_lists_and_calls_the_tools_of_its_tenant_only() {
    let Some(python) = docent_testkit::backends::backend_url("DOCENT_TEST_MCP_PYTHON") else {
        return;
    };
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Help").await;
    let (doc, _) = app
        .add_text(
            &owner.token,
            &bot,
            "Refunds",
            "Refunds are granted within thirty days of purchase.",
        )
        .await;
    let (_, key) = app.api_key(&owner.token, "viewer").await;

    let report = sdk_client(&python, &app, &key, &[]).await;
    assert_eq!(
        report["tools"],
        json!(["ask", "list_bots", "search"]),
        "{report}"
    );
    assert_eq!(report["bots"][0]["id"], bot.as_str());
    let hit = &report["search"]["results"][0];
    assert_eq!(hit["document_id"], doc.as_str(), "{report}");
    assert!(hit["text"].as_str().unwrap().contains("thirty days"));
    assert_eq!(report["ask"]["error"], false, "{report}");
    let answer = report["ask"]["texts"][0].as_str().unwrap();
    assert!(
        answer.contains("thirty days") && answer.contains("[1] Refunds"),
        "{answer}"
    );
    assert_eq!(report["unknown_bot"]["error"], true);
    let uri = format!("docent://documents/{doc}");
    assert_eq!(
        report["resources"],
        json!([{"uri": uri, "name": "Refunds"}])
    );
    assert!(report["read"][0].as_str().unwrap().contains("thirty days"));

    // Another tenant's key, with a bot of its own: nothing of Acme's.
    let other = app.signup("bob@globex.io").await;
    app.create_bot(&other.token, "Globex").await;
    let (_, theirs) = app.api_key(&other.token, "owner").await;
    let report = sdk_client(&python, &app, &theirs, &[&bot, &uri]).await;
    assert_eq!(report["bots"].as_array().unwrap().len(), 1);
    assert_eq!(report["bots"][0]["name"], "Globex");
    assert_eq!(report["foreign_search"]["error"], true, "{report}");
    assert!(
        report["foreign_search"]["texts"][0]
            .as_str()
            .unwrap()
            .starts_with("not_found")
    );
    assert_eq!(report["foreign_ask"]["error"], true, "{report}");
    assert!(
        report["foreign_read"]
            .as_str()
            .unwrap()
            .starts_with("refused"),
        "{report}"
    );
    assert_eq!(report["resources"], json!([]));
    assert!(!report.to_string().contains("thirty days"), "{report}");
}
