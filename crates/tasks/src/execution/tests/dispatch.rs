//! Dispatch: batches, ambiguity, reconciliation.

use std::sync::Mutex;

use chrono::Duration;
use kernel::BatchId;

use super::*;

/// A dispatcher's mocks for a turn over [`leased`]: lease taken and given back once, no open
/// batch unless the test says otherwise, lease renewed while the task runs.
fn turn_mocks(state: TaskState) -> Mocks {
    let mut m = Mocks::new();
    m.leases
        .expect_lease_task()
        .returning(|_, _, _, _| Ok(Some(leased())));
    m.leases
        .expect_release_lease()
        .times(1)
        .returning(|_, _, _| Ok(()));
    m.leases
        .expect_renew_lease()
        .returning(move |_, _, _, _| Ok(Some(state)));
    m
}

fn jobs_for(contacts: Vec<Contact>) -> Vec<AssignedJob> {
    contacts
        .into_iter()
        .map(|c| AssignedJob {
            job_id: format!("job-{}", c.reference_id),
            reference_id: c.reference_id,
        })
        .collect()
}

/// Mocks of a running task's turn with no open batch, where every claim gives batch `id` of
/// leads 1..=3.
fn sending_one_batch(id: BatchId) -> Mocks {
    let mut m = turn_mocks(TaskState::Running);
    m.batches.expect_open_batches().returning(|_| Ok(vec![]));
    m.batches.expect_claim_batch().returning(move |_, _, _, _| {
        Ok(Some(Batch {
            id,
            created_at: Utc::now(),
            leads: leads(1, 3),
        }))
    });
    m
}

#[tokio::test]
async fn dispatch_sends_batches_of_at_most_99_and_records_each() {
    let mut m = turn_mocks(TaskState::Running);
    m.batches.expect_open_batches().returning(|_| Ok(vec![]));
    m.lifecycle
        .expect_task_group()
        .returning(|_| Ok(Some((TaskState::Running, Some("g".into())))));
    let claims = Arc::new(Mutex::new(vec![leads(1, 99), leads(100, 51)]));
    let c2 = claims.clone();
    m.batches
        .expect_claim_batch()
        .returning(move |_, _, max, _| {
            assert!(max <= 99);
            let mut c = c2.lock().unwrap();
            if c.is_empty() {
                return Ok(None);
            }
            let l = c.remove(0);
            Ok(Some(Batch {
                id: BatchId(l[0].id.0),
                created_at: Utc::now(),
                leads: l,
            }))
        });
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let r2 = recorded.clone();
    m.batches.expect_record_batch().returning(move |b, jobs| {
        r2.lock().unwrap().push((b, jobs.len()));
        Ok(())
    });
    m.platform
        .expect_assign_jobs()
        .times(2)
        .returning(|_, contacts, _| {
            assert!(contacts.len() <= MAX_ASSIGN_BATCH);
            Ok(jobs_for(contacts))
        });
    let report = m.build().dispatcher.dispatch_turn().await.unwrap().unwrap();
    assert_eq!(report.assigned, 150);
    assert!(report.done);
    assert_eq!(
        *recorded.lock().unwrap(),
        vec![(BatchId(1), 99), (BatchId(100), 51)]
    );
}

#[tokio::test]
async fn ambiguous_assign_leaves_the_batch_open() {
    let mut m = sending_one_batch(BatchId(1));
    m.batches.expect_record_batch().never();
    m.batches.expect_release_batch().never();
    m.platform
        .expect_assign_jobs()
        .times(1)
        .returning(|_, _, _| Err(PlatformError::Ambiguous("timeout".into())));
    let r = m.build().dispatcher.dispatch_turn().await;
    assert!(matches!(
        r,
        Err(ExecError::Platform(PlatformError::Ambiguous(_)))
    ));
}

