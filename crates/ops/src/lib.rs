//! # ops
//!
//! Running the service: whether it is healthy, whether a load balancer should send it requests
//! (`GET /api/health`, `/api/health/live`, `/api/health/ready`), and whether it is configured
//! well (`GET /api/config-check`). The rules of the checks live here (which
//! outcome is fine, which is a warning, which is a failure); what is measured comes through
//! ports: [`SystemProbe`] (the database, its migrations, the platform; each answered within a
//! few seconds) and `tasks::execution::Background` (the monitor).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use kernel::Clock;
use tasks::execution::Background;

/// Whether the outbound-call platform answers a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformReach {
    /// It answered (a probe for a group that does not exist is answered "not found").
    Reachable,
    /// It refused the request: the credentials are wrong (the vendor's code, for people).
    Rejected(String),
    /// It did not answer in time, or cannot be reached.
    Unreachable,
}

/// What the checks measure. Each method answers within a few seconds, whatever the state of
/// what it probes.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SystemProbe: Send + Sync + 'static {
    /// Whether the database answers.
    async fn database_ok(&self) -> bool;
    /// Migrations not yet applied; `None` when that cannot be read.
    async fn pending_migrations(&self) -> Option<usize>;
    /// Whether the database has this build's newest migration (cheap: asked of the pool, for
    /// a load balancer's frequent checks).
    async fn migrations_current(&self) -> bool;
    /// Whether the platform answers.
    async fn platform(&self) -> PlatformReach;
}

/// Facts of the configuration, known at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Whether the platform is the built-in simulator.
    pub platform_simulated: bool,
    /// Length of the token secret, bytes.
    pub token_secret_len: usize,
}

/// The monitor, as the check sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorState {
    /// Ticking.
    Ticking,
    /// Stopped by an admin.
    Stopped,
    /// Running, but it has not ticked lately.
    Stale,
    /// Running, but it has not ticked yet.
    NeverTicked,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// Fine.
    Ok,
    /// Works, but look at it.
    Warn,
    /// Broken.
    Fail,
}

/// One check and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The database answers (or not).
    Database(bool),
    /// Pending migrations (`None`: unknown).
    Migrations(Option<usize>),
    /// Whether a real platform is configured (`false`: the simulator).
    PlatformConfigured(bool),
    /// Whether the platform answers.
    PlatformReachable(PlatformReach),
    /// Length of the token secret, bytes.
    TokenSecret(usize),
    /// The monitor.
    Monitor(MonitorState),
}

/// A token secret at least this long is fine; shorter ones down to [`MIN_SECRET_LEN`] are a
/// warning.
pub const GOOD_SECRET_LEN: usize = 64;
/// Shortest token secret the service starts with.
pub const MIN_SECRET_LEN: usize = 32;

impl Check {
    /// Stable name (`database`, `migrations`, `platform_configured`, `platform_reachable`,
    /// `token_secret`, `monitor`).
    pub fn name(&self) -> &'static str {
        match self {
            Check::Database(_) => "database",
            Check::Migrations(_) => "migrations",
            Check::PlatformConfigured(_) => "platform_configured",
            Check::PlatformReachable(_) => "platform_reachable",
            Check::TokenSecret(_) => "token_secret",
            Check::Monitor(_) => "monitor",
        }
    }

    /// Whether what was found is fine.
    pub fn status(&self) -> CheckStatus {
        use CheckStatus::*;
        match self {
            Check::Database(true) | Check::Migrations(Some(0)) => Ok,
            Check::Database(false) | Check::Migrations(_) => Fail,
            Check::PlatformConfigured(true) => Ok,
            Check::PlatformConfigured(false) => Warn,
            Check::PlatformReachable(PlatformReach::Reachable) => Ok,
            Check::PlatformReachable(_) => Fail,
            Check::TokenSecret(n) if *n >= GOOD_SECRET_LEN => Ok,
            Check::TokenSecret(n) if *n >= MIN_SECRET_LEN => Warn,
            Check::TokenSecret(_) => Fail,
            Check::Monitor(MonitorState::Ticking) => Ok,
            Check::Monitor(_) => Warn,
        }
    }
}

/// Whether this instance should be sent requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// The database answers.
    pub database: bool,
    /// The database has every migration of this build.
    pub migrations: bool,
    /// The instance is shutting down: it still serves, but wants no new requests.
    pub draining: bool,
}

impl Readiness {
    /// Ready: the database answers, it is migrated, and the instance is not draining.
    pub fn ready(&self) -> bool {
        self.database && self.migrations && !self.draining
    }
}

/// Health and configuration checks.
#[derive(Clone)]
pub struct Ops {
    probe: Arc<dyn SystemProbe>,
    background: Arc<dyn Background>,
    clock: Arc<dyn Clock>,
    facts: Facts,
    draining: Arc<AtomicBool>,
}

