//! The administrative commands of the real binary: org create, user create --password-stdin,
//! leads import FILE.csv (bad rows reported with their line numbers, good rows kept).
use std::process::Command;

use e2e::{JWT_SECRET, TestApp, TestOptions, outbound_binary, outbound_cli as outbound};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_user_and_csv_import_commands_work_and_report_bad_lines() {
    let app = TestApp::spawn_with(TestOptions {
        workers: false,
        ..TestOptions::default()
    })
    .await;
    let url = app.db.url.clone();

    let (ok, out, err) = outbound(&url, &["org", "create", "--name", "华东大区"], None);
    assert!(ok, "{err}");
    let org: i64 = out.trim().parse().expect("org id printed");
    let (ok, out, err) = outbound(
        &url,
        &[
            "org",
            "create",
            "--name",
            "上海店",
            "--parent",
            &org.to_string(),
        ],
        None,
    );
    assert!(ok, "{err}");
    let child: i64 = out.trim().parse().unwrap();
    let (ok, _, err) = outbound(
        &url,
        &["org", "create", "--name", "x", "--parent", "999999"],
        None,
    );
    assert!(
        !ok && err.contains("parent"),
        "unknown parent refused: {err}"
    );

    let (ok, _, err) = outbound(
        &url,
        &[
            "user",
            "create",
            "--org",
            &org.to_string(),
            "--username",
            "cli-admin",
            "--password-stdin",
            "--role",
            "admin",
        ],
        Some("s3cret-pass-word\n"),
    );
    assert!(ok, "{err}");
    let (ok, _, _) = outbound(
        &url,
        &[
            "user",
            "create",
            "--org",
            &org.to_string(),
            "--username",
            "short",
            "--password-stdin",
        ],
        Some("abc\n"),
    );
    assert!(!ok, "a too short password is refused");
    let login = app
        .post(
            None,
            "/api/login",
            json!({"username": "cli-admin", "password": "s3cret-pass-word"}),
        )
        .await
        .expect(200, None);
    let token = login.data()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(login.data()["user"]["role"], "admin");

    let dir = std::env::temp_dir().join(format!("outbound-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("leads.csv");
    std::fs::write(
        &csv,
        "customer_name,phone,level,source,do_not_call\n\
         张三,13800001111,H,汽车之家,false\n\
         李四,12345,A,懂车帝,\n\
         王五,13800002222,Q,官网,\n\
         赵六,13800003333,B,抖音,是\n",
    )
    .unwrap();
    let (ok, out, err) = outbound(
        &url,
        &[
            "leads",
            "import",
            "--org",
            &child.to_string(),
            csv.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(out.contains("inserted 2"), "{out}");
    assert!(
        err.contains("line 3") && err.contains("line 4"),
        "bad rows reported by line: {err}"
    );
    let (ok, out, _) = outbound(
        &url,
        &[
            "leads",
            "import",
            "--org",
            &child.to_string(),
            csv.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        ok && out.contains("inserted 0") && out.contains("unchanged 2"),
        "re-import changes nothing: {out}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // the parent sees the child's leads
    let leads = app.get(Some(&token), "/api/leads").await.expect(200, None);
    assert_eq!(leads.data()["pagination"]["total"], 2);
    let help = Command::new(outbound_binary())
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for cmd in ["serve", "migrate", "org", "user", "leads", "platform-sim"] {
        assert!(help.contains(cmd), "--help explains {cmd}");
    }
}

/// Settings out of range stop the binary before it does anything, naming the variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_settings_are_refused_by_name() {
    let app = TestApp::spawn_with(TestOptions {
        workers: false,
        ..Default::default()
    })
    .await;
    for (var, value) in [
        ("DB_POOL_SIZE", "0"),
        ("DB_WORKER_POOL_SIZE", "x"),
        ("HTTP_WORKERS", "0"),
        ("AUTH_CACHE_MS", "60001"),
        ("AUTH_CACHE_MS", "-1"),
        ("DRAIN_SECS", "301"),
        ("AUDIT_RETENTION_DAYS", "0"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, proxy.local"),
    ] {
        let out = Command::new(outbound_binary())
            .args(["migrate"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &app.db.url)
            .env(
                "JWT_SECRET",
                String::from_utf8_lossy(JWT_SECRET).to_string(),
            )
            .env(var, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{var}={value} was accepted");
        assert!(stderr.contains(var), "{var}={value}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_list_disable_enable_reset_password_and_org_list_commands() {
    let app = TestApp::spawn_with(TestOptions {
        workers: false,
        ..TestOptions::default()
    })
    .await;
    let url = app.db.url.clone();
    let parent = app.org("集团", None).await;
    let child = app.org("门店", Some(parent)).await;
    app.org("另一集团", None).await;
    app.user(parent, "boss", kernel::Role::Admin).await;
    app.user(child, "clerk", kernel::Role::Operator).await;

    let (ok, out, err) = outbound(&url, &["org", "list"], None);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        format!(
            "集团 ({parent})\n└── 门店 ({child})\n另一集团 ({})\n",
            child + 1
        )
    );
    let (ok, _, err) = outbound(
        &url,
        &[
            "org",
            "create",
            "--name",
            "门店",
            "--parent",
            &parent.to_string(),
        ],
        None,
    );
    assert!(
        !ok && err.contains("sibling"),
        "a sibling's name is refused: {err}"
    );

    let (ok, out, err) = outbound(&url, &["user", "list"], None);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].contains("boss") && lines[1].contains("admin") && lines[1].ends_with("enabled")
    );
    assert!(lines[2].contains("clerk") && lines[2].contains(&format!("门店 ({child})")));
    let (ok, out, _) = outbound(&url, &["user", "list", "--org", &child.to_string()], None);
    assert!(
        ok && out.lines().count() == 2 && out.contains("clerk"),
        "{out}"
    );

    let token = app.login("clerk").await;
    let (ok, out, err) = outbound(&url, &["user", "disable", "clerk"], None);
    assert!(ok && out.contains("disabled clerk"), "{err}");
    app.post(
        None,
        "/api/login",
        json!({"username": "clerk", "password": "password123"}),
    )
    .await
    .expect(403, Some("account_disabled"));
    let (_, out, _) = outbound(&url, &["user", "list"], None);
    assert!(
        out.lines()
            .any(|l| l.contains("clerk") && l.ends_with("disabled")),
        "{out}"
    );
    // the last enabled admin of an organisation stays, on the command line too
    let (ok, _, err) = outbound(&url, &["user", "disable", "boss"], None);
    assert!(!ok && err.contains("last enabled admin"), "{err}");
    let (ok, _, err) = outbound(&url, &["user", "enable", "clerk"], None);
    assert!(ok, "{err}");

    let (ok, out, err) = outbound(&url, &["user", "reset-password", "clerk"], None);
    assert!(ok, "{err}");
    let temporary = out
        .lines()
        .find_map(|l| l.strip_prefix("temporary password for clerk: "))
        .expect("the temporary password is printed")
        .to_owned();
    // the token from before the reset is refused once the user cache's second has passed
    e2e::eventually(5, "the old token is refused", || async {
        (app.get(Some(&token), "/api/task_list")
            .await
            .status
            .as_u16()
            == 401)
            .then_some(())
    })
    .await;
    let login = app
        .post(
            None,
            "/api/login",
            json!({"username": "clerk", "password": temporary}),
        )
        .await
        .expect(200, None);
    assert_eq!(login.data()["password_change_required"], true);
    let (ok, _, err) = outbound(&url, &["user", "disable", "nobody"], None);
    assert!(!ok && err.contains("no user named `nobody`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_too_short_for_the_platform_timeout_is_refused_at_start() {
    let db = testkit::TestDb::new().await.unwrap();
    let out = e2e::serve_command(&db.url, e2e::free_port())
        .env("LEASE_SECS", "10")
        .env("PLATFORM_TIMEOUT_MS", "5000")
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("LEASE_SECS: must be more than twice PLATFORM_TIMEOUT_MS (5000 ms)"),
        "{stderr}"
    );
}