#[tokio::test]
async fn a_batch_answered_after_the_lease_is_over_is_left_open_for_the_next_holder() {
    let mut m = sending_one_batch(BatchId(1));
    // neither the jobs nor a release: another worker may hold the task by now
    m.batches.expect_record_batch().never();
    m.batches.expect_release_batch().never();
    m.platform
        .expect_assign_jobs()
        .times(1)
        .returning(|_, contacts, gate| {
            assert!(
                futures::executor::block_on(gate.pass()).is_err(),
                "no time to send under a lease of 0 s"
            );
            Ok(jobs_for(contacts))
        });
    // a lease of 0 s is over as soon as it is renewed: the stall of a frozen process, at once
    let settings = ExecutionSettings {
        lease_secs: 0,
        ..ExecutionSettings::default()
    };
    let r = m.build_with(settings).dispatcher.dispatch_turn().await;
    assert!(matches!(r, Err(ExecError::LeaseLost(TaskId(7)))), "{r:?}");
}

#[tokio::test(start_paused = true)]
async fn a_lease_runs_on_the_monotonic_clock_and_keep_renews_it_or_finds_it_lost() {
    let mut leases = MockLeaseRepository::new();
    let renewals = Arc::new(Mutex::new(vec![Some(TaskState::Running), None]));
    let r2 = renewals.clone();
    leases
        .expect_renew_lease()
        .times(2)
        .returning(move |_, _, _, _| Ok(r2.lock().unwrap().remove(0)));
    let start = tokio::time::Instant::now();
    let lease = HeldLease::new(
        Arc::new(leases),
        LeaseKind::Monitor,
        TaskId(7),
        "w",
        60,
        start,
    );
    assert_eq!(lease.send_by(), start + std::time::Duration::from_secs(30));

    tokio::time::advance(std::time::Duration::from_secs(10)).await;
    lease.keep().await.unwrap(); // a third not gone yet: no renewal
    tokio::time::advance(std::time::Duration::from_secs(15)).await;
    lease.keep().await.unwrap(); // renewed: counts from now
    tokio::time::advance(std::time::Duration::from_secs(55)).await;
    assert!(
        !lease.is_over(),
        "80 s after it was taken, 55 s after its renewal"
    );
    tokio::time::advance(std::time::Duration::from_secs(5)).await;
    assert!(lease.is_over());
    // renewal refused: another worker has the task
    let e = lease.keep().await.unwrap_err();
    assert!(matches!(e, ExecError::LeaseLost(TaskId(7))), "{e:?}");
}

#[tokio::test]
async fn an_unclear_answer_is_reconciled_at_once_and_the_leads_without_a_job_are_sent_again() {
    let mut m = turn_mocks(TaskState::Running);
    let batch = |id: i64, leads: Vec<_>| Batch {
        id: BatchId(id),
        created_at: Utc::now(),
        leads,
    };
    // open at the reconciliation, not at the start of the turn
    let opened = Arc::new(Mutex::new(false));
    let o2 = opened.clone();
    m.batches.expect_open_batches().returning(move |_| {
        Ok(if *o2.lock().unwrap() {
            vec![batch(1, leads(1, 3))]
        } else {
            vec![]
        })
    });
    let claims = Arc::new(Mutex::new(vec![
        Some(batch(1, leads(1, 3))),
        None,
        Some(batch(2, leads(2, 1))),
        None,
    ]));
    m.batches.expect_claim_batch().returning(move |_, _, _, _| {
        let mut c = claims.lock().unwrap();
        Ok(if c.is_empty() { None } else { c.remove(0) })
    });
    let calls = Arc::new(Mutex::new(0));
    m.platform
        .expect_assign_jobs()
        .times(2)
        .returning(move |_, contacts, _| {
            let mut n = calls.lock().unwrap();
            *n += 1;
            if *n == 1 {
                *opened.lock().unwrap() = true;
                Err(PlatformError::Unclear("HTTP 500".into()))
            } else {
                assert_eq!(contacts.len(), 1, "only the lead without a job");
                Ok(jobs_for(contacts))
            }
        });
    m.batches.expect_jobs_recorded().returning(|_| Ok(0));
    m.platform.expect_describe_job_group().returning(|_| {
        Ok(GroupProgress {
            total: 2,
            ..Default::default()
        })
    });
    // the 500 came after jobs for leads 1 and 3 were made
    m.platform
        .expect_query_job_results()
        .returning(|_, page, size| Ok(page_of(&[scheduled("1"), scheduled("3")], page, size)));
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let r2 = recorded.clone();
    m.batches.expect_record_batch().returning(move |b, jobs| {
        r2.lock().unwrap().push((b, jobs.len()));
        Ok(())
    });
    m.lifecycle
        .expect_task_group()
        .returning(|_| Ok(Some((TaskState::Running, Some("g".into())))));
    let report = m.build().dispatcher.dispatch_turn().await.unwrap().unwrap();
    assert_eq!(
        (
            report.assigned,
            report.reconciled,
            report.requeued,
            report.done
        ),
        (1, 2, 1, true)
    );
    assert_eq!(
        *recorded.lock().unwrap(),
        vec![(BatchId(1), 2), (BatchId(2), 1)]
    );
}

