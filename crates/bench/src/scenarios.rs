//! The benchmark scenarios and the report they fill.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use adapters::platform::{HttpPlatform, PlatformSettings};
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use serde_json::json;
use tasks::platform::{Contact, OutboundPlatform, Strategy};

use crate::Args;
use crate::env::{BenchEnv, Server, rss_kib, sim, wrk};

/// In docs/benchmarks.md, everything from this line on is written by people and kept as is.
pub const NOTES_MARKER: &str = "<!-- notes: written by hand, kept by outbound-bench -->";

/// Sections of docs/benchmarks.md.
pub struct Report {
    pub(crate) sections: Vec<String>,
    /// The `--server-env` settings, as written in the report.
    settings: String,
}

/// A send-by moment the bench never reaches (it holds no lease).
fn far_off() -> std::sync::Arc<tasks::platform::SendBy> {
    std::sync::Arc::new(tasks::platform::SendBy(
        tokio::time::Instant::now() + Duration::from_secs(3600),
    ))
}

fn sh(cmd: &str) -> String {
    std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Report {
    /// An empty report.
    pub fn new(server_env: &[(String, String)]) -> Self {
        Self {
            sections: Vec::new(),
            settings: server_env
                .iter()
                .map(|(k, v)| format!("`{k}={v}`"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Write the markdown file.
    pub fn write(&self, path: &str) -> anyhow::Result<()> {
        let cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2");
        let cores = sh("nproc");
        let mem = sh("awk '/MemTotal/ {printf \"%.0f\", $2/1048576}' /proc/meminfo");
        let pg = sh("psql --version");
        let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
        let mut out = format!(
            "# Benchmarks\n\nMeasured {date} by `just bench` (`outbound-bench`, release build) on {cores} cores of \
             {cpu}, {mem} GiB RAM; {pg} (the tests' private cluster, default settings). Every figure stands next \
             to its anchor measured in the same run. Numbers move with the machine: compare ratios, not absolutes.\n"
        );
        if !self.settings.is_empty() {
            out.push_str(&format!(
                "\nServer settings other than the defaults: {}.\n",
                self.settings
            ));
        }
        for s in &self.sections {
            out.push('\n');
            out.push_str(s);
        }
        // the hand-written analysis below the marker survives a new run
        if let Ok(old) = std::fs::read_to_string(path)
            && let Some(at) = old.find(NOTES_MARKER)
        {
            out.push('\n');
            out.push_str(&old[at..]);
        }
        std::fs::write(path, out)?;
        Ok(())
    }
}

/// Vacuum and analyze every table and write a checkpoint, so that the maintenance a bulk seeding
/// triggers does not run during the measurements that follow it.
pub(crate) async fn settle(env: &BenchEnv) -> anyhow::Result<()> {
    env.sql("VACUUM ANALYZE").await?;
    env.sql("CHECKPOINT").await
}

/// Seed `n` leads in `org`: 30% of them level H or A, and among those 4 in 30 share their phone
/// with the lead before them, so 1,000,000 leads give ~300,000 matches and ~260,000 phones.
pub(crate) async fn seed_leads(env: &BenchEnv, org: i64, n: usize) -> anyhow::Result<()> {
    env.sql(&format!(
        "INSERT INTO dcc_leads (org_id, ident, external_id, customer_name, phone, level, source, vehicle_model, status, owner_name, create_time) \
         SELECT {org}, 'e:' || g, g::text, '客户' || g, \
           '13' || lpad((CASE WHEN g % 100 IN (1, 3, 5, 7) THEN g - 1 ELSE g END)::text, 9, '0'), \
           CASE WHEN g % 100 < 15 THEN 'H' WHEN g % 100 < 30 THEN 'A' WHEN g % 100 < 60 THEN 'B' WHEN g % 100 < 85 THEN 'C' ELSE 'N' END, \
           (ARRAY['汽车之家','懂车帝','易车','官网'])[1 + g % 4], '凯美瑞', '未跟进', '李顾问', now() - (g % 100000) * interval '1 minute' \
         FROM generate_series(1, {n}) AS g"
    ))
    .await?;
    env.sql("ANALYZE dcc_leads").await
}

/// `n` tasks of the organisation in every state, with counters, a minute apart.
pub(crate) async fn seed_tasks(env: &BenchEnv, org: i64, n: usize) -> anyhow::Result<()> {
    env.sql(&format!(
        "INSERT INTO call_tasks (org_id, task_name, task_type, script_id, size_desc, leads_count, called_count, connected_count, create_time) \
         SELECT {org}, '任务' || g, 1 + g % 5, 's', '意向级别: H/A', g % 500, g % 300, g % 100, now() - g * interval '1 minute' \
         FROM generate_series(1, {n}) AS g"
    ))
    .await
}

/// The organisation's leads (one a phone) as task `task`'s, with results of every call status.
pub(crate) async fn seed_task_leads(env: &BenchEnv, org: i64, task: i64) -> anyhow::Result<()> {
    env.sql(&format!(
        "INSERT INTO leads_task_list (task_id, org_id, lead_id, phone, customer_name, call_status, job_id, duration_seconds, intent_level) \
         SELECT DISTINCT ON (l.phone) {task}, l.org_id, l.id, l.phone, l.customer_name, \
           (ARRAY['connected','no_answer','busy','unreachable','failed'])[1 + l.id % 5], 'job-' || l.id, \
           CASE WHEN l.id % 5 = 0 THEN 30 + l.id % 120 END, CASE WHEN l.id % 5 = 0 THEN (ARRAY['A','B','C','D'])[1 + l.id % 4] END \
         FROM dcc_leads l WHERE l.org_id = {org} ORDER BY l.phone, l.id"
    ))
    .await
}

#[derive(diesel::QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

pub(crate) async fn count(env: &BenchEnv, q: &str) -> anyhow::Result<i64> {
    let mut c = adapters::db::conn(&env.pool).await?;
    Ok(diesel::sql_query(q).get_result::<N>(&mut c).await?.n)
}

/// Sample a process's RSS while `f` runs; returns (result, peak KiB).
pub(crate) async fn sampling_rss<T>(pid: u32, f: impl std::future::Future<Output = T>) -> (T, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let (s2, p2) = (stop.clone(), peak.clone());
    let sampler = std::thread::spawn(move || {
        while !AtomicBool::load(&s2, Ordering::Relaxed) {
            p2.fetch_max(rss_kib(pid).0, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let r = f.await;
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    (r, AtomicU64::load(&peak, Ordering::Relaxed))
}

pub(crate) async fn post(
    server: &Server,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .header("access-token", token)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(r["status"] == "success", "{path} failed: {r}");
    Ok(r["data"].clone())
}

/// Task creation at each size: the endpoint against the bare statement in psql.
pub async fn create(env: &BenchEnv, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let (_sim, sim_url) = sim(platform_sim::SimConfig::default())?;
    let server = env.server(&sim_url, &[]).await?;
    let mut rows = String::from(
        "## Task creation from a filter\n\n`POST /api/create-autoCall-tasks` with `{\"levels\":[\"H\",\"A\"]}` (30% of the leads \
         match; 4 in 30 matches repeat a phone) against the same `INSERT … SELECT DISTINCT ON (phone)` typed into psql \
         (`\\timing`, committed, then deleted), alternating, median of the repetitions (5, or 15 up to 10k leads). The endpoint's statement also counts the \
         candidates (a window count over the same rows); the endpoint writes the task row and answers over HTTP. Memory is the server's resident set, sampled every 10 ms.\n\n\
         | leads | task leads | bare SQL (ms) | endpoint (ms) | endpoint / bare | target | server RSS idle → peak (MiB) |\n\
         |---:|---:|---:|---:|---:|---|---:|\n",
    );
    for &n in &args.create_sizes {
        let name = format!("create-{n}");
        let org = env.tenant(&name).await?;
        println!("create: seeding {n} leads");
        seed_leads(env, org, n).await?;
        settle(env).await?;
        let token = env.token(&server, &name).await?;
        let dummy = count(env, &format!("INSERT INTO call_tasks (org_id, task_name, task_type) VALUES ({org}, 'bare', 5) RETURNING id AS n")).await?;
        let bare_sql = format!(
            "INSERT INTO leads_task_list (task_id, org_id, lead_id, phone, customer_name) \
             SELECT DISTINCT ON (l.phone) {dummy}, l.org_id, l.id, l.phone, l.customer_name FROM dcc_leads l \
             WHERE l.org_id = ANY('{{{org}}}') AND l.level = ANY('{{H,A}}') AND l.do_not_call = false \
             AND NOT EXISTS (SELECT 1 FROM leads_task_list t JOIN call_tasks c ON c.id = t.task_id \
               WHERE t.org_id = l.org_id AND t.phone = l.phone AND c.task_type IN (1, 2, 4)) \
             ORDER BY l.phone, l.create_time DESC, l.id DESC"
        );
        let (mut bare, mut endpoint) = (Vec::new(), Vec::new());
        let idle = rss_kib(server.pid()).0;
        let mut peak = idle;
        let mut task_leads = 0;
        // short measurements are the noisiest: three times the repetitions up to 10k leads
        let reps = if n <= 10_000 {
            args.reps * 3
        } else {
            args.reps
        };
        for _ in 0..reps {
            bare.push(env.psql_ms(&bare_sql)?);
            env.sql(&format!(
                "DELETE FROM leads_task_list WHERE task_id = {dummy}"
            ))
            .await?;
            env.sql("VACUUM ANALYZE leads_task_list").await?;
            let t0 = Instant::now();
            let (data, p) = sampling_rss(
                server.pid(),
                post(&server, &token, "/api/create-autoCall-tasks", json!({"task_name": "bench", "script_id": "s", "filters": {"levels": ["H", "A"]}})),
            )
            .await;
            endpoint.push(t0.elapsed().as_secs_f64() * 1000.0);
            peak = peak.max(p);
            let data = data?;
            task_leads = data["leads_count"].as_i64().unwrap_or(0);
            env.sql(&format!(
                "DELETE FROM call_tasks WHERE id = {}",
                data["task_id"]
            ))
            .await?;
            env.sql("VACUUM ANALYZE leads_task_list").await?;
        }
        let (b, e) = (median(bare), median(endpoint));
        println!("create {n}: bare {b:.0} ms, endpoint {e:.0} ms");
        rows.push_str(&format!(
            "| {n} | {task_leads} | {b:.0} | {e:.0} | {:.2}x | ≤ 1.2x {} | {:.0} → {:.0} |\n",
            e / b,
            if e / b <= 1.2 { "✅" } else { "❌" },
            mib(idle),
            mib(peak)
        ));
    }
    report.sections.push(rows);
    Ok(())
}

/// Reads under load at each size, next to `/api/health` in the same run.
pub async fn lists(env: &BenchEnv, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let (_sim, sim_url) = sim(platform_sim::SimConfig::default())?;
    let server = env
        .server(&sim_url, &[("MONITOR_INTERVAL_SECS", "3600".into())])
        .await?;
    let idle = rss_kib(server.pid()).0;
    let mut rows = format!(
        "## Reads under load\n\n`wrk -t2 -c32 -d{}s` per endpoint (first page, 20 items), each right after `/api/health` \
         (its anchor), the seeded tables vacuumed and checkpointed first; the service and wrk share the machine's cores. Targets: p99 under 10 ms and at least 60% of health's \
         req/s; page cost flat as data grows. Server RSS idle: {:.0} MiB.\n\n\
         | endpoint | rows in the organisation | req/s | p99 (ms) | health req/s | health p99 (ms) | vs health | RSS under load (MiB) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
        args.wrk_secs,
        mib(idle)
    );
    for &n in &args.list_sizes {
        let name = format!("list-{n}");
        let org = env.tenant(&name).await?;
        println!("lists: seeding {n} tasks and leads");
        seed_leads(env, org, n).await?;
        seed_tasks(env, org, n).await?;
        let task = count(env, &format!("INSERT INTO call_tasks (org_id, task_name, task_type, script_id) VALUES ({org}, 'stats', 3, 's') RETURNING id AS n")).await?;
        seed_task_leads(env, org, task).await?;
        // measure the steady state, not the seeding's aftermath: autovacuum of the new rows
        // and a checkpoint of their WAL would otherwise run during the measurements
        settle(env).await?;
        let token = env.token(&server, &name).await?;
        for (label, path) in [
            (
                "GET /api/task_list",
                "/api/task_list?page=1&page_size=20".to_owned(),
            ),
            (
                "GET /api/task-statistics",
                format!("/api/task-statistics?task_id={task}"),
            ),
            (
                "GET /api/leads",
                "/api/leads?page=1&page_size=20".to_owned(),
            ),
        ] {
            // health just before each endpoint: the machine's pace drifts within a run
            let health = wrk(&format!("{}/api/health", server.base), None, args.wrk_secs)?;
            let url = format!("{}{path}", server.base);
            let (load, peak) = sampling_rss(server.pid(), async {
                wrk(&url, Some(&token), args.wrk_secs)
            })
            .await;
            let load = load?;
            anyhow::ensure!(
                load.errors == 0,
                "{label}: {} non-2xx responses",
                load.errors
            );
            println!(
                "{label} @ {n}: {:.0} req/s, p99 {:.2} ms",
                load.rps, load.p99_ms
            );
            rows.push_str(&format!(
                "| {label} | {n} | {:.0} | {:.2} {} | {:.0} | {:.2} | {:.0}% {} | {:.0} {} |\n",
                load.rps,
                load.p99_ms,
                if load.p99_ms < 10.0 { "✅" } else { "❌" },
                health.rps,
                health.p99_ms,
                load.rps * 100.0 / health.rps,
                if load.rps >= 0.6 * health.rps {
                    "✅"
                } else {
                    "❌"
                },
                mib(peak),
                if peak < 150 * 1024 { "✅" } else { "❌" },
            ));
        }
    }
    report.sections.push(rows);
    Ok(())
}

/// Dispatch of many leads to a throttled simulator.
pub async fn dispatch(env: &BenchEnv, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let qps = args.throttle_qps;
    let (sim, sim_url) = sim(platform_sim::SimConfig {
        throttle_qps: Some(qps),
        call_ms: 3_600_000,
        concurrency: 1,
        ..platform_sim::SimConfig::default()
    })?;
    let server = env
        .server(
            &sim_url,
            &[
                ("PLATFORM_MAX_QPS", qps.to_string()),
                ("MONITOR_INTERVAL_SECS", "3600".into()),
            ],
        )
        .await?;
    let n = args.dispatch_leads;
    let name = "dispatch".to_owned();
    let org = env.tenant(&name).await?;
    println!("dispatch: seeding {n} leads");
    // every lead its own phone and matching level
    env.sql(&format!(
        "INSERT INTO dcc_leads (org_id, ident, customer_name, phone, level) \
         SELECT {org}, 'p:' || (15000000000 + g), '客户' || g, (15000000000 + g)::text, 'H' FROM generate_series(1, {n}) g"
    ))
    .await?;
    let token = env.token(&server, &name).await?;
    let task = post(
        &server,
        &token,
        "/api/create-autoCall-tasks",
        json!({"task_name": "dispatch", "script_id": "s"}),
    )
    .await?;
    let task_id = task["task_id"].as_i64().unwrap_or(0);
    anyhow::ensure!(
        task["leads_count"].as_u64() == Some(n as u64),
        "task has {} leads",
        task["leads_count"]
    );
    let t0 = Instant::now();
    post(
        &server,
        &token,
        "/api/start-call-task",
        json!({"task_id": task_id}),
    )
    .await?;
    loop {
        let done = count(env, &format!("SELECT count(*) AS n FROM leads_task_list WHERE task_id = {task_id} AND job_id IS NOT NULL")).await?;
        if done as usize >= n {
            break;
        }
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(3600),
            "dispatch did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let stats = sim.stats();
    let rate = n as f64 / secs;
    let limit = f64::from(qps) * 99.0;
    println!("dispatch: {n} in {secs:.1}s = {rate:.0}/s of {limit:.0}/s");
    report.sections.push(format!(
        "## Dispatch\n\n{n} leads of one task pushed to the simulator throttled at {qps} requests/s (the service's \
         `PLATFORM_MAX_QPS={qps}` paces its requests; 99 contacts per `AssignJobs`), timed from `POST /api/start-call-task` \
         (which also creates the job group) until every task lead has a job id.\n\n\
         | leads | time (s) | jobs/s | limit ({qps} × 99 /s) | of limit | target | duplicate reference ids | throttled requests |\n\
         |---:|---:|---:|---:|---:|---|---:|---:|\n\
         | {n} | {secs:.1} | {rate:.0} | {limit:.0} | {:.0}% | ≥ 90% {} | {} | {} |\n",
        rate * 100.0 / limit,
        if rate >= 0.9 * limit { "✅" } else { "❌" },
        stats.duplicate_reference_ids,
        stats.faults_injected,
    ));
    Ok(())
}

/// Monitor sync of many finished jobs against bare paging of the same results.
pub async fn sync(env: &BenchEnv, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let n = args.sync_jobs;
    let (sim, sim_url) = sim(platform_sim::SimConfig {
        call_ms: 1,
        concurrency: n.max(1),
        ..platform_sim::SimConfig::default()
    })?;
    let org = env.tenant("sync").await?;
    println!("sync: preparing {n} finished jobs");
    env.sql(&format!(
        "INSERT INTO dcc_leads (org_id, ident, customer_name, phone, level) \
         SELECT {org}, 'p:' || (16000000000 + g), '客户' || g, (16000000000 + g)::text, 'A' FROM generate_series(1, {n}) g"
    ))
    .await?;
    let platform = HttpPlatform::new(PlatformSettings {
        base_url: sim_url.clone(),
        ..Default::default()
    })?;
    let strategy = Strategy {
        working_time: vec![],
        max_attempts_per_day: 3,
        min_attempt_interval_minutes: 10,
    };
    let group = platform
        .create_job_group("sync-bench", "s", &strategy)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let task = count(
        env,
        &format!("INSERT INTO call_tasks (org_id, task_name, task_type, script_id, job_group_id, leads_count) VALUES ({org}, 'sync', 2, 's', '{group}', {n}) RETURNING id AS n"),
    )
    .await?;
    env.sql(&format!(
        "INSERT INTO leads_task_list (task_id, org_id, lead_id, phone, customer_name, call_status) \
         SELECT {task}, org_id, id, phone, customer_name, 'dispatched' FROM dcc_leads WHERE org_id = {org}"
    ))
    .await?;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        phone: String,
    }
    let rows: Vec<Row> = {
        let mut c = adapters::db::conn(&env.pool).await?;
        diesel::sql_query(format!(
            "SELECT id, phone FROM leads_task_list WHERE task_id = {task} ORDER BY id"
        ))
        .load(&mut c)
        .await?
    };
    // dispatch as the service does: one job per task lead, its job id recorded
    let (mut ids, mut jobs) = (Vec::new(), Vec::new());
    for chunk in rows.chunks(99) {
        let contacts = chunk
            .iter()
            .map(|r| Contact {
                phone: r.phone.clone(),
                name: "客户".into(),
                honorific: None,
                reference_id: r.id.to_string(),
                extras: vec![],
            })
            .collect();
        for j in platform
            .assign_jobs(&group, contacts, far_off())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
        {
            ids.push(j.reference_id.parse::<i64>()?);
            jobs.push(j.job_id);
        }
    }
    {
        let mut c = adapters::db::conn(&env.pool).await?;
        diesel::sql_query(
            "UPDATE leads_task_list t SET job_id = u.job_id FROM unnest($1::bigint[], $2::text[]) AS u(id, job_id) WHERE t.id = u.id",
        )
        .bind::<diesel::sql_types::Array<BigInt>, _>(ids)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(jobs)
        .execute(&mut c)
        .await?;
    }
    env.sql("VACUUM ANALYZE leads_task_list").await?;
    let t0 = Instant::now();
    loop {
        let s = sim.stats();
        let finished: u64 = ["Succeeded", "Failed"]
            .iter()
            .map(|k| s.jobs_by_status.get(*k).copied().unwrap_or(0))
            .sum();
        if finished as usize >= n {
            break;
        }
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(600),
            "jobs did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // bare paging: the same pages over the same HTTP client, no database work
    let size = tasks::execution::ExecutionSettings::default().page_size;
    let bare = async {
        let t = Instant::now();
        let mut page = 1;
        let mut seen = 0usize;
        loop {
            let p = platform
                .query_job_results(&group, page, size)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            seen += p.items.len();
            if p.items.is_empty() || u64::from(page) * u64::from(size) >= p.total {
                break;
            }
            page += 1;
        }
        anyhow::ensure!(seen == n, "paged {seen} of {n}");
        anyhow::Ok(t.elapsed().as_secs_f64())
    };
    let bare1 = bare.await?;
    let exec = tasks::execution::Results::new(
        Arc::new(adapters::pg_exec::PgResults::new(env.pool.clone())),
        Arc::new(adapters::pg_tasks::PgTasks::new(env.pool.clone())),
        Arc::new(platform.clone()),
        size,
    );
    let t = Instant::now();
    let (pulled, changed) = exec
        .sync_task(kernel::TaskId(task), &group, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let first = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (_, changed_again) = exec
        .sync_task(kernel::TaskId(task), &group, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let second = t.elapsed().as_secs_f64();
    let finals = count(env, &format!("SELECT count(*) AS n FROM leads_task_list WHERE task_id = {task} AND call_status NOT IN ('pending','assigning','dispatched','calling')")).await?;
    // the same sync with an endpoint subscribed to every result, next to the same sync without
    // one, both from the same reset state: the outbox rows are written by the sync's transactions
    let (plain, hooked) = sync_with_and_without_webhook(env, &exec, org, task, &group).await?;
    anyhow::ensure!(
        finals as usize == n && pulled as usize == n,
        "synced {finals} of {n}"
    );
    println!(
        "sync: bare {bare1:.2}s, first sync {first:.2}s ({changed} changed), second {second:.2}s ({changed_again})"
    );
    report.sections.push(format!(
        "## Monitor sync\n\nOne task of {n} finished jobs. Bare paging reads every page of `QueryJobsWithResult` ({size} per \
         page, the service's size) with the same HTTP client and does nothing else; the sync reads the same pages and writes each page's \
         results into the task leads (the pages that are ready, up to 2,000 rows, in one `unnest` statement that updates the changed task leads and adds their new attempts to the leads' call counts, two bulks written at a time, the task's counters and synced prefix recorded after each) while the next pages are read.\n\n\
         | jobs | bare paging (s) | sync, all changed (s) | sync / bare | target | sync again, nothing changed (s) |\n\
         |---:|---:|---:|---:|---|---:|\n\
         | {n} | {bare1:.2} | {first:.2} | {:.2}x | ≤ 1.3x {} | {second:.2} |\n\n\
         The same sync again from the same state (every lead back to `dispatched`, vacuumed), without and then with a \
         webhook endpoint subscribed to `lead.call_finished`: with it, each bulk's transaction also writes the \
         deliveries of the leads that finished (one outbox row per lead), which the delivery worker sends later.\n\n\
         | sync without a webhook (s) | sync with a webhook (s) | with / without | target |\n|---:|---:|---:|---|\n\
         | {plain:.2} | {hooked:.2} | {:.2}x | ≤ 1.15x {} |\n",
        first / bare1,
        if first / bare1 <= 1.3 { "✅" } else { "❌" },
        hooked / plain,
        if hooked / plain <= 1.15 { "✅" } else { "❌" },
    ));
    Ok(())
}

/// Seconds of a sync of every result of `task` from the reset state, without and then with an
/// endpoint of `org` subscribed to the results.
async fn sync_with_and_without_webhook(
    env: &BenchEnv,
    exec: &tasks::execution::Results,
    org: i64,
    task: i64,
    group: &str,
) -> anyhow::Result<(f64, f64)> {
    let reset = || async {
        env.sql(&format!(
            "UPDATE leads_task_list SET call_status = 'dispatched', attempts = 0, prev_attempts = 0, \
             last_call_time = NULL, duration_seconds = NULL, intent_level = NULL, intent_tags = '[]', \
             summary = NULL, follow_suggestion = NULL WHERE task_id = {task}"
        ))
        .await?;
        env.sql(&format!(
            "UPDATE call_tasks SET synced_final_jobs = 0 WHERE id = {task}"
        ))
        .await?;
        env.sql("VACUUM ANALYZE leads_task_list").await?;
        env.sql("VACUUM ANALYZE webhook_deliveries").await
    };
    let timed = || async {
        let t = Instant::now();
        exec.sync_task(kernel::TaskId(task), group, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::Ok(t.elapsed().as_secs_f64())
    };
    reset().await?;
    let plain = timed().await?;
    reset().await?;
    env.sql(&format!(
        "INSERT INTO webhooks (org_id, url, events, secret) VALUES ({org}, 'https://crm.example.com/hook', \
         '{{lead.call_finished}}', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')"
    ))
    .await?;
    let hooked = timed().await?;
    let written = count(env, "SELECT count(*) AS n FROM webhook_deliveries").await?;
    println!(
        "sync: without a webhook {plain:.2}s, with one {hooked:.2}s ({written} deliveries written)"
    );
    anyhow::ensure!(written > 0, "no delivery was written");
    Ok((plain, hooked))
}
