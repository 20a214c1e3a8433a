//! Start-up: find or start the database, migrate it, load the token secret, seed the demo.

use std::io::Write;
use std::path::Path;

use adapters::db::{make_pool, run_migrations, DbPool, PoolSettings};
use adapters::embedded::EmbeddedPostgres;
use adapters::security::Argon2Hasher;
use anyhow::Context;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rand::distributions::Alphanumeric;
use rand::Rng;

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
        if let Some(pg) = &self.embedded {
            if pg.started_by_us() {
                tracing::info!("stopping embedded PostgreSQL");
                if let Err(e) = pg.stop() {
                    tracing::warn!(error = %e, "could not stop embedded PostgreSQL");
                }
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
        return Ok(Database { url: url.clone(), embedded: None });
    }
    let dir = cfg.data_dir.join("postgres");
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&dir)).await??;
    let mut admin = AsyncPgConnection::establish(&pg.url("postgres")).await.context("connecting to embedded PostgreSQL")?;
    let exists: Count = diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<Text, _>("outbound")
        .get_result(&mut admin)
        .await?;
    if exists.n == 0 {
        diesel::sql_query("CREATE DATABASE outbound").execute(&mut admin).await?;
    }
    Ok(Database { url: pg.url("outbound"), embedded: Some(pg) })
}

/// Apply pending migrations and open the pool.
pub async fn migrate_and_pool(db: &Database, pool_size: usize) -> anyhow::Result<DbPool> {
    let applied = run_migrations(&db.url).await.context("running migrations")?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    make_pool(&db.url, &PoolSettings { max_size: pool_size, ..Default::default() })
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
    let secret: String = rand::thread_rng().sample_iter(&Alphanumeric).take(64).map(char::from).collect();
    write_private(&path, &secret)?;
    tracing::info!(path = %path.display(), "generated a token secret");
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(content.as_bytes())?;
    Ok(())
}

/// The password hasher with production (OWASP) parameters.
pub fn hasher() -> anyhow::Result<Argon2Hasher> {
    Argon2Hasher::new()
}

/// A random password for generated accounts.
pub fn random_password() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(16).map(char::from).collect()
}
