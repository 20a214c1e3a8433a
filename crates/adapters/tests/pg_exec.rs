//! The execution repositories (`adapters::pg_exec`) against real PostgreSQL: transitions, leases,
//! dispatch batches, results, counters, statistics and query execution runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use adapters::db::{DbPool, conn};
use adapters::pg_exec::{PgBatches, PgLeases, PgLifecycle, PgResults, PgRuns};
use adapters::pg_tasks::PgTasks;
use adapters::schema::{dispatch_batches, leads_task_list};
use chrono::{DateTime, Utc};
use common::*;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use kernel::{BatchId, LeadId, OrgId, OrgScope, PageRequest, TaskId, TaskLeadId, UserId};
use serde_json::json;
use tasks::call_status::{CallStatus, LeadResult};
use tasks::execution::{
    DispatchRepository, ExecutionRow, LeaseKind, LeaseRepository, LifecycleRepository,
    ResultRepository, RunRepository, RunStatus, TaskStatistics,
};
use tasks::{TaskRepository, TaskState, TransitionError};
use testkit::TestDb;

/// Every execution repository over one pool.
#[derive(Clone)]
struct Exec {
    lifecycle: PgLifecycle,
    leases: PgLeases,
    batches: PgBatches,
    results: PgResults,
    runs: PgRuns,
}

impl Exec {
    fn new(pool: &DbPool) -> Self {
        Self {
            lifecycle: PgLifecycle::new(pool.clone()),
            leases: PgLeases::new(pool.clone()),
            batches: PgBatches::new(pool.clone()),
            results: PgResults::new(pool.clone()),
            runs: PgRuns::new(pool.clone()),
        }
    }
}

struct Fx {
    db: TestDb,
    pool: DbPool,
    org: OrgId,
    scope: OrgScope,
    other: OrgScope,
    by: UserId,
    exec: Exec,
    next_phone: usize,
}

