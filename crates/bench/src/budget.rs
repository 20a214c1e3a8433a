//! Benchmarks of the platform account's request budget: dispatch beside heavy result reading,
//! the rate found without `PLATFORM_MAX_QPS`, and a slow faulty account with kills.

use std::sync::Arc;
use std::time::{Duration, Instant};

use platform_sim::{FaultUpdate, SimConfig, SimStats};
use serde_json::json;

use crate::Args;
use crate::env::{BenchEnv, Server, sim};
use crate::scenarios::{Report, count, post};

/// `n` leads in `org` with phones of their own (`15` and nine digits from `from`).
async fn seed(env: &BenchEnv, org: i64, n: usize, from: usize) -> anyhow::Result<()> {
    env.sql(&format!(
        "INSERT INTO dcc_leads (org_id, ident, customer_name, phone, level) \
         SELECT {org}, 'p:15' || lpad((g + {from})::text, 9, '0'), '客户' || g, \
           '15' || lpad((g + {from})::text, 9, '0'), 'H' FROM generate_series(1, {n}) g"
    ))
    .await
}

/// A task over every lead of a new organisation `name` with `n` leads; returns (id, token).
async fn task(
    env: &BenchEnv,
    server: &Server,
    name: &str,
    n: usize,
    from: usize,
) -> anyhow::Result<(i64, String)> {
    let org = env.tenant(name).await?;
    seed(env, org, n, from).await?;
    let token = env.token(server, name).await?;
    let t = post(
        server,
        &token,
        "/api/create-autoCall-tasks",
        json!({"task_name": name, "script_id": "s"}),
    )
    .await?;
    anyhow::ensure!(t["leads_count"].as_u64() == Some(n as u64), "task: {t}");
    Ok((t["task_id"].as_i64().unwrap_or(0), token))
}

async fn start(server: &Server, token: &str, task: i64) -> anyhow::Result<()> {
    post(
        server,
        token,
        "/api/start-call-task",
        json!({"task_id": task}),
    )
    .await?;
    Ok(())
}

/// Task leads with a job among `tasks`.
async fn with_job(env: &BenchEnv, tasks: &[i64]) -> anyhow::Result<i64> {
    let ids: Vec<String> = tasks.iter().map(i64::to_string).collect();
    count(
        env,
        &format!(
            "SELECT count(*) AS n FROM leads_task_list WHERE task_id IN ({}) AND job_id IS NOT NULL",
            ids.join(",")
        ),
    )
    .await
}

