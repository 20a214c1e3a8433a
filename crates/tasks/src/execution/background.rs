//! The background loops of a process (dispatcher, monitor, runs), as the use cases see them: a
//! port, because the loops themselves (tokio tasks, wake-ups) belong to the binary.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The monitor of this process (`POST /api/auto-task`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorStatus {
    /// Whether it ticks.
    pub running: bool,
    /// Time between ticks.
    pub interval: Duration,
    /// When the last tick ran.
    pub last_tick_at: Option<DateTime<Utc>>,
    /// Why the last tick failed, if it did.
    pub last_error: Option<String>,
    /// Tasks the last tick looked at.
    pub tasks_watched: u64,
}

impl MonitorStatus {
    /// Whether a running monitor has ticked lately (within three intervals and five seconds).
    pub fn ticked_lately(&self, now: DateTime<Utc>) -> bool {
        let window = chrono::Duration::from_std(self.interval * 3 + Duration::from_secs(5))
            .unwrap_or(chrono::Duration::MAX);
        self.last_tick_at.is_some_and(|t| now - t < window)
    }
}

/// The background loops of this process.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Background: Send + Sync + 'static {
    /// A task was started or resumed: the dispatcher should look now, not at its next poll.
    fn dispatch_waiting(&self);
    /// A query execution run was created: the run worker should look now.
    fn run_waiting(&self);
    /// Start or stop this process's monitor.
    fn set_monitor_running(&self, on: bool);
    /// The monitor's status.
    fn monitor_status(&self) -> MonitorStatus;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monitor_has_ticked_lately_within_three_intervals_and_five_seconds() {
        let now = Utc::now();
        let status = |ago: Option<i64>| MonitorStatus {
            running: true,
            interval: Duration::from_secs(10),
            last_tick_at: ago.map(|s| now - chrono::Duration::seconds(s)),
            last_error: None,
            tasks_watched: 0,
        };
        assert!(status(Some(34)).ticked_lately(now));
        assert!(!status(Some(35)).ticked_lately(now));
        assert!(!status(None).ticked_lately(now));
    }
}
