//! `outbound backup` and `outbound restore` through the real binary: a database with a finished
//! task round-trips through an archive into an empty one, table by table identical, and the
//! service runs on the copy; a restore never lands on a database that has tables unless forced.
use std::process::{Command, Stdio};
use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use e2e::{Api, ChildGuard, JWT_SECRET, TestApp, free_port, outbound_cli};
use serde_json::json;

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Every table of the database at `url` with a digest of all its rows.
async fn contents(url: &str) -> Vec<(String, String)> {
    let mut c = AsyncPgConnection::establish(url).await.unwrap();
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .load(&mut c)
    .await
    .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let digest: Name = diesel::sql_query(format!(
            "SELECT count(*)::text || ':' || COALESCE(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS name \
             FROM public.{} x",
            t.name
        ))
        .get_result(&mut c)
        .await
        .unwrap();
        out.push((t.name, digest.name));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_row_for_row_and_a_fresh_data_directory_serves_it() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.tenant("车行").await;
    let task = app.task_with_leads(&admin, 30, "s").await;
    app.post(
        Some(&admin),
        "/api/start-call-task",
        json!({"task_id": task}),
    )
    .await
    .expect(200, None);
    let stats = app.wait_completed(&admin, task, 60).await;

    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("outbound.dump");
    let archive_arg = archive.to_str().unwrap();
    let (ok, out, err) = outbound_cli(&app.db.url, &["backup", "--to", archive_arg], None);
    assert!(ok, "{err}");
    assert!(out.starts_with("backup written: "), "{out}");
    assert!(err.contains("backup: "), "a progress line per table: {err}");

    let copy = testkit::TestDb::empty().await.unwrap();
    let (ok, out, err) = outbound_cli(&copy.url, &["restore", "--from", archive_arg], None);
    assert!(ok, "{err}");
    assert!(out.starts_with("restored "), "{out}");
    let original = contents(&app.db.url).await;
    assert!(
        original
            .iter()
            .any(|(t, d)| t == "leads_task_list" && d.starts_with("30:"))
    );
    assert_eq!(
        contents(&copy.url).await,
        original,
        "every table, row for row"
    );

    // a second restore finds tables and refuses, changing nothing
    let (ok, _, err) = outbound_cli(&copy.url, &["restore", "--from", archive_arg], None);
    assert!(!ok && err.contains("--force"), "{err}");
    let missing = dir.path().join("nope.dump");
    let (ok, _, err) = outbound_cli(
        &copy.url,
        &["restore", "--force", "--from", missing.to_str().unwrap()],
        None,
    );
    assert!(!ok && err.contains("is not a file"), "{err}");
    assert_eq!(contents(&copy.url).await, original);
    // forced, it replaces what the archive holds
    let (ok, _, err) = outbound_cli(
        &copy.url,
        &["restore", "--force", "--from", archive_arg],
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(contents(&copy.url).await, original);

    // into a fresh data directory of the embedded default, then the service runs on it: the
    // same task and results, the same users, and new rows get new ids
    let data_dir = tempfile::tempdir().unwrap();
    // the embedded cluster runs as the postgres user when we are root: let it in
    std::fs::set_permissions(
        data_dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let embedded = |args: &[&str]| {
        let mut cmd = Command::new(e2e::outbound_binary());
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATA_DIR", data_dir.path())
            .env(
                "JWT_SECRET",
                String::from_utf8_lossy(JWT_SECRET).to_string(),
            )
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        cmd
    };
    let out = embedded(&["restore", "--from", archive_arg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let child = embedded(&["serve", "--no-demo"])
        .env("BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start outbound");
    let mut child = ChildGuard(child);
    let api = Api::new(format!("http://127.0.0.1:{port}"), Duration::from_secs(10));
    api.wait_healthy().await;
    api.get(None, "/api/health/ready").await.expect(200, None);
    let restored = api
        .get(
            Some(&admin),
            &format!("/api/task-statistics?task_id={task}"),
        )
        .await
        .expect(200, None);
    assert_eq!(restored.data(), &stats);
    api.post(
        Some(&admin),
        "/api/leads/import",
        json!({"leads": [{"customer_name": "新客户", "phone": "13912345678", "level": "H", "source": "懂车帝", "vehicle_model": "凯美瑞"}]}),
    )
    .await
    .expect(200, None);
    e2e::sigterm_and_wait(&mut child.0, 30).await;
}
