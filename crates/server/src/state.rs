//! The application state shared by every request: the domain services wired to the adapters.

use std::sync::Arc;
use std::time::Duration;

use adapters::db::DbPool;
use adapters::pg_auth::{PgOrgs, PgUsers};
use adapters::pg_exec::PgExecution;
use adapters::pg_leads::PgLeads;
use adapters::pg_tasks::PgTasks;
use adapters::security::{Argon2Hasher, JwtCodec};
use auth::{AuthService, LoginThrottle, ThrottleLimits};
use chrono_tz::Tz;
use kernel::SystemClock;
use leads::LeadService;
use org::OrgService;
use tasks::execution::{ExecutionService, ExecutionSettings};
use tasks::{OutboundPlatform, TaskService};

use crate::workers::Workers;

/// Everything needed to wire an app.
pub struct AppOptions {
    /// The pool of HTTP requests.
    pub pool: DbPool,
    /// The pool of the background workers (dispatcher, monitor, runs), apart so that neither
    /// side can take every connection from the other.
    pub worker_pool: DbPool,
    /// The database URL (for migration checks; never logged).
    pub database_url: String,
    /// Token signing key.
    pub jwt_secret: Vec<u8>,
    /// Time zone of timestamps.
    pub tz: Tz,
    /// Token lifetime, seconds.
    pub token_ttl_secs: i64,
    /// How long the user behind a token is remembered (zero: read on every request).
    pub auth_cache: Duration,
    /// Password hasher.
    pub hasher: Argon2Hasher,
    /// The outbound-call platform.
    pub platform: Arc<dyn OutboundPlatform>,
    /// Whether the platform is the built-in simulator.
    pub platform_simulated: bool,
    /// Execution settings (strategy, worker id, leases, batches).
    pub exec: ExecutionSettings,
    /// Monitor tick.
    pub monitor_interval: Duration,
}

/// Facts for the configuration check.
#[derive(Clone)]
pub struct AppInfo {
    /// Database URL (never logged or shown).
    pub database_url: String,
    /// Whether the platform is the built-in simulator.
    pub platform_simulated: bool,
    /// Length of the token secret.
    pub jwt_secret_len: usize,
}

/// Services and settings of a running app.
#[derive(Clone)]
pub struct AppState {
    /// Login and tokens.
    pub auth: Arc<AuthService>,
    /// Organisations.
    pub orgs: OrgService,
    /// Leads.
    pub leads: LeadService,
    /// Tasks.
    pub tasks: TaskService,
    /// Running tasks (HTTP requests).
    pub exec: ExecutionService,
    /// Running tasks (the background workers, on their own pool).
    pub workers_exec: ExecutionService,
    /// Background workers (started separately).
    pub workers: Arc<Workers>,
    /// The pool (health checks).
    pub pool: DbPool,
    /// Time zone of timestamps.
    pub tz: Tz,
    /// Facts for the configuration check.
    pub info: AppInfo,
}

impl AppState {
    /// Wire everything.
    pub fn new(o: AppOptions) -> Self {
        let clock = Arc::new(SystemClock);
        let pool = o.pool;
        let auth = AuthService::new(
            Arc::new(PgUsers::new(pool.clone())),
            Arc::new(o.hasher),
            Arc::new(JwtCodec::new(&o.jwt_secret)),
            clock.clone(),
            LoginThrottle::new(ThrottleLimits::default()),
            chrono::Duration::seconds(o.token_ttl_secs),
        )
        .with_user_cache(
            chrono::Duration::from_std(o.auth_cache).unwrap_or_else(|_| chrono::Duration::zero()),
        );
        let leads = LeadService::new(Arc::new(PgLeads::new(pool.clone())), o.tz);
        let task_repo = Arc::new(PgTasks::new(pool.clone()));
        let tasks = TaskService::new(task_repo.clone(), leads.clone(), o.tz);
        let exec = ExecutionService::new(
            Arc::new(PgExecution::new(pool.clone())),
            task_repo,
            o.platform.clone(),
            clock.clone(),
            o.exec.clone(),
        );
        let workers_exec = ExecutionService::new(
            Arc::new(PgExecution::new(o.worker_pool.clone())),
            Arc::new(PgTasks::new(o.worker_pool)),
            o.platform,
            clock,
            o.exec,
        );
        Self {
            auth: Arc::new(auth),
            orgs: OrgService::new(Arc::new(PgOrgs::new(pool.clone()))),
            leads,
            tasks,
            exec,
            workers_exec,
            workers: Workers::idle(o.monitor_interval),
            pool,
            tz: o.tz,
            info: AppInfo {
                database_url: o.database_url,
                platform_simulated: o.platform_simulated,
                jwt_secret_len: o.jwt_secret.len(),
            },
        }
    }
}
