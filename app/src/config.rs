//! Configuration: built-in defaults < `tienda.toml` < environment.
//!
//! Environment variables are `TIENDA_` + the key, with `__` between levels
//! (`TIENDA_AUTH__PASSWORD_HASHING`), plus `DATABASE_URL` for the shared
//! PostgreSQL server and `TIENDA_<CTX>_DATABASE_URL` to put one context on a
//! database of its own.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every context of the shop, in dependency order.
pub const CONTEXTS: [&str; 5] =
    [users::CONTEXT, catalog::CONTEXT, orders::CONTEXT, support::CONTEXT, orchestration::CONTEXT];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where SQLite files, mail and generated secrets live.
    pub data_dir: PathBuf,
    pub bind: String,
    /// The externally visible base URL, used in mailed links.
    pub public_url: String,
    pub log_format: LogFormat,
    /// Seconds to let in-flight requests finish after SIGTERM/SIGINT.
    pub shutdown_timeout_secs: u64,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub mail: MailConfig,
    pub events: EventsConfig,
    pub checkout: CheckoutConfig,
    pub support: SupportConfig,
    /// Test-only switches. Never set in production.
    pub testing: TestingConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutConfig {
    /// How long `POST /checkout` waits for the saga before answering 202.
    pub wait_ms: u64,
    /// The sandbox payment gateway's delay for `tok_slow`.
    pub sandbox_slow_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportConfig {
    /// Days after delivery in which a return can be asked for.
    pub return_window_days: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestingConfig {
    /// Fault injection for the kill tests: the saga runner hangs (until the
    /// process is killed) right after this step's call, before recording it.
    pub saga_hang_after_step: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` puts every context in its own schema on that server.
    /// Unset: one SQLite file per context under `data_dir`.
    pub url: Option<String>,
    /// Per-context overrides (`postgres://…` or `sqlite://file`).
    pub context_urls: BTreeMap<String, String>,
    /// On PostgreSQL, create one role per context owning only its schema and
    /// make each pool act as it. Needs CREATEROLE for the URL's user.
    pub context_roles: bool,
    /// Role names are `<prefix>_<context>`.
    pub role_prefix: String,
    pub max_connections: u32,
    /// Milliseconds to wait for a free connection before answering 503.
    pub acquire_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Base64 HMAC key (≥ 32 bytes). Unset: generated on first start and kept
    /// in `<data_dir>/secrets/signing.key`, readable by the owner only.
    pub signing_key: Option<String>,
    /// `owasp` (default). `insecure-test-only` exists for test suites.
    pub password_hashing: users::passwords::HashingProfile,
    pub access_token_ttl_secs: i64,
    pub session_ttl_days: i64,
    pub lockout_threshold: usize,
    pub lockout_window_secs: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// Delivery attempts before an event is dead-lettered for a subscriber.
    pub max_attempts: u32,
    /// First retry delay; it doubles per attempt up to `retry_max_ms`.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// How often each relay looks for work without being woken.
    pub sweep_interval_ms: u64,
    /// How long a relay's claim on its outbox lasts; a crashed instance's
    /// relay is replaced after this.
    pub lease_ttl_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    pub from: String,
    /// `smtp://host:25`, `smtps://user:pass@host`, … Unset: messages are
    /// written as `.eml` files under `<data_dir>/mail`.
    pub smtp_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            bind: "127.0.0.1:8080".to_owned(),
            public_url: "http://localhost:8080".to_owned(),
            log_format: LogFormat::Pretty,
            shutdown_timeout_secs: 30,
            workers: 0,
            database: DatabaseConfig {
                url: None,
                context_urls: BTreeMap::new(),
                context_roles: true,
                role_prefix: "tienda".to_owned(),
                max_connections: 8,
                acquire_timeout_ms: 5_000,
            },
            auth: AuthConfig {
                signing_key: None,
                password_hashing: users::passwords::HashingProfile::Owasp,
                access_token_ttl_secs: 900,
                session_ttl_days: 30,
                lockout_threshold: 5,
                lockout_window_secs: 900,
            },
            checkout: CheckoutConfig { wait_ms: 3_000, sandbox_slow_ms: 2_000 },
            support: SupportConfig { return_window_days: 30 },
            testing: TestingConfig::default(),
            events: EventsConfig {
                max_attempts: 10,
                retry_base_ms: 500,
                retry_max_ms: 600_000,
                sweep_interval_ms: 1_000,
                lease_ttl_secs: 15,
            },
            mail: MailConfig { from: "Tienda <no-reply@tienda.localhost>".to_owned(), smtp_url: None },
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Loads defaults, then the TOML file if it exists, then the environment.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let file = config_file.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("tienda.toml"));
        if file.exists() {
            figment = figment.merge(Toml::file(&file));
        } else if config_file.is_some() {
            return Err(ConfigError(format!("config file {} does not exist", file.display())));
        }
        Self::from_figment(figment, std::env::vars())
    }

    fn from_figment(figment: Figment, env: impl Iterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = env.collect();
        let figment = figment.merge(
            Env::prefixed("TIENDA_")
                .split("__")
                .ignore(&["config"])
                .filter(|key| !key.as_str().to_ascii_lowercase().ends_with("_database_url")),
        );
        let mut settings: Settings = figment.extract().map_err(|error| ConfigError(error.to_string()))?;
        for (key, value) in env {
            if key == "DATABASE_URL" && !value.is_empty() {
                settings.database.url = Some(value);
            } else if let Some(context) =
                key.strip_prefix("TIENDA_").and_then(|rest| rest.strip_suffix("_DATABASE_URL"))
            {
                let context = context.to_ascii_lowercase();
                if !CONTEXTS.contains(&context.as_str()) {
                    return Err(ConfigError(format!("{key} names no context (contexts: {})", CONTEXTS.join(", "))));
                }
                settings.database.context_urls.insert(context, value);
            }
        }
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for context in self.database.context_urls.keys() {
            if !CONTEXTS.contains(&context.as_str()) {
                return Err(ConfigError(format!("database.context_urls names unknown context `{context}`")));
            }
        }
        if let Some(url) = &self.database.url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(ConfigError(
                "DATABASE_URL must be a postgres:// URL; SQLite needs no URL (one file per context in data_dir)"
                    .to_owned(),
            ));
        }
        if self.auth.access_token_ttl_secs < 60 || self.auth.session_ttl_days < 1 {
            return Err(ConfigError("token lifetimes are too short".to_owned()));
        }
        if self.events.max_attempts == 0 || self.events.sweep_interval_ms == 0 {
            return Err(ConfigError("events.max_attempts and events.sweep_interval_ms must be at least 1".to_owned()));
        }
        if self.auth.lockout_threshold == 0 {
            return Err(ConfigError("auth.lockout_threshold must be at least 1".to_owned()));
        }
        let role_prefix_ok = !self.database.role_prefix.is_empty()
            && self.database.role_prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !role_prefix_ok {
            return Err(ConfigError("database.role_prefix must be letters, digits and underscores".to_owned()));
        }
        Ok(())
    }

    /// The database URL of one context, as configured or by default.
    pub fn database_url(&self, context: &str) -> String {
        if let Some(url) = self.database.context_urls.get(context) {
            return url.clone();
        }
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join(format!("{context}.db")).display()),
        }
    }

    pub fn context_role(&self, context: &str) -> Option<String> {
        self.database.context_roles.then(|| format!("{}_{context}", self.database.role_prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads settings from `toml` with `env` set, inside figment's jail
    /// (which serialises tests that touch the process environment).
    fn with_settings(toml: &str, env: &[(&str, &str)], check: impl FnOnce(Result<Settings, ConfigError>)) {
        let toml = toml.to_owned();
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        figment::Jail::expect_with(move |jail| {
            for (key, value) in &env {
                jail.set_env(key, value);
            }
            let figment = Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(&toml));
            check(Settings::from_figment(figment, env.clone().into_iter()));
            Ok(())
        });
    }

    #[test]
    fn defaults_are_sqlite_in_data_dir() {
        with_settings("", &[], |settings| {
            let settings = settings.expect("defaults load");
            assert_eq!(settings.database_url("users"), "sqlite://data/users.db");
            assert_eq!(settings.auth.password_hashing, users::passwords::HashingProfile::Owasp);
        });
    }

    #[test]
    fn environment_overrides_file() {
        with_settings(
            "bind = \"0.0.0.0:9000\"\n[auth]\naccess_token_ttl_secs = 600\n",
            &[("TIENDA_AUTH__ACCESS_TOKEN_TTL_SECS", "1200")],
            |settings| {
                let settings = settings.expect("loads");
                assert_eq!(settings.bind, "0.0.0.0:9000");
                assert_eq!(settings.auth.access_token_ttl_secs, 1200);
            },
        );
    }

    #[test]
    fn database_urls_shared_and_per_context() {
        with_settings(
            "",
            &[
                ("DATABASE_URL", "postgres://shop@db/tienda"),
                ("TIENDA_CATALOG_DATABASE_URL", "postgres://cat@db2/catalog"),
            ],
            |settings| {
                let settings = settings.expect("loads");
                assert_eq!(settings.database_url("users"), "postgres://shop@db/tienda");
                assert_eq!(settings.database_url("catalog"), "postgres://cat@db2/catalog");
                assert_eq!(settings.context_role("users").as_deref(), Some("tienda_users"));
            },
        );
    }

    #[test]
    fn rejects_bad_values() {
        with_settings("", &[("DATABASE_URL", "mysql://x")], |s| assert!(s.is_err()));
        with_settings("", &[("TIENDA_BILLING_DATABASE_URL", "postgres://x/y")], |s| assert!(s.is_err()));
        with_settings("unknown_key = 1\n", &[], |s| assert!(s.is_err()));
        with_settings("[auth]\npassword_hashing = \"md5\"\n", &[], |s| assert!(s.is_err()));
    }
}
