//! Access rules that hold on every transport: viewers (users and keys of
//! viewer role) see and continue only the conversations they started;
//! editors and stronger see all of the tenant's.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn start(app: &TestApp, token: &str, bot: &str) -> String {
    let (status, body) = app
        .post(
            "/api/v1/chat",
            token,
            json!({"bot_id": bot, "message": "How long do refunds take?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["session_id"].as_str().unwrap().to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn viewers_see_and_continue_only_their_own_conversations() {
    let app = spawn_app().await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    app.add_text(
        &owner.token,
        &bot,
        "Refunds",
        "Refunds are granted within thirty days.",
    )
    .await;
    let vera = app.user_with_role(&owner, "vera@acme.io", "viewer").await;
    let victor = app.user_with_role(&owner, "victor@acme.io", "viewer").await;
    let (_, viewer_key) = app.api_key(&owner.token, "viewer").await;
    let editor = app.user_with_role(&owner, "eddie@acme.io", "editor").await;

    let owners_session = start(&app, &owner.token, &bot).await;
    let veras = start(&app, &vera, &bot).await;
    let victors = start(&app, &victor, &bot).await;
    let keys = start(&app, &viewer_key, &bot).await;

    for (who, token, own) in [
        ("vera", &vera, &veras),
        ("victor", &victor, &victors),
        ("key", &viewer_key, &keys),
    ] {
        let (status, list) = app.get("/api/v1/chat/sessions", token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            ids(&list),
            std::slice::from_ref(own),
            "{who} lists only their own"
        );
        let (status, list) = app
            .get(&format!("/api/v1/chat/sessions?bot_id={bot}"), token)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            ids(&list),
            std::slice::from_ref(own),
            "{who}, filtered by bot"
        );
        for other in [&owners_session, &veras, &victors, &keys] {
            if other == own {
                continue;
            }
            let (status, _) = app
                .get(&format!("/api/v1/chat/sessions/{other}/messages"), token)
                .await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{who} reads another's messages"
            );
            let (status, _) = app
                .post(
                    "/api/v1/chat",
                    token,
                    json!({"bot_id": bot, "session_id": other, "message": "and more?"}),
                )
                .await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{who} continues another's conversation"
            );
        }
        let (status, _) = app
            .get(&format!("/api/v1/chat/sessions/{own}/messages"), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{who} reads their own");
        let (status, _) = app
            .post(
                "/api/v1/chat",
                token,
                json!({"bot_id": bot, "session_id": own, "message": "and more?"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{who} continues their own");
    }

    // Editors and stronger see every conversation of the tenant.
    for token in [&editor, &owner.token] {
        let (_, list) = app.get("/api/v1/chat/sessions", token).await;
        let mut seen = ids(&list);
        seen.sort();
        let mut all = vec![
            owners_session.clone(),
            veras.clone(),
            victors.clone(),
            keys.clone(),
        ];
        all.sort();
        assert_eq!(seen, all);
        let (status, _) = app
            .get(&format!("/api/v1/chat/sessions/{veras}/messages"), token)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends one question and returns the frames up to `done` or `error`.
async fn ask_ws(ws: &mut Ws, bot: &str) -> Vec<Value> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    ws.send(Message::Text(
        json!({"type": "message", "bot_id": bot, "message": "How long do refunds take?"})
            .to_string()
            .into(),
    ))
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
}

fn last_type(frames: &[Value]) -> &str {
    frames
        .last()
        .and_then(|f| f["type"].as_str())
        .unwrap_or("none")
}

/// An open WebSocket checks its credential before every message: revoking
/// the key, deleting the user or letting the token expire closes it with an
/// `error` frame; and its messages count against the credential's limit.
#[tokio::test]
async fn websockets_recheck_their_credential_and_share_its_limit() {
    let app = crate::helpers::spawn_app_with(|c| c.limits.credential_per_minute = 25).await;
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    app.add_text(
        &owner.token,
        &bot,
        "Refunds",
        "Refunds are granted within thirty days.",
    )
    .await;
    let url = format!("ws://{}/api/v1/chat/ws", app.addr);

    // A key revoked while its socket is open.
    let (key_id, key) = app.api_key(&owner.token, "editor").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?token={key}"))
        .await
        .unwrap();
    assert_eq!(last_type(&ask_ws(&mut ws, &bot).await), "done");
    let (status, _) = app
        .delete(&format!("/api/v1/api-keys/{key_id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let frames = ask_ws(&mut ws, &bot).await;
    assert_eq!(last_type(&frames), "error", "{frames:?}");
    assert_eq!(frames.last().unwrap()["error"]["code"], "unauthorized");
    {
        use futures::StreamExt;
        let rest = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while let Some(Ok(frame)) = ws.next().await {
                if frame.is_close() {
                    break;
                }
            }
        })
        .await;
        assert!(rest.is_ok(), "the socket is closed");
    }

    // A user deleted while their socket is open.
    let (status, created) = app
        .post(
            "/api/v1/users",
            &owner.token,
            json!({"email": "vera@acme.io", "password": "password123", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, login) = app.login("vera@acme.io", "password123").await;
    let vera = login["access_token"].as_str().unwrap().to_string();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?token={vera}"))
        .await
        .unwrap();
    assert_eq!(last_type(&ask_ws(&mut ws, &bot).await), "done");
    let user_id = created["id"].as_str().unwrap();
    let (status, _) = app
        .delete(&format!("/api/v1/users/{user_id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let frames = ask_ws(&mut ws, &bot).await;
    assert_eq!(last_type(&frames), "error", "{frames:?}");

    // The owner's messages over a socket and over REST share one budget of
    // 25 (the calls above used some of it).
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?token={}", owner.token))
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..25 {
        let frames = ask_ws(&mut ws, &bot).await;
        outcomes.push(match last_type(&frames) {
            "done" => "done".to_string(),
            _ => frames.last().unwrap()["error"]["code"]
                .as_str()
                .unwrap_or("?")
                .to_string(),
        });
    }
    assert!(
        outcomes.contains(&"rate_limited".to_string()),
        "{outcomes:?}"
    );
}