#[tokio::test]
async fn an_unavailable_platform_sent_nothing_so_the_batch_goes_back_to_pending() {
    let mut m = sending_one_batch(BatchId(4));
    m.batches
        .expect_release_batch()
        .withf(|b| *b == BatchId(4))
        .times(1)
        .returning(|_| Ok(()));
    m.platform
        .expect_assign_jobs()
        .returning(|_, _, _| Err(PlatformError::Unavailable("refused".into())));
    let r = m.build().dispatcher.dispatch_turn().await;
    assert!(matches!(
        r,
        Err(ExecError::Platform(PlatformError::Unavailable(_)))
    ));
}

#[tokio::test]
async fn reconciliation_records_what_the_platform_has_and_requeues_the_rest() {
    let mut m = turn_mocks(TaskState::Running);
    let old = Utc::now() - Duration::minutes(5);
    m.batches.expect_open_batches().returning(move |_| {
        Ok(vec![Batch {
            id: BatchId(9),
            created_at: old,
            leads: leads(1, 3),
        }])
    });
    m.batches
        .expect_record_batch()
        .withf(|b, jobs| {
            *b == BatchId(9)
                && jobs.len() == 2
                && jobs
                    .iter()
                    .all(|(id, _)| *id == TaskLeadId(1) || *id == TaskLeadId(3))
        })
        .times(1)
        .returning(|_, _| Ok(()));
    m.batches
        .expect_claim_batch()
        .returning(|_, _, _, _| Ok(None));
    m.batches.expect_jobs_recorded().returning(|_| Ok(0));
    m.platform.expect_describe_job_group().returning(|_| {
        Ok(GroupProgress {
            total: 3,
            ..Default::default()
        })
    });
    // the platform has jobs for leads 1 and 3 (and someone else's), not for 2
    m.platform
        .expect_query_job_results()
        .returning(|_, page, size| {
            Ok(page_of(
                &[scheduled("1"), scheduled("77"), scheduled("3")],
                page,
                size,
            ))
        });
    m.platform.expect_assign_jobs().never();
    let report = m.build().dispatcher.dispatch_turn().await.unwrap().unwrap();
    assert_eq!(
        (report.reconciled, report.requeued, report.done),
        (2, 1, true)
    );
}

#[tokio::test]
async fn young_open_batch_is_not_reconciled_yet_and_nothing_is_sent() {
    let mut m = turn_mocks(TaskState::Running);
    m.batches.expect_open_batches().returning(|_| {
        Ok(vec![Batch {
            id: BatchId(9),
            created_at: Utc::now(),
            leads: leads(1, 3),
        }])
    });
    m.batches.expect_claim_batch().never();
    m.platform.expect_query_job_results().never();
    m.platform.expect_assign_jobs().never();
    let report = m.build().dispatcher.dispatch_turn().await.unwrap().unwrap();
    assert!(!report.done && report.waiting);
}

