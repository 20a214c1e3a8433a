//! Start-up: find or start the database, migrate it, load the token secret, seed the demo.

use std::io::Write;
use std::path::Path;

use adapters::db::{DbPool, PoolSettings, make_pool, run_migrations};
use adapters::embedded::EmbeddedPostgres;
use adapters::security::Argon2Hasher;
use anyhow::Context;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rand::Rng;
use rand::distributions::Alphanumeric;

use crate::config::Config;

/// The database the process uses.
pub struct Database {
    /// Connection URL (contains credentials: never log it).
    pub url: String,
    /// The embedded cluster, when that is what we use.
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Stop the embedded cluster if this process started it.
    pub fn shutdown(&self) {
        if let Some(pg) = &self.embedded
            && pg.started_by_us()
        {
            tracing::info!("stopping embedded PostgreSQL");
            if let Err(e) = pg.stop() {
                tracing::warn!(error = %e, "could not stop embedded PostgreSQL");
            }
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Connect to `DATABASE_URL`, or start the embedded cluster under `<DATA_DIR>/postgres` and make
/// sure its `outbound` database exists.
pub async fn open_database(cfg: &Config) -> anyhow::Result<Database> {
    if let Some(url) = &cfg.database_url {
        return Ok(Database {
            url: url.clone(),
            embedded: None,
        });
    }
    let dir = cfg.data_dir.join("postgres");
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&dir)).await??;
    let mut admin = AsyncPgConnection::establish(&pg.url("postgres"))
        .await
        .context("connecting to embedded PostgreSQL")?;
    let exists: Count =
        diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
            .bind::<Text, _>("outbound")
            .get_result(&mut admin)
            .await?;
    if exists.n == 0 {
        diesel::sql_query("CREATE DATABASE outbound")
            .execute(&mut admin)
            .await?;
    }
    Ok(Database {
        url: pg.url("outbound"),
        embedded: Some(pg),
    })
}

/// Apply pending migrations and open the pool of HTTP requests (see [`pool`]).
pub async fn migrate_and_pool(db: &Database, pool_size: usize) -> anyhow::Result<DbPool> {
    let applied = run_migrations(&db.url)
        .await
        .context("running migrations")?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    pool(db, pool_size, PoolUse::Requests)
}

/// What a pool serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolUse {
    /// HTTP requests (and commands): short statements run many times, planned once (generic
    /// plans, see [`PoolSettings::generic_plans`]).
    Requests,
    /// The background workers: few bulk statements over parameter arrays, each planned for the
    /// arrays it gets (PostgreSQL's default).
    Workers,
}

/// A pool of at most `size` connections to the (already migrated) database.
pub fn pool(db: &Database, size: usize, used_for: PoolUse) -> anyhow::Result<DbPool> {
    make_pool(
        &db.url,
        &PoolSettings {
            max_size: size,
            generic_plans: used_for == PoolUse::Requests,
            ..Default::default()
        },
    )
}

/// The token secret: `JWT_SECRET`, or (embedded default) one generated once and kept in
/// `<DATA_DIR>/jwt_secret`.
pub fn jwt_secret(cfg: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = &cfg.jwt_secret {
        return Ok(s.clone());
    }
    let path = cfg.data_dir.join("jwt_secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_owned();
        if s.len() >= 32 {
            return Ok(s.into_bytes());
        }
    }
    std::fs::create_dir_all(&cfg.data_dir)?;
    let secret: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(64)
        .map(char::from)
        .collect();
    write_private(&path, &secret)?;
    tracing::info!(path = %path.display(), "generated a token secret");
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(content.as_bytes())?;
    Ok(())
}

/// The password hasher with production (OWASP) parameters.
pub fn hasher() -> anyhow::Result<Argon2Hasher> {
    Argon2Hasher::new()
}

/// A random password for generated accounts.
pub fn random_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect()
}

/// The platform the service talks to, and whether it is the in-process simulator.
pub struct PlatformHandle {
    /// The client (hand each part of execution its own handle: `platform.platforms()`).
    pub platform: adapters::platform::HttpPlatform,
    /// Whether it is the built-in simulator.
    pub simulated: bool,
    /// The simulator's address, when in-process.
    pub sim_addr: Option<std::net::SocketAddr>,
}

