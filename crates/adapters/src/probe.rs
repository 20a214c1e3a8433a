//! [`Probe`]: what the configuration check measures (the `ops` crate's `SystemProbe`), each
//! answer bounded in time so that a hanging database or platform cannot hang the check.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ops::{PlatformReach, SystemProbe};
use tasks::{OutboundPlatform, PlatformError};

use crate::db::{DbPool, migrations_current, pending_migrations, ping};

/// Longest wait for the database to answer.
const DATABASE_WAIT: Duration = Duration::from_secs(2);
/// Longest wait for the migration table to be read.
const MIGRATIONS_WAIT: Duration = Duration::from_secs(5);
/// Longest wait for the platform (its client retries within this).
const PLATFORM_WAIT: Duration = Duration::from_secs(10);

/// A job group no task has: the platform answers "not found" when it accepts the signature.
const PROBE_GROUP: &str = "config-check-probe";

/// [`SystemProbe`] over the database pool and the platform client.
pub struct Probe {
    pool: DbPool,
    database_url: String,
    platform: Arc<dyn OutboundPlatform>,
}

impl Probe {
    /// Probe `pool` (migrations are read over a connection of their own to `database_url`) and
    /// `platform`.
    pub fn new(pool: DbPool, database_url: String, platform: Arc<dyn OutboundPlatform>) -> Self {
        Self {
            pool,
            database_url,
            platform,
        }
    }
}

#[async_trait]
impl SystemProbe for Probe {
    async fn database_ok(&self) -> bool {
        matches!(
            tokio::time::timeout(DATABASE_WAIT, ping(&self.pool)).await,
            Ok(Ok(()))
        )
    }

    async fn pending_migrations(&self) -> Option<usize> {
        match tokio::time::timeout(MIGRATIONS_WAIT, pending_migrations(&self.database_url)).await {
            Ok(Ok(n)) => Some(n),
            _ => None,
        }
    }

    async fn migrations_current(&self) -> bool {
        matches!(
            tokio::time::timeout(DATABASE_WAIT, migrations_current(&self.pool)).await,
            Ok(Ok(true))
        )
    }

    async fn platform(&self) -> PlatformReach {
        let probe = self.platform.describe_job_group(PROBE_GROUP);
        match tokio::time::timeout(PLATFORM_WAIT, probe).await {
            Ok(Ok(_)) | Ok(Err(PlatformError::NotFound)) => PlatformReach::Reachable,
            Ok(Err(PlatformError::Rejected { code, .. })) => PlatformReach::Rejected(code),
            Ok(Err(_)) | Err(_) => PlatformReach::Unreachable,
        }
    }
}
