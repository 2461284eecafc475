//! An OpenAI-compatible fake model server for tests: no model service is
//! reachable here, so tests point the production HTTP clients at this one.
//! It speaks the wire format (`/v1/embeddings`, `/v1/chat/completions`
//! streamed or not) over real HTTP on a random loopback port, and can be told
//! to fail, stall or count.

pub mod backends;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// How the next requests are answered.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// Answer this many requests with `fail_status` before answering normally.
    pub fail_first: usize,
    pub fail_status: u16,
    /// Hold each answer this long (simulates a slow or hung provider).
    pub delay: Duration,
    /// The chat answer; default [`DEFAULT_REPLY`]. Streamed word by word.
    pub reply: Option<String>,
    /// Pause between two streamed chunks.
    pub chunk_delay: Duration,
    /// Stream this many chunks, then hang without closing.
    pub stall_after: Option<usize>,
}

/// What the fake model answers unless scripted otherwise.
pub const DEFAULT_REPLY: &str = "Refunds are granted within thirty days [1].";

#[derive(Default)]
struct Inner {
    script: Mutex<Script>,
    requests: AtomicUsize,
    failed: AtomicUsize,
    chats: Mutex<Vec<Value>>,
    reranks: Mutex<Vec<Value>>,
    /// Streams whose client went away before the end.
    abandoned: AtomicUsize,
}

/// A running fake; dropped with the test's runtime.
#[derive(Clone)]
pub struct FakeOpenAi {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl FakeOpenAi {
    pub async fn start() -> Self {
        Self::start_with(Script::default()).await
    }

    pub async fn start_with(script: Script) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("loopback address"), script).await
    }

    /// On a given address (to restart a fake where a server expects it).
    pub async fn start_on(addr: SocketAddr, script: Script) -> Self {
        let inner = Arc::new(Inner {
            script: Mutex::new(script),
            ..Inner::default()
        });
        let app = Router::new()
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/chat/completions", post(chat))
            .route("/v1/rerank", post(rerank))
            .route("/v1/models", axum::routing::get(models))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind fake");
        let addr = listener.local_addr().expect("bound");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner }
    }

    /// `http://127.0.0.1:PORT/v1`, as an OpenAI base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub async fn set_script(&self, script: Script) {
        *self.inner.script.lock().await = script;
    }

    /// Requests received so far (including failed ones).
    pub fn requests(&self) -> usize {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Bodies of the chat requests answered so far, oldest first.
    pub async fn chat_requests(&self) -> Vec<Value> {
        self.inner.chats.lock().await.clone()
    }

    /// Bodies of the rerank requests answered so far, oldest first.
    pub async fn rerank_requests(&self) -> Vec<Value> {
        self.inner.reranks.lock().await.clone()
    }

    /// Streamed answers whose client disconnected before the end.
    pub fn abandoned_streams(&self) -> usize {
        self.inner.abandoned.load(Ordering::SeqCst)
    }
}

/// The model list (what readiness probes ask for); not counted in
/// [`FakeOpenAi::requests`], which counts model work.
async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [{"id": "fake-model", "object": "model"}]}))
}

/// Counts a stream as abandoned unless it was driven to its end.
struct StreamGuard {
    inner: Arc<Inner>,
    finished: bool,
}

impl StreamGuard {
    fn complete(mut self) {
        self.finished = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.inner.abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The rerank API (Cohere/Jina style, as llama.cpp's server and vLLM serve
/// it): each document's relevance is the share of the query's words (three
/// letters or more) it contains, best first, cut at `top_n`.
async fn rerank(State(inner): State<Arc<Inner>>, Json(req): Json<Value>) -> Response {
    if let Err(failure) = begin(&inner).await {
        return failure;
    }
    inner.reranks.lock().await.push(req.clone());
    let words = |t: &str| -> Vec<String> {
        t.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 3)
            .map(str::to_lowercase)
            .collect()
    };
    let query = words(req["query"].as_str().unwrap_or(""));
    let documents = req["documents"].as_array().cloned().unwrap_or_default();
    let mut results: Vec<(usize, f64)> = documents
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let doc = words(d.as_str().unwrap_or(""));
            let hits = query.iter().filter(|w| doc.contains(w)).count();
            (i, hits as f64 / query.len().max(1) as f64)
        })
        .collect();
    results.sort_by(|a, b| b.1.total_cmp(&a.1));
    results.truncate(req["top_n"].as_u64().map_or(usize::MAX, |n| n as usize));
    let results: Vec<Value> = results
        .into_iter()
        .map(|(index, score)| json!({"index": index, "relevance_score": score}))
        .collect();
    Json(json!({"model": req["model"], "results": results})).into_response()
}

