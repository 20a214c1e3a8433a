//! Health for load balancers: liveness, readiness (database, migrations, draining), and an
//! instance that drains on SIGTERM: not ready, still serving, then gone.
use std::time::Duration;

use e2e::{Api, ChildGuard, TestApp, TestOptions, eventually, free_port};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_answers_and_ready_needs_every_migration_of_the_build() {
    let app = TestApp::spawn().await;
    let r = app.get(None, "/api/health/live").await.expect(200, None);
    assert_eq!(r.data()["status"], "live");
    let r = app.get(None, "/api/health/ready").await.expect(200, None);
    assert_eq!(
        r.data(),
        &json!({"ready": true, "database": true, "migrations": true, "draining": false})
    );
    app.get(None, "/api/health/ready?x=1")
        .await
        .expect(400, Some("invalid_request"));

    // a database behind this build (its newest migration not applied) is not ready
    app.sql(
        "DELETE FROM __diesel_schema_migrations WHERE version = \
         (SELECT max(version) FROM __diesel_schema_migrations)",
    )
    .await;
    let r = app
        .get(None, "/api/health/ready")
        .await
        .expect(503, Some("not_ready"));
    assert_eq!(
        r.data(),
        &json!({"ready": false, "database": true, "migrations": false, "draining": false})
    );
    app.get(None, "/api/health/live").await.expect(200, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_an_instance_turns_not_ready_keeps_serving_for_its_drain_then_exits() {
    let setup = TestApp::spawn_with(TestOptions {
        workers: false,
        ..TestOptions::default()
    })
    .await;
    let (_, admin) = setup.tenant("车行").await;
    let port = free_port();
    let child = e2e::serve_command(&setup.db.url, port)
        .env("WORKER_ID", "drain-test")
        .env("DRAIN_SECS", "8")
        .spawn()
        .expect("start outbound");
    let mut child = ChildGuard(child);
    let api = Api::new(format!("http://127.0.0.1:{port}"), Duration::from_secs(10));
    api.wait_healthy().await;
    api.get(None, "/api/health/ready").await.expect(200, None);

    std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    let r = eventually(5, "readiness turns 503 after SIGTERM", || async {
        let r = api.get(None, "/api/health/ready").await;
        (r.status == 503).then_some(r)
    })
    .await;
    let r = r.expect(503, Some("not_ready"));
    assert_eq!(r.data()["draining"], true);
    assert_eq!(r.data()["database"], true);
    // while draining, everything else is served as before
    api.get(None, "/api/health/live").await.expect(200, None);
    api.get(Some(&admin), "/api/task_list?page=1&page_size=5")
        .await
        .expect(200, None);

    let status = e2e::sigterm_and_wait(&mut child.0, 30).await;
    assert!(status.success(), "{status:?}");
}
