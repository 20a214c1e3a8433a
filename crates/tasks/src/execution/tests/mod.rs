//! Unit tests of execution with mocked ports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod dispatch;
mod lifecycle;
mod monitor;

use std::sync::Arc;

use chrono::Utc;
use kernel::{MockClock, OrgId, OrgScope, TaskId, TaskLeadId};

use super::*;
use crate::platform::*;
use crate::{CallTask, MockTaskRepository, TaskState};

/// A mock of every port; tests set the expectations they need, then [`Mocks::build`].
struct Mocks {
    lifecycle: MockLifecycleRepository,
    leases: MockLeaseRepository,
    batches: MockDispatchRepository,
    results: MockResultRepository,
    runs: MockRunRepository,
    tasks: MockTaskRepository,
    platform: MockOutboundPlatform,
    background: MockBackground,
}

impl Mocks {
    fn new() -> Self {
        Self::with_synced_final_jobs(0)
    }

    /// Mocks whose task has `known` final jobs at the head of its group from an earlier sync.
    fn with_synced_final_jobs(known: u64) -> Self {
        let mut results = MockResultRepository::new();
        results
            .expect_synced_final_jobs()
            .returning(move |_| Ok(known));
        results.expect_advance_sync().returning(|_, _, _| Ok(()));
        // every open batch of these tests was about to be sent, unless a test says otherwise
        let mut batches = MockDispatchRepository::new();
        batches.expect_release_unsent().returning(|_| Ok(false));
        Self {
            lifecycle: MockLifecycleRepository::new(),
            leases: MockLeaseRepository::new(),
            batches,
            results,
            runs: MockRunRepository::new(),
            tasks: MockTaskRepository::new(),
            platform: MockOutboundPlatform::new(),
            background: MockBackground::new(),
        }
    }

    fn build(self) -> Execution {
        self.build_with(ExecutionSettings::default())
    }

    fn build_with(self, settings: ExecutionSettings) -> Execution {
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        Execution::new(
            ExecutionPorts {
                lifecycle: Arc::new(self.lifecycle),
                leases: Arc::new(self.leases),
                batches: Arc::new(self.batches),
                results: Arc::new(self.results),
                runs: Arc::new(self.runs),
                tasks: Arc::new(self.tasks),
                platforms: Platforms::same(Arc::new(self.platform)),
                clock: Arc::new(clock),
                background: Arc::new(self.background),
            },
            settings,
        )
    }
}

fn task(state: TaskState, script: &str, group: Option<&str>) -> CallTask {
    CallTask {
        id: TaskId(7),
        org_id: OrgId(1),
        task_name: "t".into(),
        state,
        create_time: Utc::now(),
        update_time: Utc::now(),
        leads_count: 150,
        script_id: script.into(),
        job_group_id: group.map(Into::into),
        size_desc: String::new(),
        called_count: 0,
        connected_count: 0,
    }
}

fn caller() -> kernel::Caller {
    kernel::Caller {
        user_id: kernel::UserId(3),
        username: "ada".into(),
        org_id: scope().root(),
        role: kernel::Role::Admin,
        scope: scope(),
        origin: kernel::Origin::default(),
    }
}

fn scope() -> OrgScope {
    OrgScope::new(OrgId(1), [])
}

fn leads(from: i64, n: i64) -> Vec<DispatchLead> {
    (from..from + n)
        .map(|i| DispatchLead {
            id: TaskLeadId(i),
            phone: format!("138{i:08}"),
            customer_name: format!("c{i}"),
        })
        .collect()
}

fn leased() -> LeasedTask {
    LeasedTask {
        id: TaskId(7),
        state: TaskState::Running,
        job_group_id: Some("g".into()),
        leads_count: 150,
        jobs_recorded: 0,
    }
}

/// A job of the platform in `Scheduling` for reference id `r`.
fn scheduled(r: &str) -> JobResult {
    JobResult {
        job_id: format!("j{r}"),
        reference_id: r.into(),
        job_status: JobStatus::Scheduling,
        call_status: None,
        has_answered: false,
        call_time: None,
        call_duration_ms: None,
        end_reason: None,
        tags: vec![],
        summary: None,
        attempts: 0,
    }
}

/// Page `page` of `all`, as the platform lists it.
fn page_of(all: &[JobResult], page: u32, size: u32) -> JobResultPage {
    JobResultPage {
        items: all
            .iter()
            .skip(((page - 1) * size) as usize)
            .take(size as usize)
            .cloned()
            .collect(),
        page,
        page_size: size,
        total: all.len() as u64,
    }
}
