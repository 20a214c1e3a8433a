//! Unit tests of execution with mocked ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use kernel::{MockClock, OrgScope};

use crate::execution::*;
use crate::platform::*;
use crate::{CallTask, MockTaskRepository, TaskState};

fn task(state: TaskState, script: &str, group: Option<&str>) -> CallTask {
    CallTask {
        id: 7,
        org_id: 1,
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

fn clock() -> Arc<MockClock> {
    let mut c = MockClock::new();
    c.expect_now().returning(Utc::now);
    Arc::new(c)
}

fn svc(
    repo: MockExecutionRepository,
    tasks: MockTaskRepository,
    platform: MockOutboundPlatform,
) -> ExecutionService {
    ExecutionService::new(
        Arc::new(repo),
        Arc::new(tasks),
        Arc::new(platform),
        clock(),
        ExecutionSettings::default(),
    )
}

fn scope() -> OrgScope {
    OrgScope::new(1, [])
}

#[tokio::test]
async fn start_refuses_wrong_state_and_missing_script_without_touching_anything() {
    let mut tasks = MockTaskRepository::new();
    tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Running, "s", Some("g")))));
    let s = svc(
        MockExecutionRepository::new(),
        tasks,
        MockOutboundPlatform::new(),
    );
    assert!(matches!(
        s.start(&scope(), 7).await,
        Err(ExecError::NotStartable(TaskState::Running))
    ));

    let mut tasks = MockTaskRepository::new();
    tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Created, " ", None))));
    let s = svc(
        MockExecutionRepository::new(),
        tasks,
        MockOutboundPlatform::new(),
    );
    assert!(matches!(
        s.start(&scope(), 7).await,
        Err(ExecError::ScriptNotSet)
    ));
}

#[tokio::test]
async fn start_reverts_to_created_when_the_platform_fails() {
    let mut tasks = MockTaskRepository::new();
    tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Created, "s", None))));
    let mut repo = MockExecutionRepository::new();
    repo.expect_transition()
        .returning(|_, _, _, _| Ok(task(TaskState::Running, "s", None)));
    repo.expect_force_state()
        .withf(|id, from, to| *id == 7 && *from == TaskState::Running && *to == TaskState::Created)
        .times(1)
        .returning(|_, _, _| Ok(true));
    repo.expect_set_job_group().never();
    let mut platform = MockOutboundPlatform::new();
    platform
        .expect_create_job_group()
        .returning(|_, _, _| Err(PlatformError::Unavailable("down".into())));
    let r = svc(repo, tasks, platform).start(&scope(), 7).await;
    assert!(matches!(
        r,
        Err(ExecError::Platform(PlatformError::Unavailable(_)))
    ));
}

#[tokio::test]
async fn losing_the_start_race_is_not_startable() {
    let mut tasks = MockTaskRepository::new();
    tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Created, "s", None))));
    let mut repo = MockExecutionRepository::new();
    repo.expect_transition()
        .returning(|_, _, _, _| Err(crate::TransitionError::InvalidState(TaskState::Running)));
    let mut platform = MockOutboundPlatform::new();
    platform.expect_create_job_group().never();
    let r = svc(repo, tasks, platform).start(&scope(), 7).await;
    assert!(matches!(
        r,
        Err(ExecError::NotStartable(TaskState::Running))
    ));
}

#[tokio::test]
async fn suspend_restores_state_when_platform_fails() {
    let mut tasks = MockTaskRepository::new();
    tasks
        .expect_get()
        .returning(|_, _| Ok(Some(task(TaskState::Running, "s", Some("g")))));
    let mut repo = MockExecutionRepository::new();
    repo.expect_transition()
        .returning(|_, _, _, _| Ok(task(TaskState::Paused, "s", Some("g"))));
    repo.expect_force_state()
        .withf(|_, from, to| *from == TaskState::Paused && *to == TaskState::Running)
        .times(1)
        .returning(|_, _, _| Ok(true));
    let mut platform = MockOutboundPlatform::new();
    platform.expect_suspend_jobs().returning(|_| {
        Err(PlatformError::Rejected {
            code: "X".into(),
            message: String::new(),
        })
    });
    assert!(
        svc(repo, tasks, platform)
            .suspend(&scope(), 7)
            .await
            .is_err()
    );
}

fn leads(from: i64, n: i64) -> Vec<DispatchLead> {
    (from..from + n)
        .map(|i| DispatchLead {
            id: i,
            phone: format!("138{i:08}"),
            customer_name: format!("c{i}"),
        })
        .collect()
}

fn leased() -> LeasedTask {
    LeasedTask {
        id: 7,
        state: TaskState::Running,
        job_group_id: Some("g".into()),
        leads_count: 150,
    }
}

