//! Show your work: every answer's retrieval trace (never to visitors),
//! feedback on answers, a bot's analytics, and its conversations exported.

use docent_testkit::FakeOpenAi;
use reqwest::StatusCode;
use reqwest::header::ORIGIN;
use serde_json::{Value, json};

use crate::helpers::{Tenant, TestApp, assert_error, spawn_app, spawn_app_with};

const SHOP: &str = "https://shop.example.com";

async fn seeded(app: &TestApp) -> (Tenant, String) {
    let owner = app.signup("ann@acme.io").await;
    let bot = app.create_bot(&owner.token, "Support").await;
    let (status, body) = app
        .patch(
            &format!("/api/v1/bots/{bot}"),
            &owner.token,
            json!({"public": true, "allowed_origins": [SHOP]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (title, text) in [
        (
            "Refund policy",
            "Refunds are granted within thirty days of purchase.",
        ),
        (
            "Shipping",
            "Parcels ship within three working days to every country.",
        ),
        (
            "Support hours",
            "Our support team answers on weekdays from nine to five.",
        ),
    ] {
        app.add_text(&owner.token, &bot, title, text).await;
    }
    (owner, bot)
}

async fn visitor(app: &TestApp, bot: &str) -> String {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/widget/{bot}/token")))
        .header(ORIGIN, SHOP)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

async fn ask(app: &TestApp, token: &str, bot: &str, message: &str, session: Option<&str>) -> Value {
    let mut body = json!({"bot_id": bot, "message": message});
    if let Some(s) = session {
        body["session_id"] = json!(s);
    }
    let (status, answer) = app.post("/api/v1/chat", token, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn trace_path(answer: &Value) -> String {
    format!(
        "/api/v1/chat/messages/{}/trace",
        answer["message_id"].as_str().unwrap()
    )
}

#[tokio::test]
async fn every_answer_keeps_a_trace_of_what_retrieval_did() {
    let app = spawn_app().await;
    let (owner, bot) = seeded(&app).await;
    let answer = ask(
        &app,
        &owner.token,
        &bot,
        "How many days do I have to get a refund?",
        None,
    )
    .await;
    assert_eq!(answer["answered"], true, "{answer}");
    let (status, trace) = app.get(&trace_path(&answer), &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    assert_eq!(trace["message_id"], answer["message_id"]);
    assert_eq!(
        trace["question"],
        "How many days do I have to get a refund?"
    );
    assert_eq!(trace["search_query"], trace["question"]);
    let r = &trace["retrieval"];
    assert_eq!(r["mode"], "hybrid");
    assert_eq!(r["floor_source"], "calibrated");
    assert!(r["floor"].as_f64().unwrap() > 0.0, "{r}");
    for side in ["keyword", "vector"] {
        let list = r[side].as_array().unwrap();
        assert!(!list.is_empty(), "{side}: {r}");
        for (i, c) in list.iter().enumerate() {
            assert_eq!(c["rank"], i as u64 + 1, "{side}: {r}");
            assert!(c["score"].is_number() && c["chunk_id"].is_string());
        }
    }
    // The refund passage came first and was kept; every kept candidate
    // cleared the floor; each candidate says what happened to it.
    let candidates = r["candidates"].as_array().unwrap();
    assert_eq!(candidates[0]["title"], "Refund policy", "{r}");
    assert_eq!(candidates[0]["outcome"], "kept");
    assert_eq!(candidates[0]["keyword_rank"], 1);
    let floor = r["floor"].as_f64().unwrap();
    for c in candidates {
        let score = c["score"].as_f64().unwrap();
        match c["outcome"].as_str().unwrap() {
            "kept" => assert!(score >= floor, "{c}"),
            "below_floor" => assert!(score < floor, "{c}"),
            other => panic!("unexpected outcome {other}: {c}"),
        }
        assert!(c["fused"].is_number() && c["cosine"].is_number(), "{c}");
    }
    assert_eq!(
        trace["decision"],
        json!({"answered": true, "reason": "passages_found"})
    );
    // What the answer drew on: the kept passages, with their token counts,
    // the cited ones marked.
    let context = trace["context"].as_array().unwrap();
    let kept = candidates.iter().filter(|c| c["outcome"] == "kept").count();
    assert_eq!(context.len(), kept, "{trace}");
    assert!(context.iter().all(|p| p["tokens"].as_u64().unwrap() > 0));
    let cited: Vec<&Value> = context.iter().filter(|p| p["cited"] == true).collect();
    assert_eq!(cited.len(), answer["citations"].as_array().unwrap().len());
    assert_eq!(trace["generation"]["mode"], "extractive");
    assert_eq!(trace["generation"]["model"], Value::Null);
    let t = &trace["timings_ms"];
    for stage in ["embed", "keyword", "vector", "fusion", "generate", "total"] {
        assert!(t[stage].as_f64().is_some(), "{stage}: {t}");
    }
    assert_eq!(t["rewrite"], Value::Null);
    assert!(t["total"].as_f64().unwrap() >= t["keyword"].as_f64().unwrap());

    // A decline says why, and no passage was kept or sent.
    let declined = ask(
        &app,
        &owner.token,
        &bot,
        "Who won the 1998 football world cup?",
        None,
    )
    .await;
    assert_eq!(declined["answered"], false, "{declined}");
    let (status, trace) = app.get(&trace_path(&declined), &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    assert_eq!(trace["decision"]["answered"], false);
    assert_eq!(trace["decision"]["reason"], "no_passage_above_floor");
    assert_eq!(trace["context"], json!([]));
    assert_eq!(trace["generation"]["mode"], "declined");
    assert!(
        trace["retrieval"]["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["outcome"] == "below_floor"),
        "{trace}"
    );

    // A question has no trace; an unknown message neither.
    let (_, messages) = app
        .get(
            &format!(
                "/api/v1/chat/sessions/{}/messages",
                answer["session_id"].as_str().unwrap()
            ),
            &owner.token,
        )
        .await;
    let question = messages["messages"][0]["id"].as_str().unwrap();
    let (status, body) = app
        .get(
            &format!("/api/v1/chat/messages/{question}/trace"),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = app
        .get(
            "/api/v1/chat/messages/0193a000-0000-7000-8000-000000000000/trace",
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn streamed_answers_and_openai_completions_keep_a_trace_too() {
    let app = spawn_app().await;
    let (owner, bot) = seeded(&app).await;
    let body = app
        .client
        .post(app.url("/api/v1/chat"))
        .bearer_auth(&owner.token)
        .json(&json!({"bot_id": bot, "message": "How many days do refunds take?", "stream": true}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let done: Value = body
        .split("\n\n")
        .find(|frame| frame.starts_with("event: done"))
        .and_then(|frame| frame.lines().find_map(|l| l.strip_prefix("data:")))
        .map(|data| serde_json::from_str(data.trim()).unwrap())
        .unwrap_or_else(|| panic!("no done event: {body}"));
    let (status, trace) = app.get(&trace_path(&done), &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    assert_eq!(trace["decision"]["answered"], true);
    assert_eq!(trace["generation"]["partial"], false);

    // The OpenAI-compatible route answers through the same path: its
    // conversation's answer has a trace.
    let (status, _) = app
        .post(
            "/v1/chat/completions",
            &owner.token,
            json!({"model": bot, "messages": [{"role": "user", "content": "When do parcels ship?"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, sessions) = app
        .get(&format!("/api/v1/chat/sessions?bot_id={bot}"), &owner.token)
        .await;
    let newest = sessions["sessions"][0]["id"].as_str().unwrap();
    let (_, messages) = app
        .get(
            &format!("/api/v1/chat/sessions/{newest}/messages"),
            &owner.token,
        )
        .await;
    let answer = json!({"message_id": messages["messages"][1]["id"]});
    let (status, trace) = app.get(&trace_path(&answer), &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    assert_eq!(trace["question"], "When do parcels ship?");
}

#[tokio::test]
async fn visitors_never_read_a_trace_and_viewers_only_their_own() {
    let app = spawn_app().await;
    let (owner, bot) = seeded(&app).await;
    let visitor = visitor(&app, &bot).await;
    let answer = ask(&app, &visitor, &bot, "When is support open?", None).await;
    let (status, body) = app.get(&trace_path(&answer), &visitor).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_error(&body, "forbidden");
    // The people who run the bot read the visitor's trace.
    let (status, _) = app.get(&trace_path(&answer), &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    // A viewer reads the traces of the conversations it started, no others.
    let viewer = app.user_with_role(&owner, "vera@acme.io", "viewer").await;
    let (status, _) = app.get(&trace_path(&answer), &viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let own = ask(&app, &viewer, &bot, "How do refunds work?", None).await;
    let (status, trace) = app.get(&trace_path(&own), &viewer).await;
    assert_eq!(status, StatusCode::OK, "{trace}");
}

#[tokio::test]
async fn a_models_answer_traces_its_model_usage_and_rewrite() {
    let fake = FakeOpenAi::start().await;
    let base = fake.base_url();
    let app = spawn_app_with(|c| c.llm.base_url = Some(base)).await;
    let (owner, bot) = seeded(&app).await;
    let first = ask(&app, &owner.token, &bot, "How long do refunds take?", None).await;
    let (status, trace) = app.get(&trace_path(&first), &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    let g = &trace["generation"];
    assert_eq!(g["mode"], "generative");
    assert!(g["model"].is_string(), "{g}");
    assert_eq!(g["prompt_tokens"], first["usage"]["prompt_tokens"]);
    assert_eq!(g["completion_tokens"], first["usage"]["completion_tokens"]);
    assert_eq!(g["finish_reason"], "stop");
    assert!(trace["timings_ms"]["generate"].as_f64().is_some());
    // A follow-up is rewritten by the model: the trace shows both texts and
    // the rewrite's time.
    let session = first["session_id"].as_str().unwrap();
    let follow = ask(&app, &owner.token, &bot, "and for shipping?", Some(session)).await;
    let (_, trace) = app.get(&trace_path(&follow), &owner.token).await;
    assert_eq!(trace["question"], "and for shipping?");
    assert!(trace["timings_ms"]["rewrite"].as_f64().is_some(), "{trace}");
    assert!(trace["search_query"].is_string());
}

#[tokio::test]
async fn feedback_is_kept_with_the_answer_by_whoever_may_read_it() {
    let app = spawn_app().await;
    let (owner, bot) = seeded(&app).await;
    let visitor = visitor(&app, &bot).await;
    let answer = ask(&app, &visitor, &bot, "How many days for a refund?", None).await;
    let path = format!(
        "/api/v1/chat/messages/{}/feedback",
        answer["message_id"].as_str().unwrap()
    );
    let (status, message) = app
        .post(
            &path,
            &visitor,
            json!({"rating": "down", "comment": "  too short  "}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{message}");
    assert_eq!(message["feedback"]["rating"], "down");
    assert_eq!(message["feedback"]["comment"], "too short");
    // A new verdict replaces the old one; the conversation shows it.
    let (status, _) = app.post(&path, &owner.token, json!({"rating": "up"})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, messages) = app
        .get(
            &format!(
                "/api/v1/chat/sessions/{}/messages",
                answer["session_id"].as_str().unwrap()
            ),
            &visitor,
        )
        .await;
    let stored = &messages["messages"][1];
    assert_eq!(stored["feedback"]["rating"], "up", "{messages}");
    assert_eq!(stored["feedback"]["comment"], Value::Null);
    assert_eq!(messages["messages"][0]["feedback"], Value::Null);

    // Another visitor of the bot cannot reach it; a question takes none; a
    // bad verdict or a long comment is refused.
    let stranger = self::visitor(&app, &bot).await;
    let (status, _) = app.post(&path, &stranger, json!({"rating": "down"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let question = messages["messages"][0]["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/chat/messages/{question}/feedback"),
            &visitor,
            json!({"rating": "up"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app.post(&path, &visitor, json!({"rating": "meh"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .post(
            &path,
            &visitor,
            json!({"rating": "up", "comment": "x".repeat(2001)}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn analytics_count_the_days_declines_feedback_and_unanswered_questions() {
    let app = spawn_app().await;
    let (owner, bot) = seeded(&app).await;
    let visitor = visitor(&app, &bot).await;
    let refund = ask(
        &app,
        &visitor,
        &bot,
        "How many days do I have to get a refund?",
        None,
    )
    .await;
    let session = refund["session_id"].as_str().unwrap();
    ask(
        &app,
        &visitor,
        &bot,
        "Can I get a refund after thirty days?",
        Some(session),
    )
    .await;
    for q in [
        "Who won the 1998 football world cup?",
        "who won the world cup in 1998",
        "What is the capital of Mongolia?",
    ] {
        let a = ask(&app, &owner.token, &bot, q, None).await;
        assert_eq!(a["answered"], false, "{q}: {a}");
    }
    let (status, _) = app
        .post(
            &format!(
                "/api/v1/chat/messages/{}/feedback",
                refund["message_id"].as_str().unwrap()
            ),
            &visitor,
            json!({"rating": "up"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, report) = app
        .get(&format!("/api/v1/bots/{bot}/analytics"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let t = &report["totals"];
    assert_eq!(t["conversations"], 4, "{t}");
    assert_eq!(t["messages"], 10);
    assert_eq!(t["questions"], 5);
    assert_eq!(t["answers"], 5);
    assert_eq!(t["declined"], 3);
    assert_eq!(
        (t["feedback_up"].as_u64(), t["feedback_down"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(t["feedback_ratio"], 1.0);
    let p50 = t["latency_ms"]["p50"].as_u64().unwrap();
    assert!(t["latency_ms"]["p99"].as_u64().unwrap() >= p50);
    assert_eq!(report["truncated"], false);
    // 30 days by default, today last and holding every message.
    let days = report["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "{report}");
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(days[29]["date"], today);
    assert_eq!(days[29]["messages"], 10);
    assert_eq!(days[29]["declined"], 3);
    assert!(days[..29].iter().all(|d| d["messages"] == 0));
    assert_eq!(
        report["top_documents"][0]["title"], "Refund policy",
        "{report}"
    );
    let unanswered = report["unanswered"].as_array().unwrap();
    assert_eq!(unanswered.len(), 2, "{report}");
    assert_eq!(unanswered[0]["count"], 2);
    assert_eq!(unanswered[0]["examples"].as_array().unwrap().len(), 1);
    assert_eq!(
        unanswered[1]["question"],
        "What is the capital of Mongolia?"
    );

    // A range of other days holds nothing; bad ranges are refused.
    let (status, empty) = app
        .get(
            &format!("/api/v1/bots/{bot}/analytics?from=2025-01-01&to=2025-01-31"),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(empty["days"].as_array().unwrap().len(), 31);
    assert_eq!(empty["totals"]["messages"], 0);
    assert_eq!(empty["totals"]["feedback_ratio"], Value::Null);
    for bad in [
        "from=yesterday",
        "from=2026-02-01&to=2026-01-01",
        "from=2020-01-01&to=2026-01-01",
    ] {
        let (status, body) = app
            .get(&format!("/api/v1/bots/{bot}/analytics?{bad}"), &owner.token)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    // Every visitor's questions: editors and stronger.
    let viewer = app.user_with_role(&owner, "vera@acme.io", "viewer").await;
    let (status, _) = app
        .get(&format!("/api/v1/bots/{bot}/analytics"), &viewer)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .get(&format!("/api/v1/bots/{bot}/analytics"), &visitor)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn export(
    app: &TestApp,
    token: &str,
    bot: &str,
    query: &str,
) -> (StatusCode, String, String) {
    let res = app
        .client
        .get(app.url(&format!("/api/v1/bots/{bot}/conversations/export?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, res.text().await.unwrap())
}

#[tokio::test]
async fn conversations_export_as_json_lines_and_csv() {
    let app = spawn_app().await;
    let (owner, bot) = seeded(&app).await;
    let visitor = visitor(&app, &bot).await;
    let first = ask(
        &app,
        &visitor,
        &bot,
        "=HYPERLINK(\"http://evil\") refund days?",
        None,
    )
    .await;
    ask(&app, &owner.token, &bot, "When do parcels ship?", None).await;

    let (status, kind, body) = export(&app, &owner.token, &bot, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(kind, "application/x-ndjson");
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{body}");
    assert_eq!(lines[0]["session"]["id"], first["session_id"]);
    assert_eq!(lines[0]["messages"].as_array().unwrap().len(), 2);
    assert_eq!(lines[1]["messages"][1]["citations"][0]["title"], "Shipping");

    let (status, kind, body) = export(&app, &owner.token, &bot, "format=csv").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    let mut rows = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[0], "session_id");
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4, "{body}");
    let content = header.iter().position(|h| h == "content").unwrap();
    // A visitor's formula is defused for spreadsheets.
    assert!(rows[0][content].starts_with("'=HYPERLINK"), "{body}");
    let cited = header.iter().position(|h| h == "cited_documents").unwrap();
    assert!(rows[3][cited].contains("Shipping"), "{body}");

    // Conversations started in another range: none.
    let (status, _, body) = export(&app, &owner.token, &bot, "from=2025-01-01&to=2025-01-02").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty(), "{body}");
    let (_, _, body) = export(
        &app,
        &owner.token,
        &bot,
        "from=2025-01-01&to=2025-01-02&format=csv",
    )
    .await;
    assert_eq!(body.lines().count(), 1, "the header alone: {body}");
    // Owners and admins only, a known format, and the export is audited.
    let editor = app.user_with_role(&owner, "eddie@acme.io", "editor").await;
    let (status, _, _) = export(&app, &editor, &bot, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = export(&app, &owner.token, &bot, "format=xlsx").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, audit) = app
        .get(
            "/api/v1/admin/audit-logs?action=bot.export_conversations",
            &owner.token,
        )
        .await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(4),
        "{audit}"
    );
}
