//! The PostgreSQL pool, migrations, and the mapping of database errors to [`RepoError`].

use std::time::Duration;

use diesel::result::{ConnectionError, DatabaseErrorKind, Error as DieselError};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures::FutureExt;
use kernel::RepoError;

/// The migrations of `migrations/`, embedded into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// A pool of async PostgreSQL connections.
pub type DbPool = Pool<AsyncPgConnection>;
/// A connection checked out of the pool.
pub type DbConn = Object<AsyncPgConnection>;

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most open connections.
    pub max_size: usize,
    /// How long a request waits for a connection (or for a new one to open) before 503.
    pub acquire_timeout: Duration,
    /// `statement_timeout` of every connection.
    pub statement_timeout: Duration,
    /// `idle_in_transaction_session_timeout` of every connection: a process that stops inside a
    /// transaction (frozen, swapped out, paused in a debugger) loses its session, and the rows
    /// it locked, after this long. Without it an instance stopped while it held the account's
    /// budget row would hold every other instance's platform requests for `statement_timeout`.
    /// The service's transactions hold no wait but the database's own.
    pub idle_in_transaction_timeout: Duration,
    /// Plan each prepared statement once, for any parameters (`plan_cache_mode =
    /// force_generic_plan`), instead of PostgreSQL's default of planning it anew on every
    /// execution whenever its generic plan *looks* dearer: a page's `LIMIT $n OFFSET $m` looks to
    /// the planner like a tenth of the table, so every page of every list was planned on every
    /// request, which cost more CPU than running it. See docs/decisions.md.
    pub generic_plans: bool,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 16,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(120),
            idle_in_transaction_timeout: Duration::from_secs(10),
            generic_plans: false,
        }
    }
}

async fn establish(
    url: String,
    settings: PoolSettings,
) -> diesel::ConnectionResult<AsyncPgConnection> {
    let connect = crate::pg_connect::connect(&url);
    let mut conn = tokio::time::timeout(settings.acquire_timeout, connect)
        .await
        .map_err(|_| ConnectionError::BadConnection("connect timed out".into()))??;
    let mut set = format!(
        "SET statement_timeout = {}; SET idle_in_transaction_session_timeout = {}; \
         SET TIME ZONE 'UTC'",
        settings.statement_timeout.as_millis(),
        settings.idle_in_transaction_timeout.as_millis(),
    );
    if settings.generic_plans {
        set.push_str("; SET plan_cache_mode = force_generic_plan");
    }
    diesel_async::SimpleAsyncConnection::batch_execute(&mut conn, &set)
        .await
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// Build a pool for `url`. Connections open lazily; a database that is down makes requests fail
/// fast with [`RepoError::Unavailable`], and the pool recovers by itself when it returns.
pub fn make_pool(url: &str, settings: &PoolSettings) -> anyhow::Result<DbPool> {
    let setup = settings.clone();
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    // no test query on every checkout (a round trip per checkout, several per request): a
    // connection whose server went away is closed and dropped by the pool (`is_broken`), and a
    // query on a connection that breaks mid-way maps to `Unavailable` (503) and closes it
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |url| establish(url.to_owned(), setup.clone()).boxed());
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
    let pool = Pool::builder(manager)
        .max_size(settings.max_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(settings.acquire_timeout))
        .create_timeout(Some(settings.acquire_timeout))
        .recycle_timeout(Some(settings.acquire_timeout))
        .build()?;
    Ok(pool)
}

/// Inside a transaction: plan its statements for the values they are given (PostgreSQL's default
/// `plan_cache_mode`), on a connection of a pool with [`PoolSettings::generic_plans`]. For
/// statements whose best plan depends on the values, such as a lead filter: a generic plan
/// cannot know that `create_time >= $1` keeps a day of leads and scans them all.
pub async fn plan_for_values(c: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    diesel_async::SimpleAsyncConnection::batch_execute(c, "SET LOCAL plan_cache_mode = auto").await
}

/// Check out a connection, mapping pool failures to [`RepoError`].
pub async fn conn(pool: &DbPool) -> Result<DbConn, RepoError> {
    pool.get().await.map_err(pool_error)
}

/// Map a pool error: every failure to get a connection means the database is unavailable.
pub fn pool_error(e: PoolError) -> RepoError {
    tracing::warn!(error = %e, "database connection unavailable");
    RepoError::Unavailable
}

/// Map a query error: a lost or refused connection (the server stopped, restarted or dropped us)
/// is unavailability, anything else is a bug.
pub fn db_error(e: DieselError) -> RepoError {
    if is_transient(&e) {
        // nothing was changed (the transaction rolled back); asking again will do
        tracing::warn!(error = %e, "transaction lost a race (serialization failure or deadlock)");
        return RepoError::Unavailable;
    }
    if is_unavailable(&e) {
        tracing::warn!(error = %e, "database connection lost");
        RepoError::Unavailable
    } else {
        RepoError::Other(anyhow::Error::new(e))
    }
}

/// Lower-case fragments of the messages of errors that mean the server cannot be used right now
/// (PostgreSQL's own texts for class 57P, and the client's I/O errors).
const UNAVAILABLE_MESSAGES: &[&str] = &[
    "terminating connection",
    "connection closed",
    "connection refused",
    "connection reset",
    "broken pipe",
    "error communicating with the server",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "server closed the connection",
];

