//! Typed configuration, read once at start from the environment (and `.env`).

use std::path::PathBuf;

use chrono_tz::Tz;

/// Everything the service reads from its environment.
#[derive(Clone)]
pub struct Config {
    /// `DATABASE_URL`; `None` = the embedded default.
    pub database_url: Option<String>,
    /// `BIND`.
    pub bind: String,
    /// `JWT_SECRET`; `None` = generated and kept in the data directory (embedded default only).
    pub jwt_secret: Option<Vec<u8>>,
    /// `TZ`.
    pub tz: Tz,
    /// `DATA_DIR` (default `./.data`): the embedded cluster and generated secrets.
    pub data_dir: PathBuf,
    /// `TOKEN_TTL_SECS` (default 12 h).
    pub token_ttl_secs: i64,
    /// `CORS_ORIGINS`: comma-separated allow-list (empty: no cross-origin access).
    pub cors_origins: Vec<String>,
    /// `BODY_LIMIT_BYTES` (default 16 MiB).
    pub body_limit: usize,
    /// `DB_POOL_SIZE` (default 16).
    pub db_pool_size: usize,
    /// `MONITOR_INTERVAL_SECS`.
    pub monitor_interval_secs: u64,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never print secrets or credentials
        f.debug_struct("Config")
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("bind", &self.bind)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<set>"))
            .field("tz", &self.tz)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// A configuration variable with an unusable value.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {var}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub var: &'static str,
    /// Why.
    pub reason: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn parse<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|e: T::Err| ConfigError { var: name, reason: e.to_string() }),
    }
}

impl Config {
    /// Read the environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        let database_url = var("DATABASE_URL");
        let jwt_secret = var("JWT_SECRET").map(String::into_bytes);
        if let Some(s) = &jwt_secret {
            if s.len() < 32 {
                return Err(ConfigError { var: "JWT_SECRET", reason: "must be at least 32 bytes".into() });
            }
        }
        if database_url.is_some() && jwt_secret.is_none() {
            return Err(ConfigError {
                var: "JWT_SECRET",
                reason: "required (at least 32 bytes) when DATABASE_URL is set".into(),
            });
        }
        let tz: Tz = match var("TZ") {
            None => chrono_tz::Asia::Shanghai,
            Some(s) => s.parse().map_err(|_| ConfigError { var: "TZ", reason: format!("unknown time zone `{s}`") })?,
        };
        let token_ttl_secs: i64 = parse("TOKEN_TTL_SECS", 12 * 3600)?;
        if !(60..=30 * 86400).contains(&token_ttl_secs) {
            return Err(ConfigError { var: "TOKEN_TTL_SECS", reason: "must be between 60 and 2592000".into() });
        }
        let monitor_interval_secs: u64 = parse("MONITOR_INTERVAL_SECS", 10)?;
        if monitor_interval_secs == 0 {
            return Err(ConfigError { var: "MONITOR_INTERVAL_SECS", reason: "must be at least 1".into() });
        }
        Ok(Config {
            database_url,
            bind: var("BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            jwt_secret,
            tz,
            data_dir: PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "./.data".into())),
            token_ttl_secs,
            cors_origins: var("CORS_ORIGINS")
                .map(|s| s.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
                .unwrap_or_default(),
            body_limit: parse("BODY_LIMIT_BYTES", 16 * 1024 * 1024)?,
            db_pool_size: parse("DB_POOL_SIZE", 16)?,
            monitor_interval_secs,
        })
    }
}
