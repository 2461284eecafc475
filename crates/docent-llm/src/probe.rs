//! The readiness probe of an OpenAI-compatible server: `GET {base}/models`,
//! which OpenAI, Ollama, vLLM and llama.cpp's server all answer without
//! running a model, so probing costs the server nothing.

use std::time::Duration;

/// Longest a probe waits: readiness answers quickly or says why not.
const TIMEOUT: Duration = Duration::from_secs(3);

/// `Ok` when the server lists its models; else a reason fit for `/ready`.
pub(crate) async fn models(
    http: &reqwest::Client,
    base: &str,
    api_key: Option<&str>,
) -> Result<(), String> {
    let mut request = http.get(format!("{base}/models")).timeout(TIMEOUT);
    if let Some(key) = api_key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("no answer within {} s", TIMEOUT.as_secs())
        } else {
            "unreachable".to_string()
        }
    })?;
    match response.status() {
        s if s.is_success() => Ok(()),
        s if s.as_u16() == 401 || s.as_u16() == 403 => Err(format!("the API key is refused ({s})")),
        s => Err(format!("answered {s}")),
    }
}