/// The client of `settings`, its requests paced by the account's budget in the database (shared
/// by every instance; `budget_pool` serves only that).
fn client(
    settings: adapters::platform::PlatformSettings,
    budget_pool: &DbPool,
) -> anyhow::Result<adapters::platform::HttpPlatform> {
    use adapters::pg_budget::PgSlots;
    use adapters::platform::budget::Budget;
    let slots = PgSlots::new(
        budget_pool.clone(),
        settings.account(),
        settings.rate_mode(),
    );
    Ok(adapters::platform::HttpPlatform::new(settings)?
        .with_budget(Budget::new(std::sync::Arc::new(slots))))
}

/// Connect to `PLATFORM_URL`, or start the simulator in-process (configured by `SIM_*`).
pub async fn platform(
    cfg: &crate::config::PlatformConfig,
    budget_pool: &DbPool,
) -> anyhow::Result<PlatformHandle> {
    use adapters::platform::PlatformSettings;
    let timeout = std::time::Duration::from_millis(cfg.timeout_ms);
    if let (Some(url), Some(key), Some(secret)) = (&cfg.url, &cfg.app_key, &cfg.app_secret) {
        let p = client(
            PlatformSettings {
                base_url: url.clone(),
                app_key: key.clone(),
                app_secret: secret.clone(),
                instance_id: cfg.instance_id.clone(),
                request_timeout: timeout,
                max_qps: cfg.max_qps,
                ..Default::default()
            },
            budget_pool,
        )?;
        return Ok(PlatformHandle {
            platform: p,
            simulated: false,
            sim_addr: None,
        });
    }
    let sim_cfg = platform_sim::SimConfig::from_env().map_err(anyhow::Error::msg)?;
    let (key, secret) = (sim_cfg.app_key.clone(), sim_cfg.app_secret.clone());
    let sim = platform_sim::Simulator::new(sim_cfg);
    platform_sim::start_clock(sim.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    tokio::spawn(platform_sim::serve(sim, listener, 1)?);
    tracing::info!(%addr, "PLATFORM_URL unset: using the built-in outbound-call platform simulator");
    let p = client(
        PlatformSettings {
            base_url: format!("http://{addr}"),
            app_key: key,
            app_secret: secret,
            instance_id: cfg.instance_id.clone(),
            request_timeout: timeout,
            max_qps: cfg.max_qps,
            ..Default::default()
        },
        budget_pool,
    )?;
    Ok(PlatformHandle {
        platform: p,
        simulated: true,
        sim_addr: Some(addr),
    })
}

/// Execution settings from the platform configuration.
pub fn exec_settings(cfg: &crate::config::PlatformConfig) -> tasks::execution::ExecutionSettings {
    let d = tasks::execution::ExecutionSettings::default();
    tasks::execution::ExecutionSettings {
        strategy: tasks::platform::Strategy {
            working_time: cfg.windows.clone(),
            max_attempts_per_day: cfg.attempts_per_day,
            min_attempt_interval_minutes: d.strategy.min_attempt_interval_minutes,
        },
        worker_id: cfg.worker_id.clone(),
        lease_secs: cfg.lease_secs,
        // an open batch can only still be in flight while one request may last
        reconcile_after: chrono::Duration::milliseconds(
            (cfg.timeout_ms as i64).saturating_mul(2) + 1000,
        ),
        batches_per_turn: 20,
        ..d
    }
}

/// The HTTP side of webhook delivery, calling the hosts of `WEBHOOK_ALLOW_HOSTS` whatever their
/// address.
pub fn webhook_sender(
    cfg: &crate::config::Config,
) -> anyhow::Result<std::sync::Arc<dyn webhooks::Sender>> {
    let allow = webhooks::target::AllowHosts::parse(&cfg.webhook_allow_hosts);
    Ok(std::sync::Arc::new(
        adapters::webhook_sender::HttpSender::new(allow)?,
    ))
}

/// The webhook delivery worker's settings: claims under this instance's worker id.
pub fn delivery_settings(
    cfg: &crate::config::Config,
    pcfg: &crate::config::PlatformConfig,
) -> webhooks::DeliverySettings {
    webhooks::DeliverySettings {
        worker_id: pcfg.worker_id.clone(),
        per_endpoint: cfg.webhook_concurrency,
        retry_scale: cfg.webhook_retry_scale,
        ..webhooks::DeliverySettings::default()
    }
}