#[tokio::test]
async fn dispatch_sends_batches_of_at_most_99_and_records_each() {
    let mut repo = MockExecutionRepository::new();
    repo.expect_lease_task()
        .returning(|_, _, _, _| Ok(Some(leased())));
    repo.expect_release_lease()
        .times(1)
        .returning(|_, _, _| Ok(()));
    repo.expect_open_batches().returning(|_| Ok(vec![]));
    repo.expect_renew_lease()
        .returning(|_, _, _, _| Ok(Some(TaskState::Running)));
    repo.expect_task_group()
        .returning(|_| Ok(Some((TaskState::Running, Some("g".into())))));
    let claims = Arc::new(Mutex::new(vec![leads(1, 99), leads(100, 51)]));
    let c2 = claims.clone();
    repo.expect_claim_batch().returning(move |_, _, max, _| {
        assert!(max <= 99);
        let mut c = c2.lock().unwrap();
        if c.is_empty() {
            Ok(None)
        } else {
            let l = c.remove(0);
            Ok(Some(Batch {
                id: l[0].id,
                created_at: Utc::now(),
                leads: l,
            }))
        }
    });
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let r2 = recorded.clone();
    repo.expect_record_batch().returning(move |b, jobs| {
        r2.lock().unwrap().push((b, jobs.len()));
        Ok(())
    });
    let mut platform = MockOutboundPlatform::new();
    platform
        .expect_assign_jobs()
        .times(2)
        .returning(|_, contacts| {
            assert!(contacts.len() <= MAX_ASSIGN_BATCH);
            Ok(contacts
                .into_iter()
                .map(|c| AssignedJob {
                    job_id: format!("job-{}", c.reference_id),
                    reference_id: c.reference_id,
                })
                .collect())
        });
    let report = svc(repo, MockTaskRepository::new(), platform)
        .dispatch_turn()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.assigned, 150);
    assert!(report.done);
    assert_eq!(*recorded.lock().unwrap(), vec![(1, 99), (100, 51)]);
}

#[tokio::test]
async fn ambiguous_assign_leaves_the_batch_open() {
    let mut repo = MockExecutionRepository::new();
    repo.expect_lease_task()
        .returning(|_, _, _, _| Ok(Some(leased())));
    repo.expect_release_lease().returning(|_, _, _| Ok(()));
    repo.expect_open_batches().returning(|_| Ok(vec![]));
    repo.expect_renew_lease()
        .returning(|_, _, _, _| Ok(Some(TaskState::Running)));
    repo.expect_claim_batch().returning(|_, _, _, _| {
        Ok(Some(Batch {
            id: 1,
            created_at: Utc::now(),
            leads: leads(1, 3),
        }))
    });
    repo.expect_record_batch().never();
    repo.expect_release_batch().never();
    let mut platform = MockOutboundPlatform::new();
    platform
        .expect_assign_jobs()
        .times(1)
        .returning(|_, _| Err(PlatformError::Ambiguous("timeout".into())));
    let r = svc(repo, MockTaskRepository::new(), platform)
        .dispatch_turn()
        .await;
    assert!(matches!(
        r,
        Err(ExecError::Platform(PlatformError::Ambiguous(_)))
    ));
}

#[tokio::test]
async fn reconciliation_records_what_the_platform_has_and_requeues_the_rest() {
    let mut repo = MockExecutionRepository::new();
    repo.expect_lease_task()
        .returning(|_, _, _, _| Ok(Some(leased())));
    repo.expect_release_lease().returning(|_, _, _| Ok(()));
    let old = Utc::now() - Duration::minutes(5);
    repo.expect_open_batches().returning(move |_| {
        Ok(vec![Batch {
            id: 9,
            created_at: old,
            leads: leads(1, 3),
        }])
    });
    repo.expect_record_batch()
        .withf(|b, jobs| {
            *b == 9 && jobs.len() == 2 && jobs.iter().all(|(id, _)| *id == 1 || *id == 3)
        })
        .times(1)
        .returning(|_, _| Ok(()));
    repo.expect_renew_lease()
        .returning(|_, _, _, _| Ok(Some(TaskState::Running)));
    repo.expect_claim_batch().returning(|_, _, _, _| Ok(None));
    let mut platform = MockOutboundPlatform::new();
    // the platform has jobs for leads 1 and 3 (and someone else's), not for 2
    platform
        .expect_query_job_results()
        .returning(|_, page, size| {
            let item = |r: &str| JobResult {
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
            };
            let all = [item("1"), item("77"), item("3")];
            let start = ((page - 1) * size) as usize;
            Ok(JobResultPage {
                items: all
                    .iter()
                    .skip(start)
                    .take(size as usize)
                    .cloned()
                    .collect(),
                page,
                page_size: size,
                total: 3,
            })
        });
    platform.expect_assign_jobs().never();
    let report = svc(repo, MockTaskRepository::new(), platform)
        .dispatch_turn()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (report.reconciled, report.requeued, report.done),
        (2, 1, true)
    );
}

