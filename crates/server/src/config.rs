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
    /// `DB_POOL_SIZE`: connections for HTTP requests (default 2 x cores + 2).
    pub db_pool_size: usize,
    /// `DB_WORKER_POOL_SIZE`: connections for the dispatcher, monitor and runs (default 4).
    pub db_worker_pool_size: usize,
    /// `HTTP_WORKERS`: threads serving HTTP (default: one per core).
    pub http_workers: usize,
    /// `MONITOR_INTERVAL_SECS`.
    pub monitor_interval_secs: u64,
    /// `AUTH_CACHE_MS` (default 1000): how long the user behind a token is remembered after it
    /// was read; 0 reads it on every request.
    pub auth_cache_ms: u64,
    /// `DRAIN_SECS` (default 0, at most 300): after SIGTERM, how long the instance goes on
    /// serving while `/api/health/ready` answers 503, so that load balancers stop sending it
    /// requests before it stops taking them.
    pub drain_secs: u64,
    /// `AUDIT_RETENTION_DAYS` (default 180, 1..=3650): how long audit entries are kept.
    pub audit_retention_days: u32,
    /// `TRUSTED_PROXIES`: load balancers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: api::client::TrustedProxies,
    /// `COOKIE_SECURE`: whether the console's session cookie is sent over HTTPS only (default:
    /// on unless `BIND` is a loopback address).
    pub cookie_secure: bool,
    /// `WEBHOOK_ALLOW_HOSTS`: hosts webhooks may call whatever their scheme and address.
    pub webhook_allow_hosts: String,
    /// `WEBHOOK_CONCURRENCY` (default 16): deliveries of one endpoint in flight at once.
    pub webhook_concurrency: i64,
    /// `WEBHOOK_RETRY_SCALE` (default 1): the retry schedule's scale (tests shorten it).
    pub webhook_retry_scale: f64,
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
    std::env::var(name)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Connections for HTTP requests when `DB_POOL_SIZE` is unset: 2 x cores + 2 (PostgreSQL's rule
/// of thumb for connections that keep a server busy). More connections than the cores can serve
/// only make each query wait for its turn on a core: under load, latency tails grow.
pub fn default_pool_size() -> usize {
    2 * cores() + 2
}

/// Cores this process may use (2 when unknown).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A number of connections or threads: `name`, 1..=1000, else `default`.
fn count(name: &'static str, default: usize) -> Result<usize, ConfigError> {
    let n: usize = parse(name, default)?;
    if !(1..=1000).contains(&n) {
        return Err(ConfigError {
            var: name,
            reason: "must be between 1 and 1000".into(),
        });
    }
    Ok(n)
}

fn parse<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|e: T::Err| ConfigError {
            var: name,
            reason: e.to_string(),
        }),
    }
}

