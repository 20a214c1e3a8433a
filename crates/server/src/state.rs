//! Wiring: the adapters plugged into the domain services, once per process.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use adapters::db::DbPool;
use adapters::pg_auth::{PgOrgs, PgUsers};
use adapters::pg_exec::{PgBatches, PgLeases, PgLifecycle, PgResults, PgRuns};
use adapters::pg_leads::PgLeads;
use adapters::pg_tasks::PgTasks;
use adapters::pg_webhooks::PgWebhooks;
use adapters::probe::Probe;
use adapters::security::{Argon2Hasher, JwtCodec};
use api::ApiState;
use auth::{AccountService, AuthService, LoginThrottle, ThrottleLimits};
use chrono_tz::Tz;
use kernel::{Clock, SystemClock};
use leads::LeadService;
use ops::{Facts, Ops};
use org::OrgService;
use tasks::execution::{Background, Execution, ExecutionPorts, ExecutionSettings, Platforms};
use tasks::{TaskRepository, TaskService};

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
    /// The outbound-call platform, a handle per part of execution (its priority in the
    /// account's request budget); health checks use the lifecycle's.
    pub platforms: Platforms,
    /// Whether the platform is the built-in simulator.
    pub platform_simulated: bool,
    /// Execution settings (strategy, worker id, leases, batches).
    pub exec: ExecutionSettings,
    /// Monitor tick.
    pub monitor_interval: Duration,
    /// Hosts webhooks may call whatever their scheme and address.
    pub webhook_allow: webhooks::target::AllowHosts,
    /// The HTTP side of webhook delivery (`adapters::webhook_sender::HttpSender`).
    pub webhook_sender: Arc<dyn webhooks::Sender>,
    /// The webhook delivery worker's settings.
    pub delivery: webhooks::DeliverySettings,
    /// `AUDIT_RETENTION_DAYS`: how long audit entries are kept.
    pub audit_retention_days: u32,
}

/// The services of a running app: what the HTTP adapters use ([`ApiState`], which this derefs
/// to), and the background workers with their own execution services.
#[derive(Clone)]
pub struct AppState {
    /// The services the handlers call.
    pub api: ApiState,
    /// Execution for the background workers, on their own pool.
    pub workers_execution: Execution,
    /// The background loops (started separately, see [`Workers::start`]).
    pub workers: Arc<Workers>,
    /// Whether the platform is the built-in simulator (the demo starts tasks only then).
    pub platform_simulated: bool,
    /// The webhook delivery worker (on the workers' pool).
    pub deliverer: webhooks::Deliverer,
}

impl Deref for AppState {
    type Target = ApiState;
    fn deref(&self) -> &ApiState {
        &self.api
    }
}

/// Every execution port over one pool.
fn execution(
    pool: &DbPool,
    platforms: Platforms,
    clock: Arc<dyn Clock>,
    background: Arc<dyn Background>,
    settings: ExecutionSettings,
) -> Execution {
    let tasks: Arc<dyn TaskRepository> = Arc::new(PgTasks::new(pool.clone()));
    Execution::new(
        ExecutionPorts {
            lifecycle: Arc::new(PgLifecycle::new(pool.clone())),
            leases: Arc::new(PgLeases::new(pool.clone())),
            batches: Arc::new(PgBatches::new(pool.clone())),
            results: Arc::new(PgResults::new(pool.clone())),
            runs: Arc::new(PgRuns::new(pool.clone())),
            tasks,
            platforms,
            clock,
            background,
        },
        settings,
    )
}

impl AppState {
    /// Wire everything.
    pub fn new(o: AppOptions) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let pool = o.pool;
        let workers = Workers::idle(o.monitor_interval);
        let background: Arc<dyn Background> = workers.clone();
        let auth = AuthService::new(
            Arc::new(PgUsers::new(pool.clone())),
            Arc::new(o.hasher),
            Arc::new(JwtCodec::new(&o.jwt_secret)),
            clock.clone(),
            // shared by every instance of the fleet
            LoginThrottle::shared(
                ThrottleLimits::default(),
                Arc::new(adapters::pg_throttle::PgFailures::new(pool.clone())),
            ),
            chrono::Duration::seconds(o.token_ttl_secs),
        )
        .with_user_cache(
            chrono::Duration::from_std(o.auth_cache).unwrap_or_else(|_| chrono::Duration::zero()),
        );
        let auth = Arc::new(auth);
        let leads = LeadService::new(Arc::new(PgLeads::new(pool.clone())), o.tz);
        let tasks = TaskService::new(Arc::new(PgTasks::new(pool.clone())), leads.clone(), o.tz);
        let ops = Ops::new(
            Arc::new(Probe::new(
                pool.clone(),
                o.database_url,
                o.platforms.lifecycle.clone(),
            )),
            background.clone(),
            clock.clone(),
            Facts {
                platform_simulated: o.platform_simulated,
                token_secret_len: o.jwt_secret.len(),
            },
        );
        let sender = o.webhook_sender;
        let webhook_service = webhooks::WebhookService::new(
            Arc::new(PgWebhooks::new(pool.clone())),
            sender.clone(),
            o.webhook_allow,
            clock.clone(),
        );
        let deliverer = webhooks::Deliverer::new(
            Arc::new(PgWebhooks::new(o.worker_pool.clone())),
            sender,
            clock.clone(),
            o.delivery,
        );
        let api = ApiState {
            accounts: AccountService::new(auth.clone()),
            auth,
            orgs: OrgService::new(Arc::new(PgOrgs::new(pool.clone()))),
            leads,
            tasks,
            execution: execution(
                &pool,
                o.platforms.clone(),
                clock.clone(),
                background.clone(),
                o.exec.clone(),
            ),
            background: background.clone(),
            webhooks: webhook_service,
            audit: audit::AuditService::new(
                Arc::new(adapters::pg_audit::PgAudit::new(pool.clone())),
                o.audit_retention_days,
            ),
            ops,
            tz: o.tz,
        };
        Self {
            api,
            workers_execution: execution(&o.worker_pool, o.platforms, clock, background, o.exec),
            workers,
            platform_simulated: o.platform_simulated,
            deliverer,
        }
    }
}
