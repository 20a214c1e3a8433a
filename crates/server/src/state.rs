//! The application state shared by every request: the domain services wired to the adapters.

use std::sync::Arc;

use adapters::db::DbPool;
use adapters::pg_auth::{PgOrgs, PgUsers};
use adapters::pg_leads::PgLeads;
use adapters::pg_tasks::PgTasks;
use adapters::security::{Argon2Hasher, JwtCodec};
use auth::{AuthService, LoginThrottle, ThrottleLimits};
use chrono_tz::Tz;
use kernel::SystemClock;
use leads::LeadService;
use org::OrgService;
use tasks::TaskService;

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
    /// The pool (health checks).
    pub pool: DbPool,
    /// Time zone of timestamps.
    pub tz: Tz,
}

impl AppState {
    /// Wire everything over a pool.
    pub fn new(pool: DbPool, jwt_secret: &[u8], tz: Tz, token_ttl_secs: i64, hasher: Argon2Hasher) -> Self {
        let clock = Arc::new(SystemClock);
        let auth = AuthService::new(
            Arc::new(PgUsers::new(pool.clone())),
            Arc::new(hasher),
            Arc::new(JwtCodec::new(jwt_secret)),
            clock,
            LoginThrottle::new(ThrottleLimits::default()),
            chrono::Duration::seconds(token_ttl_secs),
        );
        let leads = LeadService::new(Arc::new(PgLeads::new(pool.clone())), tz);
        let tasks = TaskService::new(Arc::new(PgTasks::new(pool.clone())), leads.clone(), tz);
        Self {
            auth: Arc::new(auth),
            orgs: OrgService::new(Arc::new(PgOrgs::new(pool.clone()))),
            leads,
            tasks,
            pool,
            tz,
        }
    }
}
