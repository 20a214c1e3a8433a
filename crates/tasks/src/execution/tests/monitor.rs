//! The monitor's tick.

use std::sync::Mutex;

use super::*;

fn synced_result(group: &str, page: u32, size: u32) -> JobResultPage {
    JobResultPage {
        items: vec![JobResult {
            job_id: format!("{group}-j"),
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
    }
}

/// Mocks of ticks that each lease one running task (task 1 of group `g`), with
/// `jobs_recorded` jobs recorded.
fn one_task_per_tick(jobs_recorded: u64) -> Mocks {
    let mut m = Mocks::new();
    m.lifecycle.expect_undo_stale_starts().returning(|_| Ok(0));
    let leases = Arc::new(Mutex::new(0));
    // the second lease of each tick finds nothing: the tick ends
    m.leases.expect_lease_task().returning(move |_, _, _, _| {
        let mut n = leases.lock().unwrap();
        *n += 1;
        Ok((*n % 2 == 1).then(|| LeasedTask {
            id: TaskId(1),
            state: TaskState::Running,
            job_group_id: Some("g".into()),
            leads_count: 200,
            jobs_recorded,
        }))
    });
    m.leases.expect_release_lease().returning(|_, _, _| Ok(()));
    m
}

#[tokio::test]
async fn monitor_syncs_results_and_completes_running_tasks_only() {
    let mut m = Mocks::new();
    m.lifecycle.expect_undo_stale_starts().returning(|_| Ok(0));
    let queue = Arc::new(Mutex::new(vec![
        LeasedTask {
            id: TaskId(1),
            state: TaskState::Running,
            job_group_id: Some("g1".into()),
            leads_count: 1,
            jobs_recorded: 0,
        },
        LeasedTask {
            id: TaskId(2),
            state: TaskState::Paused,
            job_group_id: Some("g2".into()),
            leads_count: 1,
            jobs_recorded: 0,
        },
    ]));
    let q2 = queue.clone();
    m.leases
        .expect_lease_task()
        .returning(move |_, _, _, _| Ok(q2.lock().unwrap().pop()));
    m.results
        .expect_apply_results()
        .returning(|_, r| Ok(r.len() as u64));
    m.lifecycle
        .expect_complete_if_done()
        .withf(|id| *id == TaskId(1))
        .times(1)
        .returning(|_| Ok(true));
    m.leases
        .expect_release_lease()
        .times(2)
        .returning(|_, _, _| Ok(()));
    m.platform.expect_describe_job_group().returning(|_| {
        Ok(GroupProgress {
            total: 1,
            completed: 1,
            ..Default::default()
        })
    });
    m.platform
        .expect_query_job_results()
        .returning(|g, page, size| Ok(synced_result(g, page, size)));
    let r = m.build().monitor.tick(10).await.unwrap();
    assert_eq!((r.tasks, r.changed, r.completed), (2, 2, 1));
}

#[tokio::test]
async fn monitor_skips_paging_when_group_progress_is_unchanged() {
    let mut m = one_task_per_tick(0);
    m.results
        .expect_apply_results()
        .returning(|_, r| Ok(r.len() as u64));
    m.lifecycle
        .expect_complete_if_done()
        .returning(|_| Ok(false));
    m.platform.expect_describe_job_group().returning(|_| {
        Ok(GroupProgress {
            total: 1,
            executing: 1,
            ..Default::default()
        })
    });
    // paged once for the first tick only
    m.platform
        .expect_query_job_results()
        .times(1)
        .returning(|_, page, size| Ok(page_of(&[], page, size)));
    let monitor = m.build().monitor;
    monitor.tick(10).await.unwrap();
    monitor.tick(10).await.unwrap();
}

#[tokio::test]
async fn a_task_the_platform_cannot_answer_for_does_not_hold_up_the_others() {
    let mut m = Mocks::new();
    m.lifecycle.expect_undo_stale_starts().returning(|_| Ok(0));
    // leased in this order: the one that fails first
    let queue = Arc::new(Mutex::new(vec![
        LeasedTask {
            id: TaskId(1),
            state: TaskState::Running,
            job_group_id: Some("up".into()),
            leads_count: 1,
            jobs_recorded: 0,
        },
        LeasedTask {
            id: TaskId(2),
            state: TaskState::Running,
            job_group_id: Some("down".into()),
            leads_count: 1,
            jobs_recorded: 0,
        },
    ]));
    m.leases
        .expect_lease_task()
        .returning(move |_, _, _, _| Ok(queue.lock().unwrap().pop()));
    m.platform.expect_describe_job_group().returning(|g| {
        if g == "down" {
            Err(PlatformError::Unavailable("down".into()))
        } else {
            Ok(GroupProgress::default())
        }
    });
    m.platform
        .expect_query_job_results()
        .returning(|_, page, size| Ok(page_of(&[], page, size)));
    m.lifecycle
        .expect_complete_if_done()
        .returning(|_| Ok(false));
    let released = Arc::new(Mutex::new(Vec::new()));
    let r2 = released.clone();
    m.leases.expect_release_lease().returning(move |_, id, _| {
        r2.lock().unwrap().push(id);
        Ok(())
    });
    assert!(m.build().monitor.tick(10).await.is_err());
    let mut released = released.lock().unwrap().clone();
    released.sort();
    assert_eq!(released, vec![TaskId(1), TaskId(2)]);
}

/// A job of the platform for reference id `r`, final or still scheduled.
fn job(r: usize, done: bool) -> JobResult {
    JobResult {
        job_status: if done {
            JobStatus::Succeeded
        } else {
            JobStatus::Scheduling
        },
        call_status: done.then_some(1),
        attempts: i32::from(done),
        ..scheduled(&r.to_string())
    }
}

#[tokio::test]
async fn a_sync_reads_from_the_page_of_the_first_job_not_final_last_time() {
    // 250 jobs, 100 a page; the first 150 were final at the last sync, and now 180 are
    let jobs: Vec<JobResult> = (1..=250).map(|r| job(r, r <= 180)).collect();
    let mut m = Mocks::new();
    let advanced = Arc::new(Mutex::new(Vec::new()));
    m.results = {
        let mut r = MockResultRepository::new();
        r.expect_synced_final_jobs().returning(|_| Ok(150));
        let a = advanced.clone();
        r.expect_advance_sync().returning(move |_, n, _| {
            a.lock().unwrap().push(n);
            Ok(())
        });
        r.expect_apply_results()
            .returning(|_, r| Ok(r.len() as u64));
        r
    };
    let pages = Arc::new(Mutex::new(Vec::new()));
    let p2 = pages.clone();
    m.platform
        .expect_query_job_results()
        .returning(move |_, page, size| {
            p2.lock().unwrap().push(page);
            Ok(page_of(&jobs, page, size))
        });
    let (pulled, _) = m
        .build_with(hundred_a_page())
        .results
        .sync_task(TaskId(7), "g", None)
        .await
        .unwrap();
    assert_eq!(
        *pages.lock().unwrap(),
        vec![2, 3],
        "page 1 is all final: not read"
    );
    assert_eq!(pulled, 150);
    assert_eq!(
        advanced.lock().unwrap().last(),
        Some(&180),
        "the first 180 jobs are final now"
    );
}

#[tokio::test]
async fn a_sync_that_fails_half_way_keeps_what_it_applied() {
    // 300 final jobs, 100 a page; page 3 cannot be read: pages 1 and 2 are applied and recorded, so the
    // next sync reads from page 3 only
    let jobs: Vec<JobResult> = (1..=300).map(|r| job(r, true)).collect();
    let mut m = Mocks::new();
    let advanced = Arc::new(Mutex::new(Vec::new()));
    m.results = {
        let mut r = MockResultRepository::new();
        r.expect_synced_final_jobs().returning(|_| Ok(0));
        let a = advanced.clone();
        r.expect_advance_sync().returning(move |_, n, _| {
            a.lock().unwrap().push(n);
            Ok(())
        });
        r.expect_apply_results()
            .returning(|_, r| Ok(r.len() as u64));
        r
    };
    m.platform
        .expect_query_job_results()
        .returning(move |_, page, size| {
            if page == 3 {
                Err(PlatformError::Busy("throttled".into()))
            } else {
                Ok(page_of(&jobs, page, size))
            }
        });
    let err = m
        .build_with(hundred_a_page())
        .results
        .sync_task(TaskId(7), "g", None)
        .await;
    assert!(matches!(
        err,
        Err(ExecError::Platform(PlatformError::Busy(_)))
    ));
    assert_eq!(advanced.lock().unwrap().last(), Some(&200));
}

fn hundred_a_page() -> ExecutionSettings {
    ExecutionSettings {
        page_size: 100,
        ..ExecutionSettings::default()
    }
}

#[tokio::test]
async fn a_group_that_grew_is_synced_without_asking_for_its_progress() {
    // 99 jobs recorded at both ticks
    let mut m = one_task_per_tick(99);
    m.lifecycle
        .expect_complete_if_done()
        .returning(|_| Ok(false));
    // the first tick knows the group grew; the second has to ask
    m.platform
        .expect_describe_job_group()
        .times(1)
        .returning(|_| {
            Ok(GroupProgress {
                total: 99,
                executing: 99,
                ..Default::default()
            })
        });
    m.platform
        .expect_query_job_results()
        .times(2)
        .returning(|_, page, size| Ok(page_of(&[], page, size)));
    let monitor = m.build().monitor;
    monitor.tick(10).await.unwrap();
    monitor.tick(10).await.unwrap();
}
