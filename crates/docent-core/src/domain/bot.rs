use super::{Invalid, UnsupportedSentences};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::ids::{BotId, TenantId};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetrievalMode {
    #[default]
    Hybrid,
    Vector,
    Keyword,
}

/// How a bot searches its knowledge base before answering.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RetrievalSettings {
    pub mode: RetrievalMode,
    /// Passages retrieved per question (1–50).
    pub top_k: u32,
    /// Relevance floor in [0, 1]: passages scoring below it are not used, and
    /// a question with none above it gets an "I don't know". `null`: the
    /// calibrated default of the instance's embedder for the mode.
    pub min_score: Option<f32>,
    /// Rerank retrieved passages with the server's reranker: `null` (the
    /// default) whenever one is configured, `false` never.
    pub rerank: Option<bool>,
}

impl Default for RetrievalSettings {
    fn default() -> Self {
        Self {
            mode: RetrievalMode::Hybrid,
            top_k: 5,
            min_score: None,
            rerank: None,
        }
    }
}

/// One assistant: its prompt, model settings, widget settings and (through its
/// documents) its own knowledge base.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Bot {
    pub id: BotId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub name: String,
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    pub welcome_message: Option<String>,
    /// Model name passed to the LLM endpoint; the server default when null.
    pub model: Option<String>,
    pub temperature: Option<f32>,
    /// Longest answer the model may write, in tokens (1–32768); null: the
    /// instance default (`DOCENT_LLM_MAX_TOKENS`, else the model's own).
    pub max_tokens: Option<u32>,
    /// Public bots may be embedded with the widget on `allowed_origins`.
    pub public: bool,
    pub allowed_origins: Vec<String>,
    pub retrieval: RetrievalSettings,
    /// Free-form widget styling (colours, position); an object.
    #[schema(value_type = Object)]
    pub theme: serde_json::Value,
    /// Messages per minute one visitor (embed token) may send (1–1000).
    pub visitor_messages_per_minute: u32,
    /// What a generated answer does with a sentence the passages it cites do
    /// not support: `flag` (the default: kept and named in `grounding`) or
    /// `drop` (left out).
    pub unsupported_sentences: UnsupportedSentences,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST /bots`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct NewBot {
    pub name: String,
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    pub welcome_message: Option<String>,
    pub model: Option<String>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub retrieval: RetrievalSettings,
    #[schema(value_type = Object)]
    pub theme: Option<serde_json::Value>,
    /// Default 20.
    pub visitor_messages_per_minute: Option<u32>,
    /// Default `flag`.
    #[serde(default)]
    pub unsupported_sentences: UnsupportedSentences,
}

/// Messages per minute a visitor may send when a bot does not say.
pub const DEFAULT_VISITOR_MESSAGES_PER_MINUTE: u32 = 20;

/// Body of `PATCH /bots/{id}`: absent fields stay as they are, `null` clears a
/// nullable one.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct BotPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub system_prompt: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub welcome_message: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub model: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f32>)]
    pub temperature: Option<Option<f32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub max_tokens: Option<Option<u32>>,
    pub public: Option<bool>,
    pub allowed_origins: Option<Vec<String>>,
    pub retrieval: Option<RetrievalSettings>,
    #[schema(value_type = Option<Object>)]
    pub theme: Option<serde_json::Value>,
    pub visitor_messages_per_minute: Option<u32>,
    pub unsupported_sentences: Option<UnsupportedSentences>,
}

/// Distinguishes a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl Bot {
    /// Applies a patch in place.
    pub fn apply(&mut self, patch: BotPatch) {
        if let Some(name) = patch.name {
            self.name = name;
        }
        if let Some(v) = patch.description {
            self.description = v;
        }
        if let Some(v) = patch.system_prompt {
            self.system_prompt = v;
        }
        if let Some(v) = patch.welcome_message {
            self.welcome_message = v;
        }
        if let Some(v) = patch.model {
            self.model = v;
        }
        if let Some(v) = patch.temperature {
            self.temperature = v;
        }
        if let Some(v) = patch.max_tokens {
            self.max_tokens = v;
        }
        if let Some(v) = patch.public {
            self.public = v;
        }
        if let Some(v) = patch.allowed_origins {
            self.allowed_origins = v;
        }
        if let Some(v) = patch.retrieval {
            self.retrieval = v;
        }
        if let Some(v) = patch.theme {
            self.theme = v;
        }
        if let Some(v) = patch.visitor_messages_per_minute {
            self.visitor_messages_per_minute = v;
        }
        if let Some(v) = patch.unsupported_sentences {
            self.unsupported_sentences = v;
        }
    }

    /// Whether a browser page of `origin` may embed this bot.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|pattern| origin_matches(pattern, origin))
    }

    /// Checks every field against the limits the product promises; the message
    /// names the field at fault.
    pub fn validate(&self) -> Result<(), Invalid> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err("`name` must be 1 to 200 characters".into());
        }
        for (field, value, max) in [
            ("description", &self.description, 2_000),
            ("system_prompt", &self.system_prompt, 20_000),
            ("welcome_message", &self.welcome_message, 2_000),
            ("model", &self.model, 200),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                return Err(format!("`{field}` must be at most {max} characters").into());
            }
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err("`temperature` must be between 0 and 2".into());
        }
        if !(1..=50).contains(&self.retrieval.top_k) {
            return Err("`retrieval.top_k` must be between 1 and 50".into());
        }
        if self.max_tokens.is_some_and(|t| !(1..=32_768).contains(&t)) {
            return Err("`max_tokens` must be null or between 1 and 32768".into());
        }
        if let Some(floor) = self.retrieval.min_score
            && !(0.0..=1.0).contains(&floor)
        {
            return Err("`retrieval.min_score` must be null or a number from 0 to 1".into());
        }
        if self.allowed_origins.len() > 100 {
            return Err("`allowed_origins` holds at most 100 origins".into());
        }
        for origin in &self.allowed_origins {
            validate_origin_pattern(origin)?;
        }
        validate_theme(&self.theme)?;
        if !(1..=1000).contains(&self.visitor_messages_per_minute) {
            return Err("`visitor_messages_per_minute` must be between 1 and 1000".into());
        }
        Ok(())
    }
}

/// An allowed origin is `scheme://host[:port]` with no path, where the host may
/// start with `*.` to allow every subdomain.
fn validate_origin_pattern(origin: &str) -> Result<(), Invalid> {
    let bad = || {
        Err(format!(
            "`allowed_origins`: `{origin}` is not an origin like https://example.com or https://*.example.com"
        ).into())
    };
    let Some((scheme, rest)) = origin.split_once("://") else {
        return bad();
    };
    if !matches!(scheme, "http" | "https")
        || rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' '])
    {
        return bad();
    }
    let host = rest.strip_prefix("*.").unwrap_or(rest);
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host, None),
    };
    if host.is_empty() || host.contains('*') || port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return bad();
    }
    Ok(())
}