impl Config {
    /// Read the environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        let database_url = var("DATABASE_URL");
        let jwt_secret = var("JWT_SECRET").map(String::into_bytes);
        if let Some(s) = &jwt_secret
            && s.len() < 32
        {
            return Err(ConfigError {
                var: "JWT_SECRET",
                reason: "must be at least 32 bytes".into(),
            });
        }
        if database_url.is_some() && jwt_secret.is_none() {
            return Err(ConfigError {
                var: "JWT_SECRET",
                reason: "required (at least 32 bytes) when DATABASE_URL is set".into(),
            });
        }
        let tz: Tz = match var("TZ") {
            None => chrono_tz::Asia::Shanghai,
            Some(s) => s.parse().map_err(|_| ConfigError {
                var: "TZ",
                reason: format!("unknown time zone `{s}`"),
            })?,
        };
        let token_ttl_secs: i64 = parse("TOKEN_TTL_SECS", 12 * 3600)?;
        if !(60..=30 * 86400).contains(&token_ttl_secs) {
            return Err(ConfigError {
                var: "TOKEN_TTL_SECS",
                reason: "must be between 60 and 2592000".into(),
            });
        }
        let monitor_interval_secs: u64 = parse("MONITOR_INTERVAL_SECS", 10)?;
        if monitor_interval_secs == 0 {
            return Err(ConfigError {
                var: "MONITOR_INTERVAL_SECS",
                reason: "must be at least 1".into(),
            });
        }
        let auth_cache_ms: u64 = parse("AUTH_CACHE_MS", 1000)?;
        if auth_cache_ms > 60_000 {
            return Err(ConfigError {
                var: "AUTH_CACHE_MS",
                reason: "must be between 0 and 60000".into(),
            });
        }
        let drain_secs: u64 = parse("DRAIN_SECS", 0)?;
        if drain_secs > 300 {
            return Err(ConfigError {
                var: "DRAIN_SECS",
                reason: "must be between 0 and 300".into(),
            });
        }
        let audit_retention_days: u32 = parse("AUDIT_RETENTION_DAYS", 180)?;
        if !(1..=3650).contains(&audit_retention_days) {
            return Err(ConfigError {
                var: "AUDIT_RETENTION_DAYS",
                reason: "must be between 1 and 3650".into(),
            });
        }
        let trusted_proxies =
            api::client::TrustedProxies::parse(&var("TRUSTED_PROXIES").unwrap_or_default())
                .map_err(|reason| ConfigError {
                    var: "TRUSTED_PROXIES",
                    reason,
                })?;
        let webhook_concurrency: i64 = parse("WEBHOOK_CONCURRENCY", 16)?;
        if !(1..=256).contains(&webhook_concurrency) {
            return Err(ConfigError {
                var: "WEBHOOK_CONCURRENCY",
                reason: "must be between 1 and 256".into(),
            });
        }
        let webhook_retry_scale: f64 = parse("WEBHOOK_RETRY_SCALE", 1.0)?;
        if !(0.0001..=1.0).contains(&webhook_retry_scale) {
            return Err(ConfigError {
                var: "WEBHOOK_RETRY_SCALE",
                reason: "must be between 0.0001 and 1".into(),
            });
        }
        let bind = var("BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        let cookie_secure = match var("COOKIE_SECURE").as_deref() {
            None => !is_loopback(&bind),
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => {
                return Err(ConfigError {
                    var: "COOKIE_SECURE",
                    reason: format!("`{other}` is not true or false"),
                });
            }
        };
        Ok(Config {
            database_url,
            bind,
            jwt_secret,
            tz,
            data_dir: PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "./.data".into())),
            token_ttl_secs,
            cors_origins: var("CORS_ORIGINS")
                .map(|s| {
                    s.split(',')
                        .map(|o| o.trim().to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            body_limit: parse("BODY_LIMIT_BYTES", 16 * 1024 * 1024)?,
            db_pool_size: count("DB_POOL_SIZE", default_pool_size())?,
            db_worker_pool_size: count("DB_WORKER_POOL_SIZE", 4)?,
            http_workers: count("HTTP_WORKERS", cores())?,
            monitor_interval_secs,
            auth_cache_ms,
            drain_secs,
            audit_retention_days,
            trusted_proxies,
            cookie_secure,
            webhook_allow_hosts: var("WEBHOOK_ALLOW_HOSTS").unwrap_or_default(),
            webhook_concurrency,
            webhook_retry_scale,
        })
    }
}

/// Whether `BIND` (`host:port`) listens on a loopback address only.
pub fn is_loopback(bind: &str) -> bool {
    let host = bind.rsplit_once(':').map_or(bind, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Platform and execution settings from the environment.
#[derive(Clone)]
pub struct PlatformConfig {
    /// `PLATFORM_URL`; `None` = the in-process simulator.
    pub url: Option<String>,
    /// `PLATFORM_APP_KEY`.
    pub app_key: Option<String>,
    /// `PLATFORM_APP_SECRET` (never logged).
    pub app_secret: Option<String>,
    /// `PLATFORM_INSTANCE_ID`.
    pub instance_id: String,
    /// `PLATFORM_TIMEOUT_MS`: per HTTP attempt.
    pub timeout_ms: u64,
    /// `CALL_WINDOWS`.
    pub windows: Vec<tasks::platform::CallWindow>,
    /// `CALL_ATTEMPTS_PER_DAY`.
    pub attempts_per_day: u32,
    /// `WORKER_ID` (default: host name and the port of `BIND`).
    pub worker_id: String,
    /// `PLATFORM_MAX_QPS`: most requests per second to the platform (unset: no pacing).
    pub max_qps: Option<u32>,
    /// `LEASE_SECS`: how long a worker holds a task or run before another instance may take it.
    pub lease_secs: i64,
}

impl std::fmt::Debug for PlatformConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformConfig")
            .field("url", &self.url)
            .field("app_key", &self.app_key.as_ref().map(|_| "<set>"))
            .field("app_secret", &self.app_secret.as_ref().map(|_| "<set>"))
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

fn hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 24 || m > 59 || (h == 24 && m != 0) || h.to_string().len() > 2 {
        return None;
    }
    Some(h * 60 + m)
}

/// Parse `CALL_WINDOWS`: comma-separated `HH:MM-HH:MM`, each non-empty and inside the day.
pub fn parse_windows(s: &str) -> Result<Vec<tasks::platform::CallWindow>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (b, e) = part
            .split_once('-')
            .ok_or_else(|| format!("`{part}` is not HH:MM-HH:MM"))?;
        let (bm, em) = (hhmm(b), hhmm(e));
        match (bm, em) {
            (Some(x), Some(y)) if x < y => out.push(tasks::platform::CallWindow {
                begin: format!("{:02}:{:02}", x / 60, x % 60),
                end: format!("{:02}:{:02}", y / 60, y % 60),
            }),
            _ => {
                return Err(format!(
                    "`{part}` is not a window HH:MM-HH:MM with start before end"
                ));
            }
        }
    }
    if out.is_empty() {
        return Err("at least one window is required".into());
    }
    Ok(out)
}