#[tokio::test]
async fn a_young_batch_whose_request_never_left_goes_back_at_once_and_sending_goes_on() {
    let mut m = turn_mocks(TaskState::Running);
    m.batches = MockDispatchRepository::new();
    m.batches.expect_open_batches().returning(|_| {
        Ok(vec![Batch {
            id: BatchId(9),
            created_at: Utc::now(),
            leads: leads(1, 3),
        }])
    });
    m.batches
        .expect_release_unsent()
        .withf(|b| *b == BatchId(9))
        .times(1)
        .returning(|_| Ok(true));
    m.platform.expect_query_job_results().never();
    // no young batch left to wait for: the leads are claimed and sent again in this turn
    let claims = Arc::new(Mutex::new(0));
    m.batches.expect_claim_batch().returning(move |_, _, _, _| {
        let mut n = claims.lock().unwrap();
        *n += 1;
        Ok((*n == 1).then(|| Batch {
            id: BatchId(10),
            created_at: Utc::now(),
            leads: leads(1, 3),
        }))
    });
    m.batches.expect_record_batch().returning(|_, _| Ok(()));
    m.platform
        .expect_assign_jobs()
        .times(1)
        .returning(|_, contacts, _| Ok(jobs_for(contacts)));
    let report = m.build().dispatcher.dispatch_turn().await.unwrap().unwrap();
    assert_eq!((report.requeued, report.assigned), (3, 3));
    assert!(!report.waiting);
}

#[tokio::test]
async fn a_batch_given_back_while_it_waited_for_a_slot_is_not_sent() {
    let mut m = sending_one_batch(BatchId(1));
    // the gate notes the batch as sent, which fails: a holder that took the task over gave it
    // back meanwhile
    m.batches
        .expect_mark_sent()
        .withf(|b| *b == BatchId(1))
        .times(1)
        .returning(|_| Ok(false));
    m.batches.expect_release_batch().returning(|_| Ok(()));
    m.batches.expect_record_batch().never();
    m.platform
        .expect_assign_jobs()
        .times(1)
        .returning(|_, _, gate| {
            futures::executor::block_on(gate.pass())?;
            unreachable!("the gate let the request leave");
        });
    let r = m.build().dispatcher.dispatch_turn().await;
    assert!(
        matches!(r, Err(ExecError::Platform(PlatformError::Busy(_)))),
        "{r:?}"
    );
}

#[tokio::test]
async fn dispatch_stops_when_the_task_is_paused() {
    let mut m = turn_mocks(TaskState::Paused);
    m.batches.expect_open_batches().returning(|_| Ok(vec![]));
    m.batches.expect_claim_batch().never();
    let report = m.build().dispatcher.dispatch_turn().await.unwrap().unwrap();
    assert_eq!(report.assigned, 0);
}

/// Mocks of a turn whose one batch is assigned while the task is being stopped: the lease is
/// renewed for the batch (running), and again after it (stopped).
fn stopped_in_flight() -> Mocks {
    let mut m = Mocks::new();
    m.leases
        .expect_lease_task()
        .returning(|_, _, _, _| Ok(Some(leased())));
    m.leases
        .expect_release_lease()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let renewals = Arc::new(Mutex::new(0));
    m.leases.expect_renew_lease().returning(move |_, _, _, _| {
        let mut n = renewals.lock().unwrap();
        *n += 1;
        Ok(Some(if *n == 1 {
            TaskState::Running
        } else {
            TaskState::Stopped
        }))
    });
    m.batches.expect_open_batches().returning(|_| Ok(vec![]));
    m.batches
        .expect_claim_batch()
        .times(1)
        .returning(|_, _, _, _| {
            Ok(Some(Batch {
                id: BatchId(1),
                created_at: Utc::now(),
                leads: leads(1, 2),
            }))
        });
    m.batches
        .expect_record_batch()
        .times(1)
        .returning(|_, _| Ok(()));
    m.platform
        .expect_assign_jobs()
        .returning(|_, contacts, _| Ok(jobs_for(contacts)));
    m
}

#[tokio::test]
async fn jobs_assigned_while_the_task_was_stopped_are_cancelled() {
    let mut m = stopped_in_flight();
    m.platform
        .expect_cancel_jobs()
        .times(1)
        .returning(|_| Ok(()));
    let report = m.build().dispatcher.dispatch_turn().await.unwrap().unwrap();
    assert_eq!(report.assigned, 2);
}

