//! Configuration, in one place. Sources, later ones winning: built-in defaults,
//! an optional `docent.toml`, `DOCENT_*` environment variables, command-line flags.
//! `Config::load` parses every value into its type and validates everything
//! once, at start, with messages that name the setting at fault.

mod env;
mod sections;
mod types;
mod validate;

use std::path::Path;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use sections::{
    AuthSettings, CrawlSettings, EmbedderSettings, IngestSettings, JobSettings, LlmSettings,
    MailSettings, Plans, RateLimits, RerankSettings, ServerSettings, StorageSettings,
    WebhookSettings,
};
pub use types::{DatabaseUrl, EmbedderKind, LogFormat, Secret, StorageUrl, VectorQuantization};

/// Every setting, by section; `docent.toml` has one table per section and
/// each field has its `DOCENT_*` variable (the table in `env.rs`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerSettings,
    pub auth: AuthSettings,
    pub storage: StorageSettings,
    pub ingest: IngestSettings,
    pub embedder: EmbedderSettings,
    pub rerank: RerankSettings,
    pub llm: LlmSettings,
    pub crawl: CrawlSettings,
    pub jobs: JobSettings,
    pub webhooks: WebhookSettings,
    pub mail: MailSettings,
    pub limits: RateLimits,
    /// Each limit can also be set as `DOCENT_PLAN_<PLAN>_<LIMIT>`.
    pub plans: Plans,
}

/// Values given on the command line; they override every other source.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<std::net::SocketAddr>,
    pub data_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Source(#[from] Box<figment::Error>),
    #[error("invalid setting `{setting}`: {reason}")]
    Invalid { setting: String, reason: String },
}

impl Config {
    /// Reads `config_file` (when it exists), the `DOCENT_*` environment and the
    /// overrides, then validates the result.
    pub fn load(config_file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let file = config_file.unwrap_or(Path::new("docent.toml"));
        if file.exists() {
            figment = figment.merge(env::TomlFile(Toml::file_exact(file)));
        } else if config_file.is_some() {
            return Err(ConfigError::Invalid {
                setting: "--config".into(),
                reason: format!("file {} does not exist", file.display()),
            });
        }
        figment = figment.merge(env::Environment);
        if let Some(listen) = overrides.listen {
            figment = figment.merge(Serialized::default("server.listen", listen));
        }
        if let Some(dir) = overrides.data_dir {
            figment = figment.merge(Serialized::default("server.data_dir", dir));
        }
        let mut config: Config = figment.extract().map_err(Box::new)?;
        config.plans.apply_env(std::env::vars())?;
        if config.llm.api_key.is_none()
            && let Ok(key) = std::env::var("OPENAI_API_KEY")
            && !key.is_empty()
        {
            config.llm.api_key = Some(Secret::new(key));
        }
        config.validate()?;
        Ok(config)
    }

    /// The `DOCENT_*` variables in `vars` that name no setting; start-up warns
    /// about each.
    pub fn unknown_env_vars(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
        env::unknown_variables(vars)
    }

