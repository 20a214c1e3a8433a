//! Live updates by Server-Sent Events.
//!
//! A task's statistics are read once per interval per task, however many pages watch it: the
//! first stream of a task starts its watcher, which reads the statistics and publishes them on a
//! `watch` channel; every stream renders what changed (`stats`, and `state` when the task's state
//! moved) and the watcher ends when its last stream has gone. A run's progress is read per stream
//! until it finishes (`run`, then `done`, which replaces the element that opened the stream, so
//! the browser stops listening).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{Responder, web};
use actix_web_lab::sse::{Data, Event, Sse};
use api::ApiState;
use futures::stream::{self, StreamExt};
use kernel::{OrgScope, RunId, TaskId};
use tasks::execution::TaskStatistics;
use tasks::{CallTask, TaskState};
use tokio::sync::watch;

use crate::error::ConsoleError;
use crate::pages::text;
use crate::pages::{RunLine, RunLineView, RunView, TaskActions, TaskStats};
use crate::session::Session;

/// How often a running task's statistics are read.
const RUNNING_EVERY: Duration = Duration::from_secs(1);
/// How often a task that is not running is read (its state can still be changed elsewhere).
const IDLE_EVERY: Duration = Duration::from_secs(5);
/// A comment on every open stream this often, so that a closed one is noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A task and its statistics as last read.
pub type Snapshot = Arc<(CallTask, TaskStatistics)>;

/// The watchers of the tasks some page shows.
#[derive(Default)]
pub struct Live {
    watched: Mutex<HashMap<TaskId, Arc<watch::Sender<Option<Snapshot>>>>>,
}

impl Live {
    /// A receiver of task `id`'s snapshots, starting its watcher (reading within `scope`) if
    /// none runs.
    pub fn subscribe(
        self: &Arc<Self>,
        state: &ApiState,
        scope: &OrgScope,
        id: TaskId,
        first: Snapshot,
    ) -> watch::Receiver<Option<Snapshot>> {
        let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = watched.get(&id) {
            return tx.subscribe();
        }
        let (tx, rx) = watch::channel(Some(first));
        let tx = Arc::new(tx);
        watched.insert(id, tx.clone());
        let (live, state, scope) = (self.clone(), state.clone(), scope.clone());
        tokio::spawn(async move { live.watch(state, scope, id, tx).await });
        rx
    }

    /// Tasks being watched (for tests and the benchmark).
    pub fn watchers(&self) -> usize {
        self.watched.lock().map(|w| w.len()).unwrap_or(0)
    }

    async fn watch(
        self: Arc<Self>,
        state: ApiState,
        scope: OrgScope,
        id: TaskId,
        tx: Arc<watch::Sender<Option<Snapshot>>>,
    ) {
        loop {
            let running = tx
                .borrow()
                .as_ref()
                .is_some_and(|s| s.0.state == TaskState::Running);
            tokio::time::sleep(if running { RUNNING_EVERY } else { IDLE_EVERY }).await;
            {
                // decided under the lock that subscribers take, so none joins a leaving watcher
                let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
                if tx.receiver_count() == 0 {
                    watched.remove(&id);
                    return;
                }
            }
            match state.execution.results.statistics(&scope, id).await {
                Ok(now) => {
                    tx.send_if_modified(|last| {
                        if last.as_deref() == Some(&now) {
                            false
                        } else {
                            *last = Some(Arc::new(now));
                            true
                        }
                    });
                }
                Err(e) => tracing::warn!(task = id.0, error = %e, "live statistics not read"),
            }
        }
    }
}

fn event(name: &'static str, html: Result<String, ConsoleError>) -> Option<Event> {
    match html {
        Ok(html) => Some(Event::Data(Data::new(html).event(name))),
        Err(_) => None,
    }
}

/// `/tasks/{id}/live`: the task's statistics (`stats`) and, when its state moves, its actions
/// (`state`), as they change.
pub async fn task_stream(
    state: web::Data<ApiState>,
    console: web::Data<crate::Console>,
    session: Session,
    id: web::Path<i64>,
) -> Result<impl Responder, ConsoleError> {
    let id = TaskId(*id);
    let scope = &session.caller.scope;
    // the caller's own read first: a task of another organisation is 404 here
    let first = state.execution.results.statistics(scope, id).await?;
    let rx = console
        .live
        .subscribe(&state, scope, id, Arc::new(first.clone()));
    let sent_state = first.0.state;
    let updates = stream::unfold((rx, sent_state, true), |(mut rx, sent, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let snap = rx.borrow_and_update().clone()?;
        let (task, stats) = &*snap;
        let mut events = Vec::new();
        if task.state != sent {
            events.extend(event("state", text(TaskActions::of(task))));
        }
        events.extend(event("stats", text(TaskStats::of(stats))));
        Some((stream::iter(events), (rx, task.state, false)))
    })
    .flatten();
    Ok(Sse::from_infallible_stream(updates).with_keep_alive(KEEP_ALIVE))
}

/// `/runs/{id}/live`: a run's progress (`run`) every second until it finishes, then the finished
/// run part (`done`).
pub async fn run_stream(
    state: web::Data<ApiState>,
    session: Session,
    id: web::Path<i64>,
) -> Result<impl Responder, ConsoleError> {
    let id = RunId(*id);
    let scope = session.caller.scope.clone();
    state.execution.runs.get(&scope, id).await?;
    let updates = stream::unfold(Some((state, scope)), move |next| async move {
        let (state, scope) = next?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let run = match state.execution.runs.get(&scope, id).await {
            Ok(run) => run,
            Err(e) => {
                tracing::warn!(run = id.0, error = %e, "run progress not read");
                return Some((None, Some((state, scope))));
            }
        };
        if run.status.is_finished() {
            return Some((event("done", text(RunView::of(Some(&run)))), None));
        }
        let line = text(RunLineView {
            line: RunLine::of(&run),
        });
        Some((event("run", line), Some((state, scope))))
    })
    .filter_map(|e| async move { e });
    Ok(Sse::from_infallible_stream(updates).with_keep_alive(KEEP_ALIVE))
}