#[tokio::test]
async fn young_open_batch_is_not_reconciled_yet_and_nothing_is_sent() {
    let mut repo = MockExecutionRepository::new();
    repo.expect_lease_task()
        .returning(|_, _, _, _| Ok(Some(leased())));
    repo.expect_release_lease().returning(|_, _, _| Ok(()));
    repo.expect_open_batches().returning(|_| {
        Ok(vec![Batch {
            id: 9,
            created_at: Utc::now(),
            leads: leads(1, 3),
        }])
    });
    repo.expect_claim_batch().never();
    let mut platform = MockOutboundPlatform::new();
    platform.expect_query_job_results().never();
    platform.expect_assign_jobs().never();
    let report = svc(repo, MockTaskRepository::new(), platform)
        .dispatch_turn()
        .await
        .unwrap()
        .unwrap();
    assert!(!report.done);
}

#[tokio::test]
async fn dispatch_stops_when_the_task_is_paused() {
    let mut repo = MockExecutionRepository::new();
    repo.expect_lease_task()
        .returning(|_, _, _, _| Ok(Some(leased())));
    repo.expect_release_lease().returning(|_, _, _| Ok(()));
    repo.expect_open_batches().returning(|_| Ok(vec![]));
    repo.expect_renew_lease()
        .returning(|_, _, _, _| Ok(Some(TaskState::Paused)));
    repo.expect_claim_batch().never();
    let report = svc(repo, MockTaskRepository::new(), MockOutboundPlatform::new())
        .dispatch_turn()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.assigned, 0);
}

#[tokio::test]
async fn monitor_syncs_results_and_completes_running_tasks_only() {
    let mut repo = MockExecutionRepository::new();
    repo.expect_undo_stale_starts().returning(|_| Ok(0));
    let queue = Arc::new(Mutex::new(vec![
        LeasedTask {
            id: 1,
            state: TaskState::Running,
            job_group_id: Some("g1".into()),
            leads_count: 1,
        },
        LeasedTask {
            id: 2,
            state: TaskState::Paused,
            job_group_id: Some("g2".into()),
            leads_count: 1,
        },
    ]));
    let q2 = queue.clone();
    repo.expect_lease_task()
        .returning(move |_, _, _, _| Ok(q2.lock().unwrap().pop()));
    repo.expect_apply_results()
        .returning(|_, r| Ok(r.len() as u64));
    repo.expect_refresh_counters().returning(|_| Ok(()));
    repo.expect_complete_if_done()
        .withf(|id| *id == 1)
        .times(1)
        .returning(|_| Ok(true));
    repo.expect_release_lease().returning(|_, _, _| Ok(()));
    let mut platform = MockOutboundPlatform::new();
    platform.expect_describe_job_group().returning(|_| {
        Ok(GroupProgress {
            total: 1,
            completed: 1,
            ..Default::default()
        })
    });
    platform
        .expect_query_job_results()
        .returning(|g, page, size| {
            Ok(JobResultPage {
                items: vec![JobResult {
                    job_id: format!("{g}-j"),
                    reference_id: "5".into(),
                    job_status: JobStatus::Succeeded,
                    call_status: Some(1),
                    has_answered: true,
                    call_time: Some(Utc::now()),
                    call_duration_ms: Some(30_000),
                    end_reason: None,
                    tags: vec![],
                    summary: None,
                    attempts: 1,
                }],
                page,
                page_size: size,
                total: 1,
            })
        });
    let r = svc(repo, MockTaskRepository::new(), platform)
        .monitor_tick(10)
        .await
        .unwrap();
    assert_eq!((r.tasks, r.changed, r.completed), (2, 2, 1));
}

#[tokio::test]
async fn monitor_skips_paging_when_group_progress_is_unchanged() {
    let mut repo = MockExecutionRepository::new();
    repo.expect_undo_stale_starts().returning(|_| Ok(0));
    let leases = Arc::new(Mutex::new(0));
    let l2 = leases.clone();
    // one task per tick
    repo.expect_lease_task().returning(move |_, _, _, _| {
        let mut n = l2.lock().unwrap();
        *n += 1;
        Ok((*n % 2 == 1).then(|| LeasedTask {
            id: 1,
            state: TaskState::Running,
            job_group_id: Some("g".into()),
            leads_count: 1,
        }))
    });
    repo.expect_release_lease().returning(|_, _, _| Ok(()));
    repo.expect_apply_results()
        .returning(|_, r| Ok(r.len() as u64));
    repo.expect_refresh_counters().returning(|_| Ok(()));
    repo.expect_complete_if_done().returning(|_| Ok(false));
    let mut platform = MockOutboundPlatform::new();
    platform.expect_describe_job_group().returning(|_| {
        Ok(GroupProgress {
            total: 1,
            executing: 1,
            ..Default::default()
        })
    });
    // paged once for the first tick only
    platform
        .expect_query_job_results()
        .times(1)
        .returning(|_, page, size| {
            Ok(JobResultPage {
                items: vec![],
                page,
                page_size: size,
                total: 0,
            })
        });
    let s = svc(repo, MockTaskRepository::new(), platform);
    s.monitor_tick(10).await.unwrap();
    s.monitor_tick(10).await.unwrap();
}
