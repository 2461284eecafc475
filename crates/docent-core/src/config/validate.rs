//! The checks no type expresses: ranges and settings that depend on each
//! other. Each refusal names the `DOCENT_*` variable at fault.

use super::env::variable;
use super::{Config, ConfigError, EmbedderKind};

fn web_url(url: &Option<String>) -> bool {
    url.as_deref()
        .is_none_or(|u| u.starts_with("http://") || u.starts_with("https://"))
}

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let Config {
            server,
            auth,
            storage,
            ingest,
            embedder,
            rerank: _,
            llm,
            crawl,
            jobs,
            webhooks,
            mail,
            limits,
            plans: _,
        } = self;
        let (kind, chunk) = (embedder.kind, ingest.chunk_max_tokens);
        let redis = limits.redis_url.as_ref().map(|u| u.expose());
        let per_minute = [
            limits.sign_in_per_minute,
            limits.credential_per_minute,
            limits.ip_per_minute,
            limits.widget_token_per_minute,
            limits.visitor_ip_per_minute,
        ];
        // (setting, holds, what it must be): the first that fails is reported.
        #[rustfmt::skip] // one rule a line: it reads as the table it is
        let rules = [
            ("server.max_json_body_bytes", server.max_json_body_bytes >= 1024, "must be at least 1024"),
            ("server.public_url", web_url(&server.public_url), "must start with http:// or https://"),
            ("server.shutdown_grace_secs", server.shutdown_grace_secs <= 3600, "must be at most 3600 seconds"),
            ("auth.jwt_secret", auth.jwt_secret.as_ref().is_none_or(|s| s.expose().len() >= 32), "must be at least 32 bytes long"),
            ("auth.admin_token", auth.admin_token.as_ref().is_none_or(|t| t.expose().len() >= 16), "must be at least 16 bytes long"),
            ("auth.access_token_ttl_secs", (60..=86_400).contains(&auth.access_token_ttl_secs), "must be between 60 and 86400 seconds"),
            ("auth.refresh_token_ttl_secs", auth.refresh_token_ttl_secs >= auth.access_token_ttl_secs, "must not be shorter than the access token lifetime"),
            ("storage.max_upload_bytes", storage.max_upload_bytes > 0, "must be greater than 0"),
            ("storage.upload_url_ttl_secs", (10..=7 * 24 * 3600).contains(&storage.upload_url_ttl_secs), "must be between 10 seconds and 7 days"),
            ("storage.upload_expiry_secs", storage.upload_expiry_secs >= storage.upload_url_ttl_secs, "must not be shorter than DOCENT_UPLOAD_URL_TTL_SECS"),
            ("ingest.extract_timeout_secs", ingest.extract_timeout_secs > 0, "must be greater than 0"),
            ("ingest.extract_memory_mb", (128..=65_536).contains(&ingest.extract_memory_mb), "must be between 128 and 65536 MiB"),
            ("ingest.chunk_overlap_tokens", ingest.chunk_overlap_tokens.zip(chunk).is_none_or(|(o, m)| o < m), "must be smaller than DOCENT_CHUNK_MAX_TOKENS"),
            ("ingest.chunk_max_tokens", chunk.is_none_or(|m| (16..=8192).contains(&m)), "must be between 16 and 8192"),
            ("embedder.model_dir", kind != Some(EmbedderKind::Local) || embedder.model_dir.is_some(), "is required when DOCENT_EMBEDDER=local"),
            ("embedder.base_url", kind != Some(EmbedderKind::OpenAi) || embedder.base_url.is_some(), "is required when DOCENT_EMBEDDER=openai"),
            ("llm.base_url", web_url(&llm.base_url), "must start with http:// or https://"),
            ("llm.timeout_secs", llm.timeout_secs > 0, "must be greater than 0"),
            ("llm.answer_timeout_secs", llm.answer_timeout_secs > 0, "must be greater than 0"),
            ("llm.max_tokens", llm.max_tokens.is_none_or(|t| (1..=32_768).contains(&t)), "must be between 1 and 32768"),
            ("crawl.concurrency", (1..=16).contains(&crawl.concurrency), "must be between 1 and 16"),
            ("jobs.worker_concurrency", (1..=64).contains(&jobs.worker_concurrency), "must be between 1 and 64"),
            ("jobs.lease_secs", jobs.lease_secs >= 2, "must be at least 2 seconds"),
            ("jobs.max_attempts", (1..=100).contains(&jobs.max_attempts), "must be between 1 and 100"),
            ("jobs.maintenance_interval_secs", jobs.maintenance_interval_secs > 0, "must be greater than 0"),
            ("webhooks.max_attempts", (1..=100).contains(&webhooks.max_attempts), "must be between 1 and 100"),
            ("webhooks.disable_after", webhooks.disable_after >= 1, "must be at least 1"),
            ("mail.smtp_url", mail.smtp_url.as_ref().is_none_or(|u| u.expose().starts_with("smtp://") || u.expose().starts_with("smtps://")), "must be smtp://USER:PASS@HOST:PORT or smtps://…"),
            ("mail.from", mail.smtp_url.is_none() || mail.from.is_some(), "is required when DOCENT_SMTP_URL is set"),
            ("webhooks.timeout_secs", (1..=60).contains(&webhooks.timeout_secs), "must be between 1 and 60 seconds"),
            ("DOCENT_RATE_LIMIT_*", !per_minute.contains(&0), "rate limits must be at least 1 per minute"),
            ("limits.redis_url", redis.is_none_or(|u| u.starts_with("redis://") || u.starts_with("rediss://")), "must be redis://HOST:PORT[/DB]"),
        ];
        debug_assert!(
            rules
                .iter()
                .all(|(path, ..)| path.starts_with("DOCENT_") || variable(path) != *path),
            "a rule names no setting"
        );
        match rules.into_iter().find(|(_, holds, _)| !holds) {
            Some((path, _, reason)) => Err(ConfigError::Invalid {
                setting: variable(path),
                reason: reason.to_string(),
            }),
            None => Ok(()),
        }
    }
}
