//! The audit trail: who did what to which task, from where, done or refused; only admins read
//! it, only their organisations'; the table takes no update and loses entries only to the
//! retention.
use std::collections::BTreeSet;

use e2e::TestApp;
use kernel::Role;
use serde_json::{Value, json};

async fn trail(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    app.get(Some(token), &format!("/api/audit-log?page_size=100{query}"))
        .await
        .expect(200, None)
        .data()["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// `(action, actor, outcome)` of every entry, oldest first.
fn lines(items: &[Value]) -> Vec<(String, String, String)> {
    items
        .iter()
        .rev()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn line(action: &str, actor: &str, outcome: &str) -> (String, String, String) {
    (action.into(), actor.into(), outcome.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_and_refusals_are_recorded_with_who_where_and_the_outcome() {
    let app = TestApp::spawn().await;
    let (org, admin) = app.tenant("车行").await;
    app.user(org, "op", Role::Operator).await;
    app.post(
        None,
        "/api/login",
        json!({"username": "op", "password": "wrong-password"}),
    )
    .await
    .expect(401, Some("invalid_credentials"));
    let op = app.login("op").await;

    let task = app.task_with_leads(&admin, 5, "script-1").await;
    app.post(
        Some(&admin),
        "/api/update-script-id",
        json!({"task_id": task, "script_id": "script-2"}),
    )
    .await
    .expect(200, None);
    // nothing matches: the creation rolls back, and only its refusal is recorded
    app.post(
        Some(&admin),
        "/api/create-autoCall-tasks",
        json!({"task_name": "空", "script_id": "s", "filters": {"keyword": "无此客户"}}),
    )
    .await
    .expect(422, Some("no_matching_leads"));
    for (path, body) in [
        ("/api/start-call-task", json!({"task_id": task})),
        (
            "/api/suspend-resume-task",
            json!({"task_id": task, "action": "suspend"}),
        ),
        ("/api/stop-call-task", json!({"task_id": task})),
    ] {
        app.post(Some(&op), path, body).await.expect(200, None);
    }
    app.post(Some(&op), "/api/stop-call-task", json!({"task_id": task}))
        .await
        .expect(409, Some("invalid_task_state"));
    let export = |token: &str, query: &str| {
        app.client
            .get(format!(
                "{}/api/export-task-results?task_id={task}{query}",
                app.base
            ))
            .bearer_auth(token.to_owned())
            .send()
    };
    assert_eq!(export(&op, "&unmasked=true").await.unwrap().status(), 403);
    let csv = export(&admin, "&unmasked=true").await.unwrap();
    assert_eq!(csv.status(), 200);
    csv.bytes().await.unwrap();
    app.post(Some(&admin), "/api/auto-task", json!({"action": "stop"}))
        .await
        .expect(200, None);
    app.post(Some(&admin), "/api/auto-task", json!({"action": "start"}))
        .await
        .expect(200, None);

    let items = trail(&app, &admin, "").await;
    let admin_name = items.iter().find(|e| e["action"] == "task.create").unwrap()["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = admin_name.as_str();
    let got = lines(&items);
    let expected_tail = vec![
        line("leads.import", a, "ok"),
        line("task.create", a, "ok"),
        line("task.script", a, "ok"),
        line("task.create", a, "no_matching_leads"),
        line("task.start", "op", "ok"),
        line("task.suspend", "op", "ok"),
        line("task.stop", "op", "ok"),
        line("task.stop", "op", "invalid_task_state"),
        line("task.export", "op", "forbidden"),
        line("task.export", a, "ok"),
        line("monitor.stop", a, "ok"),
        line("monitor.start", a, "ok"),
    ];
    assert!(
        got.ends_with(&expected_tail),
        "the trail, oldest first: {got:#?}"
    );
    let failed = line("auth.login", "op", "invalid_credentials");
    let logged_in = line("auth.login", "op", "ok");
    let at = |l: &(String, String, String)| got.iter().position(|g| g == l);
    assert!(
        at(&failed).is_some() && at(&failed) < at(&logged_in),
        "the failed login, then the login: {got:#?}"
    );

    // every request's entry says where it came from (the test's set-up acts as the CLI); the
    // start names the states; no secret leaks
    for e in &items {
        assert!(e["details"].is_object(), "details are an object: {e}");
    }
    for e in items.iter().filter(|e| e["actor"] != "cli") {
        assert_eq!(e["client_addr"], "127.0.0.1", "{e}");
        assert_eq!(e["request_id"].as_str().unwrap().len(), 12, "{e}");
    }
    let start = items.iter().find(|e| e["action"] == "task.start").unwrap();
    assert_eq!(start["target_type"], "task");
    assert_eq!(start["target_id"], task);
    assert_eq!(start["details"]["from"], "created");
    assert_eq!(start["details"]["to"], "running");
    let exported = items
        .iter()
        .find(|e| e["action"] == "task.export" && e["outcome"] == "ok")
        .unwrap();
    assert_eq!(exported["details"]["unmasked"], true);
    let all = serde_json::to_string(&items).unwrap();
    assert!(!all.contains("password123") && !all.contains("wrong-password"));
    assert!(!all.contains("13800000000"), "no whole phone number");

    // filters
    let by_task = trail(&app, &admin, &format!("&task_id={task}")).await;
    assert!(by_task.iter().all(|e| e["target_id"] == task));
    // its creation, script, start, suspend, stop, refused stop, refused and done export
    assert_eq!(by_task.len(), 8, "{by_task:#?}");
    let starts = trail(&app, &admin, "&action=task.start").await;
    assert_eq!(starts.len(), 1);
    let by_op: BTreeSet<String> = trail(&app, &admin, "&actor=op")
        .await
        .iter()
        .map(|e| e["actor"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(by_op, BTreeSet::from(["op".to_owned()]));
    app.get(Some(&admin), "/api/audit-log?action=task.delete")
        .await
        .expect(400, Some("invalid_request"));
    app.get(Some(&admin), "/api/audit-log?from=yesterday")
        .await
        .expect(400, Some("invalid_request"));

    // operators may not read it; another organisation's admin sees none of it
    app.get(Some(&op), "/api/audit-log")
        .await
        .expect(403, Some("forbidden"));
    let (_, stranger) = app.tenant("别家").await;
    let theirs = trail(&app, &stranger, "").await;
    assert!(
        theirs
            .iter()
            .all(|e| e["target_id"] != task && e["actor"] != "op"),
        "{theirs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trail_refuses_updates_and_deletes_and_the_retention_alone_removes_old_entries() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.tenant("车行").await;
    app.task_with_leads(&admin, 3, "s").await;
    let mut c = adapters::db::conn(&app.pool).await.unwrap();
    for refused in [
        "UPDATE audit_log SET outcome = 'forged'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let r = diesel_async::RunQueryDsl::execute(diesel::sql_query(refused), &mut c).await;
        let e = r.expect_err(refused).to_string();
        assert!(e.contains("append-only"), "{refused}: {e}");
    }
    drop(c);
    // an entry written 200 days ago (inserting is what the table allows)
    app.sql(
        "INSERT INTO audit_log (time, actor_name, action, outcome) \
         VALUES (now() - interval '200 days', 'cli', 'org.create', 'ok')",
    )
    .await;
    let before = trail(&app, &admin, "").await.len();
    let removed = app
        .state
        .api
        .audit
        .purge_expired(chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(removed, 1, "only what is older than 180 days");
    assert_eq!(trail(&app, &admin, "").await.len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_webhook_and_account_actions_are_recorded_with_their_codes() {
    let app = TestApp::spawn().await;
    let (org, admin) = app.tenant("车行").await;
    let op_id = app.user(org, "op", Role::Operator).await;
    let op = app.login("op").await;
    app.post(
        Some(&op),
        "/api/webhooks",
        json!({"url": "https://crm.example.com/hook", "events": ["lead.call_finished"]}),
    )
    .await
    .expect(403, Some("forbidden"));
    app.post(
        Some(&admin),
        "/api/users/disable",
        json!({"user_id": op_id}),
    )
    .await
    .expect(200, None);
    let me = app.get(Some(&admin), "/api/users?page_size=100").await;
    let admin_id = me.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["role"] == "admin")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    app.post(
        Some(&admin),
        "/api/users/disable",
        json!({"user_id": admin_id}),
    )
    .await
    .expect(409, Some("own_account"));
    app.post(
        Some(&admin),
        "/api/leads/import",
        json!({"org_id": 999_999, "leads": [{"customer_name": "甲", "phone": "13912345678"}]}),
    )
    .await
    .expect(404, Some("not_found"));
    app.post(Some(&admin), "/api/logout", json!(null))
        .await
        .expect(200, None);
    let fresh = app.login("车行-admin").await;
    let got = lines(&trail(&app, &fresh, "").await);
    let a = "车行-admin";
    assert!(
        got.ends_with(&[
            line("webhook.create", "op", "forbidden"),
            line("user.disable", a, "ok"),
            line("user.disable", a, "own_account"),
            line("leads.import", a, "not_found"),
            line("auth.logout", a, "ok"),
            line("auth.login", a, "ok"),
        ]),
        "{got:#?}"
    );
}