/// Scheme, host and port of an origin, with the scheme's default port made
/// explicit, so `https://a.com` and `https://a.com:443` compare equal.
fn origin_parts(origin: &str) -> Option<(String, String, u16)> {
    let url = url::Url::parse(origin).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let port = url.port_or_known_default()?;
    // An origin has no path, query, fragment or credentials.
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    (bare && url.username().is_empty() && matches!(url.scheme(), "http" | "https"))
        .then(|| (url.scheme().to_string(), host, port))
}

/// Whether the `Origin` a browser sent matches an allowed-origin pattern:
/// scheme, host and port exactly, or, for `scheme://*.domain[:port]`, any
/// subdomain of `domain` (not `domain` itself) with the same scheme and port.
/// The opaque origin `null` and anything unparsable match nothing.
pub fn origin_matches(pattern: &str, origin: &str) -> bool {
    let Some((scheme, host, port)) = origin_parts(origin) else {
        return false;
    };
    match pattern.split_once("://*.") {
        Some((p_scheme, rest)) => {
            let Some((p_scheme, domain, p_port)) = origin_parts(&format!("{p_scheme}://{rest}"))
            else {
                return false;
            };
            p_scheme == scheme
                && p_port == port
                && host
                    .strip_suffix(&domain)
                    .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
        }
        None => origin_parts(pattern) == Some((scheme, host, port)),
    }
}