#[tokio::test]
async fn a_failed_cancel_after_a_stop_is_reported_not_dropped() {
    let mut m = stopped_in_flight();
    m.platform
        .expect_cancel_jobs()
        .times(1)
        .returning(|_| Err(PlatformError::Unavailable("down".into())));
    let r = m.build().dispatcher.dispatch_turn().await;
    assert!(matches!(
        r,
        Err(ExecError::Platform(PlatformError::Unavailable(_)))
    ));
}

/// Mocks of a turn that reconciles one old batch of leads 1001..=1003 while 1000 jobs of the
/// task are recorded, against a group listing `all`; returns the pages read.
fn reconciling(all: Vec<JobResult>) -> (Mocks, Arc<Mutex<Vec<u32>>>) {
    reconciling_batch(all, 3)
}

/// [`reconciling`] with a batch of `n` leads from 1001 on.
fn reconciling_batch(all: Vec<JobResult>, n: i64) -> (Mocks, Arc<Mutex<Vec<u32>>>) {
    let mut m = turn_mocks(TaskState::Running);
    let old = Utc::now() - Duration::minutes(5);
    m.batches.expect_open_batches().returning(move |_| {
        Ok(vec![Batch {
            id: BatchId(9),
            created_at: old,
            leads: leads(1001, n),
        }])
    });
    m.batches.expect_jobs_recorded().returning(|_| Ok(1000));
    m.batches.expect_record_batch().returning(|_, _| Ok(()));
    m.batches
        .expect_claim_batch()
        .returning(|_, _, _, _| Ok(None));
    let pages = Arc::new(Mutex::new(Vec::new()));
    let p2 = pages.clone();
    m.platform
        .expect_query_job_results()
        .returning(move |_, page, size| {
            p2.lock().unwrap().push(page);
            Ok(page_of(&all, page, size))
        });
    (m, pages)
}

/// Reconciles `all` and returns (found, requeued, pages read).
async fn reconcile(all: Vec<JobResult>) -> (u64, u64, Vec<u32>) {
    let (m, pages) = reconciling(all);
    let report = m.build().dispatcher.dispatch_turn().await.unwrap().unwrap();
    let pages = pages.lock().unwrap().clone();
    (report.reconciled, report.requeued, pages)
}

fn listing(refs: impl IntoIterator<Item = usize>) -> Vec<JobResult> {
    refs.into_iter()
        .map(|r| scheduled(&r.to_string()))
        .collect()
}

#[tokio::test]
async fn reconciliation_lists_no_more_than_the_platform_count_requires() {
    // all three were created, after the 1000 recorded: found in the last pages (one batch
    // back from the 1000th job: pages 10 and 11 of 100)
    assert_eq!(reconcile(listing(1..=1003)).await, (3, 0, vec![10, 11]));
    // two were: the count says so, and once both are found nothing else is listed
    assert_eq!(reconcile(listing(1..=1002)).await, (2, 1, vec![10, 11]));
    // none was (the platform failed the request): the first page's count says so, nothing
    // else is listed
    assert_eq!(reconcile(listing(1..=1000)).await, (0, 3, vec![10]));
    // a job listed out of order: not in the last pages, so the earlier ones are read too, until
    // it is found
    let out_of_order = listing(std::iter::once(1003).chain(1..=1002));
    let (found, requeued, pages) = reconcile(out_of_order).await;
    assert_eq!((found, requeued), (3, 0));
    assert_eq!(pages, vec![10, 11, 1]);
}

#[tokio::test]
async fn a_whole_batch_still_assigning_is_looked_for_after_the_recorded_jobs_only() {
    // a batch of 99 leads, none of them recorded by a result: its jobs can only follow the
    // 1000 recorded ones, from page 11 on; one page is read when it was never created
    let (m, pages) = reconciling_batch(listing(1..=1000), 99);
    let report = m.build().dispatcher.dispatch_turn().await.unwrap().unwrap();
    assert_eq!((report.reconciled, report.requeued), (0, 99));
    assert_eq!(*pages.lock().unwrap(), vec![11]);
}