/// A serialization failure (40001) or a detected deadlock (40P01): the statement's transaction
/// was rolled back by PostgreSQL and can simply be tried again.
fn is_transient(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => info.message().starts_with("deadlock detected"),
        _ => false,
    }
}

fn is_unavailable(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        DieselError::DatabaseError(_, info) => {
            let m = info.message().to_ascii_lowercase();
            UNAVAILABLE_MESSAGES.iter().any(|p| m.contains(p))
        }
        // a transaction whose connection died half way leaves its manager broken
        DieselError::BrokenTransactionManager => true,
        DieselError::RollbackErrorOnCommit {
            rollback_error,
            commit_error,
        } => is_unavailable(rollback_error) || is_unavailable(commit_error),
        _ => false,
    }
}

/// Apply pending migrations over a fresh connection to `url`. Returns the versions applied.
pub async fn run_migrations(url: &str) -> anyhow::Result<Vec<String>> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let mut conn = sync_connection(&url)?;
        // instances started together migrate one after the other: the first applies, the
        // others then find nothing pending (the lock ends with the session at the latest)
        diesel::RunQueryDsl::execute(
            diesel::sql_query("SELECT pg_advisory_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK),
            &mut conn,
        )?;
        let applied: anyhow::Result<Vec<String>> = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|done| done.into_iter().map(|v| v.to_string()).collect())
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"));
        let _ = diesel::RunQueryDsl::execute(
            diesel::sql_query("SELECT pg_advisory_unlock($1)")
                .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK),
            &mut conn,
        );
        applied
    })
    .await?
}

/// A blocking connection for diesel's migration harness (call inside `spawn_blocking`), opened
/// with the URL's TLS settings.
fn sync_connection(url: &str) -> anyhow::Result<AsyncConnectionWrapper<AsyncPgConnection>> {
    let conn = tokio::runtime::Handle::current()
        .block_on(crate::pg_connect::connect(url))
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
    Ok(AsyncConnectionWrapper::from(conn))
}

/// The advisory lock that migrations hold (an arbitrary key of this application's own).
const MIGRATION_LOCK: i64 = 0x6f75_7462_6f75_6e64; // "outbound"

/// Whether migrations are pending on `url`.
pub async fn pending_migrations(url: &str) -> anyhow::Result<usize> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut conn = sync_connection(&url)?;
        let pending = conn
            .pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(pending.len())
    })
    .await?
}

/// Whether the database has the newest migration of this build (one query on the pool).
pub async fn migrations_current(pool: &DbPool) -> Result<bool, RepoError> {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    static NEWEST: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let newest = NEWEST.get_or_init(|| {
        diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
            .ok()?
            .iter()
            .map(|m| m.name().version().to_string())
            .max()
    });
    let Some(newest) = newest else {
        return Ok(true);
    };
    let mut c = conn(pool).await?;
    let r: Found = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM __diesel_schema_migrations WHERE version = $1) AS found",
    )
    .bind::<diesel::sql_types::Text, _>(newest)
    .get_result(&mut c)
    .await
    .map_err(db_error)?;
    Ok(r.found)
}

/// A round trip to the database (for health checks).
pub async fn ping(pool: &DbPool) -> Result<(), RepoError> {
    let mut c = conn(pool).await?;
    diesel::sql_query("SELECT 1")
        .execute(&mut c)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// The organisations of a scope as the database stores them (`org_id = ANY($n)`).
pub fn scope_ids(scope: &kernel::OrgScope) -> Vec<i64> {
    scope.ids().into_iter().map(|o| o.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(kind: DatabaseErrorKind, msg: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(msg.to_owned()))
    }

    #[test]
    fn lost_connections_are_unavailable_other_errors_are_not() {
        for e in [
            db(DatabaseErrorKind::ClosedConnection, "x"),
            db(DatabaseErrorKind::UnableToSendCommand, "connection closed"),
            db(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            db(
                DatabaseErrorKind::Unknown,
                "FATAL: the database system is shutting down",
            ),
            db(
                DatabaseErrorKind::Unknown,
                "error communicating with the server: Connection refused (os error 111)",
            ),
            db(
                DatabaseErrorKind::Unknown,
                "Connection reset by peer (os error 104)",
            ),
            DieselError::BrokenTransactionManager,
            DieselError::RollbackErrorOnCommit {
                rollback_error: Box::new(db(
                    DatabaseErrorKind::UnableToSendCommand,
                    "connection closed",
                )),
                commit_error: Box::new(db(
                    DatabaseErrorKind::Unknown,
                    "terminating connection due to administrator command",
                )),
            },
        ] {
            let text = e.to_string();
            assert!(matches!(db_error(e), RepoError::Unavailable), "{text}");
        }
        for e in [
            db(
                DatabaseErrorKind::UniqueViolation,
                "duplicate key value violates unique constraint",
            ),
            db(DatabaseErrorKind::Unknown, "syntax error at or near \"x\""),
            db(
                DatabaseErrorKind::Unknown,
                "canceling statement due to statement timeout",
            ),
            DieselError::NotFound,
        ] {
            let text = e.to_string();
            assert!(matches!(db_error(e), RepoError::Other(_)), "{text}");
        }
    }
}
