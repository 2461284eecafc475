//! A client of the rerank API that Cohere and Jina defined and llama.cpp's
//! server, vLLM and TEI serve: `POST {base}/rerank` with `{model, query,
//! documents, top_n}`, answered by `results[].{index, relevance_score}`.
//! Cohere and Jina return relevance in [0, 1]; servers that return a cross-
//! encoder's raw logit (llama.cpp) are mapped through the logistic function,
//! so the score is always a relevance in [0, 1].

use std::time::Duration;

use async_trait::async_trait;
use docent_core::rerank::{RerankError, Reranker};
use serde::{Deserialize, Serialize};

use crate::retry;

pub struct ApiReranker {
    http: reqwest::Client,
    url: String,
    api_key: Option<String>,
    model: String,
    id: String,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    query: &'a str,
    documents: &'a [String],
    top_n: usize,
}

#[derive(Deserialize)]
struct Response {
    results: Vec<Scored>,
}

#[derive(Deserialize)]
struct Scored {
    index: usize,
    relevance_score: f32,
}

impl ApiReranker {
    pub fn new(
        base_url: &str,
        api_key: Option<String>,
        model: String,
    ) -> Result<Self, RerankError> {
        let base = base_url.trim_end_matches('/');
        url::Url::parse(base)
            .map_err(|e| RerankError::Failed(format!("bad rerank base URL `{base}`: {e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // Reranking sits in the path of every search: a slow reranker
            // must not hold searches up for long.
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| RerankError::Failed(e.to_string()))?;
        Ok(Self {
            http,
            url: format!("{base}/rerank"),
            api_key,
            id: format!("api:{model}"),
            model,
        })
    }

    async fn request(&self, query: &str, documents: &[String]) -> Result<Vec<f32>, Attempt> {
        let mut request = self.http.post(&self.url).json(&Request {
            model: &self.model,
            query,
            documents,
            top_n: documents.len(),
        });
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Attempt::Again(format!("rerank request failed: {e}"), None))?;
        let status = response.status();
        if status.as_u16() == 429 || status.is_server_error() {
            let after = retry::retry_after(response.headers());
            return Err(Attempt::Again(
                format!("rerank endpoint answered {status}"),
                after,
            ));
        }
        if !status.is_success() {
            let body: String = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            return Err(Attempt::Fail(format!(
                "rerank endpoint answered {status}: {body}"
            )));
        }
        let parsed: Response = response
            .json()
            .await
            .map_err(|e| Attempt::Fail(format!("unreadable rerank response: {e}")))?;
        let mut scores = vec![None; documents.len()];
        for r in parsed.results {
            let slot = scores.get_mut(r.index).ok_or_else(|| {
                Attempt::Fail(format!(
                    "rerank result for document {} of {}",
                    r.index,
                    documents.len()
                ))
            })?;
            *slot = Some(r.relevance_score);
        }
        let raw: Vec<f32> = scores
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                s.ok_or_else(|| Attempt::Fail(format!("no rerank score for document {i}")))
            })
            .collect::<Result<_, _>>()?;
        if raw.iter().any(|s| !s.is_finite()) {
            return Err(Attempt::Fail("a rerank score is not a number".into()));
        }
        Ok(relevance(raw))
    }
}

enum Attempt {
    Again(String, Option<Duration>),
    Fail(String),
}

/// Scores as relevance in [0, 1]: kept when every one already is, else (raw
/// logits) through the logistic function.
fn relevance(raw: Vec<f32>) -> Vec<f32> {
    if raw.iter().all(|s| (0.0..=1.0).contains(s)) {
        raw
    } else {
        raw.into_iter().map(|s| 1.0 / (1.0 + (-s).exp())).collect()
    }
}

#[async_trait]
impl Reranker for ApiReranker {
    fn id(&self) -> &str {
        &self.id
    }

    async fn rerank(&self, query: &str, documents: &[String]) -> Result<Vec<f32>, RerankError> {
        if documents.is_empty() {
            return Ok(Vec::new());
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.request(query, documents).await {
                Ok(scores) => return Ok(scores),
                Err(Attempt::Again(message, after)) if attempt < retry::TRIES => {
                    tokio::time::sleep(retry::wait(attempt, after)).await;
                    tracing::debug!(%message, "rerank: retrying");
                }
                Err(Attempt::Again(message, _)) => return Err(RerankError::Unavailable(message)),
                Err(Attempt::Fail(message)) => return Err(RerankError::Failed(message)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::relevance;

    #[test]
    fn logits_become_relevance() {
        assert_eq!(relevance(vec![0.2, 0.9]), vec![0.2, 0.9]);
        let mapped = relevance(vec![-3.0, 0.0, 4.0]);
        assert!(mapped[0] < 0.05 && (mapped[1] - 0.5).abs() < 1e-6 && mapped[2] > 0.98);
    }
}
