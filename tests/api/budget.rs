//! The platform account's request budget: a task started while a big one is being synced is
//! dispatched at once, throttling answers stay rare whether the rate is set or found, and two
//! instances together stay within the account's rate.
use e2e::{SimConfig, TestApp, TestOptions, eventually, sim_stats};
use serde_json::{Value, json};

/// The simulator of these tests, throttled at `qps`: a few calls at a time, so that a big
/// task's results change at every monitor tick while most of its jobs stay unfinished (the
/// monitor reads most of its pages again and again: more than the rate allows).
fn throttled_sim(qps: u32) -> SimConfig {
    SimConfig {
        call_ms: 500,
        concurrency: 20,
        throttle_qps: Some(qps),
        ..SimConfig::default()
    }
}

/// Start `task` and wait until every one of its `n` leads has a job.
async fn dispatched(app: &TestApp, token: &str, task: i64) -> i64 {
    app.stats(token, task).await["dispatched"]
        .as_i64()
        .unwrap_or(0)
}

/// Start the task of `token`, then follow its dispatch to the end: each step of progress must
/// come within `stall_secs` (a deadline that only catches a stall).
async fn dispatch_never_stalls(app: &TestApp, token: &str, task: i64, n: i64, stall_secs: u64) {
    app.post(
        Some(token),
        "/api/start-call-task",
        json!({"task_id": task}),
    )
    .await
    .expect(200, None);
    let mut seen = 0;
    while seen < n {
        seen = eventually(
            stall_secs,
            "the second task's dispatch to progress",
            || async {
                let d = dispatched(app, token, task).await;
                (d > seen).then_some(d)
            },
        )
        .await;
    }
}

/// The share of the simulator's requests it refused for the rate.
fn throttled_share(stats: &Value) -> f64 {
    let requests = stats["requests"].as_f64().unwrap_or(0.0).max(1.0);
    stats["throttled"].as_f64().unwrap_or(0.0) / requests
}

/// A big task is dispatched and being synced (its results keep changing); a second task of
/// another organisation starts: its dispatch goes first and never stalls behind the sync.
async fn second_task_goes_first(max_qps: Option<u32>, most_throttled: f64) {
    let app = TestApp::spawn_with(TestOptions {
        sim: throttled_sim(10),
        max_qps,
        ..TestOptions::default()
    })
    .await;
    let (_, big) = app.tenant("big").await;
    let (_, small) = app.tenant("small").await;
    let big_task = app.task_with_leads(&big, 3000, "script-1").await;
    let small_task = app.task_with_leads(&small, 400, "script-1").await;
    app.post(
        Some(&big),
        "/api/start-call-task",
        json!({"task_id": big_task}),
    )
    .await
    .expect(200, None);
    eventually(90, "the big task dispatched", || async {
        (dispatched(&app, &big, big_task).await == 3000).then_some(())
    })
    .await;
    // the monitor now reads the big task's 30 pages over and over while its calls go on
    dispatch_never_stalls(&app, &small, small_task, 400, 10).await;
    // and goes on reading: the share of refused requests over a longer run
    let stats = eventually(60, "300 requests to the platform", || async {
        let s = sim_stats(&app.sim_url).await;
        (s["requests"].as_u64().unwrap_or(0) >= 300).then_some(s)
    })
    .await;
    assert_eq!(stats["duplicate_reference_ids"], 0, "{stats}");
    assert!(
        throttled_share(&stats) < most_throttled,
        "throttled {} of {} requests: {stats}",
        stats["throttled"],
        stats["requests"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_started_while_a_big_one_is_synced_is_dispatched_at_the_set_rate() {
    second_task_goes_first(Some(10), 0.01).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_started_while_a_big_one_is_synced_is_dispatched_at_a_found_rate() {
    second_task_goes_first(None, 0.05).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_together_stay_within_the_account_rate() {
    let first = TestApp::spawn_with(TestOptions {
        sim: SimConfig {
            call_ms: 200,
            ..SimConfig::default()
        },
        max_qps: Some(10),
        ..TestOptions::default()
    })
    .await;
    let second = TestApp::spawn_on(
        testkit::TestDb::attach(&first.db),
        &first.sim_url,
        &TestOptions {
            max_qps: Some(10),
            ..TestOptions::default()
        },
    )
    .await;
    let (_, a) = first.tenant("a").await;
    let (_, b) = first.tenant("b").await;
    let task_a = first.task_with_leads(&a, 1500, "script-1").await;
    let task_b = first.task_with_leads(&b, 1500, "script-1").await;
    // each instance starts one: both dispatch, and both monitor
    first
        .post(Some(&a), "/api/start-call-task", json!({"task_id": task_a}))
        .await
        .expect(200, None);
    second
        .post(Some(&b), "/api/start-call-task", json!({"task_id": task_b}))
        .await
        .expect(200, None);
    first.wait_completed(&a, task_a, 180).await;
    first.wait_completed(&b, task_b, 180).await;
    let stats = sim_stats(&first.sim_url).await;
    assert_eq!(stats["duplicate_reference_ids"], 0, "{stats}");
    assert_eq!(stats["jobs_total"], 3000, "{stats}");
    // 10 a second for the account, whichever instance sends; one more for a timer's jitter
    assert!(
        stats["peak_requests_per_second"]
            .as_u64()
            .unwrap_or(u64::MAX)
            <= 11,
        "{stats}"
    );
}
