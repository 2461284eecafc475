//! Any OpenAI-compatible `/embeddings` endpoint (OpenAI, Ollama, vLLM,
//! llama.cpp, LocalAI). Errors are classified for the job queue: rate limits,
//! server errors and timeouts are worth retrying, the rest are not.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use docent_core::embed::{EmbedError, Embedder, TokenCounter};
use serde::{Deserialize, Serialize};

use super::{ApproxTokens, normalize};
use crate::retry;

pub(crate) const DEFAULT_MODEL: &str = "text-embedding-3-small";
/// Dimension assumed when none is configured (OpenAI's small model).
const DEFAULT_DIMS: usize = 1536;

pub struct OpenAiEmbedder {
    http: reqwest::Client,
    base: String,
    url: String,
    api_key: Option<String>,
    model: String,
    dims: usize,
    /// Send `dimensions` only when configured: some compatible servers reject it.
    send_dims: bool,
    id: String,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    pub fn new(
        base_url: &str,
        api_key: Option<String>,
        model: String,
        dims: Option<usize>,
    ) -> Result<Self, EmbedError> {
        let base = base_url.trim_end_matches('/');
        url::Url::parse(base)
            .map_err(|e| EmbedError::Failed(format!("bad embeddings base URL `{base}`: {e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| EmbedError::Failed(e.to_string()))?;
        let resolved = dims.unwrap_or(DEFAULT_DIMS);
        Ok(Self {
            http,
            base: base.to_string(),
            url: format!("{base}/embeddings"),
            api_key,
            id: format!("openai:{model}:{resolved}"),
            model,
            dims: resolved,
            send_dims: dims.is_some(),
        })
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dims(&self) -> usize {
        self.dims
    }

    fn batch_size(&self) -> usize {
        64
    }

    fn max_tokens(&self) -> usize {
        // Remote models take 512 (BERT-sized) to 8192 tokens; chunks are sized
        // to the smaller so any of them embeds them whole.
        512
    }

    fn tokens(&self) -> Arc<dyn TokenCounter> {
        Arc::new(ApproxTokens)
    }

    async fn check(&self) -> Result<(), String> {
        crate::probe::models(&self.http, &self.base, self.api_key.as_deref()).await
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.request(texts).await {
                Err(Transient {
                    message,
                    retry_after,
                }) if attempt < retry::TRIES => {
                    let wait = retry::wait(attempt, retry_after);
                    tracing::debug!(%message, wait_ms = wait.as_millis() as u64, "embeddings: retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(Transient { message, .. }) => return Err(EmbedError::Unavailable(message)),
                Ok(result) => return result,
            }
        }
    }
}

/// A failure worth another try soon (429, 5xx, timeout, connection refused).
struct Transient {
    message: String,
    retry_after: Option<Duration>,
}

impl OpenAiEmbedder {
    async fn request(
        &self,
        texts: &[String],
    ) -> Result<Result<Vec<Vec<f32>>, EmbedError>, Transient> {
        let transient = |message: String| Transient {
            message,
            retry_after: None,
        };
        let mut request = self.http.post(&self.url).json(&Request {
            model: &self.model,
            input: texts,
            dimensions: self.send_dims.then_some(self.dims),
        });
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transient(format!("embeddings request failed: {e}")))?;
        let status = response.status();
        if status.as_u16() == 429 || status.is_server_error() {
            let retry_after = retry::retry_after(response.headers());
            return Err(Transient {
                message: format!("embeddings endpoint answered {status}"),
                retry_after,
            });
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let body: String = body.chars().take(300).collect();
            return Ok(Err(EmbedError::Failed(format!(
                "embeddings endpoint answered {status}: {body}"
            ))));
        }
        let mut parsed: Response = response
            .json()
            .await
            .map_err(|e| transient(format!("unreadable embeddings response: {e}")))?;
        if parsed.data.len() != texts.len() {
            return Ok(Err(EmbedError::Failed(format!(
                "asked for {} embeddings, got {}",
                texts.len(),
                parsed.data.len()
            ))));
        }
        parsed.data.sort_by_key(|item| item.index);
        Ok(parsed
            .data
            .into_iter()
            .map(|mut item| {
                if item.embedding.len() != self.dims {
                    return Err(EmbedError::Failed(format!(
                        "the model returned {}-dimension vectors, {} expected: set DOCENT_EMBED_DIMS",
                        item.embedding.len(),
                        self.dims
                    )));
                }
                normalize(&mut item.embedding);
                Ok(item.embedding)
            })
            .collect())
    }
}
