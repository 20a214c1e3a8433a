//! Production: what the audit trail and the fleet's login throttle cost, measured against the
//! build before them (`--baseline-bin`), and a rolling restart of three instances behind
//! haproxy under `wrk -c32`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use adapters::security::Argon2Hasher;
use serde_json::{Value, json};

use testkit::balancer::{haproxy_config, is_up};

use crate::Args;
use crate::env::{BenchEnv, Load, Server, free_port, parse_wrk, sim};
use crate::scenarios::{Report, median};

/// Repetitions of each timed action.
const REPS: usize = 30;
/// Leads per timed import.
const IMPORT_ROWS: usize = 500;
/// Leads of each timed task.
const TASK_LEADS: usize = 100;

/// One build's figures.
struct Costs {
    import_ms: f64,
    start_ms: f64,
    stop_ms: f64,
    logins: Load,
    /// Logins of users whose hashes have the product's cost.
    real_logins: Load,
}

/// The production benchmarks.
pub async fn production(env: &BenchEnv, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let baseline = args.baseline_bin.as_deref().ok_or_else(|| {
        anyhow::anyhow!(
            "--baseline-bin: the release binary of the build before the audit trail and the \
             shared throttle (docs/benchmarks.md says which commit)"
        )
    })?;
    let (_sim, sim_url) = sim(platform_sim::SimConfig::default())?;
    // alternating, twice each, so that a drift of the machine touches both alike
    let mut now = Vec::new();
    let mut before = Vec::new();
    for _ in 0..2 {
        now.push(costs(env, &env.bin, &sim_url, args).await?);
        before.push(costs(env, Path::new(baseline), &sim_url, args).await?);
    }
    let pick = |v: &[Costs], f: fn(&Costs) -> f64| median(v.iter().map(f).collect());
    let row = |name: &str, f: fn(&Costs) -> f64| {
        let (a, b) = (pick(&now, f), pick(&before, f));
        let ratio = a / b;
        format!(
            "| {name} | {a:.1} | {b:.1} | {ratio:.3} | < 1.05 {} |\n",
            if ratio < 1.05 { "✅" } else { "❌" }
        )
    };
    let mut table = String::from(
        "| median of 30, ms | with the trail | before it | ratio | target |\n|---|---:|---:|---:|---|\n",
    );
    table.push_str(&row("import of 500 leads", |c| c.import_ms));
    table.push_str(&row("task start (a 100-lead task)", |c| c.start_ms));
    table.push_str(&row("task stop", |c| c.stop_ms));
    let rps = |v: &[Costs]| median(v.iter().map(|c| c.logins.rps).collect());
    let p99 = |v: &[Costs]| median(v.iter().map(|c| c.logins.p99_ms).collect());
    let real = |v: &[Costs]| median(v.iter().map(|c| c.real_logins.rps).collect());
    let errors: u64 = now
        .iter()
        .chain(&before)
        .map(|c| c.logins.errors + c.real_logins.errors)
        .sum();
    report.sections.push(format!(
        "## The audit trail's cost, and logins with the fleet's throttle\n\n\
         The release binary of this build against the release binary of the build before the audit trail and the \
         shared login throttle (`--baseline-bin`), each on a fresh database of its own and the same simulator, \
         measured alternately twice; medians. Each import, start and stop is one request after the other (no \
         concurrency), timed by the client. Logins: `wrk -c32` for {secs} s of correct logins of 32 users, with \
         password hashes of low cost (argon2 m=1024, t=1), so that what is around the hash shows, then of 32 users \
         whose hashes have the product's cost (argon2id m=19 MiB, t=2).\n\n{table}\n\
         | logins, wrk -c32 | with the trail and the shared throttle | before (in-memory throttle) | ratio |\n|---|---:|---:|---:|\n\
         | requests/s | {:.0} | {:.0} | {:.3} |\n| p99, ms | {:.1} | {:.1} | {:.3} |\n\
         | requests/s, the product's hash cost | {:.0} | {:.0} | {:.3} |\n\nNon-2xx answers in all login runs: {errors}.\n",
        rps(&now),
        rps(&before),
        rps(&now) / rps(&before),
        p99(&now),
        p99(&before),
        p99(&now) / p99(&before),
        real(&now),
        real(&before),
        real(&now) / real(&before),
        secs = args.wrk_secs,
    ));
    rolling_restart(env, &sim_url, args, report).await
}

