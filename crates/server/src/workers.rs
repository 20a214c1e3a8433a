//! Background workers: the dispatcher, the monitor (`auto_task_monitor`) and the query
//! execution runs, each a loop over one execution service, stopped by a shutdown signal.
//! [`Workers`] is also the `Background` port the use cases and the API see.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tasks::execution::{
    Background, Dispatcher, ExecError, Execution, Monitor, MonitorStatus, Runs,
};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use webhooks::Deliverer;

/// Tasks one monitor tick looks at, at most.
const TASKS_PER_TICK: usize = 1000;

/// What the last monitor tick did.
#[derive(Default, Clone)]
struct LastTick {
    at: Option<DateTime<Utc>>,
    error: Option<String>,
    tasks_watched: u64,
}

/// Handles to the background workers of one process.
pub struct Workers {
    monitor_running: AtomicBool,
    monitor_interval: Duration,
    last_tick: Mutex<LastTick>,
    monitor_wake: Arc<Notify>,
    runs_wake: Arc<Notify>,
    dispatch_wake: Arc<Notify>,
    shutdown: watch::Sender<bool>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    dispatcher: Mutex<Option<Dispatcher>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Background for Workers {
    fn dispatch_waiting(&self) {
        self.dispatch_wake.notify_one();
    }

    fn run_waiting(&self) {
        self.runs_wake.notify_one();
    }

    fn set_monitor_running(&self, on: bool) {
        self.monitor_running.store(on, Ordering::SeqCst);
        self.monitor_wake.notify_one();
    }

    fn monitor_status(&self) -> MonitorStatus {
        let last = lock(&self.last_tick).clone();
        MonitorStatus {
            running: self.monitor_running.load(Ordering::SeqCst),
            interval: self.monitor_interval,
            last_tick_at: last.at,
            last_error: last.error,
            tasks_watched: last.tasks_watched,
        }
    }
}

impl Workers {
    /// Workers that are not started yet (a process that serves no background work never starts
    /// them); the monitor ticks every `interval` once started.
    pub fn idle(interval: Duration) -> Arc<Workers> {
        let (tx, _) = watch::channel(false);
        Arc::new(Workers {
            monitor_running: AtomicBool::new(true),
            monitor_interval: interval,
            last_tick: Mutex::new(LastTick::default()),
            monitor_wake: Arc::new(Notify::new()),
            runs_wake: Arc::new(Notify::new()),
            dispatch_wake: Arc::new(Notify::new()),
            shutdown: tx,
            handles: Mutex::new(Vec::new()),
            dispatcher: Mutex::new(None),
        })
    }

    /// Start the dispatcher, monitor and run loops over `exec`.
    pub async fn start(self: &Arc<Self>, exec: Execution) {
        // what this worker's name still holds belongs to a process of that name that is gone
        match exec.dispatcher.take_back_leases().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                leases = n,
                "took back the leases of an earlier process of this worker id"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "leases of an earlier process not taken back; they expire by themselves")
            }
        }
        *lock(&self.dispatcher) = Some(exec.dispatcher.clone());
        let mut handles = lock(&self.handles);
        handles.push(tokio::spawn(dispatcher(
            exec.dispatcher,
            self.shutdown.subscribe(),
            self.dispatch_wake.clone(),
        )));
        handles.push(tokio::spawn(monitor(
            exec.monitor,
            self.clone(),
            self.shutdown.subscribe(),
        )));
        handles.push(tokio::spawn(runs(
            exec.runs,
            self.shutdown.subscribe(),
            self.runs_wake.clone(),
        )));
    }

    /// Start the webhook delivery loop.
    pub fn start_deliveries(self: &Arc<Self>, deliverer: Deliverer) {
        lock(&self.handles).push(tokio::spawn(deliveries(
            deliverer,
            self.shutdown.subscribe(),
        )));
    }

    /// Start the audit trail's retention: what is older than its days is removed once an hour
    /// (and at start).
    pub fn start_audit_retention(self: &Arc<Self>, audit: audit::AuditService) {
        lock(&self.handles).push(tokio::spawn(audit_retention(
            audit,
            self.shutdown.subscribe(),
        )));
    }

    /// Ask every loop to stop after its current step, and wait for them (at most `within`).
    pub async fn shutdown(&self, within: Duration) {
        let _ = self.shutdown.send(true);
        if let Some(d) = lock(&self.dispatcher).as_ref() {
            d.request_stop();
        }
        let handles: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.handles));
        let all = futures::future::join_all(handles);
        if tokio::time::timeout(within, all).await.is_err() {
            tracing::warn!("background workers did not stop in time");
        }
    }

    fn record_tick(&self, result: Result<u64, String>) {
        let mut last = lock(&self.last_tick);
        last.at = Some(Utc::now());
        match result {
            Ok(tasks) => {
                last.error = None;
                last.tasks_watched = tasks;
            }
            Err(e) => last.error = Some(e),
        }
    }
}

