//! Embedders behind [`docent_core::embed::Embedder`], and the choice between
//! them made once from configuration.

mod hash;
mod local;
mod openai;
mod tokens;
mod wordpiece;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use docent_core::embed::{EmbedError, Embedder};

pub use hash::HashEmbedder;
pub use local::LocalEmbedder;
pub use openai::OpenAiEmbedder;
pub use tokens::ApproxTokens;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedderKind {
    Hash,
    Local,
    OpenAi,
}

impl FromStr for EmbedderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hash" => Ok(Self::Hash),
            "local" => Ok(Self::Local),
            "openai" => Ok(Self::OpenAi),
            other => Err(format!(
                "unknown embedder `{other}`: use hash, local or openai"
            )),
        }
    }
}

/// The embedding part of the configuration.
#[derive(Clone, Debug, Default)]
pub struct EmbedSettings {
    /// `None`: `local` when `model_dir` holds a model, else `hash`.
    pub kind: Option<EmbedderKind>,
    pub model_dir: Option<PathBuf>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub model: Option<String>,
    pub dims: Option<usize>,
}

/// Builds the configured embedder; a missing model or URL is an error here,
/// at start, not at the first document.
pub fn build(settings: &EmbedSettings) -> Result<Arc<dyn Embedder>, EmbedError> {
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
                settings.api_key.clone(),
                settings
                    .model
                    .clone()
                    .unwrap_or_else(|| openai::DEFAULT_MODEL.to_string()),
                settings.dims,
            )?)
        }
    })
}

/// Scales a vector to unit length (a zero vector stays zero), so cosine
/// similarity is a dot product everywhere.
pub(crate) fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