/// Counts a request and plays the script's delay; the scripted failure, if
/// this request is one of the first `fail_first`.
async fn begin(inner: &Inner) -> Result<Script, Response> {
    let n = inner.requests.fetch_add(1, Ordering::SeqCst);
    let script = inner.script.lock().await.clone();
    if !script.delay.is_zero() {
        tokio::time::sleep(script.delay).await;
    }
    if n < script.fail_first {
        inner.failed.fetch_add(1, Ordering::SeqCst);
        let status =
            StatusCode::from_u16(script.fail_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"error": {"message": "scripted failure", "type": "server_error"}});
        return Err((status, Json(body)).into_response());
    }
    Ok(script)
}

async fn chat(State(inner): State<Arc<Inner>>, Json(req): Json<Value>) -> Response {
    let script = match begin(&inner).await {
        Ok(script) => script,
        Err(failure) => return failure,
    };
    inner.chats.lock().await.push(req.clone());
    let mut reply = script
        .reply
        .clone()
        .unwrap_or_else(|| DEFAULT_REPLY.to_string());
    // As a real server does: one word a token, cut at `max_tokens`.
    let mut finish_reason = "stop";
    if let Some(max) = req["max_tokens"].as_u64()
        && reply.split_whitespace().count() > max as usize
    {
        reply = reply
            .split_whitespace()
            .take(max as usize)
            .collect::<Vec<_>>()
            .join(" ");
        finish_reason = "length";
    }
    let prompt_tokens: usize = req["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| {
                    m["content"]
                        .as_str()
                        .unwrap_or("")
                        .split_whitespace()
                        .count()
                })
                .sum()
        })
        .unwrap_or(0);
    let completion_tokens = reply.split_whitespace().count();
    let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens});
    let model = req["model"].clone();
    if req["stream"] != true {
        return Json(json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": finish_reason}],
            "usage": usage,
        }))
        .into_response();
    }
    // Word by word, keeping the spaces, so the deltas concatenate to the reply.
    let mut pieces: Vec<String> = reply.split_inclusive(' ').map(str::to_string).collect();
    if pieces.is_empty() {
        pieces.push(String::new());
    }
    let mut frames: Vec<String> = pieces
        .iter()
        .map(|p| {
            let chunk = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]});
            format!("data: {chunk}\n\n")
        })
        .collect();
    let last = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
        "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]});
    frames.push(format!("data: {last}\n\n"));
    let with_usage = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
        "choices": [], "usage": usage});
    frames.push(format!("data: {with_usage}\n\n"));
    frames.push("data: [DONE]\n\n".to_string());
    let guard = StreamGuard {
        inner: inner.clone(),
        finished: false,
    };
    let state = (frames.into_iter(), 0usize, script, guard);
    let stream = futures::stream::unfold(state, |(mut frames, sent, script, guard)| async move {
        if script.stall_after.is_some_and(|limit| sent >= limit) {
            std::future::pending::<()>().await;
        }
        if sent > 0 && !script.chunk_delay.is_zero() {
            tokio::time::sleep(script.chunk_delay).await;
        }
        match frames.next() {
            Some(frame) => Some((
                Ok::<_, std::convert::Infallible>(frame),
                (frames, sent + 1, script, guard),
            )),
            None => {
                guard.complete();
                None
            }
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(axum::body::Body::from_stream(stream))
        .expect("valid response")
}

/// A deterministic 384-dimension embedding of a text (byte trigram hashing),
/// so equal texts get equal vectors and similar texts similar ones.
pub fn fake_embedding(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; 384];
    let bytes = text.to_lowercase().into_bytes();
    for w in bytes.windows(3) {
        let h = w
            .iter()
            .fold(2166136261u32, |h, b| (h ^ *b as u32).wrapping_mul(16777619));
        v[(h % 384) as usize] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter().map(|x| x / norm).collect()
}

async fn embeddings(State(inner): State<Arc<Inner>>, Json(req): Json<Value>) -> Response {
    if let Err(failure) = begin(&inner).await {
        return failure;
    }
    let inputs: Vec<String> = match &req["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"message": "input required"}})),
            )
                .into_response();
        }
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": fake_embedding(t)}))
        .collect();
    let tokens: usize = inputs.iter().map(|t| t.split_whitespace().count()).sum();
    Json(json!({
        "object": "list",
        "data": data,
        "model": req["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
    }))
    .into_response()
}

/// The `docent` binary of this build (`target/<profile>/docent`), which the
/// server runs as its extraction sandbox. `cargo test --workspace` and
/// `scripts/test.sh` build it; a test binary lives in `target/<profile>/deps`.
pub fn docent_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary inside target/<profile>/deps");
    let binary = profile_dir.join("docent");
    assert!(
        binary.exists(),
        "{} is missing: build it first (cargo build -p docent)",
        binary.display()
    );
    binary
}
