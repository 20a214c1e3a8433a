//! Failures of what the service depends on: the database stops and comes back, the platform is
//! unreachable.
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use adapters::embedded::EmbeddedPostgres;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use e2e::{Api, Resp, SimConfig, TestApp, TestOptions, eventually, spawn_sim};
use reqwest::Method;
use serde_json::json;
use testkit::TestDb;

/// A private cluster for one test: stopped (and its files removed) when dropped, also when the
/// test fails half way. The shared test cluster is never touched.
struct PrivateCluster {
    root: PathBuf,
    dir: PathBuf,
    pg: EmbeddedPostgres,
}

impl PrivateCluster {
    async fn start() -> PrivateCluster {
        let target = testkit::test_cluster_dir()
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
        let root = target
            .join("test-pg-failure")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let dir = root.join("data");
        let d = dir.clone();
        let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&d))
            .await
            .unwrap()
            .expect("private cluster");
        PrivateCluster { root, dir, pg }
    }

    /// Stop the server (`pg_ctl stop -m fast`: open sessions are terminated).
    fn stop(&self) {
        tokio::task::block_in_place(|| self.pg.stop())
            .unwrap_or_else(|e| panic!("stopping {}: {e:#}", self.pg.data_dir().display()));
    }

    async fn restart(&mut self) {
        let d = self.dir.clone();
        let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&d))
            .await
            .unwrap()
            .expect("restart private cluster");
        assert_eq!(
            pg.url("x"),
            self.pg.url("x"),
            "the cluster came back on the same address"
        );
        self.pg = pg;
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        if self.pg.stop().is_ok() {
            let data = self.pg.data_dir().to_path_buf();
            if !data.starts_with(&self.root) {
                // the /tmp fallback of the postgres user: remove it and its sidecar files
                let _ = std::fs::remove_dir_all(&data);
                for ext in ["secret", "lock"] {
                    let mut f = data.as_os_str().to_os_string();
                    f.push(format!(".{ext}"));
                    let _ = std::fs::remove_file(PathBuf::from(f));
                }
            }
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

async fn get_within(api: &Api, token: Option<&str>, path: &str) -> Resp {
    match api.try_call(Method::GET, token, path, None).await {
        Ok(r) => r,
        Err(e) => panic!("GET {path} did not answer within the client timeout: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_stops_then_returns_503_quickly_and_the_pool_recovers_by_itself() {
    let mut cluster = PrivateCluster::start().await;
    let mut admin = AsyncPgConnection::establish(&cluster.pg.url("postgres"))
        .await
        .unwrap();
    diesel::sql_query("CREATE DATABASE outbound_failure")
        .execute(&mut admin)
        .await
        .unwrap();
    drop(admin);
    let url = cluster.pg.url("outbound_failure");
    adapters::db::run_migrations(&url).await.unwrap();

    let (_sim, sim_url) = spawn_sim(SimConfig {
        call_ms: 100,
        ..SimConfig::default()
    });
    let app = TestApp::spawn_on(TestDb::external(url), &sim_url, &TestOptions::default()).await;
    let (_, t) = app.tenant("dealer").await;
    app.import(&t, e2e::leads(0, 3)).await.expect(200, None);
    let api = Api::new(app.base.clone(), Duration::from_secs(10));
    get_within(&api, None, "/api/health")
        .await
        .expect(200, None);
    get_within(&api, Some(&t), "/api/task_list")
        .await
        .expect(200, None);

    // clients keep reading and writing while the database goes away: requests in flight on
    // checked-out connections must end as 503 too, never as a 500
    let stop_load = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for i in 0..4 {
        let (api, t, stop) = (api.clone(), t.clone(), stop_load.clone());
        load.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !AtomicBool::load(&stop, Ordering::SeqCst) {
                let r = match i % 2 {
                    0 => {
                        api.try_call(Method::GET, Some(&t), "/api/task_list", None)
                            .await
                    }
                    _ => {
                        api.try_call(
                            Method::POST,
                            Some(&t),
                            "/api/leads/import",
                            Some(json!({"leads": e2e::leads(0, 50)})),
                        )
                        .await
                    }
                };
                let r = r.unwrap_or_else(|e| {
                    panic!("no answer within the client timeout under load: {e}")
                });
                seen.push((
                    r.status.as_u16(),
                    r.body["error"].as_str().unwrap_or_default().to_owned(),
                ));
            }
            seen
        }));
    }
    cluster.stop();

    let degraded = eventually(30, "health reports the database unavailable", || async {
        let r = get_within(&api, None, "/api/health").await;
        (r.status == 503).then_some(r)
    })
    .await;
    let degraded = degraded.expect(503, Some("database_unavailable"));
    assert_eq!(degraded.data()["status"], "degraded", "{}", degraded.body);
    assert_eq!(
        degraded.data()["database"],
        "unavailable",
        "{}",
        degraded.body
    );
    assert!(
        degraded.data()["version"].as_str().is_some(),
        "{}",
        degraded.body
    );

    stop_load.store(true, Ordering::SeqCst);
    let mut statuses = std::collections::BTreeMap::new();
    for h in load {
        for (status, error) in h.await.unwrap() {
            assert!(
                status == 200 || (status == 503 && error == "database_unavailable"),
                "during the outage every answer is 200 or 503 database_unavailable, got {status} {error}"
            );
            *statuses.entry(status).or_insert(0) += 1;
        }
    }
    assert!(
        statuses.contains_key(&503),
        "the load saw the outage: {statuses:?}"
    );

    // every endpoint: 503 database_unavailable, answered (never a 500, never a hang)
    get_within(&api, Some(&t), "/api/task_list")
        .await
        .expect(503, Some("database_unavailable"));
    get_within(&api, Some(&t), "/api/leads/statistics")
        .await
        .expect(503, Some("database_unavailable"));
    let r = api
        .try_call(
            Method::POST,
            Some(&t),
            "/api/leads/import",
            Some(json!({"leads": e2e::leads(3, 2)})),
        )
        .await
        .expect("import answered within the client timeout");
    r.expect(503, Some("database_unavailable"));
    let r = api
        .try_call(
            Method::POST,
            None,
            "/api/login",
            Some(json!({"username": "dealer-admin", "password": "password123"})),
        )
        .await
        .expect("login answered within the client timeout");
    r.expect(503, Some("database_unavailable"));

    cluster.restart().await;

    eventually(60, "health is ok again", || async {
        (get_within(&api, None, "/api/health").await.status == 200).then_some(())
    })
    .await;
    let list = eventually(60, "task_list answers again", || async {
        let r = get_within(&api, Some(&t), "/api/task_list").await;
        (r.status == 200).then_some(r)
    })
    .await;
    list.expect(200, None);
    let s = get_within(&api, Some(&t), "/api/leads/statistics")
        .await
        .expect(200, None);
    // an import is all or nothing: the 3 first leads, or all 50 of the load's batch
    let total = s.data()["total"].as_u64().unwrap();
    assert!(
        total == 3 || total == 50,
        "data kept, nothing half-written: {}",
        s.body
    );
    app.import(&t, e2e::leads(3, 2)).await.expect(200, None);
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_platform_start_fails_cleanly_and_the_monitor_reports_it() {
    let dead = e2e::dead_url();
    let app = TestApp::spawn_on(TestDb::new().await.unwrap(), &dead, &TestOptions::default()).await;
    let (_, t) = app.tenant("dealer").await;
    let task = app.task_with_leads(&t, 3, "script-1").await;

    // connection refused: 502 or 503, and the task is still startable
    let r = app
        .post(Some(&t), "/api/start-call-task", json!({"task_id": task}))
        .await;
    assert!(
        matches!(r.status.as_u16(), 502 | 503),
        "start against a dead platform: {} {}",
        r.status,
        r.body
    );
    assert_eq!(r.body["status"], "error", "{}", r.body);
    let list = app.get(Some(&t), "/api/task_list").await.expect(200, None);
    assert_eq!(list.data()["items"][0]["id"], task);
    assert_eq!(list.data()["items"][0]["task_type"], 1, "{}", list.body);
    assert_eq!(
        list.data()["items"][0]["job_group_id"],
        serde_json::Value::Null
    );
    app.get(None, "/api/health").await.expect(200, None);

    // another instance with a live platform starts it; this one's monitor then watches a running
    // task on a platform it cannot reach
    let (_sim, live_url) = spawn_sim(SimConfig {
        call_ms: 100,
        ..SimConfig::default()
    });
    let live = TestApp::spawn_on(
        TestDb::attach(&app.db),
        &live_url,
        &TestOptions {
            workers: false,
            ..TestOptions::default()
        },
    )
    .await;
    live.post(Some(&t), "/api/start-call-task", json!({"task_id": task}))
        .await
        .expect(200, None);

    let status = eventually(60, "the monitor reports a last_error", || async {
        let r = app
            .post(Some(&t), "/api/auto-task", json!({"action": "check"}))
            .await
            .expect(200, None);
        r.data()["last_error"]
            .as_str()
            .filter(|e| !e.is_empty())
            .map(|_| r.data().clone())
    })
    .await;
    assert_eq!(status["running"], true, "{status}");
    assert!(status["last_tick_at"].as_str().is_some(), "{status}");
    // the service itself stays healthy and the task is untouched
    app.get(None, "/api/health").await.expect(200, None);
    let s = app.stats(&t, task).await;
    assert_eq!(s["task_type"], 2, "{s}");
}