/// Sleep `d`, or less when woken or shutting down. Returns false when shutting down.
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>, wake: &Notify) -> bool {
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => {},
        _ = wake.notified() => {},
        _ = stop.changed() => {},
    }
    !*stop.borrow()
}

/// 0.5 s, doubling with each failure in a row, at most 30 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis((500u64 << failures.min(6)).min(30_000))
}

/// How long a loop waits after `e`, its `failures`-th failure in a row: when the platform
/// answered (busy, unsure, refusing) the work is tried again within seconds (0.5, 1, then 2 s);
/// the backoff grows to its ceiling only while the platform or the database cannot be reached.
fn after(e: &ExecError, failures: u32) -> Duration {
    match e {
        ExecError::Platform(p) if p.platform_answered() => {
            Duration::from_millis((500u64 << failures.saturating_sub(1).min(2)).min(2_000))
        }
        _ => backoff(failures),
    }
}

/// How long the dispatcher waits when a task's batch may still be in flight.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(500);

async fn dispatcher(d: Dispatcher, mut stop: watch::Receiver<bool>, wake: Arc<Notify>) {
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        let wait = match d.dispatch_turn().await {
            Ok(Some(report)) => {
                failures = 0;
                if report.waiting {
                    IN_FLIGHT_POLL
                } else {
                    Duration::ZERO
                }
            }
            Ok(None) => {
                failures = 0;
                Duration::from_millis(500)
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "dispatch turn failed; backing off");
                after(&e, failures)
            }
        };
        if !wait.is_zero() && !pause(wait, &mut stop, &wake).await {
            break;
        }
    }
    tracing::info!("dispatcher stopped");
}

async fn monitor(m: Monitor, w: Arc<Workers>, mut stop: watch::Receiver<bool>) {
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        let mut wait = w.monitor_interval;
        if w.monitor_running.load(Ordering::SeqCst) {
            match m.tick(TASKS_PER_TICK).await {
                Ok(report) => {
                    failures = 0;
                    if report.completed > 0 {
                        tracing::info!(completed = report.completed, "tasks completed");
                    }
                    w.record_tick(Ok(report.tasks));
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "monitor tick failed");
                    w.record_tick(Err(e.to_string()));
                    wait = wait.max(after(&e, failures));
                }
            }
        }
        if !pause(wait, &mut stop, &w.monitor_wake).await {
            break;
        }
    }
    tracing::info!("monitor stopped");
}

async fn runs(r: Runs, mut stop: watch::Receiver<bool>, wake: Arc<Notify>) {
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        let wait = match r.turn().await {
            Ok(true) => {
                failures = 0;
                Duration::ZERO
            }
            Ok(false) => Duration::from_secs(1),
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "query execution run interrupted; it resumes later");
                after(&e, failures)
            }
        };
        if !wait.is_zero() && !pause(wait, &mut stop, &wake).await {
            break;
        }
    }
    tracing::info!("run worker stopped");
}

/// How long the delivery loop waits when nothing was due.
const DELIVERY_POLL: Duration = Duration::from_millis(250);

async fn deliveries(d: Deliverer, mut stop: watch::Receiver<bool>) {
    let mut failures = 0u32;
    let never = Notify::new();
    loop {
        if *stop.borrow() {
            break;
        }
        let wait = match d.drain().await {
            Ok(0) => {
                failures = 0;
                DELIVERY_POLL
            }
            Ok(_) => {
                failures = 0;
                Duration::ZERO
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "webhook delivery failed; backing off");
                backoff(failures)
            }
        };
        if !wait.is_zero() && !pause(wait, &mut stop, &never).await {
            break;
        }
    }
    tracing::info!("webhook delivery stopped");
}

/// How often the audit trail's retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

async fn audit_retention(audit: audit::AuditService, mut stop: watch::Receiver<bool>) {
    let never = Notify::new();
    loop {
        if *stop.borrow() {
            break;
        }
        match audit.purge_expired(Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "audit entries past their retention removed"),
            Err(e) => tracing::warn!(error = %e, "audit retention failed; trying again later"),
        }
        if !pause(RETENTION_EVERY, &mut stop, &never).await {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tasks::PlatformError;

    #[test]
    fn a_platform_that_answers_is_tried_again_within_seconds() {
        let busy = ExecError::Platform(PlatformError::Busy("throttled".into()));
        let down = ExecError::Platform(PlatformError::Unavailable("connect failed".into()));
        let waits: Vec<u64> = (1..=8)
            .map(|n| after(&busy, n).as_millis() as u64)
            .collect();
        assert_eq!(waits, vec![500, 1000, 2000, 2000, 2000, 2000, 2000, 2000]);
        assert_eq!(after(&down, 8), Duration::from_secs(30));
        assert_eq!(after(&down, 1), Duration::from_secs(1));
    }
}
