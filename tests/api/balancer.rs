//! Three instances of the real binary on one database behind a real load balancer (Debian's
//! haproxy, health-checking `/api/health/ready`): a rolling restart of all three under `wrk -c32`
//! answers every request with a 2xx; a task started before the restart is dispatched exactly
//! once across them; five wrong passwords spread over the instances block the username on all.
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::{
    Api, ChildGuard, SimConfig, eventually, free_port, serve_command, sigterm_and_wait, sim_stats,
    spawn_sim,
};
use serde_json::json;

use testkit::balancer::{haproxy_config, is_up};

use crate::restart::setup_on;

/// An instance of the binary as one would run it behind the balancer.
fn instance(db_url: &str, sim_url: &str, name: &str, port: u16) -> Child {
    let mut cmd = serve_command(db_url, port);
    cmd.env("PLATFORM_URL", sim_url)
        .env("PLATFORM_TIMEOUT_MS", "800")
        .env("PLATFORM_MAX_QPS", "4")
        .env("CALL_WINDOWS", "00:00-24:00")
        .env("MONITOR_INTERVAL_SECS", "1")
        .env("LEASE_SECS", "3")
        .env("WORKER_ID", name)
        .env("TRUSTED_PROXIES", "127.0.0.1")
        // above haproxy's `inter 500ms fall 2`: out of rotation before it stops taking requests
        .env("DRAIN_SECS", "3");
    cmd.spawn().expect("start outbound")
}

/// `wrk -t2 -c32` for `secs` against `url`: its whole report.
fn start_wrk(url: &str, token: &str, secs: u32) -> Child {
    Command::new("wrk")
        .args(["-t2", "-c32", &format!("-d{secs}s"), "--latency", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wrk (apt-get install wrk; .ci/run installs it)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_haproxy_answers_every_request_and_dispatches_once() {
    let (_sim, sim_url) = spawn_sim(SimConfig {
        call_ms: 50,
        ..SimConfig::default()
    });
    let setup = setup_on(&sim_url).await;
    let (org, token) = setup.tenant("dealer").await;
    let n = 3000;
    let task = setup.task_with_leads(&token, n, "script-1").await;
    setup.user(org, "operator-7", kernel::Role::Operator).await;

    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let names = ["lb-a", "lb-b", "lb-c"];
    let mut instances: Vec<ChildGuard> = ports
        .iter()
        .zip(names)
        .map(|(p, name)| ChildGuard(instance(&setup.db.url, &sim_url, name, *p)))
        .collect();
    for p in &ports {
        Api::new(format!("http://127.0.0.1:{p}"), Duration::from_secs(10))
            .wait_healthy()
            .await;
    }

    let (front, stats) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_config(front, stats, &ports)).unwrap();
    let _haproxy = ChildGuard(spawn_haproxy(&cfg));
    for i in 0..3 {
        eventually(30, "haproxy sees every instance up", || async {
            is_up(stats, i).await.then_some(())
        })
        .await;
    }
    let lb = Api::new(format!("http://127.0.0.1:{front}"), Duration::from_secs(10));
    lb.post(
        Some(&token),
        "/api/start-call-task",
        json!({"task_id": task}),
    )
    .await
    .expect(200, None);

    // load through the balancer while each instance in turn is stopped and started again; wrk
    // runs until it is told to stop (SIGINT), then reports
    let mut wrk = start_wrk(
        &format!("http://127.0.0.1:{front}/api/task_list"),
        &token,
        600,
    );
    tokio::time::sleep(Duration::from_secs(2)).await; // load before the first stop
    let before = sim_stats(&sim_url).await["jobs_total"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        before < n as u64,
        "dispatch was over before the restarts began"
    );
    for (i, port) in ports.iter().enumerate() {
        let status = sigterm_and_wait(&mut instances[i].0, 30).await;
        assert!(status.success(), "instance {i} exit status {status:?}");
        eventually(30, "haproxy takes the stopped instance out", || async {
            (!is_up(stats, i).await).then_some(())
        })
        .await;
        instances[i] = ChildGuard(instance(&setup.db.url, &sim_url, names[i], *port));
        eventually(30, "haproxy puts the new instance back", || async {
            is_up(stats, i).await.then_some(())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // and after the last start
    let out = tokio::task::spawn_blocking(move || {
        let ok = Command::new("kill")
            .args(["-INT", &wrk.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        wait_output(&mut wrk)
    })
    .await
    .unwrap();
    eprintln!("{out}");
    let requests = wrk_requests(&out);
    assert!(requests > 1000, "wrk made {requests} requests:\n{out}");
    assert!(
        !out.contains("Non-2xx"),
        "non-2xx answers during the restart:\n{out}"
    );
    assert!(!out.contains("Socket errors"), "failed connections:\n{out}");

    // the task went on through the restarts, each lead sent once
    let s = setup.wait_completed(&token, task, 240).await;
    assert_eq!(s["dispatched"], n);
    let sim = sim_stats(&sim_url).await;
    assert_eq!(sim["duplicate_reference_ids"], 0, "{sim}");
    assert_eq!(sim["jobs_total"], n, "{sim}");

    // the login throttle is the fleet's: five failures, spread by round robin, block everywhere
    let wrong = json!({"username": "operator-7", "password": "not-the-password"});
    for _ in 0..5 {
        lb.post(None, "/api/login", wrong.clone())
            .await
            .expect(401, Some("invalid_credentials"));
    }
    for _ in 0..3 {
        lb.post(
            None,
            "/api/login",
            json!({"username": "operator-7", "password": "password123"}),
        )
        .await
        .expect(429, Some("too_many_attempts"));
    }
}

fn spawn_haproxy(cfg: &Path) -> Child {
    Command::new("haproxy")
        .arg("-db") // foreground, no daemon
        .arg("-f")
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy (apt-get install haproxy; .ci/run installs it)")
}

fn wait_output(child: &mut Child) -> String {
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        std::io::Read::read_to_string(&mut s, &mut out).unwrap();
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "wrk failed: {out}");
    out
}

/// "N requests in Xs" from wrk's report.
fn wrk_requests(out: &str) -> u64 {
    out.lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
