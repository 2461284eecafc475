//! Embedders behind [`docent_core::embed::Embedder`], and the choice between
//! them made once from configuration.

mod hash;
mod local;
pub mod models;
mod openai;
mod tokens;
mod wordpiece;

use std::path::PathBuf;
use std::sync::Arc;

use docent_core::embed::{EmbedError, Embedder};

pub use hash::HashEmbedder;
pub use local::LocalEmbedder;
pub use openai::OpenAiEmbedder;
pub use tokens::ApproxTokens;

pub use docent_core::config::EmbedderKind;

/// The embedding part of the configuration (`[embedder]`).
pub use docent_core::config::EmbedderSettings;

/// Builds the configured embedder; a missing model or URL is an error here,
/// at start, not at the first document.
pub fn build(settings: &EmbedderSettings) -> Result<Arc<dyn Embedder>, EmbedError> {
    let kind = settings.kind.unwrap_or_else(|| match &settings.model_dir {
        Some(dir) if dir.join("model.safetensors").is_file() => EmbedderKind::Local,
        Some(dir) => {
            tracing::warn!(dir = %dir.display(), "no model.safetensors in the model dir; using the hash embedder");
            EmbedderKind::Hash
        }
        None => EmbedderKind::Hash,
    });
    Ok(match kind {
        EmbedderKind::Hash => Arc::new(HashEmbedder::new(
            settings.dims.unwrap_or(hash::DEFAULT_DIMS),
        )),
        EmbedderKind::Local => {
            let dir = settings.model_dir.as_ref().ok_or_else(|| {
                EmbedError::Failed("the local embedder needs DOCENT_EMBED_MODEL_DIR".into())
            })?;
            Arc::new(LocalEmbedder::load(dir)?)
        }
        EmbedderKind::OpenAi => {
            let base_url = settings.base_url.as_deref().ok_or_else(|| {
                EmbedError::Failed("the openai embedder needs DOCENT_EMBED_BASE_URL".into())
            })?;
            Arc::new(OpenAiEmbedder::new(
                base_url,
                settings.api_key.as_ref().map(|k| k.expose().to_string()),
                settings
                    .model
                    .clone()
                    .unwrap_or_else(|| openai::DEFAULT_MODEL.to_string()),
                settings.dims,
            )?)
        }
    })
}

/// Where the default model comes from when no embedder is configured.
#[derive(Clone, Debug)]
pub struct ModelSource {
    /// `DOCENT_MODEL_SOURCE`: a hub-layout URL or a local directory.
    pub source: String,
    /// `{data_dir}/models`.
    pub cache_root: PathBuf,
    /// Longest start-up waits for a fetch before it falls back to hashing.
    pub wait: std::time::Duration,
}

/// The embedder an instance runs, and why it is not the one it wanted.
pub struct Resolved {
    pub embedder: Arc<dyn Embedder>,
    /// Set when the hashing fallback runs because the default model could
    /// not be had: the reason, for the start log and `/ready`.
    pub degraded: Option<String>,
}

/// The embedder of an instance: the configured one, or with none configured
/// the default sentence embedder (all-MiniLM-L6-v2), from the cache in the
/// data dir or fetched from the model source, verified. A fetch that fails or
/// takes longer than `wait` leaves the hashing fallback running, marked
/// degraded; a fetch still under way goes on in the background and serves
/// the next start.
pub async fn resolve(
    settings: &EmbedderSettings,
    source: &ModelSource,
) -> Result<Resolved, EmbedError> {
    let explicit = settings.kind.is_some()
        || settings
            .model_dir
            .as_ref()
            .is_some_and(|d| d.join("model.safetensors").is_file());
    if explicit {
        return Ok(Resolved {
            embedder: build(settings)?,
            degraded: None,
        });
    }
    let spec = &models::ALL_MINILM_L6_V2;
    let fetched = match models::cached(spec, &source.cache_root) {
        Some(dir) => Ok(dir),
        None => {
            tracing::info!(model = spec.name, source = %source.source, "fetching the default embedding model");
            let task = {
                let (src, root) = (source.source.clone(), source.cache_root.clone());
                tokio::spawn(async move { models::fetch(spec, &src, &root).await })
            };
            match tokio::time::timeout(source.wait, task).await {
                Ok(Ok(done)) => done.map_err(|e| e.to_string()),
                Ok(Err(join)) => Err(join.to_string()),
                Err(_) => Err(format!(
                    "fetching {} from {} takes longer than {} s; it goes on in the background and is used from the next start",
                    spec.name,
                    source.source,
                    source.wait.as_secs()
                )),
            }
        }
    };
    match fetched {
        Ok(dir) => Ok(Resolved {
            embedder: Arc::new(LocalEmbedder::load(&dir)?),
            degraded: None,
        }),
        Err(reason) => Ok(Resolved {
            embedder: Arc::new(HashEmbedder::new(
                settings.dims.unwrap_or(hash::DEFAULT_DIMS),
            )),
            degraded: Some(format!(
                "no sentence embedding model ({reason}); search runs on the hashing fallback, which matches words, not meaning"
            )),
        }),
    }
}

/// Scales a vector to unit length (a zero vector stays zero), so cosine
/// similarity is a dot product everywhere.
pub(crate) fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