async fn wait_dispatched(
    env: &BenchEnv,
    tasks: &[i64],
    n: i64,
    limit: Duration,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    while with_job(env, tasks).await? < n {
        anyhow::ensure!(t0.elapsed() < limit, "dispatch did not finish in {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

fn by_action(s: &SimStats, action: &str) -> u64 {
    s.requests_by_action.get(action).copied().unwrap_or(0)
}

/// Tasks of a scenario stay in the database: stop them, so that a later scenario's monitor does
/// not ask its own simulator about groups it never had.
pub async fn retire_tasks(env: &BenchEnv) -> anyhow::Result<()> {
    env.sql("UPDATE call_tasks SET task_type = 5 WHERE task_type IN (2, 4)")
        .await
}

fn mark(ok: bool) -> &'static str {
    if ok { "✅" } else { "❌" }
}

/// Dispatch of a big task at a set rate while five running tasks' results are read over and
/// over.
pub async fn busy(env: &BenchEnv, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let qps = args.throttle_qps;
    let (sim, sim_url) = sim(SimConfig {
        call_ms: 120_000,
        concurrency: 1000,
        ..SimConfig::default()
    })?;
    env.sql("DELETE FROM platform_budget").await?;
    let others = 5;
    let each = args.busy_task_leads;
    println!("budget/busy: {others} running tasks of {each} leads");
    let setup = env
        .server(&sim_url, &[("MONITOR_INTERVAL_SECS", "3600".into())])
        .await?;
    let mut running = Vec::new();
    for i in 0..others {
        let (id, token) = task(env, &setup, &format!("busy{i}"), each, i * each).await?;
        start(&setup, &token, id).await?;
        running.push(id);
    }
    wait_dispatched(
        env,
        &running,
        (others * each) as i64,
        Duration::from_secs(900),
    )
    .await?;
    drop(setup);

    sim.set_faults(FaultUpdate {
        throttle_qps: Some(Some(qps)),
        ..Default::default()
    });
    let server = env
        .server(
            &sim_url,
            &[
                ("PLATFORM_MAX_QPS", qps.to_string()),
                ("MONITOR_INTERVAL_SECS", "1".into()),
            ],
        )
        .await?;
    let n = args.dispatch_leads;
    let (big, token) = task(env, &server, "busy-big", n, others * each).await?;
    // the monitor reads the five tasks' pages first, then the dispatch starts beside it
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = sim.stats();
    let t0 = Instant::now();
    start(&server, &token, big).await?;
    // the simulator's count first (polling the database all along would slow what it measures)
    while sim.stats().jobs_total < before.jobs_total + n as u64 {
        anyhow::ensure!(t0.elapsed() < Duration::from_secs(3600), "dispatch stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    while with_job(env, &[big]).await? < n as i64 {
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(3600),
            "jobs not recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let after = sim.stats();
    let requests = after.requests - before.requests;
    let throttled = after.throttled - before.throttled;
    let reads = by_action(&after, "QueryJobsWithResult") + by_action(&after, "DescribeJobGroup")
        - by_action(&before, "QueryJobsWithResult")
        - by_action(&before, "DescribeJobGroup");
    let rate = n as f64 / secs;
    let limit = f64::from(qps) * 99.0;
    let share = throttled as f64 * 100.0 / requests.max(1) as f64;
    println!(
        "budget/busy: {n} in {secs:.1}s = {rate:.0}/s of {limit:.0}/s, {reads} reads, throttled {throttled}/{requests}"
    );
    report.sections.push(format!(
        "## Dispatch beside busy result reading\n\n{n} leads of one task pushed at an account of {qps} requests/s \
         (`PLATFORM_MAX_QPS={qps}`, the simulator throttling at {qps}) while {others} running tasks of {each} leads each \
         have 1,000 calls in progress (so the monitor, ticking every second, finds their results changed and reads their \
         pages), timed from `POST /api/start-call-task` until every lead of the task has a job id.\n\n\
         | leads | time (s) | jobs/s | limit ({qps} × 99 /s) | of limit | target | result reads meanwhile | throttled | target | duplicate reference ids |\n\
         |---:|---:|---:|---:|---:|---|---:|---:|---|---:|\n\
         | {n} | {secs:.1} | {rate:.0} | {limit:.0} | {:.0}% | ≥ 85% {} | {reads} | {throttled} of {requests} ({share:.2}%) | < 1% {} | {} |\n",
        rate * 100.0 / limit,
        mark(rate >= 0.85 * limit),
        mark(share < 1.0),
        after.duplicate_reference_ids,
    ));
    Ok(())
}

/// The rate the budget finds without `PLATFORM_MAX_QPS`, second by second.
pub async fn discovery(env: &BenchEnv, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let qps = args.throttle_qps;
    let (sim, sim_url) = sim(SimConfig {
        call_ms: 1_000,
        concurrency: 1000,
        throttle_qps: Some(qps),
        ..SimConfig::default()
    })?;
    env.sql("DELETE FROM platform_budget").await?;
    let server = env
        .server(&sim_url, &[("MONITOR_INTERVAL_SECS", "3600".into())])
        .await?;
    let n = args.dispatch_leads;
    println!("budget/discovery: {n} leads at an account of {qps}/s, rate not set");
    let (id, token) = task(env, &server, "discovery", n, 20_000_000).await?;
    let first = sim.stats();
    start(&server, &token, id).await?;
    // accepted requests (not throttled) in each second
    let mut accepted: Vec<u64> = Vec::new();
    let mut throttled_after_30 = 0u64;
    let mut requests_after_30 = 0u64;
    let mut last = sim.stats();
    let t0 = Instant::now();
    while with_job(env, &[id]).await? < n as i64 {
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(3600),
            "dispatch did not finish"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = sim.stats();
        accepted.push((now.requests - now.throttled) - (last.requests - last.throttled));
        if accepted.len() > 30 {
            throttled_after_30 += now.throttled - last.throttled;
            requests_after_30 += now.requests - last.requests;
        }
        last = now;
    }
    let target = 0.8 * f64::from(qps);
    let reached = accepted
        .iter()
        .position(|a| *a as f64 >= target)
        .map(|s| s + 1);
    let steady: Vec<u64> = accepted.iter().skip(30).copied().collect();
    let mean = steady.iter().sum::<u64>() as f64 / steady.len().max(1) as f64;
    let worst5 = steady
        .windows(5)
        .map(|w| w.iter().sum::<u64>() as f64 / 5.0)
        .fold(f64::INFINITY, f64::min);
    let total = last.requests - first.requests;
    let throttled = last.throttled - first.throttled;
    let share = throttled as f64 * 100.0 / total.max(1) as f64;
    let steady_share = throttled_after_30 as f64 * 100.0 / requests_after_30.max(1) as f64;
    let series: Vec<String> = accepted.iter().take(40).map(u64::to_string).collect();
    println!(
        "budget/discovery: 80% after {reached:?} s, mean {mean:.1}/s after 30 s, throttled {throttled}/{total}"
    );
    report.sections.push(format!(
        "## The rate found without `PLATFORM_MAX_QPS`\n\n{n} leads of one task pushed at an account the simulator throttles at \
         {qps} requests/s, the service not told the rate (it starts at 2 a second). Requests the simulator accepted, second by \
         second (the first 40 s): {}.\n\n\
         | reaches 80% of {qps}/s after | target | mean accepted/s after 30 s | of limit | worst 5 s after 30 s | target | throttled (all) | throttled after 30 s | target |\n\
         |---:|---|---:|---:|---:|---|---:|---:|---|\n\
         | {} s | ≤ 30 s {} | {mean:.1} | {:.0}% | {worst5:.1} | ≥ 80% {} | {throttled} of {total} ({share:.2}%) | {throttled_after_30} of {requests_after_30} ({steady_share:.2}%) | < 1% {} |\n",
        series.join(" "),
        reached.map_or("never".to_owned(), |s| s.to_string()),
        mark(reached.is_some_and(|s| s <= 30)),
        mean * 100.0 / f64::from(qps),
        mark(worst5 >= target),
        mark(steady_share < 1.0),
    ));
    Ok(())
}

/// Every 2 s, what the platform has seen: for reading where the time of a slow run went.
async fn print_timeline(sim: Arc<platform_sim::Simulator>, t0: Instant) {
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let s = sim.stats();
        let actions: Vec<String> = s
            .requests_by_action
            .iter()
            .map(|(a, n)| format!("{a}={n}"))
            .collect();
        println!(
            "budget/faulty: {:>4.0} s: {} requests, {} faults, {} jobs, {} succeeded; {}",
            t0.elapsed().as_secs_f64(),
            s.requests,
            s.faults_injected,
            s.jobs_total,
            s.jobs_by_status.get("Succeeded").copied().unwrap_or(0),
            actions.join(" ")
        );
    }
}

/// What one run of the faulty account measured.
struct FaultyRun {
    total: f64,
    after_last: f64,
    stats: SimStats,
}

/// The account of a bad day: 2 requests/s, 15% server errors, 10% timeouts after taking effect,
/// and the service killed four times in the middle of dispatch; once with the rate not set
/// (found by the budget), once with `PLATFORM_MAX_QPS` at the account's limit.
pub async fn faulty(env: &BenchEnv, _args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let n = 2000;
    let found = faulty_run(env, n, None).await?;
    retire_tasks(env).await?;
    let set = faulty_run(env, n, Some(2)).await?;
    // the platform's share of the work: the assignments and one reading of every result page
    let (assignments, pages) = ((n as f64 / 99.0).ceil(), (n as f64 / 100.0).ceil());
    let bound = (assignments + pages) / 2.0;
    let row = |rate: &str, r: &FaultyRun| {
        format!(
            "| {rate} | {:.0} | {:.0} | {bound:.0} | {:.1}x | ≤ 2x {} | {} | {} | {} | {} | {} |\n",
            r.total,
            r.after_last,
            r.total / bound,
            mark(r.total <= 2.0 * bound),
            r.stats.requests,
            r.stats.faults_injected - r.stats.throttled,
            r.stats.throttled,
            r.stats.duplicate_reference_ids,
            r.stats.jobs_total,
        )
    };
    report.sections.push(format!(
        "## A slow, faulty account and four kills\n\n{n} leads at an account of 2 requests/s (the simulator throttles at 2; \
         15% of requests fail with a 500, 10% take effect and then time out), `LEASE_SECS=10`, \
         `MONITOR_INTERVAL_SECS=1`, `PLATFORM_TIMEOUT_MS=800`; the service is killed with SIGKILL when the platform has 300, 700, 1,100 and 1,500 jobs and \
         started again each time under its name (`WORKER_ID`), as a service manager restarts it; once with the rate not set \
         (the budget finds it) and once with `PLATFORM_MAX_QPS=2`. Timed from the start of the task until it is completed (every lead called and its \
         result read). The platform-bound time is the account's time for the work itself: {assignments} assignments of 99 and \
         {pages} result pages of 100 at 2 a second.\n\n\
         | rate | time to completed (s) | after the last restart (s) | platform-bound (s) | time / bound | target | requests | of which failed (500, timeout) | throttled | duplicate reference ids | jobs |\n\
         |---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n\
         {}{}",
        row("found", &found),
        row("`PLATFORM_MAX_QPS=2`", &set),
    ));
    Ok(())
}

async fn faulty_run(env: &BenchEnv, n: usize, qps: Option<u32>) -> anyhow::Result<FaultyRun> {
    let (sim, sim_url) = sim(SimConfig {
        call_ms: 50,
        throttle_qps: Some(2),
        fail_rate: 0.15,
        timeout_rate: 0.10,
        timeout_delay_ms: 2_000,
        ..SimConfig::default()
    })?;
    env.sql("DELETE FROM platform_budget").await?;
    // one instance, restarted under its name after each kill (as a service manager does)
    let mut server_env = vec![
        ("MONITOR_INTERVAL_SECS", "1".to_owned()),
        ("PLATFORM_TIMEOUT_MS", "800".to_owned()),
        ("LEASE_SECS", "10".to_owned()),
        ("WORKER_ID", "faulty-bench".to_owned()),
    ];
    if let Some(q) = qps {
        server_env.push(("PLATFORM_MAX_QPS", q.to_string()));
    }
    let mut server = env.server(&sim_url, &server_env).await?;
    // each run a tenant and leads of its own
    let (name, from) = match qps {
        None => ("faulty".to_owned(), 30_000_000),
        Some(q) => (format!("faulty-qps{q}"), 31_000_000),
    };
    let (id, token) = task(env, &server, &name, n, from).await?;
    println!(
        "budget/faulty: {n} leads at 2 requests/s with faults and four kills, PLATFORM_MAX_QPS {qps:?}"
    );
    let t0 = Instant::now();
    let timeline = tokio::spawn(print_timeline(sim.clone(), t0));
    // the start may meet a fault: tried until it answers
    while start(&server, &token, id).await.is_err() {
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(120),
            "the task did not start"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for at_jobs in [300u64, 700, 1100, 1500] {
        while sim.stats().jobs_total < at_jobs {
            anyhow::ensure!(t0.elapsed() < Duration::from_secs(1800), "dispatch stalled");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let killed = t0.elapsed().as_secs_f64();
        server.kill9();
        server = env.server(&sim_url, &server_env).await?;
        println!(
            "budget/faulty: killed at {killed:.2} s ({at_jobs} jobs), serving again at {:.2} s",
            t0.elapsed().as_secs_f64()
        );
    }
    let restarted = Instant::now();
    loop {
        let done = count(
            env,
            &format!("SELECT count(*) AS n FROM call_tasks WHERE id = {id} AND task_type = 3"),
        )
        .await?;
        if done == 1 {
            break;
        }
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(1800),
            "the task did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let total = t0.elapsed().as_secs_f64();
    let after_last = restarted.elapsed().as_secs_f64();
    timeline.abort();
    let stats = sim.stats();
    println!(
        "budget/faulty: finished in {total:.0} s ({after_last:.0} s after the last restart), {} requests",
        stats.requests
    );
    Ok(FaultyRun {
        total,
        after_last,
        stats,
    })
}
