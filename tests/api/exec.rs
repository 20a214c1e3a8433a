//! Running tasks end to end: start, dispatch, monitor, results, lifecycle, runs, faults.
use e2e::{SimConfig, TestApp, TestOptions, eventually};
use kernel::Role;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_runs_to_completion_and_every_view_agrees() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    let task = app.task_with_leads(&t, 250, "script-1").await;
    let r = app
        .post(Some(&t), "/api/start-call-task", json!({"task_id": task}))
        .await
        .expect(200, None);
    assert_eq!(r.data()["task_type"], 2);
    assert_eq!(r.data()["leads_total"], 250);
    assert!(r.data()["job_group_id"].as_str().is_some());

    let s = app.wait_completed(&t, task, 60).await;
    assert_eq!(s["leads_total"], 250);
    assert_eq!(s["dispatched"], 250);
    let finals: i64 = [
        "connected",
        "no_answer",
        "busy",
        "unreachable",
        "failed",
        "rejected",
        "cancelled",
    ]
    .iter()
    .map(|k| s["by_call_status"][k].as_i64().unwrap())
    .sum();
    assert_eq!(finals, 250);
    let called = s["called"].as_i64().unwrap();
    let connected = s["connected"].as_i64().unwrap();
    assert!(connected > 0 && called >= connected);
    assert!((s["connect_rate"].as_f64().unwrap() - connected as f64 / called as f64).abs() < 1e-9);

    let sim = e2e::sim_stats(&app.sim_url).await;
    assert_eq!(sim["duplicate_reference_ids"], 0);
    assert_eq!(sim["jobs_total"], 250);

    // the task list and the task stats say the same
    let list = app.get(Some(&t), "/api/task_list").await.expect(200, None);
    let item = &list.data()["items"][0];
    assert_eq!(item["task_type"], 3);
    assert_eq!(item["called_count"], s["called"]);
    assert_eq!(item["connected_count"], s["connected"]);
    let ts = app.get(Some(&t), "/api/task-stats").await.expect(200, None);
    assert_eq!(ts.data()["called"], s["called"]);

    // per-lead rows, filtered and paged
    let e = app
        .post(
            Some(&t),
            "/api/query-task-execution",
            json!({"task_id": task, "page_size": 100, "call_status": "connected"}),
        )
        .await
        .expect(200, None);
    assert_eq!(e.data()["pagination"]["total"], s["connected"]);
    assert_eq!(e.data()["summary"]["connected"], s["connected"]);
    let row = &e.data()["items"][0];
    assert!(row["phone"].as_str().unwrap().contains("****"));
    assert!(row["job_id"].as_str().is_some());
    assert!(row["duration_seconds"].as_i64().unwrap() > 0);
    let refreshed = app
        .post(
            Some(&t),
            "/api/query-task-execution",
            json!({"task_id": task, "refresh": true}),
        )
        .await
        .expect(200, None);
    assert_eq!(refreshed.data()["pagination"]["total"], 250);
    app.post(
        Some(&t),
        "/api/query-task-execution",
        json!({"task_id": task, "call_status": "nope"}),
    )
    .await
    .expect(400, Some("invalid_request"));

    let f = app
        .get(
            Some(&t),
            &format!("/api/get-leads-follow?task_id={task}&page_size=100"),
        )
        .await
        .expect(200, None);
    assert_eq!(f.data()["pagination"]["total"], 250);
    let with_intent = f.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["intent_level"].is_string())
        .unwrap();
    assert!(with_intent["follow_suggestion"].as_str().is_some());
    assert!(!with_intent["intent_tags"].as_array().unwrap().is_empty());

    // leads now carry their call
    let leads = app
        .get(Some(&t), "/api/leads?page_size=100")
        .await
        .expect(200, None);
    assert!(
        leads.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["call_count"].as_i64().unwrap() > 0)
    );

    // a completed task cannot be suspended, resumed or stopped
    app.post(
        Some(&t),
        "/api/suspend-resume-task",
        json!({"task_id": task, "action": "suspend"}),
    )
    .await
    .expect(409, Some("invalid_task_state"));
    app.post(Some(&t), "/api/stop-call-task", json!({"task_id": task}))
        .await
        .expect(409, Some("invalid_task_state"));
    app.post(Some(&t), "/api/start-call-task", json!({"task_id": task}))
        .await
        .expect(409, Some("task_not_startable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_throttling_and_timeouts_never_lose_or_duplicate_a_lead() {
    let opts = TestOptions {
        sim: SimConfig {
            call_ms: 50,
            fail_rate: 0.2,
            timeout_rate: 0.1,
            timeout_delay_ms: 1500,
            throttle_qps: Some(20),
            ..SimConfig::default()
        },
        ..TestOptions::default()
    };
    let app = TestApp::spawn_with(opts).await;
    let (_, t) = app.tenant("dealer").await;
    let task = app.task_with_leads(&t, 400, "script-1").await;
    // start itself may meet an injected fault: then it is 503 and the task stays startable
    eventually(60, "start accepted", || async {
        let r = app
            .post(Some(&t), "/api/start-call-task", json!({"task_id": task}))
            .await;
        match r.status.as_u16() {
            200 => Some(()),
            502 | 503 => {
                let s = app.stats(&t, task).await;
                assert_eq!(
                    s["task_type"], 1,
                    "a failed start leaves the task in state 1"
                );
                None
            }
            other => panic!("unexpected start status {other}: {}", r.body),
        }
    })
    .await;
    let s = app.wait_completed(&t, task, 240).await;
    assert_eq!(s["dispatched"], 400);
    let sim = e2e::sim_stats(&app.sim_url).await;
    assert!(
        sim["faults_injected"].as_u64().unwrap() > 0,
        "faults were injected: {sim}"
    );
    assert_eq!(
        sim["duplicate_reference_ids"], 0,
        "no lead assigned twice: {sim}"
    );
    assert_eq!(sim["jobs_total"], 400, "every lead assigned: {sim}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_starts_one_wins_and_start_is_validated() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    let task = app.task_with_leads(&t, 5, "script-1").await;
    let (a, b) = tokio::join!(
        app.post(Some(&t), "/api/start-call-task", json!({"task_id": task})),
        app.post(Some(&t), "/api/start-call-task", json!({"task_id": task}))
    );
    let mut codes = vec![a.status.as_u16(), b.status.as_u16()];
    codes.sort();
    assert_eq!(codes, vec![200, 409]);
    let loser = if a.status.as_u16() == 409 { a } else { b };
    assert_eq!(loser.body["error"], "task_not_startable");

    // no script: 422; unknown task: 404; malformed: 400
    app.import(&t, json!([{"customer_name":"新客","phone":"13912345678"}]))
        .await
        .expect(200, None);
    let c = app
        .post(
            Some(&t),
            "/api/create-autoCall-tasks",
            json!({"task_name":"无脚本","script_id":""}),
        )
        .await
        .expect(200, None);
    let no_script = c.data()["task_id"].as_i64().unwrap();
    app.post(
        Some(&t),
        "/api/start-call-task",
        json!({"task_id": no_script}),
    )
    .await
    .expect(422, Some("script_not_set"));
    app.post(
        Some(&t),
        "/api/start-call-task",
        json!({"task_id": 999_999}),
    )
    .await
    .expect(404, Some("not_found"));
    app.post(Some(&t), "/api/start-call-task", json!({"task_id": "x"}))
        .await
        .expect(400, Some("invalid_request"));
    // a started task's script cannot change any more
    app.post(
        Some(&t),
        "/api/update-script-id",
        json!({"task_id": task, "script_id": "other"}),
    )
    .await
    .expect(409, Some("invalid_task_state"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_platform_start_is_503_and_the_task_is_unchanged() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    let task = app.task_with_leads(&t, 3, "script-1").await;
    app.sim.set_faults(platform_sim::FaultUpdate {
        fail_rate: Some(1.0),
        ..Default::default()
    });
    app.post(Some(&t), "/api/start-call-task", json!({"task_id": task}))
        .await
        .expect(503, Some("platform_unavailable"));
    let list = app.get(Some(&t), "/api/task_list").await.expect(200, None);
    assert_eq!(list.data()["items"][0]["task_type"], 1);
    assert_eq!(
        list.data()["items"][0]["job_group_id"],
        serde_json::Value::Null
    );
    app.sim.set_faults(platform_sim::FaultUpdate {
        fail_rate: Some(0.0),
        ..Default::default()
    });
    app.post(Some(&t), "/api/start-call-task", json!({"task_id": task}))
        .await
        .expect(200, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_resume_and_stop_follow_the_state_machine() {
    let opts = TestOptions {
        sim: SimConfig {
            call_ms: 60_000,
            concurrency: 2,
            ..SimConfig::default()
        },
        ..TestOptions::default()
    };
    let app = TestApp::spawn_with(opts).await;
    let (_, t) = app.tenant("dealer").await;
    let task = app.task_with_leads(&t, 30, "script-1").await;
    // not running yet: suspend and resume are illegal
    app.post(
        Some(&t),
        "/api/suspend-resume-task",
        json!({"task_id": task, "action": "suspend"}),
    )
    .await
    .expect(409, Some("invalid_task_state"));
    app.post(Some(&t), "/api/start-call-task", json!({"task_id": task}))
        .await
        .expect(200, None);
    eventually(30, "all dispatched", || async {
        (app.stats(&t, task).await["dispatched"] == 30).then_some(())
    })
    .await;

    let s = app
        .post(
            Some(&t),
            "/api/suspend-resume-task",
            json!({"task_id": task, "action": "suspend"}),
        )
        .await
        .expect(200, None);
    assert_eq!(s.data()["task_type"], 4);
    app.post(
        Some(&t),
        "/api/suspend-resume-task",
        json!({"task_id": task, "action": "suspend"}),
    )
    .await
    .expect(409, Some("invalid_task_state"));
    let paused: serde_json::Value = eventually(10, "sim paused jobs", || async {
        let st = e2e::sim_stats(&app.sim_url).await;
        (st["jobs_by_status"]["Paused"].as_u64().unwrap_or(0) > 0).then_some(st)
    })
    .await;
    assert!(paused["jobs_by_status"]["Paused"].as_u64().unwrap() >= 28);
    app.post(
        Some(&t),
        "/api/suspend-resume-task",
        json!({"task_id": task, "action": "pause"}),
    )
    .await
    .expect(400, Some("invalid_request"));
    let r = app
        .post(
            Some(&t),
            "/api/suspend-resume-task",
            json!({"task_id": task, "action": "resume"}),
        )
        .await
        .expect(200, None);
    assert_eq!(r.data()["task_type"], 2);

    let stopped = app
        .post(Some(&t), "/api/stop-call-task", json!({"task_id": task}))
        .await
        .expect(200, None);
    assert_eq!(stopped.data()["task_type"], 5);
    app.post(Some(&t), "/api/stop-call-task", json!({"task_id": task}))
        .await
        .expect(409, Some("invalid_task_state"));
    app.post(
        Some(&t),
        "/api/suspend-resume-task",
        json!({"task_id": task, "action": "resume"}),
    )
    .await
    .expect(409, Some("invalid_task_state"));
    let s = app.stats(&t, task).await;
    assert_eq!(
        s["by_call_status"]["cancelled"], 30,
        "unfinished leads become cancelled: {s}"
    );
    let st = e2e::sim_stats(&app.sim_url).await;
    assert!(
        st["jobs_by_status"]["Cancelled"].as_u64().unwrap_or(0) >= 28,
        "platform jobs cancelled: {st}"
    );

    // a created task can be stopped too, and its leads are free for a new task again
    app.import(&t, json!([{"customer_name":"新客","phone":"13912345678"}]))
        .await
        .expect(200, None);
    let c = app
        .post(
            Some(&t),
            "/api/create-autoCall-tasks",
            json!({"task_name":"待停","script_id":"s"}),
        )
        .await
        .expect(200, None);
    let id = c.data()["task_id"].as_i64().unwrap();
    app.post(Some(&t), "/api/stop-call-task", json!({"task_id": id}))
        .await
        .expect(200, None);
    app.post(
        Some(&t),
        "/api/create-autoCall-tasks",
        json!({"task_name":"再建","script_id":"s"}),
    )
    .await
    .expect(200, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_execution_run_reaches_100_percent_and_is_unique_per_task() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    let task = app.task_with_leads(&t, 120, "script-1").await;
    app.post(Some(&t), "/api/start-call-task", json!({"task_id": task}))
        .await
        .expect(200, None);
    app.wait_completed(&t, task, 60).await;
    let r = app
        .post(
            Some(&t),
            "/api/start-query-execution-run",
            json!({"task_id": task}),
        )
        .await
        .expect(200, None);
    let run = r.data()["run_id"].as_i64().unwrap();
    let done = eventually(30, "run succeeded", || async {
        let g = app
            .get(
                Some(&t),
                &format!("/api/get-query-execution-run?run_id={run}"),
            )
            .await
            .expect(200, None);
        (g.data()["status"] == "succeeded").then(|| g.data().clone())
    })
    .await;
    assert_eq!(done["progress"], 100.0);
    assert_eq!(done["processed"], 120);
    assert_eq!(done["total"], 120);
    assert!(done["finished_at"].is_string());
    app.get(Some(&t), "/api/get-query-execution-run?run_id=424242")
        .await
        .expect(404, Some("not_found"));

    // a task that never started: the run fails with a clear error
    app.import(&t, json!([{"customer_name":"新客","phone":"13912345678"}]))
        .await
        .expect(200, None);
    let c = app
        .post(
            Some(&t),
            "/api/create-autoCall-tasks",
            json!({"task_name":"未开始","script_id":"s"}),
        )
        .await
        .expect(200, None);
    let id = c.data()["task_id"].as_i64().unwrap();
    let r = app
        .post(
            Some(&t),
            "/api/start-query-execution-run",
            json!({"task_id": id}),
        )
        .await
        .expect(200, None);
    let run = r.data()["run_id"].as_i64().unwrap();
    let failed = eventually(30, "run failed", || async {
        let g = app
            .get(
                Some(&t),
                &format!("/api/get-query-execution-run?run_id={run}"),
            )
            .await
            .expect(200, None);
        (g.data()["status"] == "failed").then(|| g.data().clone())
    })
    .await;
    assert!(failed["error"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_unfinished_run_per_task() {
    // no workers: runs stay pending, so the second start must return the first
    let app = TestApp::spawn_with(TestOptions {
        workers: false,
        ..TestOptions::default()
    })
    .await;
    let (_, t) = app.tenant("dealer").await;
    let task = app.task_with_leads(&t, 3, "s").await;
    let a = app
        .post(
            Some(&t),
            "/api/start-query-execution-run",
            json!({"task_id": task}),
        )
        .await
        .expect(200, None);
    let b = app
        .post(
            Some(&t),
            "/api/start-query-execution-run",
            json!({"task_id": task}),
        )
        .await
        .expect(200, None);
    assert_eq!(a.data()["run_id"], b.data()["run_id"]);
    assert_eq!(a.data()["status"], "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_task_and_config_check_respect_roles() {
    let app = TestApp::spawn().await;
    let (org, admin) = app.tenant("dealer").await;
    app.user(org, "op", Role::Operator).await;
    let op = app.login("op").await;
    let c = app
        .post(Some(&op), "/api/auto-task", json!({"action": "check"}))
        .await
        .expect(200, None);
    assert_eq!(c.data()["running"], true);
    app.post(Some(&op), "/api/auto-task", json!({"action": "stop"}))
        .await
        .expect(403, Some("forbidden"));
    let s = app
        .post(Some(&admin), "/api/auto-task", json!({"action": "stop"}))
        .await
        .expect(200, None);
    assert_eq!(s.data()["running"], false);
    let s = app
        .post(Some(&admin), "/api/auto-task", json!({"action": "start"}))
        .await
        .expect(200, None);
    assert_eq!(s.data()["running"], true);
    app.post(Some(&admin), "/api/auto-task", json!({"action": "reboot"}))
        .await
        .expect(400, Some("invalid_request"));
    let ticked = eventually(10, "monitor ticked", || async {
        let c = app
            .post(Some(&admin), "/api/auto-task", json!({"action": "check"}))
            .await
            .expect(200, None);
        c.data()["last_tick_at"]
            .is_string()
            .then(|| c.data().clone())
    })
    .await;
    assert!(ticked["interval_seconds"].is_number());

    app.get(Some(&op), "/api/config-check")
        .await
        .expect(403, Some("forbidden"));
    let cc = app
        .get(Some(&admin), "/api/config-check")
        .await
        .expect(200, None);
    let checks = cc.data()["checks"].as_array().unwrap();
    for name in [
        "database",
        "migrations",
        "platform_reachable",
        "token_secret",
        "monitor",
    ] {
        let c = checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("check {name} missing"));
        assert!(["ok", "warn", "fail"].contains(&c["status"].as_str().unwrap()));
    }
    assert_eq!(
        checks.iter().find(|c| c["name"] == "database").unwrap()["status"],
        "ok"
    );
    assert_eq!(
        checks
            .iter()
            .find(|c| c["name"] == "platform_reachable")
            .unwrap()["status"],
        "ok"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_share_the_work_without_duplicates() {
    let first = TestApp::spawn_with(TestOptions {
        sim: SimConfig {
            call_ms: 50,
            ..SimConfig::default()
        },
        ..TestOptions::default()
    })
    .await;
    let (_, t) = first.tenant("dealer").await;
    let mut tasks = Vec::new();
    for i in 0..3 {
        first
            .import(&t, e2e::leads(i * 200, 200))
            .await
            .expect(200, None);
        let c = first
            .post(Some(&t), "/api/create-autoCall-tasks", json!({"task_name": format!("批次{i}"), "script_id": "s", "filters": {"keyword": format!("客户")}}))
            .await
            .expect(200, None);
        tasks.push(c.data()["task_id"].as_i64().unwrap());
    }
    // a second instance over the same database and platform
    let second_db = testkit::TestDb::attach(&first.db);
    let second = TestApp::spawn_on(second_db, &first.sim_url, &TestOptions::default()).await;
    for task in &tasks {
        second
            .post(Some(&t), "/api/start-call-task", json!({"task_id": task}))
            .await
            .expect(200, None);
    }
    for task in &tasks {
        first.wait_completed(&t, *task, 120).await;
    }
    let sim = e2e::sim_stats(&first.sim_url).await;
    assert_eq!(sim["duplicate_reference_ids"], 0, "{sim}");
    assert_eq!(sim["jobs_total"], 600, "{sim}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organisation_gets_404_on_every_execution_endpoint() {
    let app = TestApp::spawn().await;
    let (_, a) = app.tenant("tenant-a").await;
    let (_, b) = app.tenant("tenant-b").await;
    let task = app.task_with_leads(&a, 5, "s").await;
    app.post(Some(&a), "/api/start-call-task", json!({"task_id": task}))
        .await
        .expect(200, None);
    let run = app
        .post(
            Some(&a),
            "/api/start-query-execution-run",
            json!({"task_id": task}),
        )
        .await
        .expect(200, None);
    let run_id = run.data()["run_id"].as_i64().unwrap();

    app.post(Some(&b), "/api/start-call-task", json!({"task_id": task}))
        .await
        .expect(404, Some("not_found"));
    app.post(
        Some(&b),
        "/api/suspend-resume-task",
        json!({"task_id": task, "action": "suspend"}),
    )
    .await
    .expect(404, Some("not_found"));
    app.post(Some(&b), "/api/stop-call-task", json!({"task_id": task}))
        .await
        .expect(404, Some("not_found"));
    app.post(
        Some(&b),
        "/api/query-task-execution",
        json!({"task_id": task}),
    )
    .await
    .expect(404, Some("not_found"));
    app.post(
        Some(&b),
        "/api/query-task-execution",
        json!({"task_id": task, "refresh": true}),
    )
    .await
    .expect(404, Some("not_found"));
    app.get(Some(&b), &format!("/api/get-leads-follow?task_id={task}"))
        .await
        .expect(404, Some("not_found"));
    app.get(Some(&b), &format!("/api/task-statistics?task_id={task}"))
        .await
        .expect(404, Some("not_found"));
    app.post(
        Some(&b),
        "/api/start-query-execution-run",
        json!({"task_id": task}),
    )
    .await
    .expect(404, Some("not_found"));
    app.get(
        Some(&b),
        &format!("/api/get-query-execution-run?run_id={run_id}"),
    )
    .await
    .expect(404, Some("not_found"));
    // A's task is untouched
    let s = app.stats(&a, task).await;
    assert!(s["task_type"] == 2 || s["task_type"] == 3, "{s}");
}
