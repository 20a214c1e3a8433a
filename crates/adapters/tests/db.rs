//! The pool's per-connection settings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use adapters::db::{PoolSettings, conn, make_pool};
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    value: String,
}

/// A setting of the session of `c`.
async fn setting_of(c: &mut AsyncPgConnection, name: &str) -> diesel::QueryResult<String> {
    diesel::sql_query(format!("SELECT current_setting('{name}') AS value"))
        .get_result::<Setting>(c)
        .await
        .map(|s| s.value)
}

/// A setting of a connection of `pool`.
async fn setting(pool: &adapters::db::DbPool, name: &str) -> String {
    setting_of(&mut conn(pool).await.unwrap(), name)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_gets_the_pools_settings() {
    let (db, _) = common::setup().await;
    let generic = make_pool(
        &db.url,
        &PoolSettings {
            max_size: 2,
            generic_plans: true,
            ..Default::default()
        },
    )
    .unwrap();
    let default = make_pool(
        &db.url,
        &PoolSettings {
            max_size: 2,
            statement_timeout: std::time::Duration::from_secs(7),
            ..Default::default()
        },
    )
    .unwrap();
    // two connections at once from each pool: both set up alike
    let (g1, g2) = tokio::join!(
        setting(&generic, "plan_cache_mode"),
        setting(&generic, "plan_cache_mode")
    );
    assert_eq!(
        (g1.as_str(), g2.as_str()),
        ("force_generic_plan", "force_generic_plan")
    );
    assert_eq!(setting(&default, "plan_cache_mode").await, "auto");
    assert_eq!(setting(&default, "statement_timeout").await, "7s");
    assert_eq!(
        setting(&default, "idle_in_transaction_session_timeout").await,
        "10s"
    );
    assert_eq!(setting(&generic, "TimeZone").await, "UTC");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_left_idle_loses_its_locks() {
    use diesel_async::AsyncConnection;
    let (db, _) = common::setup().await;
    let pool = make_pool(
        &db.url,
        &PoolSettings {
            max_size: 2,
            idle_in_transaction_timeout: std::time::Duration::from_millis(300),
            ..Default::default()
        },
    )
    .unwrap();
    let lock = "SELECT 1 FROM held WHERE id = 1 FOR UPDATE NOWAIT";
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn(&pool).await.unwrap(),
        "CREATE TABLE held (id int PRIMARY KEY); INSERT INTO held VALUES (1)",
    )
    .await
    .unwrap();
    let mut holder = conn(&pool).await.unwrap();
    let (locked, released) = tokio::sync::oneshot::channel::<()>();
    let frozen = async {
        holder
            .transaction(async |c| {
                diesel::sql_query(lock).execute(c).await?;
                let _ = locked.send(());
                // a process stopped while it holds the row: the session waits for it
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                diesel::sql_query("SELECT 1").execute(c).await
            })
            .await
    };
    let other = async {
        released.await.unwrap();
        let mut c = conn(&pool).await.unwrap();
        let busy = diesel::sql_query(lock).execute(&mut c).await;
        assert!(busy.is_err(), "held while its holder works");
        // eventually, not timed: the lock is free once the idle session is ended
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            if diesel::sql_query(lock).execute(&mut c).await.is_ok() {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "the row stays locked");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    let (held, ()) = tokio::join!(frozen, other);
    assert!(held.is_err(), "the stopped holder's transaction is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planning_for_values_lasts_one_transaction() {
    use diesel_async::AsyncConnection;
    let (db, _) = common::setup().await;
    let pool = make_pool(
        &db.url,
        &PoolSettings {
            max_size: 1,
            generic_plans: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mut c = conn(&pool).await.unwrap();
    let inside: String = c
        .transaction(async |c| {
            adapters::db::plan_for_values(c).await?;
            setting_of(c, "plan_cache_mode").await
        })
        .await
        .unwrap();
    assert_eq!(inside, "auto");
    drop(c);
    // the same (only) connection, after the transaction
    assert_eq!(
        setting(&pool, "plan_cache_mode").await,
        "force_generic_plan"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_migrating_an_empty_database_at_once_apply_each_migration_once() {
    let db = testkit::TestDb::empty().await.unwrap();
    let url = db.url.clone();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { adapters::db::run_migrations(&url).await })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        applied.push(run.await.unwrap().expect("every instance starts"));
    }
    let total: usize = applied.iter().map(Vec::len).sum();
    let all = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("up.sql").exists())
        .count();
    assert_eq!(total, all, "each migration applied by exactly one instance");
    assert!(
        applied.iter().any(|a| a.len() == all),
        "one applied them all"
    );
    assert_eq!(adapters::db::pending_migrations(&url).await.unwrap(), 0);
}