/// The figures of binary `bin` on a fresh database.
async fn costs(env: &BenchEnv, bin: &Path, sim_url: &str, args: &Args) -> anyhow::Result<Costs> {
    let db = testkit::TestDb::empty().await?;
    let server = env
        .server_of(bin, &db.url, free_port()?, sim_url, &quiet())
        .await?;
    let token = seed(env, &db.url, &server).await?;
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{}{path}", server.base))
            .header("access-token", &token)
            .json(&body)
            .send()
    };
    let mut import = Vec::new();
    for rep in 0..REPS {
        let rows = leads(rep * IMPORT_ROWS, IMPORT_ROWS, "凯美瑞");
        let t = Instant::now();
        ok(post("/api/leads/import", json!({ "leads": rows })).await?).await?;
        import.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ok(post(
        "/api/leads/import",
        json!({ "leads": leads(1_000_000, TASK_LEADS, "基准车型") }),
    )
    .await?)
    .await?;
    let (mut start, mut stop) = (Vec::new(), Vec::new());
    for rep in 0..REPS {
        let created = ok(post(
            "/api/create-autoCall-tasks",
            json!({"task_name": format!("基准{rep}"), "script_id": "s",
                   "filters": {"vehicle_models": ["基准车型"]}}),
        )
        .await?)
        .await?;
        let task = created["data"]["task_id"].clone();
        let t = Instant::now();
        ok(post("/api/start-call-task", json!({ "task_id": task })).await?).await?;
        start.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        ok(post("/api/stop-call-task", json!({ "task_id": task })).await?).await?;
        stop.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let logins = login_load(&server, "op", args.wrk_secs)?;
    let real_logins = login_load(&server, "user", args.wrk_secs)?;
    drop(server);
    Ok(Costs {
        import_ms: median(import),
        start_ms: median(start),
        stop_ms: median(stop),
        logins,
        real_logins,
    })
}

fn quiet() -> Vec<(&'static str, String)> {
    vec![("MONITOR_INTERVAL_SECS", "3600".into())]
}

/// An organisation, its admin and 32 operators (password `bench-password`, cheap hashes); the
/// admin's token.
async fn seed(env: &BenchEnv, db_url: &str, server: &Server) -> anyhow::Result<String> {
    let hash = Argon2Hasher::with_params(1024, 1, 1)?.hash_blocking("bench-password")?;
    let users: String = (0..32)
        .map(|i| format!(", ('op{i}', '{hash}', 'op{i}', 'operator', (SELECT id FROM o))"))
        .collect();
    let real = Argon2Hasher::new()?.hash_blocking("bench-password")?;
    let users: String = users
        + &(0..32)
            .map(|i| format!(", ('user{i}', '{real}', 'user{i}', 'operator', (SELECT id FROM o))"))
            .collect::<String>();
    psql(
        db_url,
        &format!(
            "WITH o AS (INSERT INTO organizations (name) VALUES ('bench') RETURNING id) \
             INSERT INTO users (username, password_hash, display_name, role, org_id) VALUES \
             ('admin', '{hash}', 'admin', 'admin', (SELECT id FROM o)){users}"
        ),
    )?;
    env.token(server, "admin").await
}

fn psql(url: &str, statement: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .arg(url)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", statement])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

async fn ok(r: reqwest::Response) -> anyhow::Result<Value> {
    let status = r.status();
    let v: Value = r.json().await?;
    anyhow::ensure!(status.is_success(), "{status}: {v}");
    Ok(v)
}

fn leads(start: usize, n: usize, model: &str) -> Value {
    Value::Array(
        (start..start + n)
            .map(|i| {
                json!({"customer_name": format!("客户{i}"), "phone": format!("139{:08}", i),
                       "level": "A", "source": "汽车之家", "vehicle_model": model})
            })
            .collect(),
    )
}

/// `wrk -t2 -c32` on correct logins of the 32 operators named `{prefix}0`…, round robin.
fn login_load(server: &Server, prefix: &str, secs: u32) -> anyhow::Result<Load> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("login.lua");
    std::fs::write(
        &script,
        format!(
            "counter = 0\n\
             request = function()\n  counter = counter + 1\n  \
             local body = string.format('{{\"username\":\"{prefix}%d\",\"password\":\"bench-password\"}}', counter % 32)\n  \
             return wrk.format('POST', '/api/login', {{['Content-Type'] = 'application/json'}}, body)\nend\n"
        ),
    )?;
    let out = Command::new("wrk")
        .args(["-t2", "-c32", &format!("-d{secs}s"), "--latency", "-s"])
        .arg(&script)
        .arg(format!("{}/api/login", server.base))
        .output()?;
    anyhow::ensure!(out.status.success(), "wrk failed");
    Ok(parse_wrk(&String::from_utf8_lossy(&out.stdout)))
}

/// Three instances behind haproxy; wrk on the task list through it, steady, then while each
/// instance in turn is stopped (SIGTERM) and started again.
async fn rolling_restart(
    env: &BenchEnv,
    sim_url: &str,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    let db = testkit::TestDb::empty().await?;
    let settings = |name: &str| {
        vec![
            ("WORKER_ID", name.to_owned()),
            ("TRUSTED_PROXIES", "127.0.0.1".to_owned()),
            ("DRAIN_SECS", "3".to_owned()),
            ("HTTP_WORKERS", "1".to_owned()),
        ]
    };
    let names = ["a", "b", "c"];
    let ports = [free_port()?, free_port()?, free_port()?];
    let mut servers = Vec::new();
    for (name, port) in names.iter().zip(ports) {
        servers.push(Some(
            env.server_of(&env.bin, &db.url, port, sim_url, &settings(name))
                .await?,
        ));
    }
    let first = servers[0]
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no server"))?;
    let token = seed(env, &db.url, first).await?;
    let (front, stats) = (free_port()?, free_port()?);
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_config(front, stats, &ports))?;
    let mut haproxy = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let result = async {
        for i in 0..3 {
            wait_for(|| is_up(stats, i), true).await?;
        }
        let url = format!("http://127.0.0.1:{front}/api/task_list");
        let steady = run_wrk(&url, &token, Some(args.wrk_secs))?;
        let steady = wait_wrk(steady)?;
        let during = run_wrk(&url, &token, None)?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let t0 = Instant::now();
        for (i, name) in names.iter().enumerate() {
            drop(servers[i].take()); // SIGTERM, waits for the exit
            wait_for(|| is_up(stats, i), false).await?;
            servers[i] = Some(
                env.server_of(&env.bin, &db.url, ports[i], sim_url, &settings(name))
                    .await?,
            );
            wait_for(|| is_up(stats, i), true).await?;
        }
        let took = t0.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(2)).await;
        Command::new("kill")
            .args(["-INT", &during.id().to_string()])
            .status()?;
        let during = wait_wrk(during)?;
        anyhow::Ok((steady, during, took))
    }
    .await;
    let _ = haproxy.kill();
    let _ = haproxy.wait();
    let (steady, during, took) = result?;
    println!("rolling restart: steady {steady:?}, during {during:?}, {took:.1} s");
    let verdict = if during.errors == 0 && during.socket_errors == 0 {
        "✅"
    } else {
        "❌"
    };
    report.sections.push(format!(
        "## A rolling restart behind haproxy\n\n\
         Three release instances (`HTTP_WORKERS=1` each, `DRAIN_SECS=3`) on one database behind Debian's haproxy \
         (`option httpchk GET /api/health/ready`, `inter 500ms fall 2 rise 2`, no retries of answered requests), \
         `wrk -t2 -c32` on `GET /api/task_list` through haproxy: first {secs} s steady, then for the whole rolling \
         restart (each instance in turn: SIGTERM, its exit, started again, back in rotation; {took:.1} s for the \
         three) plus 2 s either side. Target: 0 non-2xx.\n\n\
         | load | requests | requests/s | p99 (ms) | worst (ms) | non-2xx | socket errors |\n|---|---:|---:|---:|---:|---:|---:|\n\
         | steady (anchor) | {} | {:.0} | {:.1} | {:.1} | {} | {} |\n\
         | during the rolling restart | {} | {:.0} | {:.1} | {:.1} | {} {verdict} | {} |\n",
        steady.requests,
        steady.rps,
        steady.p99_ms,
        steady.max_ms,
        steady.errors,
        steady.socket_errors,
        during.requests,
        during.rps,
        during.p99_ms,
        during.max_ms,
        during.errors,
        during.socket_errors,
        secs = args.wrk_secs,
    ));
    Ok(())
}

async fn wait_for<F, Fut>(check: F, want: bool) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while check().await != want {
        anyhow::ensure!(Instant::now() < deadline, "haproxy did not see the change");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn run_wrk(url: &str, token: &str, secs: Option<u32>) -> anyhow::Result<Child> {
    Ok(Command::new("wrk")
        .args([
            "-t2",
            "-c32",
            &format!("-d{}s", secs.unwrap_or(600)),
            "--latency",
            "-H",
        ])
        .arg(format!("access-token: {token}"))
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?)
}

fn wait_wrk(child: Child) -> anyhow::Result<Load> {
    let out = child.wait_with_output()?;
    Ok(parse_wrk(&String::from_utf8_lossy(&out.stdout)))
}
