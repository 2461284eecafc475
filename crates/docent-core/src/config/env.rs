//! Where each setting is read from: the one table of `DOCENT_*` names, the
//! figment providers built on it, and the plan limits' own variable family.

use figment::providers::{Data, Env, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

use super::{ConfigError, Plans};

/// Every setting once: its `DOCENT_*` variable (without the prefix, lower
/// case) and its place, `section.field`, which is also its key in
/// `docent.toml`. The environment, the warning about unknown variables and
/// the names in error messages all come from here; a test checks that it
/// names every field of `Config` exactly once.
pub(super) const SETTINGS: [(&str, &str); 58] = [
    ("listen", "server.listen"),
    ("data_dir", "server.data_dir"),
    ("public_url", "server.public_url"),
    ("log_format", "server.log_format"),
    ("max_json_body_bytes", "server.max_json_body_bytes"),
    ("shutdown_grace_secs", "server.shutdown_grace_secs"),
    ("jwt_secret", "auth.jwt_secret"),
    ("admin_token", "auth.admin_token"),
    ("access_token_ttl_secs", "auth.access_token_ttl_secs"),
    ("refresh_token_ttl_secs", "auth.refresh_token_ttl_secs"),
    ("database_url", "storage.database_url"),
    ("storage_url", "storage.url"),
    ("max_upload_bytes", "storage.max_upload_bytes"),
    ("upload_url_ttl_secs", "storage.upload_url_ttl_secs"),
    ("upload_expiry_secs", "storage.upload_expiry_secs"),
    ("vector_quantization", "storage.vector_quantization"),
    ("extract_timeout_secs", "ingest.extract_timeout_secs"),
    ("extract_memory_mb", "ingest.extract_memory_mb"),
    ("extract_program", "ingest.extract_program"),
    ("chunk_max_tokens", "ingest.chunk_max_tokens"),
    ("chunk_overlap_tokens", "ingest.chunk_overlap_tokens"),
    ("embedder", "embedder.kind"),
    ("embed_model_dir", "embedder.model_dir"),
    ("model_source", "embedder.model_source"),
    ("embed_base_url", "embedder.base_url"),
    ("embed_api_key", "embedder.api_key"),
    ("embed_model", "embedder.model"),
    ("embed_dims", "embedder.dims"),
    ("rerank_base_url", "rerank.base_url"),
    ("rerank_api_key", "rerank.api_key"),
    ("rerank_model", "rerank.model"),
    ("llm_base_url", "llm.base_url"),
    ("llm_api_key", "llm.api_key"),
    ("llm_model", "llm.model"),
    ("llm_timeout_secs", "llm.timeout_secs"),
    ("llm_answer_timeout_secs", "llm.answer_timeout_secs"),
    ("llm_max_tokens", "llm.max_tokens"),
    ("llm_allowed_models", "llm.allowed_models"),
    ("crawl_concurrency", "crawl.concurrency"),
    ("crawl_delay_ms", "crawl.delay_ms"),
    (
        "crawl_allow_private_networks",
        "crawl.allow_private_networks",
    ),
    ("worker_concurrency", "jobs.worker_concurrency"),
    ("job_lease_secs", "jobs.lease_secs"),
    ("job_max_attempts", "jobs.max_attempts"),
    ("job_backoff_base_ms", "jobs.backoff_base_ms"),
    ("webhook_max_attempts", "webhooks.max_attempts"),
    ("webhook_disable_after", "webhooks.disable_after"),
    ("webhook_timeout_secs", "webhooks.timeout_secs"),
    ("smtp_url", "mail.smtp_url"),
    ("mail_from", "mail.from"),
    (
        "maintenance_interval_secs",
        "jobs.maintenance_interval_secs",
    ),
    ("rate_limit_sign_in_per_minute", "limits.sign_in_per_minute"),
    (
        "rate_limit_credential_per_minute",
        "limits.credential_per_minute",
    ),
    ("rate_limit_ip_per_minute", "limits.ip_per_minute"),
    (
        "rate_limit_widget_token_per_minute",
        "limits.widget_token_per_minute",
    ),
    (
        "rate_limit_visitor_ip_per_minute",
        "limits.visitor_ip_per_minute",
    ),
    ("redis_url", "limits.redis_url"),
    ("default_plan", "plans.default"),
];

fn path_of(env_key: &str) -> Option<&'static str> {
    let key = env_key.to_ascii_lowercase();
    SETTINGS.iter().find(|(env, _)| *env == key).map(|s| s.1)
}