impl PlatformConfig {
    /// Read the environment.
    pub fn from_env() -> Result<PlatformConfig, ConfigError> {
        let windows = parse_windows(&var("CALL_WINDOWS").unwrap_or_else(|| "08:00-21:00".into()))
            .map_err(|reason| ConfigError {
            var: "CALL_WINDOWS",
            reason,
        })?;
        let attempts_per_day: u32 = parse("CALL_ATTEMPTS_PER_DAY", 3)?;
        if !(1..=20).contains(&attempts_per_day) {
            return Err(ConfigError {
                var: "CALL_ATTEMPTS_PER_DAY",
                reason: "must be between 1 and 20".into(),
            });
        }
        let url = var("PLATFORM_URL");
        let app_key = var("PLATFORM_APP_KEY");
        let app_secret = var("PLATFORM_APP_SECRET");
        if url.is_some() && (app_key.is_none() || app_secret.is_none()) {
            return Err(ConfigError {
                var: "PLATFORM_APP_KEY",
                reason: "PLATFORM_APP_KEY and PLATFORM_APP_SECRET are required with PLATFORM_URL"
                    .into(),
            });
        }
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "host".into());
        // host and port: unique among live instances (two cannot listen on one port of one
        // host) and the same after a restart, which then takes back its own leases at once
        let worker_id = var("WORKER_ID").unwrap_or_else(|| {
            let bind = var("BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
            let port = bind.rsplit_once(':').map_or("8080", |(_, p)| p).to_owned();
            format!("{host}:{port}")
        });
        let cfg = PlatformConfig {
            url,
            app_key,
            app_secret,
            instance_id: var("PLATFORM_INSTANCE_ID").unwrap_or_else(|| "sim".into()),
            timeout_ms: parse("PLATFORM_TIMEOUT_MS", 5000)?,
            windows,
            attempts_per_day,
            worker_id,
            max_qps: var("PLATFORM_MAX_QPS")
                .map(|v| {
                    v.parse::<u32>().map_err(|e| ConfigError {
                        var: "PLATFORM_MAX_QPS",
                        reason: e.to_string(),
                    })
                })
                .transpose()?
                .filter(|q| *q > 0),
            lease_secs: {
                let v: i64 = parse("LEASE_SECS", 60)?;
                if !(2..=3600).contains(&v) {
                    return Err(ConfigError {
                        var: "LEASE_SECS",
                        reason: "must be between 2 and 3600".into(),
                    });
                }
                v
            },
        };
        // a job assignment leaves at most half a lease after it began (the fence of a stalled
        // instance, docs/decisions.md): it must be answered, or given up, within the other half
        if u64::try_from(cfg.lease_secs).unwrap_or(0) * 500 <= cfg.timeout_ms {
            return Err(ConfigError {
                var: "LEASE_SECS",
                reason: format!(
                    "must be more than twice PLATFORM_TIMEOUT_MS ({} ms)",
                    cfg.timeout_ms
                ),
            });
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::{is_loopback, parse_windows};

    #[test]
    fn only_loopback_binds_count_as_local() {
        for local in [
            "127.0.0.1:8080",
            "localhost:80",
            "[::1]:8080",
            "127.0.0.2:1",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for public in [
            "0.0.0.0:8080",
            "[::]:8080",
            "10.0.0.5:80",
            "example.com:443",
        ] {
            assert!(!is_loopback(public), "{public}");
        }
    }

    #[test]
    fn windows_parse_and_refuse_nonsense() {
        let w = parse_windows("08:00-12:00, 13:30-21:00").unwrap_or_default();
        assert_eq!(w.len(), 2);
        assert_eq!(w[1].begin, "13:30");
        assert_eq!(
            parse_windows("00:00-24:00").unwrap_or_default()[0].end,
            "24:00"
        );
        assert!(parse_windows("21:00-08:00").is_err());
        assert!(parse_windows("8-9").is_err());
        assert!(parse_windows("").is_err());
        assert!(parse_windows("25:00-26:00").is_err());
    }
}
