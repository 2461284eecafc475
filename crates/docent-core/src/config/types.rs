//! The values settings are parsed into at load, so nothing downstream checks
//! a string by its prefix.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::Invalid;

/// Which embedder computes the vectors (`DOCENT_EMBEDDER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbedderKind {
    /// Feature hashing: words, not meaning; needs nothing.
    Hash,
    /// all-MiniLM-L6-v2 (or a model directory) in this process.
    Local,
    /// An OpenAI-compatible `/embeddings` endpoint.
    #[serde(rename = "openai")]
    OpenAi,
}

impl std::str::FromStr for EmbedderKind {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "hash" => Ok(Self::Hash),
            "local" => Ok(Self::Local),
            "openai" => Ok(Self::OpenAi),
            other => Err(Invalid(format!(
                "unknown embedder `{other}`: use hash, local or openai"
            ))),
        }
    }
}

/// How the embedded vector index of a large bot keeps its vectors in
/// memory (`DOCENT_VECTOR_QUANTIZATION`); candidates are re-scored with the
/// exact vectors from the database either way, so it trades memory for
/// recall only at the margin (docs/BENCHMARKS.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VectorQuantization {
    /// One byte per dimension: a quarter of f32's memory.
    #[default]
    I8,
    /// Two bytes per dimension.
    F16,
    /// Full precision.
    F32,
}

impl VectorQuantization {
    pub fn name(self) -> &'static str {
        match self {
            Self::I8 => "i8",
            Self::F16 => "f16",
            Self::F32 => "f32",
        }
    }
}

impl std::str::FromStr for VectorQuantization {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "i8" => Ok(Self::I8),
            "f16" => Ok(Self::F16),
            "f32" => Ok(Self::F32),
            other => Err(Invalid(format!(
                "unknown vector quantization `{other}`: use i8, f16 or f32"
            ))),
        }
    }
}

/// Where the data lives, parsed from `DOCENT_DATABASE_URL` (default: the
/// embedded file in the data dir).
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH` (or `sqlite:PATH`): the embedded database file.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, as given (it may hold a password).
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, Invalid> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_string()));
        }
        let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        else {
            return Err(Invalid(
                "must be sqlite://PATH or postgres://USER@HOST:PORT/DB".into(),
            ));
        };
        if path.is_empty() || path.contains('?') {
            return Err(Invalid(
                "a SQLite URL is sqlite://PATH, without options (Docent sets its own)".into(),
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// The URL to connect with.
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => url.clone(),
        }
    }
}

/// Never prints a PostgreSQL URL's credentials.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
            Self::Postgres(_) => f.write_str("Postgres(…)"),
        }
    }
}

/// Where uploaded sources are kept, parsed from `DOCENT_STORAGE_URL`
/// (default: `files/` in the data dir).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageUrl {
    /// `file://DIR`: a directory on local disk.
    Files(PathBuf),
    /// `s3://BUCKET?endpoint=…&region=…`: any S3-compatible service;
    /// credentials come from the usual `AWS_*` variables.
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: Option<String>,
    },
}

impl StorageUrl {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if let Some(dir) = raw.strip_prefix("file://") {
            if dir.is_empty() {
                return Err(Invalid("file:// names no directory".into()));
            }
            return Ok(Self::Files(PathBuf::from(dir)));
        }
        if !raw.starts_with("s3://") {
            return Err(Invalid(
                "must be file://DIR or s3://BUCKET?endpoint=…&region=…".into(),
            ));
        }
        let url = url::Url::parse(raw).map_err(|e| Invalid(format!("{e}")))?;
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Invalid("names no bucket".into()))?
            .to_string();
        let (mut endpoint, mut region) = (None, None);
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "endpoint" => endpoint = Some(value.into_owned()),
                "region" => region = Some(value.into_owned()),
                other => {
                    return Err(Invalid(format!(
                        "unknown parameter `{other}` (endpoint, region)"
                    )));
                }
            }
        }
        Ok(Self::S3 {
            bucket,
            endpoint,
            region,
        })
    }

    /// The URL it was parsed from, in a normal form.
    pub fn url(&self) -> String {
        match self {
            Self::Files(dir) => format!("file://{}", dir.display()),
            Self::S3 {
                bucket,
                endpoint,
                region,
            } => {
                let mut url = url::Url::parse(&format!("s3://{bucket}")).expect("a bucket URL");
                let mut query = url.query_pairs_mut();
                endpoint
                    .iter()
                    .for_each(|e| _ = query.append_pair("endpoint", e));
                region
                    .iter()
                    .for_each(|r| _ = query.append_pair("region", r));
                drop(query);
                url.to_string()
            }
        }
    }
}

/// Both URLs are read and written as their text, parsed on the way in.
macro_rules! text_serde {
    ($type:ty) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.url())
            }
        }
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(|e| serde::de::Error::custom(e.0))
            }
        }
    };
}
text_serde!(DatabaseUrl);
text_serde!(StorageUrl);

/// A value that must never reach a log line: `Debug` prints a placeholder.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_parsed_into_types() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/docent/docent.db").unwrap(),
            DatabaseUrl::Sqlite("/var/docent/docent.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:data/docent.db").unwrap().url(),
            "sqlite://data/docent.db"
        );
        let pg = DatabaseUrl::parse("postgres://docent:secret@db:5432/docent").unwrap();
        assert!(matches!(pg, DatabaseUrl::Postgres(_)));
        assert!(!format!("{pg:?}").contains("secret"));
        for bad in ["mysql://x", "sqlite://", "sqlite://x.db?mode=ro", ""] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn storage_urls_are_parsed_into_types() {
        assert_eq!(
            StorageUrl::parse("file:///srv/files").unwrap(),
            StorageUrl::Files("/srv/files".into())
        );
        let s3 = StorageUrl::parse("s3://docs?endpoint=http://127.0.0.1:9000&region=eu-1").unwrap();
        assert_eq!(
            s3,
            StorageUrl::S3 {
                bucket: "docs".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("eu-1".into()),
            }
        );
        assert_eq!(StorageUrl::parse(&s3.url()).unwrap(), s3);
        for bad in [
            "file://",
            "s3://",
            "s3://b?colour=red",
            "ftp://x",
            "/srv/files",
        ] {
            assert!(StorageUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn embedder_kinds_are_parsed() {
        assert_eq!(
            "openai".parse::<EmbedderKind>().unwrap(),
            EmbedderKind::OpenAi
        );
        assert!("onnx".parse::<EmbedderKind>().is_err());
        let kind: EmbedderKind = serde_json::from_str("\"local\"").unwrap();
        assert_eq!(kind, EmbedderKind::Local);
        assert!(serde_json::from_str::<EmbedderKind>("\"onnx\"").is_err());
    }
}
