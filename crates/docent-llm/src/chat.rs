//! Any OpenAI-compatible Chat Completions endpoint (OpenAI, Ollama, vLLM,
//! llama.cpp), always streamed. Before the first token, connection errors,
//! 429 and 5xx are retried with backoff; after it, a failure ends the stream
//! with an error (the caller keeps what arrived). Chunks are parsed leniently
//! (as JSON values) because "compatible" servers differ in the fields they
//! send.

use std::time::Duration;

use async_trait::async_trait;
use docent_core::llm::{ChatEvent, ChatModel, ChatRequest, ChatStream, LlmError, Usage};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::retry;

#[derive(Clone, Debug)]
pub struct ChatSettings {
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    /// Longest wait for the response headers and for the first token.
    pub first_token_timeout: Duration,
    /// Longest silence between two chunks once streaming.
    pub idle_timeout: Duration,
}

pub struct OpenAiChat {
    http: reqwest::Client,
    base: String,
    url: String,
    settings: ChatSettings,
}

impl OpenAiChat {
    pub fn new(settings: ChatSettings) -> Result<Self, LlmError> {
        let base = settings.base_url.trim_end_matches('/');
        url::Url::parse(base)
            .map_err(|e| LlmError::Failed(format!("bad LLM base URL `{base}`: {e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| LlmError::Failed(e.to_string()))?;
        Ok(Self {
            http,
            base: base.to_string(),
            url: format!("{base}/chat/completions"),
            settings,
        })
    }

    fn body(&self, request: &ChatRequest) -> Value {
        let mut body = json!({
            "model": request.model.as_deref().unwrap_or(&self.settings.model),
            "messages": request.messages,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(m) = request.max_tokens {
            body["max_tokens"] = json!(m);
        }
        body
    }

    /// One attempt: `Err(Some(wait))` means worth retrying after `wait`.
    async fn send(&self, body: &Value) -> Result<reqwest::Response, (LlmError, Option<Duration>)> {
        let mut request = self.http.post(&self.url).json(body);
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key);
        }
        let response = tokio::time::timeout(self.settings.first_token_timeout, request.send())
            .await
            .map_err(|_| {
                let waited = self.settings.first_token_timeout.as_secs_f32();
                (
                    LlmError::Timeout(format!("no response within {waited} s")),
                    None,
                )
            })?
            .map_err(|e| {
                (
                    LlmError::Unavailable(format!("request failed: {e}")),
                    Some(Duration::ZERO),
                )
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry::retry_after(response.headers());
        let text: String = response
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        if status.as_u16() == 429 || status.is_server_error() {
            Err((
                LlmError::Unavailable(format!("the model server answered {status}: {text}")),
                Some(retry_after.unwrap_or(Duration::ZERO)),
            ))
        } else {
            Err((
                LlmError::Failed(format!("the model server answered {status}: {text}")),
                None,
            ))
        }
    }
}

#[async_trait]
impl ChatModel for OpenAiChat {
    fn model(&self) -> &str {
        &self.settings.model
    }

    async fn check(&self) -> Result<(), String> {
        let key = self.settings.api_key.as_deref();
        crate::probe::models(&self.http, &self.base, key).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        let body = self.body(&request);
        let mut attempt = 0;
        let response = loop {
            attempt += 1;
            match self.send(&body).await {
                Ok(response) => break response,
                Err((error, Some(retry_after))) if attempt < retry::TRIES => {
                    let wait = retry::wait(attempt, Some(retry_after));
                    tracing::debug!(%error, wait_ms = wait.as_millis() as u64, "chat completion: retrying");
                    tokio::time::sleep(wait).await;
                }
                Err((error, _)) => return Err(error),
            }
        };
        Ok(read_stream(
            response,
            self.settings.first_token_timeout,
            self.settings.idle_timeout,
        ))
    }
}

struct Reader {
    events: futures::stream::BoxStream<
        'static,
        Result<eventsource_stream::Event, eventsource_stream::EventStreamError<reqwest::Error>>,
    >,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    first: bool,
    done: bool,
    first_token_timeout: Duration,
    idle_timeout: Duration,
}

fn read_stream(
    response: reqwest::Response,
    first_token_timeout: Duration,
    idle_timeout: Duration,
) -> ChatStream {
    let events = response.bytes_stream().eventsource().boxed();
    let reader = Reader {
        events,
        usage: None,
        finish_reason: None,
        first: true,
        done: false,
        first_token_timeout,
        idle_timeout,
    };
    futures::stream::unfold(reader, |mut r| async move {
        if r.done {
            return None;
        }
        loop {
            let limit = if r.first {
                r.first_token_timeout
            } else {
                r.idle_timeout
            };
            let next = match tokio::time::timeout(limit, r.events.next()).await {
                Err(_) => {
                    r.done = true;
                    let what = if r.first {
                        "no first token"
                    } else {
                        "the stream stalled"
                    };
                    return Some((
                        Err(LlmError::Timeout(format!(
                            "{what} within {} s",
                            limit.as_secs_f32()
                        ))),
                        r,
                    ));
                }
                Ok(next) => next,
            };
            let event = match next {
                None => break,
                Some(Err(e)) => {
                    r.done = true;
                    return Some((
                        Err(LlmError::Unavailable(format!("the stream broke: {e}"))),
                        r,
                    ));
                }
                Some(Ok(event)) => event,
            };
            let data = event.data.trim();
            if data == "[DONE]" {
                break;
            }
            let Ok(chunk) = serde_json::from_str::<Value>(data) else {
                continue; // comments, keep-alives, unknown lines
            };
            if let Some(message) = chunk["error"]["message"].as_str() {
                r.done = true;
                return Some((Err(LlmError::Unavailable(message.to_string())), r));
            }
            if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
                r.usage = Some(Usage {
                    prompt_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0) as u32,
                    completion_tokens: usage["completion_tokens"].as_u64().unwrap_or(0) as u32,
                });
            }
            let choice = &chunk["choices"][0];
            if let Some(reason) = choice["finish_reason"].as_str().filter(|s| !s.is_empty()) {
                r.finish_reason = Some(reason.to_string());
            }
            if let Some(text) = choice["delta"]["content"]
                .as_str()
                .filter(|s| !s.is_empty())
            {
                r.first = false;
                return Some((Ok(ChatEvent::Delta(text.to_string())), r));
            }
        }
        r.done = true;
        let done = ChatEvent::Done {
            usage: r.usage.take(),
            finish_reason: r.finish_reason.take(),
        };
        Some((Ok(done), r))
    })
    .boxed()
}