impl Ops {
    /// Wire the service.
    pub fn new(
        probe: Arc<dyn SystemProbe>,
        background: Arc<dyn Background>,
        clock: Arc<dyn Clock>,
        facts: Facts,
    ) -> Self {
        Self {
            probe,
            background,
            clock,
            facts,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the service can serve: its database answers.
    pub async fn healthy(&self) -> bool {
        self.probe.database_ok().await
    }

    /// From now on the instance is not ready (it is shutting down; it goes on serving what
    /// comes while load balancers notice).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether a load balancer should send this instance requests, and why not.
    pub async fn readiness(&self) -> Readiness {
        let draining = self.draining.load(Ordering::Relaxed);
        let database = self.probe.database_ok().await;
        let migrations = database && self.probe.migrations_current().await;
        Readiness {
            database,
            migrations,
            draining,
        }
    }

    /// Every configuration check, in a fixed order.
    pub async fn config_check(&self) -> Vec<Check> {
        let monitor = self.background.monitor_status();
        let monitor = if !monitor.running {
            MonitorState::Stopped
        } else if monitor.last_tick_at.is_none() {
            MonitorState::NeverTicked
        } else if monitor.ticked_lately(self.clock.now()) {
            MonitorState::Ticking
        } else {
            MonitorState::Stale
        };
        vec![
            Check::Database(self.probe.database_ok().await),
            Check::Migrations(self.probe.pending_migrations().await),
            Check::PlatformConfigured(!self.facts.platform_simulated),
            Check::PlatformReachable(self.probe.platform().await),
            Check::TokenSecret(self.facts.token_secret_len),
            Check::Monitor(monitor),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use kernel::MockClock;
    use tasks::execution::{MockBackground, MonitorStatus};

    fn ops(probe: MockSystemProbe, last_tick: Option<chrono::DateTime<Utc>>) -> Ops {
        let mut background = MockBackground::new();
        background
            .expect_monitor_status()
            .returning(move || MonitorStatus {
                running: true,
                interval: std::time::Duration::from_secs(10),
                last_tick_at: last_tick,
                last_error: None,
                tasks_watched: 0,
            });
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        Ops::new(
            Arc::new(probe),
            Arc::new(background),
            Arc::new(clock),
            Facts {
                platform_simulated: true,
                token_secret_len: 40,
            },
        )
    }

    #[tokio::test]
    async fn ready_needs_the_database_its_migrations_and_no_drain() {
        let mut probe = MockSystemProbe::new();
        probe.expect_database_ok().returning(|| true);
        probe
            .expect_migrations_current()
            .times(2)
            .returning(|| true);
        let service = ops(probe, None);
        assert!(service.readiness().await.ready());
        service.start_draining();
        let r = service.readiness().await;
        assert!(r.draining && r.database && !r.ready());

        let mut probe = MockSystemProbe::new();
        probe.expect_database_ok().returning(|| true);
        probe.expect_migrations_current().returning(|| false);
        assert!(
            !ops(probe, None).readiness().await.ready(),
            "behind on migrations"
        );

        let mut probe = MockSystemProbe::new();
        probe.expect_database_ok().returning(|| false);
        probe.expect_migrations_current().never();
        let r = ops(probe, None).readiness().await;
        assert!(!r.ready() && !r.database && !r.migrations);
    }

    #[tokio::test]
    async fn a_healthy_simulated_setup_warns_about_the_simulator_and_a_short_secret() {
        let mut probe = MockSystemProbe::new();
        probe.expect_database_ok().returning(|| true);
        probe.expect_pending_migrations().returning(|| Some(0));
        probe
            .expect_platform()
            .returning(|| PlatformReach::Reachable);
        let checks = ops(probe, Some(Utc::now())).config_check().await;
        let found: Vec<(&str, CheckStatus)> =
            checks.iter().map(|c| (c.name(), c.status())).collect();
        assert_eq!(
            found,
            vec![
                ("database", CheckStatus::Ok),
                ("migrations", CheckStatus::Ok),
                ("platform_configured", CheckStatus::Warn),
                ("platform_reachable", CheckStatus::Ok),
                ("token_secret", CheckStatus::Warn),
                ("monitor", CheckStatus::Ok),
            ]
        );
    }

    #[tokio::test]
    async fn an_unreachable_database_and_platform_fail_and_a_silent_monitor_warns() {
        let mut probe = MockSystemProbe::new();
        probe.expect_database_ok().returning(|| false);
        probe.expect_pending_migrations().returning(|| None);
        probe
            .expect_platform()
            .returning(|| PlatformReach::Rejected("InvalidAccessKeyId".into()));
        let checks = ops(probe, None).config_check().await;
        let statuses: Vec<CheckStatus> = checks.iter().map(Check::status).collect();
        assert_eq!(
            statuses,
            vec![
                CheckStatus::Fail,
                CheckStatus::Fail,
                CheckStatus::Warn,
                CheckStatus::Fail,
                CheckStatus::Warn,
                CheckStatus::Warn,
            ]
        );
        assert_eq!(checks[5], Check::Monitor(MonitorState::NeverTicked));
        assert_eq!(Check::TokenSecret(64).status(), CheckStatus::Ok);
        assert_eq!(Check::TokenSecret(31).status(), CheckStatus::Fail);
    }
}