/// The widget's theme keys (README, "Put the bot on your site").
pub const THEME_KEYS: [&str; 5] = [
    "primary_color",
    "text_color",
    "background_color",
    "position",
    "launcher_label",
];

/// Most bytes of a theme, as JSON.
pub const MAX_THEME_BYTES: usize = 4096;

/// A theme is a small flat object: at most [`MAX_THEME_BYTES`] as JSON,
/// string, number or boolean values, and the widget's own keys
/// ([`THEME_KEYS`]) short strings. Other keys are kept (the contract's
/// `theme` is free-form) and ignored by the widget.
fn validate_theme(theme: &serde_json::Value) -> Result<(), Invalid> {
    let Some(keys) = theme.as_object() else {
        return Err("`theme` must be a JSON object".into());
    };
    if theme.to_string().len() > MAX_THEME_BYTES {
        return Err(format!("`theme` holds at most {MAX_THEME_BYTES} bytes of JSON").into());
    }
    for (key, value) in keys {
        let shown: String = key.chars().take(40).collect();
        if !THEME_KEYS.contains(&key.as_str()) {
            if value.is_object() || value.is_array() {
                return Err(format!("`theme.{shown}` must be a string, number or boolean").into());
            }
            continue;
        }
        let limit = if key == "launcher_label" { 40 } else { 100 };
        match value.as_str() {
            Some(v) if v.chars().count() <= limit => {}
            _ => {
                return Err(format!(
                    "`theme.{shown}` must be a string of at most {limit} characters"
                )
                .into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_patterns() {
        for ok in [
            "https://example.com",
            "http://localhost:3000",
            "https://*.example.com",
        ] {
            validate_origin_pattern(ok).unwrap();
        }
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://example.com/path",
            "https://",
            "https://a*.b.com",
            "https://x.com:99999",
        ] {
            assert!(validate_origin_pattern(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn origin_matching_table() {
        let cases = [
            ("https://example.com", "https://example.com", true),
            ("https://example.com", "https://example.com:443", true),
            ("https://example.com", "https://EXAMPLE.com", true),
            ("https://example.com", "http://example.com", false),
            ("https://example.com", "https://example.com:8443", false),
            ("https://example.com", "https://www.example.com", false),
            ("https://example.com", "https://example.com.evil.io", false),
            ("http://localhost:3000", "http://localhost:3000", true),
            ("http://localhost:3000", "http://localhost:3001", false),
            ("http://localhost:3000", "http://localhost", false),
            ("https://*.example.com", "https://a.example.com", true),
            ("https://*.example.com", "https://a.b.example.com", true),
            ("https://*.example.com", "https://example.com", false),
            ("https://*.example.com", "https://aexample.com", false),
            ("https://*.example.com", "http://a.example.com", false),
            ("https://*.example.com", "https://a.example.com:444", false),
            (
                "https://*.example.com:444",
                "https://a.example.com:444",
                true,
            ),
            (
                "https://*.example.com",
                "https://a.example.com.evil.io",
                false,
            ),
            ("https://example.com", "null", false),
            ("https://example.com", "", false),
            ("https://example.com", "https://example.com/path", false),
        ];
        for (pattern, origin, expected) in cases {
            assert_eq!(
                origin_matches(pattern, origin),
                expected,
                "{pattern} vs {origin}"
            );
        }
    }

    #[test]
    fn patch_distinguishes_null_from_absent() {
        let patch: BotPatch = serde_json::from_str(r#"{"description": null}"#).unwrap();
        assert_eq!(patch.description, Some(None));
        assert_eq!(patch.model, None);
    }
}
