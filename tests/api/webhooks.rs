//! Webhooks end to end: a task's results reach a receiver that fails on purpose, every one at
//! least once and signed; what may not be called is refused; disabled endpoints receive
//! nothing; a rotated secret and the previous one both verify during the switch.
use std::collections::{BTreeMap, BTreeSet};

use e2e::receiver::{Answered, Faults, Receiver};
use e2e::{TestApp, eventually};
use kernel::Role;
use serde_json::{Value, json};
use webhooks::sign;

/// Register `url` for `events`; answers (id, secret).
async fn register(app: &TestApp, admin: &str, url: &str, events: &[&str]) -> (i64, String) {
    let r = app
        .post(
            Some(admin),
            "/api/webhooks",
            json!({"url": url, "events": events, "description": "CRM"}),
        )
        .await
        .expect(200, None);
    (
        r.data()["webhook"]["id"].as_i64().unwrap(),
        r.data()["secret"].as_str().unwrap().to_owned(),
    )
}

/// Whether a request's signature verifies under `secret`.
fn verifies(r: &e2e::receiver::Received, secret: &str) -> bool {
    let ts: i64 = r.header("webhook-timestamp").parse().unwrap_or(0);
    sign::verify(
        secret,
        &r.header("webhook-id"),
        ts,
        &r.body,
        &r.header("webhook-signature"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_finished_call_reaches_a_failing_receiver_at_least_once_and_signed() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.tenant("车行").await;
    let receiver = Receiver::start(Faults {
        error: 0.2,
        dropped: 0.1,
        slow: 0.05,
    })
    .await;
    let (_, secret) = register(&app, &admin, &receiver.url, &["lead.call_finished"]).await;
    let n = 300;
    let task = app.task_with_leads(&admin, n, "script-1").await;
    app.post(
        Some(&admin),
        "/api/start-call-task",
        json!({"task_id": task}),
    )
    .await
    .expect(200, None);
    app.wait_completed(&admin, task, 120).await;

    // every lead of the task, once or more; with 35% of attempts failing, one in about fifteen
    // runs sees a delivery fail all 8: the admin retries it by hand
    let by_lead = eventually(180, "every lead's event delivered", || async {
        app.retry_failed_deliveries(&admin).await;
        let mut delivered: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
        for r in receiver.all().iter().filter(|r| r.answer == Answered::Ok) {
            let body = r.json();
            if body["type"] == "lead.call_finished" && body["data"]["task_id"] == task {
                delivered
                    .entry(body["data"]["lead_id"].as_i64().unwrap())
                    .or_default()
                    .insert(r.header("webhook-id"));
            }
        }
        (delivered.len() == n).then_some(delivered)
    })
    .await;
    // one event per lead (its id the same on every retry)
    assert!(
        by_lead.values().all(|ids| ids.len() == 1),
        "one event id per lead"
    );
    let all = receiver.all();
    for r in &all {
        assert!(
            verifies(r, &secret),
            "every request is signed: {:?}",
            r.headers
        );
        let body = r.json();
        let phone = body["data"]["phone"].as_str().unwrap_or_default();
        assert!(phone.contains("****"), "phones are masked: {phone}");
    }
    // a duplicate only follows an ambiguous failure: an event is never answered 2xx twice...
    let mut ok_per_event: BTreeMap<String, usize> = BTreeMap::new();
    for r in all.iter().filter(|r| r.answer == Answered::Ok) {
        *ok_per_event.entry(r.header("webhook-id")).or_default() += 1;
    }
    assert!(
        ok_per_event.values().all(|n| *n == 1),
        "a delivered event is not sent again"
    );
    // ...and the faults did happen
    assert!(
        all.iter().any(|r| r.answer != Answered::Ok),
        "the receiver failed sometimes"
    );
    let duplicates = all.len() - ok_per_event.len();
    println!(
        "{} requests for {n} events: {duplicates} repeated after a failure",
        all.len()
    );

    // the deliveries say so
    let list = app
        .get(
            Some(&admin),
            "/api/webhook-deliveries?status=succeeded&page_size=1",
        )
        .await
        .expect(200, None);
    assert_eq!(list.data()["pagination"]["total"], n);
    let pending = app
        .get(Some(&admin), "/api/webhook-deliveries?status=pending")
        .await
        .expect(200, None);
    assert_eq!(pending.data()["pagination"]["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_may_not_be_called_is_refused_and_operators_and_strangers_are_kept_out() {
    let app = TestApp::spawn().await;
    let (org, admin) = app.tenant("车行").await;
    for url in [
        "http://crm.example.com/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hook",
        "ftp://crm.example.com/",
        "not a url",
    ] {
        let r = app
            .post(
                Some(&admin),
                "/api/webhooks",
                json!({"url": url, "events": ["task.completed"]}),
            )
            .await
            .expect(400, Some("invalid_request"));
        assert!(
            r.body["message"].as_str().unwrap().contains("url"),
            "{url}: {}",
            r.body
        );
    }
    app.post(
        Some(&admin),
        "/api/webhooks",
        json!({"url": "https://crm.example.com/hook", "events": ["lead.called"]}),
    )
    .await
    .expect(400, Some("invalid_request"));
    let list = app
        .get(Some(&admin), "/api/webhooks")
        .await
        .expect(200, None);
    assert_eq!(list.data()["items"], json!([]), "nothing was registered");

    let (id, _) = register(
        &app,
        &admin,
        "https://crm.example.com/hook",
        &["task.completed"],
    )
    .await;
    app.user(org, "op", Role::Operator).await;
    let op = app.login("op").await;
    app.get(Some(&op), "/api/webhooks")
        .await
        .expect(403, Some("forbidden"));
    app.post(Some(&op), "/api/webhooks/test", json!({"webhook_id": id}))
        .await
        .expect(403, Some("forbidden"));
    let (_, stranger) = app.tenant("别家").await;
    for path in [
        "/api/webhooks/test",
        "/api/webhooks/rotate-secret",
        "/api/webhooks/delete",
    ] {
        app.post(Some(&stranger), path, json!({"webhook_id": id}))
            .await
            .expect(404, Some("not_found"));
    }
    app.post(
        Some(&stranger),
        "/api/webhooks/update",
        json!({"webhook_id": id, "enabled": false}),
    )
    .await
    .expect(404, Some("not_found"));
    let still = app
        .get(Some(&admin), "/api/webhooks")
        .await
        .expect(200, None);
    assert_eq!(still.data()["items"][0]["enabled"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_endpoint_receives_nothing_and_a_rotated_secret_overlaps_the_old() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.tenant("车行").await;
    let on = Receiver::start(Faults::default()).await;
    let off = Receiver::start(Faults::default()).await;
    let (on_id, old_secret) = register(&app, &admin, &on.url, &["lead.call_finished"]).await;
    let (off_id, _) = register(&app, &admin, &off.url, &["lead.call_finished"]).await;
    app.post(
        Some(&admin),
        "/api/webhooks/update",
        json!({"webhook_id": off_id, "enabled": false}),
    )
    .await
    .expect(200, None);
    let r = app
        .post(
            Some(&admin),
            "/api/webhooks/rotate-secret",
            json!({"webhook_id": on_id}),
        )
        .await
        .expect(200, None);
    let new_secret = r.data()["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old_secret);

    let task = app.task_with_leads(&admin, 20, "script-1").await;
    app.post(
        Some(&admin),
        "/api/start-call-task",
        json!({"task_id": task}),
    )
    .await
    .expect(200, None);
    app.wait_completed(&admin, task, 60).await;
    eventually(30, "the enabled endpoint got every event", || async {
        (on.all().len() >= 20).then_some(())
    })
    .await;
    for r in on.all() {
        assert!(
            verifies(&r, &new_secret) && verifies(&r, &old_secret),
            "both secrets verify"
        );
    }
    // a ping is queued and delivered like any event
    let ping = app
        .post(
            Some(&admin),
            "/api/webhooks/test",
            json!({"webhook_id": on_id}),
        )
        .await
        .expect(200, None);
    let event_id = ping.data()["event_id"].as_str().unwrap().to_owned();
    let got = eventually(10, "the ping arrives", || async {
        on.all()
            .into_iter()
            .find(|r| r.header("webhook-id") == event_id)
    })
    .await;
    assert_eq!(got.json()["type"], "ping");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(off.all().is_empty(), "a disabled endpoint receives nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_keeps_failing_can_be_retried_by_hand() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.tenant("车行").await;
    let receiver = Receiver::start(Faults {
        error: 1.0,
        ..Faults::default()
    })
    .await;
    let (id, _) = register(&app, &admin, &receiver.url, &["task.completed"]).await;
    app.post(
        Some(&admin),
        "/api/webhooks/test",
        json!({"webhook_id": id}),
    )
    .await
    .expect(200, None);
    // the retry schedule is scaled down in the tests: its eight attempts take about 20 s
    let failed: Value = eventually(120, "the delivery failed for good", || async {
        let r = app
            .get(Some(&admin), "/api/webhook-deliveries?status=failed")
            .await
            .expect(200, None);
        r.data()["items"].get(0).cloned()
    })
    .await;
    assert_eq!(failed["attempts"], 8);
    assert_eq!(failed["last_status"], 500);
    assert_eq!(failed["last_response"], "oops");
    assert_eq!(receiver.all().len(), 8);
    receiver.set_faults(Faults::default());
    let retried = app
        .post(
            Some(&admin),
            "/api/webhook-deliveries/retry",
            json!({"delivery_id": failed["id"]}),
        )
        .await
        .expect(200, None);
    assert_eq!(retried.data()["status"], "pending");
    eventually(10, "delivered after the retry", || async {
        let r = app
            .get(Some(&admin), "/api/webhook-deliveries?status=succeeded")
            .await
            .expect(200, None);
        (r.data()["pagination"]["total"] == 1).then_some(())
    })
    .await;
    assert_eq!(receiver.all().len(), 9);
    // the same event id every time
    let ids: BTreeSet<String> = receiver
        .all()
        .iter()
        .map(|r| r.header("webhook-id"))
        .collect();
    assert_eq!(ids.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tasks_state_changes_and_its_completion_are_sent_with_who_acted() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.tenant("车行").await;
    let receiver = Receiver::start(Faults::default()).await;
    let (_, secret) = register(
        &app,
        &admin,
        &receiver.url,
        &["task.state_changed", "task.completed"],
    )
    .await;
    let n = 10;
    let task = app.task_with_leads(&admin, n, "script-1").await;
    app.post(
        Some(&admin),
        "/api/start-call-task",
        json!({"task_id": task}),
    )
    .await
    .expect(200, None);
    app.wait_completed(&admin, task, 60).await;
    let events = eventually(
        20,
        "the start, the completion and its statistics",
        || async {
            let all: Vec<Value> = receiver.all().iter().map(|r| r.json()).collect();
            (all.len() >= 3).then_some(all)
        },
    )
    .await;
    for r in receiver.all() {
        assert!(verifies(&r, &secret));
    }
    let changes: Vec<(String, String, Value)> = events
        .iter()
        .filter(|e| e["type"] == "task.state_changed")
        .map(|e| {
            (
                e["data"]["from"].as_str().unwrap().to_owned(),
                e["data"]["to"].as_str().unwrap().to_owned(),
                e["data"]["actor"].clone(),
            )
        })
        .collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(
        (changes[0].0.as_str(), changes[0].1.as_str()),
        ("created", "running")
    );
    assert_eq!(changes[0].2["username"], "车行-admin", "who started it");
    assert_eq!(
        (changes[1].0.as_str(), changes[1].1.as_str()),
        ("running", "completed")
    );
    assert_eq!(changes[1].2, Value::Null, "the service completed it");
    let completed = events
        .iter()
        .find(|e| e["type"] == "task.completed")
        .expect("task.completed");
    assert_eq!(completed["data"]["task_id"], task);
    assert_eq!(completed["data"]["leads_total"], n);
    let by_status: i64 = completed["data"]["by_call_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(by_status, n as i64);
    // nothing about lead results: not subscribed
    assert!(events.iter().all(|e| e["type"] != "lead.call_finished"));
}