/// `DOCENT_JWT_SECRET` for `auth.jwt_secret`: what error messages name.
/// A path that names no setting (a family such as `DOCENT_RATE_LIMIT_*`)
/// is returned as it is.
pub(super) fn variable(path: &str) -> String {
    match SETTINGS.iter().find(|(_, p)| *p == path) {
        Some((env, _)) => format!("DOCENT_{}", env.to_ascii_uppercase()),
        None => path.to_string(),
    }
}

/// The `DOCENT_*` variables, each placed at its setting's path; an error
/// names the variable, not the path.
pub(super) struct Environment;

impl Provider for Environment {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment")
            .interpolater(|_: &Profile, keys: &[&str]| variable(&keys.join(".")))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Env::prefixed("DOCENT_")
            .filter_map(|key| path_of(key.as_str()).map(Into::into))
            .data()
    }
}

/// `docent.toml`, in sections; a top-level key of the earlier flat layout
/// (`listen = …`, `embedder = …`) is still read, at its section's place.
pub(super) struct TomlFile(pub Data<Toml>);

impl Provider for TomlFile {
    fn metadata(&self) -> Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut data = self.0.data()?;
        for dict in data.values_mut() {
            let flat: Vec<(String, &str)> = dict
                .keys()
                .filter_map(|key| Some((key.clone(), path_of(key)?)))
                .filter(|(key, _)| !matches!(dict.get(key), Some(Value::Dict(..))))
                .collect();
            for (key, path) in flat {
                let (section, field) = path.split_once('.').expect("section.field");
                let value = dict.remove(&key).expect("listed above");
                if let Value::Dict(_, table) = dict
                    .entry(section.to_string())
                    .or_insert_with(|| Dict::new().into())
                {
                    table.entry(field.to_string()).or_insert(value);
                }
            }
        }
        Ok(data)
    }
}

/// The `DOCENT_*` variables in `vars` that name no setting (a typo, or a
/// setting of another version): start-up warns about each, since they are
/// otherwise silently ignored. The test tooling's own variables
/// (`DOCENT_TEST_*`, `DOCENT_REQUIRE_BACKENDS`, `DOCENT_BACKENDS_DIR`) are not
/// settings and are left out.
pub(super) fn unknown_variables(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let mut unknown: Vec<String> = vars
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| {
            let Some(key) = name.strip_prefix("DOCENT_") else {
                return false;
            };
            // Read outside the configuration: the log filter (before it is
            // loaded), `docent eval`'s token, and the test and bench tooling.
            let outside = matches!(
                key,
                "LOG" | "EVAL_TOKEN" | "REQUIRE_BACKENDS" | "BACKENDS_DIR" | "BENCH_NO_BUILD"
            ) || key.starts_with("TEST_");
            !outside && !key.starts_with("PLAN_") && path_of(key).is_none()
        })
        .collect();
    unknown.sort();
    unknown
}

impl Plans {
    /// Applies `DOCENT_PLAN_<PLAN>_<LIMIT>` from `vars` (for example
    /// `DOCENT_PLAN_FREE_MESSAGES_PER_MONTH=5`); the value is a number or
    /// `unlimited`.
    pub(super) fn apply_env(
        &mut self,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("DOCENT_PLAN_") else {
                continue;
            };
            let bad = |reason: &str| ConfigError::Invalid {
                setting: "DOCENT_PLAN_*".into(),
                reason: format!("{name}: {reason}"),
            };
            let (plan, limit) = rest
                .split_once('_')
                .ok_or_else(|| bad("expected DOCENT_PLAN_<PLAN>_<LIMIT>"))?;
            let limits = match plan {
                "FREE" => &mut self.free,
                "PRO" => &mut self.pro,
                "ENTERPRISE" => &mut self.enterprise,
                _ => return Err(bad("the plan must be FREE, PRO or ENTERPRISE")),
            };
            let slot = match limit {
                "MESSAGES_PER_MONTH" => &mut limits.messages_per_month,
                "DOCUMENTS" => &mut limits.documents,
                "STORAGE_BYTES" => &mut limits.storage_bytes,
                "CRAWL_PAGES_PER_MONTH" => &mut limits.crawl_pages_per_month,
                "LEADS_PER_MONTH" => &mut limits.leads_per_month,
                _ => {
                    return Err(bad(
                        "the limit must be MESSAGES_PER_MONTH, DOCUMENTS, STORAGE_BYTES, \
                         CRAWL_PAGES_PER_MONTH or LEADS_PER_MONTH",
                    ));
                }
            };
            let value = value.trim();
            *slot = if value.eq_ignore_ascii_case("unlimited") {
                None
            } else {
                Some(
                    value
                        .parse()
                        .map_err(|_| bad("must be a whole number or `unlimited`"))?,
                )
            };
        }
        Ok(())
    }
}
