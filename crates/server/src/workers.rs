//! Background workers: the dispatcher, the monitor (`auto_task_monitor`) and the query
//! execution runs, each a loop over a domain service method, stopped by a shutdown signal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tasks::execution::ExecutionService;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// What `POST /api/auto-task` reports and controls.
pub struct Monitor {
    running: AtomicBool,
    interval: Duration,
    status: Mutex<MonitorStatus>,
    wake: Notify,
}

#[derive(Default, Clone)]
struct MonitorStatus {
    last_tick_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    tasks_watched: u64,
}

impl Monitor {
    /// A monitor ticking every `interval`, running from the start.
    pub fn new(interval: Duration) -> Self {
        Self {
            running: AtomicBool::new(true),
            interval,
            status: Mutex::new(MonitorStatus::default()),
            wake: Notify::new(),
        }
    }

    /// Start or stop ticking (this instance).
    pub fn set_running(&self, on: bool) {
        self.running.store(on, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Whether it ticks.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// The tick interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MonitorStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When the last tick ran.
    pub fn last_tick_at(&self) -> Option<DateTime<Utc>> {
        self.lock().last_tick_at
    }

    /// The status as the API shows it.
    pub fn status_json(&self, tz: chrono_tz::Tz) -> Value {
        let s = self.lock().clone();
        json!({
            "running": self.is_running(),
            "interval_seconds": self.interval.as_secs(),
            "last_tick_at": s.last_tick_at.map(|t| kernel::format_time(t, tz)),
            "last_error": s.last_error,
            "tasks_watched": s.tasks_watched,
        })
    }
}

/// Handles to the background workers of one process.
pub struct Workers {
    /// The monitor's controls.
    pub monitor: Arc<Monitor>,
    runs_wake: Arc<Notify>,
    dispatch_wake: Arc<Notify>,
    shutdown: watch::Sender<bool>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    exec: Mutex<Option<ExecutionService>>,
}

impl Workers {
    /// Workers that are not started (for processes that serve no background work).
    pub fn idle(interval: Duration) -> Arc<Workers> {
        let (tx, _) = watch::channel(false);
        Arc::new(Workers {
            monitor: Arc::new(Monitor::new(interval)),
            runs_wake: Arc::new(Notify::new()),
            dispatch_wake: Arc::new(Notify::new()),
            shutdown: tx,
            handles: Mutex::new(Vec::new()),
            exec: Mutex::new(None),
        })
    }

    /// Nudge the run worker (a run was just created).
    pub fn wake_runs(&self) {
        self.runs_wake.notify_one();
    }

    /// Nudge the dispatcher (a task was just started or resumed).
    pub fn wake_dispatch(&self) {
        self.dispatch_wake.notify_one();
    }

    /// Start the dispatcher, monitor and run loops.
    pub fn start(&self, exec: ExecutionService) {
        *self.exec.lock().unwrap_or_else(|p| p.into_inner()) = Some(exec.clone());
        let mut handles = self.handles.lock().unwrap_or_else(|p| p.into_inner());
        handles.push(tokio::spawn(dispatcher(
            exec.clone(),
            self.shutdown.subscribe(),
            self.dispatch_wake.clone(),
        )));
        handles.push(tokio::spawn(monitor(
            exec.clone(),
            self.monitor.clone(),
            self.shutdown.subscribe(),
        )));
        handles.push(tokio::spawn(runs(
            exec,
            self.shutdown.subscribe(),
            self.runs_wake.clone(),
        )));
    }

    /// Ask every loop to stop after its current step, and wait for them (at most `within`).
    pub async fn shutdown(&self, within: Duration) {
        let _ = self.shutdown.send(true);
        if let Some(exec) = self.exec.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            exec.request_stop();
        }
        let handles: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.handles.lock().unwrap_or_else(|p| p.into_inner()));
        let all = futures::future::join_all(handles);
        if tokio::time::timeout(within, all).await.is_err() {
            tracing::warn!("background workers did not stop in time");
        }
    }
}

/// Sleep `d`, or less when woken or shutting down. Returns false when shutting down.
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>, wake: Option<&Notify>) -> bool {
    if *stop.borrow() {
        return false;
    }
    match wake {
        Some(w) => tokio::select! {
            _ = tokio::time::sleep(d) => {},
            _ = w.notified() => {},
            _ = stop.changed() => {},
        },
        None => tokio::select! {
            _ = tokio::time::sleep(d) => {},
            _ = stop.changed() => {},
        },
    }
    !*stop.borrow()
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis((500u64 << failures.min(6)).min(30_000))
}

async fn dispatcher(exec: ExecutionService, mut stop: watch::Receiver<bool>, wake: Arc<Notify>) {
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        let wait = match exec.dispatch_turn().await {
            Ok(Some(_)) => {
                failures = 0;
                Duration::ZERO
            }
            Ok(None) => {
                failures = 0;
                Duration::from_millis(500)
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "dispatch turn failed; backing off");
                backoff(failures)
            }
        };
        if !wait.is_zero() && !pause(wait, &mut stop, Some(&wake)).await {
            break;
        }
    }
    tracing::info!("dispatcher stopped");
}

async fn monitor(exec: ExecutionService, m: Arc<Monitor>, mut stop: watch::Receiver<bool>) {
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        let mut wait = m.interval;
        if m.is_running() {
            let r = exec.monitor_tick(1000).await;
            let mut s = m.lock();
            s.last_tick_at = Some(Utc::now());
            match r {
                Ok(report) => {
                    failures = 0;
                    s.last_error = None;
                    s.tasks_watched = report.tasks;
                    if report.completed > 0 {
                        tracing::info!(completed = report.completed, "tasks completed");
                    }
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "monitor tick failed");
                    s.last_error = Some(e.to_string());
                    wait = wait.max(backoff(failures));
                }
            }
        }
        if !pause(wait, &mut stop, Some(&m.wake)).await {
            break;
        }
    }
    tracing::info!("monitor stopped");
}

async fn runs(exec: ExecutionService, mut stop: watch::Receiver<bool>, wake: Arc<Notify>) {
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        let wait = match exec.run_turn().await {
            Ok(true) => {
                failures = 0;
                Duration::ZERO
            }
            Ok(false) => Duration::from_secs(1),
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "query execution run interrupted; it resumes later");
                backoff(failures)
            }
        };
        if !wait.is_zero() && !pause(wait, &mut stop, Some(&wake)).await {
            break;
        }
    }
    tracing::info!("run worker stopped");
}
