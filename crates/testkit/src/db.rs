//! Test databases: each test gets its own database, cloned from a migrated template.
//!
//! The server is `TEST_DATABASE_URL` when set (any database on it; the harness creates and drops
//! databases there), else a private cluster under `target/test-pg` started from the machine's
//! PostgreSQL binaries on first use and left running for the next test process (the test script
//! stops it at the end).

use std::path::PathBuf;

use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use adapters::db::run_migrations;
use adapters::embedded::EmbeddedPostgres;

/// The hash of the migrations' SQL this build embeds.
pub const MIGRATIONS_HASH: &str = env!("MIGRATIONS_HASH");

/// A database that lives as long as this value.
pub struct TestDb {
    /// Connection URL of the test database.
    pub url: String,
    admin_url: String,
    name: String,
    owned: bool,
}

fn with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// The data directory of the test cluster: `<target>/test-pg/data`.
pub fn test_cluster_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("test-pg").join("data")
}

/// URL of the server's maintenance database (`postgres`).
pub async fn server_admin_url() -> anyhow::Result<String> {
    if let Some(url) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
    {
        return Ok(with_db(&url, "postgres"));
    }
    let dir = test_cluster_dir();
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&dir)).await??;
    Ok(pg.url("postgres"))
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn ensure_template(admin_url: &str) -> anyhow::Result<String> {
    let tpl = format!("outbound_tpl_{MIGRATIONS_HASH}");
    let mut admin = AsyncPgConnection::establish(admin_url).await?;
    let key = i64::from_str_radix(&MIGRATIONS_HASH[..15], 16).unwrap_or(42);
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(key)
        .execute(&mut admin)
        .await?;
    let result = async {
        let exists: Count =
            diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
                .bind::<Text, _>(&tpl)
                .get_result(&mut admin)
                .await?;
        if exists.n == 0 {
            let tmp = format!("{tpl}_build");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {tmp}"))
                .execute(&mut admin)
                .await?;
            diesel::sql_query(format!("CREATE DATABASE {tmp}"))
                .execute(&mut admin)
                .await?;
            run_migrations(&with_db(admin_url, &tmp)).await?;
            diesel::sql_query(format!("ALTER DATABASE {tmp} RENAME TO {tpl}"))
                .execute(&mut admin)
                .await?;
        }
        // nobody connects to the template, autovacuum included: a session on it would make
        // every `CREATE DATABASE … TEMPLATE` wait (PostgreSQL waits 5 s per try for it to leave)
        diesel::sql_query(format!(
            "ALTER DATABASE {tpl} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"
        ))
        .execute(&mut admin)
        .await?;
        anyhow::Ok(())
    }
    .await;
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(key)
        .execute(&mut admin)
        .await?;
    result?;
    Ok(tpl)
}

impl TestDb {
    /// A new, migrated, empty database.
    pub async fn new() -> anyhow::Result<TestDb> {
        let admin_url = server_admin_url().await?;
        let tpl = ensure_template(&admin_url).await?;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&admin_url).await?;
        // several processes may clone the template at once; retry while it is briefly busy
        let mut tries = 0;
        loop {
            match diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {tpl}"))
                .execute(&mut admin)
                .await
            {
                Ok(_) => break,
                Err(e) if tries < 50 && e.to_string().contains("being accessed by other users") => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(TestDb {
            url: with_db(&admin_url, &name),
            admin_url,
            name,
            owned: true,
        })
    }

    /// A new database without any table (not migrated): for tests of migrations and restores.
    pub async fn empty() -> anyhow::Result<TestDb> {
        let admin_url = server_admin_url().await?;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&admin_url).await?;
        diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE template0"))
            .execute(&mut admin)
            .await?;
        Ok(TestDb {
            url: with_db(&admin_url, &name),
            admin_url,
            name,
            owned: true,
        })
    }

    /// Another handle to the same database (e.g. for a second service instance); dropping it
    /// leaves the database alone.
    pub fn attach(other: &TestDb) -> TestDb {
        TestDb {
            url: other.url.clone(),
            admin_url: other.admin_url.clone(),
            name: other.name.clone(),
            owned: false,
        }
    }

    /// A handle to a database the caller created and owns elsewhere (e.g. on a private cluster);
    /// dropping it leaves the database alone.
    pub fn external(url: String) -> TestDb {
        let name = url
            .split('?')
            .next()
            .and_then(|base| base.rsplit('/').next())
            .unwrap_or_default()
            .to_owned();
        TestDb {
            admin_url: with_db(&url, "postgres"),
            url,
            name,
            owned: false,
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // async work cannot run in Drop: do it on a thread with its own runtime. Wait for it a
        // while, not for ever: DROP DATABASE waits until every backend of the cluster has
        // acknowledged it, including one still authenticating a connection that this process
        // opened on the runtime this Drop blocks (a pool filling up as the test ended). Left
        // running, the thread finishes once the runtime has moved on and closed that connection
        // (the server completes a DROP it has started even if the process has exited).
        let (done, finished) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url).await {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin)
                            .await;
                }
            });
            let _ = done.send(());
        });
        let _ = finished.recv_timeout(std::time::Duration::from_secs(3));
    }
}

#[cfg(test)]
mod tests {
    use super::with_db;

    #[test]
    fn swaps_database_name() {
        assert_eq!(
            with_db("postgres://u:p@h:5/a?sslmode=disable", "b"),
            "postgres://u:p@h:5/b?sslmode=disable"
        );
        assert_eq!(with_db("postgres://u:p@h:5", "b"), "postgres://u:p@h:5/b");
    }
}