async fn fx() -> Fx {
    let (db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let other = org(&pool, "别家", None).await;
    let by = user(&pool, o, "op").await;
    Fx {
        scope: scope_of(&pool, o).await,
        other: scope_of(&pool, other).await,
        exec: Exec::new(&pool),
        db,
        pool,
        org: o,
        by,
        next_phone: 1,
    }
}

impl Fx {
    /// A task in state `created` with `n` fresh leads.
    async fn task(&mut self, n: usize) -> TaskId {
        // a source of its own, so the task gets exactly these leads whatever earlier tasks hold
        let source = format!("批次{}", self.next_phone);
        let inputs = (self.next_phone..self.next_phone + n)
            .map(|i| leads::LeadInput {
                source: Some(source.clone()),
                ..lead(&phone(i), &format!("客户{i}"))
            })
            .collect();
        assert_eq!(
            import(&self.pool, self.org, inputs).await.inserted,
            n as i64
        );
        self.next_phone += n;
        let f = filter(json!({ "sources": [source] }));
        let t = create_task(&self.pool, &self.scope, &f, "任务", self.by)
            .await
            .unwrap();
        assert_eq!(t.task.leads_count, n as i64);
        t.task.id
    }

    /// A task in state `running` with a job group and `n` pending leads.
    async fn running(&mut self, n: usize) -> TaskId {
        let id = self.task(n).await;
        self.exec
            .lifecycle
            .transition(
                &self.scope,
                id,
                vec![TaskState::Created],
                TaskState::Running,
                audit_entry(),
            )
            .await
            .unwrap();
        self.exec
            .lifecycle
            .set_job_group(id, &format!("grp-{id}"))
            .await
            .unwrap();
        id
    }

    /// Task lead ids of a task, ascending.
    async fn ids(&self, task: TaskId) -> Vec<TaskLeadId> {
        task_leads(&self.pool, task)
            .await
            .into_iter()
            .map(|r| TaskLeadId(r.0))
            .collect()
    }

    /// (call_status, job_id, batch_id) per task lead id.
    async fn states(
        &self,
        task: TaskId,
    ) -> BTreeMap<TaskLeadId, (String, Option<String>, Option<BatchId>)> {
        let mut c = conn(&self.pool).await.unwrap();
        let rows: Vec<(i64, String, Option<String>, Option<i64>)> = leads_task_list::table
            .filter(leads_task_list::task_id.eq(task.0))
            .select((
                leads_task_list::id,
                leads_task_list::call_status,
                leads_task_list::job_id,
                leads_task_list::batch_id,
            ))
            .load(&mut c)
            .await
            .unwrap();
        rows.into_iter()
            .map(|(id, s, j, b)| (TaskLeadId(id), (s, j, b.map(BatchId))))
            .collect()
    }

    async fn status_of(&self, task: TaskId, id: TaskLeadId) -> String {
        self.states(task).await[&id].0.clone()
    }

    /// The lead (dcc_leads.id) behind a task lead.
    async fn lead_of(&self, task: TaskId, task_lead: TaskLeadId) -> i64 {
        task_leads(&self.pool, task)
            .await
            .into_iter()
            .find(|r| r.0 == task_lead.0)
            .unwrap()
            .1
    }

    async fn state(&self, task: TaskId) -> TaskState {
        PgTasks::new(self.pool.clone())
            .get(&self.scope, task)
            .await
            .unwrap()
            .unwrap()
            .state
    }
}

fn res(id: TaskLeadId, status: CallStatus, attempts: i32) -> LeadResult {
    LeadResult {
        task_lead_id: id,
        job_id: format!("job-{id}"),
        call_status: status,
        attempts,
        last_call_time: None,
        duration_seconds: None,
        intent_level: None,
        intent_tags: vec![],
        summary: None,
        follow_suggestion: None,
    }
}

fn called(id: TaskLeadId, status: CallStatus, attempts: i32, time: DateTime<Utc>) -> LeadResult {
    LeadResult {
        last_call_time: Some(time),
        ..res(id, status, attempts)
    }
}

fn jobs(ids: &[TaskLeadId]) -> Vec<(TaskLeadId, String)> {
    ids.iter().map(|id| (*id, format!("job-{id}"))).collect()
}

fn page(p: i64, size: i64) -> PageRequest {
    PageRequest::new(Some(p), Some(size)).unwrap()
}

// ---------------------------------------------------------------- transitions

/// A page of a task's rows as the task's view reads them (none for a task out of `scope`).
async fn page_rows(
    results: &PgResults,
    scope: &OrgScope,
    id: TaskId,
    status: Option<CallStatus>,
    page: PageRequest,
) -> Vec<ExecutionRow> {
    results
        .view(scope, id, status, page, false)
        .await
        .unwrap()
        .map(|v| v.rows)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_of_one_task_let_exactly_one_through() {
    let mut f = fx().await;
    for _ in 0..5 {
        let id = f.task(1).await;
        let (e1, e2, s1, s2) = (
            f.exec.lifecycle.clone(),
            f.exec.lifecycle.clone(),
            f.scope.clone(),
            f.scope.clone(),
        );
        let a = tokio::spawn(async move {
            e1.transition(
                &s1,
                id,
                vec![TaskState::Created],
                TaskState::Running,
                audit_entry(),
            )
            .await
        });
        let b = tokio::spawn(async move {
            e2.transition(
                &s2,
                id,
                vec![TaskState::Created],
                TaskState::Running,
                audit_entry(),
            )
            .await
        });
        let (a, b) = tokio::join!(a, b);
        let results = [a.unwrap(), b.unwrap()];
        let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 1, "{results:?}");
        assert_eq!((ok[0].id, ok[0].state), (id, TaskState::Running));
        let err = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert!(
            matches!(err, TransitionError::InvalidState(TaskState::Running)),
            "{err:?}"
        );
        assert_eq!(f.state(id).await, TaskState::Running);
        // let the next task take fresh phones
        f.exec
            .lifecycle
            .transition(
                &f.scope,
                id,
                vec![TaskState::Running],
                TaskState::Stopped,
                audit_entry(),
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_respect_scope_and_source_states() {
    let mut f = fx().await;
    let id = f.task(2).await;
    let err = f
        .exec
        .lifecycle
        .transition(
            &f.other,
            id,
            vec![TaskState::Created],
            TaskState::Running,
            audit_entry(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TransitionError::NotFound), "{err:?}");
    let err = f
        .exec
        .lifecycle
        .transition(
            &f.scope,
            TaskId(id.0 + 1000),
            vec![TaskState::Created],
            TaskState::Running,
            audit_entry(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TransitionError::NotFound), "{err:?}");
    let err = f
        .exec
        .lifecycle
        .transition(
            &f.scope,
            id,
            vec![TaskState::Running],
            TaskState::Paused,
            audit_entry(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransitionError::InvalidState(TaskState::Created)),
        "{err:?}"
    );
    assert_eq!(f.state(id).await, TaskState::Created);

    let t = f
        .exec
        .lifecycle
        .transition(
            &f.scope,
            id,
            vec![TaskState::Created],
            TaskState::Running,
            audit_entry(),
        )
        .await
        .unwrap();
    assert_eq!(
        (t.state, t.leads_count, t.job_group_id.clone()),
        (TaskState::Running, 2, None)
    );
    assert_eq!(
        f.exec.lifecycle.task_group(id).await.unwrap(),
        Some((TaskState::Running, None))
    );
    f.exec.lifecycle.set_job_group(id, "grp-x").await.unwrap();
    assert_eq!(
        f.exec.lifecycle.task_group(id).await.unwrap(),
        Some((TaskState::Running, Some("grp-x".into())))
    );
    assert_eq!(
        f.exec
            .lifecycle
            .task_group(TaskId(id.0 + 1000))
            .await
            .unwrap(),
        None
    );

    assert!(
        !f.exec
            .lifecycle
            .force_state(id, TaskState::Paused, TaskState::Running)
            .await
            .unwrap(),
        "not in `from`"
    );
    assert!(
        f.exec
            .lifecycle
            .force_state(id, TaskState::Running, TaskState::Paused)
            .await
            .unwrap()
    );
    assert_eq!(f.state(id).await, TaskState::Paused);
    let t = f
        .exec
        .lifecycle
        .transition(
            &f.scope,
            id,
            TaskState::sources_of(TaskState::Stopped),
            TaskState::Stopped,
            audit_entry(),
        )
        .await
        .unwrap();
    assert_eq!(t.state, TaskState::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_that_never_got_a_job_group_are_undone() {
    let mut f = fx().await;
    let stale = f.task(1).await;
    f.exec
        .lifecycle
        .transition(
            &f.scope,
            stale,
            vec![TaskState::Created],
            TaskState::Running,
            audit_entry(),
        )
        .await
        .unwrap();
    let started = f.running(1).await;
    assert_eq!(
        f.exec
            .lifecycle
            .undo_stale_starts(Utc::now() - chrono::Duration::hours(1))
            .await
            .unwrap(),
        0,
        "too young"
    );
    assert_eq!(
        f.exec
            .lifecycle
            .undo_stale_starts(Utc::now() + chrono::Duration::hours(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(f.state(stale).await, TaskState::Created);
    assert_eq!(
        f.state(started).await,
        TaskState::Running,
        "a task with a job group is left alone"
    );
}

// ---------------------------------------------------------------- leases

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_lease_belongs_to_one_worker_at_a_time() {
    let mut f = fx().await;
    let id = f.running(3).await;
    let d = LeaseKind::Dispatch;
    let running = vec![TaskState::Running];

    let got = f
        .exec
        .leases
        .lease_task(d, "w1", running.clone(), 60)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.id, got.state, got.job_group_id.clone(), got.leads_count),
        (id, TaskState::Running, Some(format!("grp-{id}")), 3)
    );
    assert_eq!(
        f.exec
            .leases
            .lease_task(d, "w2", running.clone(), 60)
            .await
            .unwrap(),
        None,
        "leased by w1"
    );
    assert_eq!(
        f.exec.leases.renew_lease(d, id, "w1", 60).await.unwrap(),
        Some(TaskState::Running)
    );
    assert_eq!(
        f.exec.leases.renew_lease(d, id, "w2", 60).await.unwrap(),
        None,
        "w2 holds nothing"
    );
    f.exec.leases.release_lease(d, id, "w2").await.unwrap();
    assert_eq!(
        f.exec
            .leases
            .lease_task(d, "w2", running.clone(), 60)
            .await
            .unwrap(),
        None,
        "w2 cannot release w1's lease"
    );

    // the monitor lease is separate
    let m = f
        .exec
        .leases
        .lease_task(
            LeaseKind::Monitor,
            "m1",
            vec![TaskState::Running, TaskState::Paused],
            60,
        )
        .await
        .unwrap();
    assert_eq!(m.map(|t| t.id), Some(id));
    assert_eq!(
        f.exec
            .leases
            .lease_task(LeaseKind::Monitor, "m2", vec![TaskState::Running], 60)
            .await
            .unwrap(),
        None
    );

    // renew reports the current state, so a dispatcher sees a pause
    f.exec
        .lifecycle
        .force_state(id, TaskState::Running, TaskState::Paused)
        .await
        .unwrap();
    assert_eq!(
        f.exec.leases.renew_lease(d, id, "w1", 60).await.unwrap(),
        Some(TaskState::Paused)
    );
    f.exec
        .lifecycle
        .force_state(id, TaskState::Paused, TaskState::Running)
        .await
        .unwrap();

    f.exec.leases.release_lease(d, id, "w1").await.unwrap();
    assert_eq!(
        f.exec.leases.renew_lease(d, id, "w1", 60).await.unwrap(),
        None,
        "released"
    );
    assert_eq!(
        f.exec
            .leases
            .lease_task(d, "w2", running.clone(), 60)
            .await
            .unwrap()
            .map(|t| t.id),
        Some(id)
    );
    f.exec.leases.release_lease(d, id, "w2").await.unwrap();

    // an expired lease can be taken over, and its former holder has lost it
    assert!(
        f.exec
            .leases
            .lease_task(d, "w1", running.clone(), -10)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        f.exec
            .leases
            .lease_task(d, "w2", running.clone(), 60)
            .await
            .unwrap()
            .map(|t| t.id),
        Some(id)
    );
    assert_eq!(
        f.exec.leases.renew_lease(d, id, "w1", 60).await.unwrap(),
        None
    );
    f.exec.leases.release_lease(d, id, "w2").await.unwrap();

    // two workers at once: one gets it
    let (e1, e2, r1, r2) = (
        f.exec.leases.clone(),
        f.exec.leases.clone(),
        running.clone(),
        running.clone(),
    );
    let a = tokio::spawn(async move { e1.lease_task(d, "a", r1, 60).await.unwrap() });
    let b = tokio::spawn(async move { e2.lease_task(d, "b", r2, 60).await.unwrap() });
    let (a, b) = tokio::join!(a, b);
    assert_eq!(
        [a.unwrap(), b.unwrap()]
            .iter()
            .filter(|x| x.is_some())
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_tasks_in_the_wanted_states_with_a_job_group_and_work_are_leased() {
    let mut f = fx().await;
    let _created = f.task(1).await; // state created, no job group
    let no_group = f.task(1).await;
    f.exec
        .lifecycle
        .transition(
            &f.scope,
            no_group,
            vec![TaskState::Created],
            TaskState::Running,
            audit_entry(),
        )
        .await
        .unwrap();
    let d = LeaseKind::Dispatch;
    assert_eq!(
        f.exec
            .leases
            .lease_task(d, "w", vec![TaskState::Running, TaskState::Created], 60)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        f.exec
            .leases
            .lease_task(LeaseKind::Monitor, "w", vec![TaskState::Running], 60)
            .await
            .unwrap(),
        None
    );

    let id = f.running(2).await;
    f.exec
        .lifecycle
        .force_state(id, TaskState::Running, TaskState::Paused)
        .await
        .unwrap();
    assert_eq!(
        f.exec
            .leases
            .lease_task(d, "w", vec![TaskState::Running], 60)
            .await
            .unwrap(),
        None,
        "paused"
    );
    f.exec
        .lifecycle
        .force_state(id, TaskState::Paused, TaskState::Running)
        .await
        .unwrap();

    // no pending lead but an open batch: still work for the dispatcher (reconciliation)
    let b = f
        .exec
        .batches
        .claim_batch(id, "w", 99, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        f.exec
            .leases
            .lease_task(d, "w", vec![TaskState::Running], 60)
            .await
            .unwrap()
            .map(|t| t.id),
        Some(id)
    );
    f.exec.leases.release_lease(d, id, "w").await.unwrap();
    let ids: Vec<TaskLeadId> = b.leads.iter().map(|l| l.id).collect();
    f.exec.batches.record_batch(b.id, jobs(&ids)).await.unwrap();
    assert_eq!(
        f.exec
            .leases
            .lease_task(d, "w", vec![TaskState::Running], 60)
            .await
            .unwrap(),
        None,
        "nothing to send"
    );
    // the monitor still watches it
    assert_eq!(
        f.exec
            .leases
            .lease_task(LeaseKind::Monitor, "m", vec![TaskState::Running], 60)
            .await
            .unwrap()
            .map(|t| t.id),
        Some(id)
    );
}

// ---------------------------------------------------------------- dispatch batches

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_never_share_a_lead() {
    let mut f = fx().await;
    for round in 0..3 {
        let id = f.running(150).await;
        let all: BTreeSet<TaskLeadId> = f.ids(id).await.into_iter().collect();
        let (e1, e2) = (f.exec.batches.clone(), f.exec.batches.clone());
        let a =
            tokio::spawn(async move { e1.claim_batch(id, "w1", 99, TaskLeadId(0)).await.unwrap() });
        let b =
            tokio::spawn(async move { e2.claim_batch(id, "w2", 99, TaskLeadId(0)).await.unwrap() });
        let (a, b) = tokio::join!(a, b);
        let batches: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        let sets: Vec<BTreeSet<TaskLeadId>> = batches
            .iter()
            .map(|b| b.leads.iter().map(|l| l.id).collect())
            .collect();
        for (b, s) in batches.iter().zip(&sets) {
            assert!(s.len() <= 99 && s.len() == b.leads.len(), "round {round}");
        }
        assert_eq!(sets.len(), 2, "round {round}: both claimers got leads");
        assert!(
            sets[0].is_disjoint(&sets[1]),
            "round {round}: a lead was claimed twice"
        );
        assert_eq!(sets[0].len() + sets[1].len(), 150, "round {round}");
        assert_eq!(
            sets[0].union(&sets[1]).copied().collect::<BTreeSet<_>>(),
            all,
            "round {round}"
        );
        let states = f.states(id).await;
        for (b, s) in batches.iter().zip(&sets) {
            for lid in s {
                assert_eq!(states[lid], ("assigning".to_string(), None, Some(b.id)));
            }
        }
        assert!(
            f.exec
                .batches
                .claim_batch(id, "w3", 99, TaskLeadId(0))
                .await
                .unwrap()
                .is_none(),
            "nothing pending"
        );
        let open = f.exec.batches.open_batches(id).await.unwrap();
        assert_eq!(open.len(), 2);
        let mut c = conn(&f.pool).await.unwrap();
        let sizes: Vec<(i64, i32, String)> = dispatch_batches::table
            .filter(dispatch_batches::task_id.eq(id.0))
            .select((
                dispatch_batches::id,
                dispatch_batches::size,
                dispatch_batches::worker,
            ))
            .order(dispatch_batches::id)
            .load(&mut c)
            .await
            .unwrap();
        for (bid, size, _) in &sizes {
            let b = batches.iter().find(|b| b.id.0 == *bid).unwrap();
            assert_eq!(*size as usize, b.leads.len());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_takes_pending_leads_in_order_with_their_phones() {
    let mut f = fx().await;
    let id = f.running(5).await;
    let ids = f.ids(id).await;
    let b = f
        .exec
        .batches
        .claim_batch(id, "w", 3, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        b.leads.iter().map(|l| l.id).collect::<Vec<_>>(),
        ids[..3].to_vec()
    );
    let rows = task_leads(&f.pool, id).await;
    for l in &b.leads {
        let r = rows.iter().find(|r| r.0 == l.id.0).unwrap();
        assert_eq!(l.phone, r.2);
        assert!(l.customer_name.starts_with("客户"));
    }
    let b2 = f
        .exec
        .batches
        .claim_batch(id, "w", 99, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        b2.leads.iter().map(|l| l.id).collect::<Vec<_>>(),
        ids[3..].to_vec()
    );
    assert!(b2.id > b.id);
    assert!(
        f.exec
            .batches
            .claim_batch(id, "w", 99, TaskLeadId(0))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_batch_stores_jobs_and_returns_unlisted_leads_to_pending() {
    let mut f = fx().await;
    let id = f.running(10).await;
    let ids = f.ids(id).await;
    let b = f
        .exec
        .batches
        .claim_batch(id, "w", 4, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.leads.len(), 4);
    // jobs for three of the four, plus one for a lead outside the batch (ignored)
    let mut j = jobs(&ids[..3]);
    j.push((ids[9], "job-stray".into()));
    f.exec.batches.record_batch(b.id, j).await.unwrap();

    let st = f.states(id).await;
    for lid in &ids[..3] {
        assert_eq!(
            st[lid],
            ("dispatched".to_string(), Some(format!("job-{lid}")), None)
        );
    }
    assert_eq!(
        st[&ids[3]],
        ("pending".to_string(), None, None),
        "no job: back to pending"
    );
    assert_eq!(
        st[&ids[9]],
        ("pending".to_string(), None, None),
        "not in the batch: untouched"
    );
    assert!(f.exec.batches.open_batches(id).await.unwrap().is_empty());
    let mut c = conn(&f.pool).await.unwrap();
    let (state, closed): (String, Option<DateTime<Utc>>) = dispatch_batches::table
        .find(b.id.0)
        .select((dispatch_batches::state, dispatch_batches::closed_at))
        .first(&mut c)
        .await
        .unwrap();
    drop(c);
    assert_eq!(state, "closed");
    assert!(closed.is_some());

    // the requeued lead is claimed again; dispatched ones never are
    let again = f
        .exec
        .batches
        .claim_batch(id, "w", 99, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.leads.iter().map(|l| l.id).collect::<Vec<_>>(),
        ids[3..].to_vec()
    );
    // recording a closed batch again changes nothing
    f.exec
        .batches
        .record_batch(b.id, jobs(&ids[3..4]))
        .await
        .unwrap();
    assert_eq!(
        f.states(id).await[&ids[3]],
        ("assigning".to_string(), None, Some(again.id))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_noted_as_sent_is_not_given_back_unsent_and_one_given_back_cannot_be_sent() {
    let mut f = fx().await;
    let id = f.running(6).await;
    let b = |n| {
        let batches = f.exec.batches.clone();
        async move {
            batches
                .claim_batch(id, "w", n, TaskLeadId(0))
                .await
                .unwrap()
                .unwrap()
        }
    };
    // noted as about to leave: it stays open for reconciliation
    let sent = b(2).await;
    assert!(f.exec.batches.mark_sent(sent.id).await.unwrap());
    assert!(
        f.exec.batches.mark_sent(sent.id).await.unwrap(),
        "a retry notes it again"
    );
    assert!(!f.exec.batches.release_unsent(sent.id).await.unwrap());
    // never noted: given back, and then it may no longer leave
    let unsent = b(2).await;
    assert!(f.exec.batches.release_unsent(unsent.id).await.unwrap());
    assert!(!f.exec.batches.mark_sent(unsent.id).await.unwrap());
    let open: Vec<_> = f
        .exec
        .batches
        .open_batches(id)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(open, vec![sent.id]);
    let st = f.states(id).await;
    assert_eq!(st.values().filter(|s| s.0 == "pending").count(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_batch_returns_every_lead_to_pending() {
    let mut f = fx().await;
    let id = f.running(6).await;
    let first = f
        .exec
        .batches
        .claim_batch(id, "w", 2, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    f.exec
        .batches
        .record_batch(
            first.id,
            jobs(&first.leads.iter().map(|l| l.id).collect::<Vec<_>>()),
        )
        .await
        .unwrap();
    let b = f
        .exec
        .batches
        .claim_batch(id, "w", 99, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.leads.len(), 4);
    f.exec.batches.release_batch(b.id).await.unwrap();
    let st = f.states(id).await;
    assert_eq!(
        st.values()
            .filter(|s| s.0 == "pending" && s.1.is_none() && s.2.is_none())
            .count(),
        4
    );
    assert_eq!(
        st.values().filter(|s| s.0 == "dispatched").count(),
        2,
        "other batches untouched"
    );
    assert!(f.exec.batches.open_batches(id).await.unwrap().is_empty());
    let again = f
        .exec
        .batches
        .claim_batch(id, "w", 99, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    let mut want: Vec<TaskLeadId> = b.leads.iter().map(|l| l.id).collect();
    want.sort();
    assert_eq!(again.leads.iter().map(|l| l.id).collect::<Vec<_>>(), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_batches_lists_unclosed_batches_with_their_assigning_leads() {
    let mut f = fx().await;
    let id = f.running(9).await;
    let other = f.running(2).await;
    let b1 = f
        .exec
        .batches
        .claim_batch(id, "w", 3, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    let b2 = f
        .exec
        .batches
        .claim_batch(id, "w", 3, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    let b3 = f
        .exec
        .batches
        .claim_batch(id, "w", 3, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    let ob = f
        .exec
        .batches
        .claim_batch(other, "w", 3, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    f.exec
        .batches
        .record_batch(
            b1.id,
            jobs(&b1.leads.iter().map(|l| l.id).collect::<Vec<_>>()),
        )
        .await
        .unwrap();
    f.exec.batches.release_batch(b3.id).await.unwrap();

    let open = f.exec.batches.open_batches(id).await.unwrap();
    assert_eq!(
        open,
        vec![b2.clone()],
        "only the unclosed batch of this task, with its leads and claim time"
    );
    assert_eq!(f.exec.batches.open_batches(other).await.unwrap(), vec![ob]);

    // a lead whose result arrived meanwhile is no longer `assigning` in the batch
    f.exec
        .results
        .apply_results(id, vec![res(b2.leads[0].id, CallStatus::Calling, 0)])
        .await
        .unwrap();
    let open = f.exec.batches.open_batches(id).await.unwrap();
    assert_eq!(open[0].leads, b2.leads[1..].to_vec());
}

// ---------------------------------------------------------------- results and counters

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_update_task_leads_and_count_each_attempt_once() {
    let mut f = fx().await;
    let id = f.running(4).await;
    let ids = f.ids(id).await;
    let b = f
        .exec
        .batches
        .claim_batch(id, "w", 99, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    f.exec.batches.record_batch(b.id, jobs(&ids)).await.unwrap();
    let (t1, t2, t3) = (
        at("2025-11-20 10:00:00"),
        at("2025-11-20 11:00:00"),
        at("2025-11-21 09:30:00"),
    );
    let connected = LeadResult {
        duration_seconds: Some(61),
        intent_level: Some("A".into()),
        intent_tags: vec!["A".into(), "有购车意向".into()],
        summary: Some("客户想周末试驾".into()),
        follow_suggestion: Some("高意向".into()),
        ..called(ids[0], CallStatus::Connected, 1, t1)
    };
    let batch = vec![
        connected.clone(),
        called(ids[1], CallStatus::NoAnswer, 2, t2),
        res(ids[2], CallStatus::Calling, 0),
    ];

    assert_eq!(
        f.exec
            .results
            .apply_results(id, batch.clone())
            .await
            .unwrap(),
        3
    );
    let rows = page_rows(&f.exec.results, &f.scope, id, None, page(1, 10)).await;
    let r0 = rows.iter().find(|r| r.id == ids[0]).unwrap();
    assert_eq!(r0.call_status, CallStatus::Connected);
    assert_eq!(
        (r0.attempts, r0.last_call_time, r0.duration_seconds),
        (1, Some(t1), Some(61))
    );
    assert_eq!(r0.intent_level.as_deref(), Some("A"));
    assert_eq!(
        r0.intent_tags,
        vec!["A".to_string(), "有购车意向".to_string()]
    );
    assert_eq!(
        (r0.summary.as_deref(), r0.follow_suggestion.as_deref()),
        (Some("客户想周末试驾"), Some("高意向"))
    );
    assert_eq!(
        r0.job_id.as_deref(),
        Some(format!("job-{}", ids[0]).as_str())
    );
    let status = |i: usize| rows.iter().find(|r| r.id == ids[i]).unwrap().call_status;
    assert_eq!(
        (status(1), status(2), status(3)),
        (
            CallStatus::NoAnswer,
            CallStatus::Calling,
            CallStatus::Dispatched
        )
    );

    let leads: Vec<i64> = {
        let mut v = Vec::new();
        for i in &ids {
            v.push(f.lead_of(id, *i).await);
        }
        v
    };
    assert_eq!(lead_calls(&f.pool, leads[0]).await, (1, Some(t1)));
    assert_eq!(lead_calls(&f.pool, leads[1]).await, (2, Some(t2)));
    assert_eq!(lead_calls(&f.pool, leads[2]).await, (0, None));
    assert_eq!(lead_calls(&f.pool, leads[3]).await, (0, None));

    // the same results again change nothing and count nothing
    assert_eq!(
        f.exec
            .results
            .apply_results(id, batch.clone())
            .await
            .unwrap(),
        0
    );
    assert_eq!(lead_calls(&f.pool, leads[0]).await, (1, Some(t1)));
    assert_eq!(lead_calls(&f.pool, leads[1]).await, (2, Some(t2)));

    // a new attempt counts once more
    assert_eq!(
        f.exec
            .results
            .apply_results(
                id,
                vec![connected.clone(), called(ids[1], CallStatus::Busy, 3, t3)]
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(lead_calls(&f.pool, leads[1]).await, (3, Some(t3)));
    assert_eq!(f.status_of(id, ids[1]).await, "busy");

    // a result never replaces the recorded job id
    let mut moved = called(ids[2], CallStatus::NoAnswer, 1, t3);
    moved.job_id = "job-elsewhere".into();
    f.exec.results.apply_results(id, vec![moved]).await.unwrap();
    assert_eq!(
        f.states(id).await[&ids[2]].1,
        Some(format!("job-{}", ids[2]))
    );

    // results naming another task's lead are ignored
    let other = f.running(1).await;
    let other_lead = f.ids(other).await[0];
    assert_eq!(
        f.exec
            .results
            .apply_results(id, vec![called(other_lead, CallStatus::Connected, 1, t1)])
            .await
            .unwrap(),
        0
    );
    assert_eq!(f.status_of(other, other_lead).await, "pending");
    assert_eq!(
        lead_calls(&f.pool, f.lead_of(other, other_lead).await).await,
        (0, None)
    );
    assert_eq!(f.exec.results.apply_results(id, vec![]).await.unwrap(), 0);
}

/// A result read earlier (fewer attempts) that is applied after a newer one must not make the
/// newer attempts count twice when the newer result is applied again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_result_does_not_make_attempts_count_twice() {
    let mut f = fx().await;
    let id = f.running(1).await;
    let tl = f.ids(id).await[0];
    let lead = f.lead_of(id, tl).await;
    let (t1, t2) = (at("2025-11-20 10:00:00"), at("2025-11-20 11:00:00"));
    let newer = called(tl, CallStatus::NoAnswer, 2, t2);
    let older = called(tl, CallStatus::NoAnswer, 1, t1);
    f.exec
        .results
        .apply_results(id, vec![newer.clone()])
        .await
        .unwrap();
    assert_eq!(lead_calls(&f.pool, lead).await.0, 2);
    // e.g. a query execution run that read its page before the monitor's tick applies it late
    f.exec.results.apply_results(id, vec![older]).await.unwrap();
    f.exec.results.apply_results(id, vec![newer]).await.unwrap();
    let rows = page_rows(&f.exec.results, &f.scope, id, None, page(1, 10)).await;
    assert_eq!(rows[0].attempts, 2);
    assert_eq!(
        lead_calls(&f.pool, lead).await.0,
        2,
        "two calls were made, call_count must be 2"
    );
}

/// One bulk that carries a task lead twice (a platform page repeated, or two pages of one sync in
/// one bulk): the result with the most attempts wins, whatever the order, and counts once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_twice_in_one_bulk_keeps_the_latest_result() {
    let mut f = fx().await;
    let id = f.running(1).await;
    let tl = f.ids(id).await[0];
    let lead = f.lead_of(id, tl).await;
    let newer = called(tl, CallStatus::Connected, 3, at("2025-11-20 11:00:00"));
    let older = called(tl, CallStatus::NoAnswer, 1, at("2025-11-20 10:00:00"));
    assert_eq!(
        f.exec
            .results
            .apply_results(id, vec![newer.clone(), older.clone()])
            .await
            .unwrap(),
        1
    );
    let rows = page_rows(&f.exec.results, &f.scope, id, None, page(1, 10)).await;
    assert_eq!(rows[0].attempts, 3);
    assert_eq!(rows[0].call_status, CallStatus::Connected);
    assert_eq!(lead_calls(&f.pool, lead).await.0, 3);
    // the same pair again, the other way round: nothing changes, nothing counts twice
    assert_eq!(
        f.exec
            .results
            .apply_results(id, vec![older, newer])
            .await
            .unwrap(),
        0
    );
    assert_eq!(lead_calls(&f.pool, lead).await.0, 3);
}

/// Two result appliers racing on one task lead (monitor tick and a query execution run, or a
/// `refresh: true` request): the lead's call_count must end at the number of attempts made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_result_appliers_count_attempts_once() {
    let mut f = fx().await;
    let id = f.running(1).await;
    let tl = f.ids(id).await[0];
    let lead = f.lead_of(id, tl).await;

    // hold the task lead's row lock so both appliers queue behind it with the same snapshot
    let mut blocker = AsyncPgConnection::establish(&f.db.url).await.unwrap();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM leads_task_list WHERE id = {tl} FOR UPDATE"
        ))
        .await
        .unwrap();
    let (e1, e2) = (f.exec.results.clone(), f.exec.results.clone());
    let a = tokio::spawn(async move {
        e1.apply_results(
            id,
            vec![called(
                tl,
                CallStatus::NoAnswer,
                1,
                at("2025-11-20 10:00:00"),
            )],
        )
        .await
        .unwrap()
    });
    let b = tokio::spawn(async move {
        e2.apply_results(
            id,
            vec![called(
                tl,
                CallStatus::Connected,
                2,
                at("2025-11-20 11:00:00"),
            )],
        )
        .await
        .unwrap()
    });
    wait_for_lock_waiters(&f.pool, 2).await;
    blocker.batch_execute("COMMIT").await.unwrap();
    let (a, b) = tokio::join!(a, b);
    let _ = (a.unwrap(), b.unwrap());

    let (calls, _) = lead_calls(&f.pool, lead).await;
    assert_eq!(
        calls, 2,
        "two attempts were made in all, call_count must be 2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_follow_the_leads_and_completion_waits_for_every_lead() {
    let mut f = fx().await;
    let id = f.running(3).await;
    let ids = f.ids(id).await;
    let t = at("2025-11-20 10:00:00");
    let tasks = PgTasks::new(f.pool.clone());
    assert!(!f.exec.lifecycle.complete_if_done(id).await.unwrap());

    f.exec
        .results
        .apply_results(
            id,
            vec![
                called(ids[0], CallStatus::Connected, 1, t),
                called(ids[1], CallStatus::NoAnswer, 1, t),
            ],
        )
        .await
        .unwrap();
    f.exec.results.refresh_counters(id).await.unwrap();
    let task = tasks.get(&f.scope, id).await.unwrap().unwrap();
    assert_eq!((task.called_count, task.connected_count), (2, 1));
    assert!(
        !f.exec.lifecycle.complete_if_done(id).await.unwrap(),
        "a lead is still pending"
    );

    // every non-final status keeps the task open
    for open in [
        CallStatus::Assigning,
        CallStatus::Dispatched,
        CallStatus::Calling,
    ] {
        f.exec
            .results
            .apply_results(id, vec![res(ids[2], open, 0)])
            .await
            .unwrap();
        assert!(
            !f.exec.lifecycle.complete_if_done(id).await.unwrap(),
            "{open:?}"
        );
        assert_eq!(f.state(id).await, TaskState::Running);
    }
    // a paused task is not completed even when its leads are final
    f.exec
        .results
        .apply_results(id, vec![res(ids[2], CallStatus::Rejected, 0)])
        .await
        .unwrap();
    f.exec
        .lifecycle
        .force_state(id, TaskState::Running, TaskState::Paused)
        .await
        .unwrap();
    assert!(!f.exec.lifecycle.complete_if_done(id).await.unwrap());
    f.exec
        .lifecycle
        .force_state(id, TaskState::Paused, TaskState::Running)
        .await
        .unwrap();

    f.exec.results.refresh_counters(id).await.unwrap();
    let task = tasks.get(&f.scope, id).await.unwrap().unwrap();
    assert_eq!(
        (task.called_count, task.connected_count),
        (2, 1),
        "rejected is final but not called"
    );
    assert!(f.exec.lifecycle.complete_if_done(id).await.unwrap());
    assert_eq!(f.state(id).await, TaskState::Completed);
    assert!(
        !f.exec.lifecycle.complete_if_done(id).await.unwrap(),
        "only once"
    );

    // a running task without a job group is never completed
    let no_group = f.task(1).await;
    f.exec
        .lifecycle
        .transition(
            &f.scope,
            no_group,
            vec![TaskState::Created],
            TaskState::Running,
            audit_entry(),
        )
        .await
        .unwrap();
    let nl = f.ids(no_group).await[0];
    f.exec
        .results
        .apply_results(no_group, vec![res(nl, CallStatus::Cancelled, 0)])
        .await
        .unwrap();
    assert!(!f.exec.lifecycle.complete_if_done(no_group).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_turns_only_unfinished_leads_into_cancelled() {
    let mut f = fx().await;
    let id = f.running(6).await;
    let ids = f.ids(id).await;
    let b = f
        .exec
        .batches
        .claim_batch(id, "w", 3, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap(); // ids 0..3
    f.exec
        .batches
        .record_batch(b.id, jobs(&ids[..2]))
        .await
        .unwrap(); // 0,1 dispatched; 2 pending
    let open = f
        .exec
        .batches
        .claim_batch(id, "w", 1, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap(); // 2 assigning
    assert_eq!(open.leads[0].id, ids[2]);
    let t = at("2025-11-20 10:00:00");
    f.exec
        .results
        .apply_results(
            id,
            vec![
                called(ids[0], CallStatus::Connected, 1, t),
                res(ids[3], CallStatus::Calling, 0),
                called(ids[4], CallStatus::Busy, 1, t),
            ],
        )
        .await
        .unwrap();
    // 0 connected, 1 dispatched, 2 assigning, 3 calling, 4 busy, 5 pending
    assert_eq!(f.exec.lifecycle.cancel_open_leads(id).await.unwrap(), 4);
    let st = f.states(id).await;
    let s = |i: usize| st[&ids[i]].0.as_str();
    assert_eq!(
        [s(0), s(1), s(2), s(3), s(4), s(5)],
        [
            "connected",
            "cancelled",
            "cancelled",
            "cancelled",
            "busy",
            "cancelled"
        ]
    );
    assert_eq!(f.exec.lifecycle.cancel_open_leads(id).await.unwrap(), 0);

    // a sync that read the platform before the stop cannot bring a cancelled lead back to an
    // unfinished status; a call that did end (before the cancel reached it) is still recorded
    f.exec
        .results
        .apply_results(
            id,
            vec![
                res(ids[1], CallStatus::Calling, 0),
                res(ids[2], CallStatus::Dispatched, 0),
                called(ids[3], CallStatus::Connected, 1, t),
            ],
        )
        .await
        .unwrap();
    let st = f.states(id).await;
    let s = |i: usize| st[&ids[i]].0.as_str();
    assert_eq!([s(1), s(2), s(3)], ["cancelled", "cancelled", "connected"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_and_executions_count_the_task_and_stay_in_scope() {
    let mut f = fx().await;
    let id = f.running(4).await;
    let ids = f.ids(id).await;
    let b = f
        .exec
        .batches
        .claim_batch(id, "w", 99, TaskLeadId(0))
        .await
        .unwrap()
        .unwrap();
    f.exec
        .batches
        .record_batch(b.id, jobs(&ids[..3]))
        .await
        .unwrap(); // ids[3] back to pending
    let t = at("2025-11-20 10:00:00");
    f.exec
        .results
        .apply_results(
            id,
            vec![
                LeadResult {
                    duration_seconds: Some(60),
                    intent_level: Some("A".into()),
                    ..called(ids[0], CallStatus::Connected, 1, t)
                },
                LeadResult {
                    duration_seconds: Some(31),
                    intent_level: Some("B".into()),
                    ..called(ids[1], CallStatus::Connected, 1, t)
                },
                LeadResult {
                    duration_seconds: Some(5),
                    ..called(ids[2], CallStatus::NoAnswer, 1, t)
                },
            ],
        )
        .await
        .unwrap();

    let (task, counts) = f
        .exec
        .results
        .statistics(&f.scope, id)
        .await
        .unwrap()
        .unwrap();
    let st = TaskStatistics::tally(counts);
    assert_eq!(task.id, id);
    assert_eq!(
        (
            st.leads_total,
            st.dispatched,
            st.called,
            st.connected,
            st.finished
        ),
        (4, 3, 3, 2, 3)
    );
    assert!(
        (st.avg_duration_seconds - 45.5).abs() < 1e-9,
        "average of connected calls only"
    );
    assert_eq!(
        st.by_call_status.len(),
        CallStatus::ALL.len(),
        "every status is listed"
    );
    let nonzero: BTreeMap<&str, i64> = st
        .by_call_status
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (k.as_str(), *n))
        .collect();
    assert_eq!(
        nonzero,
        BTreeMap::from([("connected", 2), ("no_answer", 1), ("pending", 1)])
    );
    assert_eq!(
        st.by_intent_level,
        BTreeMap::from([("A".to_string(), 1), ("B".to_string(), 1)])
    );

    let p = page_rows(&f.exec.results, &f.scope, id, None, page(1, 3)).await;
    assert_eq!(
        p.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids[..3].to_vec()
    );
    let rows = task_leads(&f.pool, id).await;
    assert_eq!(
        (p[0].lead_id, p[0].phone.clone()),
        (LeadId(rows[0].1), rows[0].2.clone())
    );
    let p2 = page_rows(&f.exec.results, &f.scope, id, None, page(2, 3)).await;
    assert_eq!(p2.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ids[3]]);
    assert_eq!(p2[0].call_status, CallStatus::Pending);
    let conn_rows = page_rows(
        &f.exec.results,
        &f.scope,
        id,
        Some(CallStatus::Connected),
        page(1, 10),
    )
    .await;
    assert_eq!(
        conn_rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids[..2].to_vec()
    );

    assert_eq!(f.exec.results.statistics(&f.other, id).await.unwrap(), None);
    assert!(
        page_rows(&f.exec.results, &f.other, id, None, page(1, 10))
            .await
            .is_empty(),
        "another organisation reads no row of the task"
    );
    assert_eq!(
        f.exec
            .results
            .statistics(&f.scope, TaskId(id.0 + 1000))
            .await
            .unwrap(),
        None
    );

    // the view: the same statistics and rows in one wait, the newest run only when asked
    let (task, counts) = f
        .exec
        .results
        .statistics(&f.scope, id)
        .await
        .unwrap()
        .unwrap();
    let v = f
        .exec
        .results
        .view(&f.scope, id, Some(CallStatus::Connected), page(1, 10), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (v.task, v.counts, v.rows),
        (task, counts.clone(), conn_rows)
    );
    assert_eq!(v.newest_run, None);
    let run = f.exec.runs.create_run(&f.scope, id).await.unwrap().unwrap();
    let newer = f.exec.runs.create_run(&f.scope, id).await.unwrap().unwrap();
    assert_eq!(run.id, newer.id, "the unfinished run is returned again");
    let v = f
        .exec
        .results
        .view(&f.scope, id, None, page(1, 3), true)
        .await
        .unwrap()
        .unwrap();
    // the whole run, every field as stored
    assert_eq!(v.newest_run, Some(newer));
    assert_eq!(v.rows, p);
    f.exec.runs.lease_run("w1", 60).await.unwrap().unwrap();
    f.exec
        .runs
        .finish_run(run.id, "w1", true, None)
        .await
        .unwrap();
    let second = f.exec.runs.create_run(&f.scope, id).await.unwrap().unwrap();
    assert_ne!(second.id, run.id);
    let v = f
        .exec
        .results
        .view(&f.scope, id, None, page(1, 3), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.newest_run, Some(second), "the newest of two runs");
    assert_eq!(v.counts, counts, "each counter once beside the run");
    let v = f
        .exec
        .results
        .view(&f.scope, id, None, page(1, 3), false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.newest_run, None, "not asked for");
    assert_eq!(
        f.exec
            .results
            .view(&f.other, id, None, page(1, 3), true)
            .await
            .unwrap(),
        None,
        "another organisation's task is not there"
    );

    // an untouched task: zeros, no division by zero
    let fresh = f.task(2).await;
    let (task, counts) = f
        .exec
        .results
        .statistics(&f.scope, fresh)
        .await
        .unwrap()
        .unwrap();
    let st = TaskStatistics::tally(counts);
    assert_eq!(task.id, fresh);
    assert_eq!(
        (
            st.leads_total,
            st.dispatched,
            st.called,
            st.connected,
            st.finished
        ),
        (2, 0, 0, 0, 0)
    );
    assert_eq!(st.avg_duration_seconds, 0.0);
    assert!(st.by_intent_level.is_empty());
}

// ---------------------------------------------------------------- runs

/// A restarted instance of the same name gives back what its earlier process held: its tasks and
/// runs can be leased at once, by it or by another instance; other workers' leases stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_gives_back_every_lease_its_name_holds_and_only_those() {
    async fn lease(l: &PgLeases, kind: LeaseKind, worker: &str) -> Option<TaskId> {
        l.lease_task(kind, worker, vec![TaskState::Running], 60)
            .await
            .unwrap()
            .map(|t| t.id)
    }
    let mut f = fx().await;
    let a = f.running(2).await;
    assert_eq!(
        lease(&f.exec.leases, LeaseKind::Dispatch, "w1").await,
        Some(a)
    );
    assert_eq!(
        lease(&f.exec.leases, LeaseKind::Monitor, "w1").await,
        Some(a)
    );
    let run = f.exec.runs.create_run(&f.scope, a).await.unwrap().unwrap();
    assert_eq!(
        f.exec.runs.lease_run("w1", 60).await.unwrap().map(|r| r.id),
        Some(run.id)
    );
    let b = f.running(1).await;
    assert_eq!(
        lease(&f.exec.leases, LeaseKind::Dispatch, "w2").await,
        Some(b)
    );

    assert_eq!(f.exec.leases.release_all("w1").await.unwrap(), 3);
    assert_eq!(
        lease(&f.exec.leases, LeaseKind::Dispatch, "w3").await,
        Some(a)
    );
    assert_eq!(
        lease(&f.exec.leases, LeaseKind::Monitor, "w3").await,
        Some(a)
    );
    assert_eq!(
        f.exec.runs.lease_run("w3", 60).await.unwrap().map(|r| r.id),
        Some(run.id)
    );
    assert_eq!(
        f.exec
            .leases
            .renew_lease(LeaseKind::Dispatch, b, "w2", 60)
            .await
            .unwrap(),
        Some(TaskState::Running),
        "w2 keeps its lease"
    );
    assert_eq!(f.exec.leases.release_all("w1").await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_has_at_most_one_unfinished_run_and_runs_are_leased() {
    let mut f = fx().await;
    let id = f.running(3).await;
    let run = f.exec.runs.create_run(&f.scope, id).await.unwrap().unwrap();
    assert_eq!(
        (
            run.task_id,
            run.status.as_str(),
            run.total,
            run.processed,
            run.next_page
        ),
        (id, "pending", 3, 0, 1)
    );
    assert_eq!(
        (run.started_at, run.finished_at, run.error.clone()),
        (None, None, None)
    );
    assert_eq!(
        f.exec.runs.create_run(&f.scope, id).await.unwrap(),
        Some(run.clone()),
        "the unfinished run is returned"
    );
    assert_eq!(f.exec.runs.create_run(&f.other, id).await.unwrap(), None);
    assert_eq!(
        f.exec.runs.get_run(&f.scope, run.id).await.unwrap(),
        Some(run.clone())
    );
    assert_eq!(f.exec.runs.get_run(&f.other, run.id).await.unwrap(), None);

    let leased = f.exec.runs.lease_run("w1", 60).await.unwrap().unwrap();
    assert_eq!((leased.id, leased.status.as_str()), (run.id, "running"));
    assert!(leased.started_at.is_some());
    assert_eq!(
        f.exec.runs.lease_run("w2", 60).await.unwrap(),
        None,
        "leased by w1"
    );
    assert_eq!(
        f.exec
            .runs
            .create_run(&f.scope, id)
            .await
            .unwrap()
            .map(|r| r.id),
        Some(run.id),
        "running counts as unfinished"
    );

    assert!(
        !f.exec
            .runs
            .save_run_progress(run.id, "w2", 1, 2, 60)
            .await
            .unwrap(),
        "not w2's run"
    );
    assert!(
        f.exec
            .runs
            .save_run_progress(run.id, "w1", 2, 2, 60)
            .await
            .unwrap()
    );
    assert!(
        f.exec
            .runs
            .save_run_progress(run.id, "w1", 50, 3, 60)
            .await
            .unwrap()
    );
    let now = f
        .exec
        .runs
        .get_run(&f.scope, run.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (now.processed, now.next_page),
        (3, 3),
        "processed never exceeds the total"
    );

    f.exec
        .runs
        .finish_run(run.id, "w2", true, None)
        .await
        .unwrap();
    assert_eq!(
        f.exec
            .runs
            .get_run(&f.scope, run.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        RunStatus::Running,
        "w2 cannot finish it"
    );
    f.exec
        .runs
        .finish_run(run.id, "w1", true, None)
        .await
        .unwrap();
    let done = f
        .exec
        .runs
        .get_run(&f.scope, run.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (done.status.as_str(), done.error.clone()),
        ("succeeded", None)
    );
    assert!(done.finished_at.is_some());
    assert!(
        !f.exec
            .runs
            .save_run_progress(run.id, "w1", 3, 4, 60)
            .await
            .unwrap(),
        "finished"
    );
    assert_eq!(
        f.exec.runs.lease_run("w1", 60).await.unwrap(),
        None,
        "nothing unfinished"
    );

    // a new run after the old one finished
    let second = f.exec.runs.create_run(&f.scope, id).await.unwrap().unwrap();
    assert_ne!(second.id, run.id);
    assert_eq!(second.status, RunStatus::Pending);
    // an expired lease is taken over and its former holder can no longer save
    assert_eq!(
        f.exec
            .runs
            .lease_run("w1", -10)
            .await
            .unwrap()
            .map(|r| r.id),
        Some(second.id)
    );
    assert_eq!(
        f.exec.runs.lease_run("w2", 60).await.unwrap().map(|r| r.id),
        Some(second.id)
    );
    assert!(
        !f.exec
            .runs
            .save_run_progress(second.id, "w1", 1, 2, 60)
            .await
            .unwrap()
    );
    f.exec
        .runs
        .finish_run(second.id, "w2", false, Some("平台拒绝".into()))
        .await
        .unwrap();
    let failed = f
        .exec
        .runs
        .get_run(&f.scope, second.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (failed.status.as_str(), failed.error.as_deref()),
        ("failed", Some("平台拒绝"))
    );

    // two starts at once still make one run
    let (e1, e2, s1, s2) = (
        f.exec.runs.clone(),
        f.exec.runs.clone(),
        f.scope.clone(),
        f.scope.clone(),
    );
    let a = tokio::spawn(async move { e1.create_run(&s1, id).await.unwrap().unwrap() });
    let b = tokio::spawn(async move { e2.create_run(&s2, id).await.unwrap().unwrap() });
    let (a, b) = tokio::join!(a, b);
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id, b.id);
    assert!(a.id != run.id && a.id != second.id);
    assert!(
        f.exec
            .runs
            .create_run(&f.scope, TaskId(id.0 + 1000))
            .await
            .unwrap()
            .is_none()
    );
}