    /// The database in force: the configured one, or the embedded file in
    /// the data dir.
    pub fn database(&self) -> DatabaseUrl {
        match &self.storage.database_url {
            Some(url) => url.clone(),
            None => DatabaseUrl::Sqlite(self.server.data_dir.join("docent.db")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field sits at one path, and the table names each path once,
    /// with one variable each (plan limits have their own
    /// `DOCENT_PLAN_<PLAN>_<LIMIT>` family).
    #[test]
    fn the_environment_table_names_every_setting_once() {
        fn leaves(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
            for (key, value) in value.as_object().unwrap() {
                let path = format!("{prefix}{key}");
                let limits = ["plans.free", "plans.pro", "plans.enterprise"];
                match value {
                    _ if limits.contains(&path.as_str()) => {}
                    serde_json::Value::Object(_) => leaves(&format!("{path}."), value, out),
                    _ => out.push(path),
                }
            }
        }
        let mut fields = Vec::new();
        leaves(
            "",
            &serde_json::to_value(Config::default()).unwrap(),
            &mut fields,
        );
        fields.sort_unstable();
        let mut paths: Vec<String> = env::SETTINGS.iter().map(|s| s.1.to_string()).collect();
        paths.sort_unstable();
        assert_eq!(paths, fields);
        let mut names: Vec<&str> = env::SETTINGS.iter().map(|s| s.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            env::SETTINGS.len(),
            "a variable names two settings"
        );
    }

    /// A bad value from the environment is reported under its variable.
    #[test]
    fn environment_errors_name_the_variable() {
        use figment::Provider;
        let md = env::Environment.metadata();
        let name = md.interpolate(&figment::Profile::Default, &["storage", "database_url"]);
        assert_eq!(name, "DOCENT_DATABASE_URL");
        assert_eq!(env::variable("embedder.kind"), "DOCENT_EMBEDDER");
    }

    #[test]
    fn unknown_docent_variables_are_reported() {
        let vars = [
            ("DOCENT_LISTEN", "127.0.0.1:1"),
            ("DOCENT_LISTNE", "127.0.0.1:1"),
            ("DOCENT_PLAN_FREE_MESSAGES_PER_MONTH", "5"),
            ("DOCENT_TEST_POSTGRES_URL", "postgres://x"),
            ("DOCENT_REQUIRE_BACKENDS", "1"),
            ("DOCENT_LOG", "warn"),
            ("HOME", "/root"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(Config::unknown_env_vars(vars), ["DOCENT_LISTNE"]);
    }

    #[test]
    fn plan_limits_come_from_the_environment() {
        let mut plans = Plans::default();
        let vars = [
            ("DOCENT_PLAN_FREE_MESSAGES_PER_MONTH", "5"),
            ("DOCENT_PLAN_FREE_DOCUMENTS", "3"),
            ("DOCENT_PLAN_PRO_STORAGE_BYTES", "unlimited"),
            ("DOCENT_PLAN_ENTERPRISE_CRAWL_PAGES_PER_MONTH", "1000"),
            ("DOCENT_LISTEN", "ignored"),
        ];
        plans
            .apply_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .unwrap();
        assert_eq!(plans.free.messages_per_month, Some(5));
        assert_eq!(plans.free.documents, Some(3));
        assert_eq!(plans.pro.storage_bytes, None);
        assert_eq!(plans.enterprise.crawl_pages_per_month, Some(1000));
        assert_eq!(plans.enterprise.messages_per_month, None);
        for (k, v) in [
            ("DOCENT_PLAN_GOLD_DOCUMENTS", "1"),
            ("DOCENT_PLAN_FREE_SEATS", "1"),
            ("DOCENT_PLAN_FREE_DOCUMENTS", "many"),
        ] {
            let err = Plans::default()
                .apply_env(std::iter::once((k.to_string(), v.to_string())))
                .unwrap_err()
                .to_string();
            assert!(err.contains(k), "{err}");
        }
    }

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn a_refusal_names_the_variable() {
        let mut config = Config::default();
        config.auth.jwt_secret = Some(Secret::new("short"));
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("DOCENT_JWT_SECRET"), "{err}");
        let mut config = Config::default();
        config.crawl.concurrency = 0;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("DOCENT_CRAWL_CONCURRENCY"), "{err}");
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let mut config = Config::default();
        config.auth.jwt_secret = Some(Secret::new("a-very-secret-value-that-is-long-enough"));
        config.storage.database_url =
            Some(DatabaseUrl::parse("postgres://docent:hunter2@db/docent").unwrap());
        let debug = format!("{config:?}");
        assert!(!debug.contains("a-very-secret") && !debug.contains("hunter2"));
    }

    #[test]
    fn missing_explicit_config_file_is_an_error() {
        let err = Config::load(
            Some(Path::new("/nonexistent/docent.toml")),
            Overrides::default(),
        );
        assert!(err.is_err());
    }

    fn load_file(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docent.toml");
        std::fs::write(&file, text).unwrap();
        Config::load(
            Some(&file),
            Overrides {
                data_dir: Some(dir.path().to_path_buf()),
                ..Overrides::default()
            },
        )
    }

    #[test]
    fn the_file_is_read_in_sections_and_overrides_win() {
        let config = load_file(
            "[server]\nlisten = \"127.0.0.1:9999\"\ndata_dir = \"/elsewhere\"\n\
             [auth]\naccess_token_ttl_secs = 120\n\
             [storage]\nurl = \"s3://docs?region=eu-1\"\n\
             [plans]\ndefault = \"enterprise\"\n[plans.free]\ndocuments = 7\n",
        )
        .unwrap();
        assert_eq!(config.server.listen.port(), 9999);
        assert_ne!(config.server.data_dir, Path::new("/elsewhere"));
        assert_eq!(config.auth.access_token_ttl_secs, 120);
        assert!(matches!(config.storage.url, Some(StorageUrl::S3 { .. })));
        assert_eq!(config.plans.free.documents, Some(7));
        assert_eq!(config.plans.default, crate::domain::Plan::Enterprise);
    }

    /// A file written for the flat layout of earlier versions still reads.
    #[test]
    fn flat_keys_of_the_earlier_layout_are_read_at_their_place() {
        let config = load_file(
            "listen = \"127.0.0.1:9998\"\nembedder = \"hash\"\ncrawl_delay_ms = 5\n\
             [llm]\nmodel = \"m\"\n",
        )
        .unwrap();
        assert_eq!(config.server.listen.port(), 9998);
        assert_eq!(config.embedder.kind, Some(EmbedderKind::Hash));
        assert_eq!(config.crawl.delay_ms, 5);
        assert_eq!(config.llm.model, "m");
    }

    #[test]
    fn unknown_keys_and_bad_values_in_the_file_are_reported() {
        let err = load_file("lisen = \"127.0.0.1:9999\"\n").unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
        let err = load_file("[server]\nlisten_at = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("listen_at"), "{err}");
        let err = load_file("[storage]\ndatabase_url = \"mysql://x\"\n").unwrap_err();
        assert!(err.to_string().contains("sqlite://PATH"), "{err}");
    }
}
