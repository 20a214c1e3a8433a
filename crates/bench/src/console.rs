//! Benchmarks of the console: its two heaviest pages under load next to the API's task list,
//! 200 open live-statistics streams, and the weight of what a page loads.

use std::time::Duration;

use crate::Args;
use crate::env::{BenchEnv, rss_kib, sim, wrk, wrk_with};
use crate::scenarios::{
    Report, count, mib, sampling_rss, seed_leads, seed_task_leads, seed_tasks, settle,
};

/// CPU time (user + system) of a process so far, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // the fields after the command name, which is in parentheses and may hold spaces
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time of every PostgreSQL process so far, in seconds.
fn pg_cpu_secs() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_secs)
        .sum()
}

/// `wrk` with the CPU it cost: (load, server CPU µs per request, PostgreSQL CPU µs per request).
fn measured(
    pid: u32,
    secs: u32,
    run: impl FnOnce() -> anyhow::Result<crate::env::Load>,
) -> anyhow::Result<(crate::env::Load, f64, f64)> {
    let (s0, p0) = (cpu_secs(pid), pg_cpu_secs());
    let load = run()?;
    let (s1, p1) = (cpu_secs(pid), pg_cpu_secs());
    let per = |d: f64| d * 1e6 / (load.rps * f64::from(secs)).max(1.0);
    Ok((load, per(s1 - s0), per(p1 - p0)))
}

fn mark(ok: bool) -> &'static str {
    if ok { "✅" } else { "❌" }
}

/// Gzip bytes of a static file, as a browser gets it.
async fn gzip_bytes(url: &str) -> anyhow::Result<usize> {
    let client = reqwest::Client::builder().no_gzip().build()?;
    let r = client
        .get(url)
        .header("Accept-Encoding", "gzip")
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "{url}: {}", r.status());
    Ok(r.bytes().await?.len())
}

/// The console's pages under load, live streams, page weight.
pub async fn console(env: &BenchEnv, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let (_sim, sim_url) = sim(platform_sim::SimConfig::default())?;
    let server = env
        .server(&sim_url, &[("MONITOR_INTERVAL_SECS", "3600".into())])
        .await?;
    let name = "console";
    let org = env.tenant(name).await?;
    let (tasks, leads) = (10_000usize, args.dispatch_leads);
    println!("console: seeding {tasks} tasks and a task of {leads} leads");
    seed_leads(env, org, leads).await?;
    seed_tasks(env, org, tasks).await?;
    let big = count(env, &format!("INSERT INTO call_tasks (org_id, task_name, task_type, script_id, job_group_id) VALUES ({org}, '大任务', 3, 's', 'jg-big') RETURNING id AS n")).await?;
    seed_task_leads(env, org, big).await?;
    let big_leads = count(
        env,
        &format!("SELECT count(*) AS n FROM leads_task_list WHERE task_id = {big}"),
    )
    .await?;
    settle(env).await?;
    let token = env.token(&server, name).await?;

    let pid = server.pid();
    let secs = args.wrk_secs;
    let mut rows = format!(
        "## The console under load\n\n`wrk -t2 -c32 -d{secs}s` with the session cookie, each right after `GET /api/task_list` \
         (its anchor) in the same run: the home page (overview and the first 20 of {tasks} tasks) as a browser loads it; a \
         task's drawer as the console asks for it when a task is opened from the list (`HX-Request`, `HX-Target: drawer`: \
         statistics, newest run, first page of results of a task of {big_leads} leads); the same task's page loaded whole \
         (the home page with the drawer open, what a reload or a link from outside gets). Targets: p99 under 10 ms and at \
         least 60% of the anchor's req/s. CPU per request: the service's and PostgreSQL's (every `postgres` process), \
         measured over the run.\n\n\
         | page | req/s | p99 (ms) | anchor req/s | anchor p99 (ms) | vs anchor | CPU/request service + PostgreSQL (µs) | anchor's (µs) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    let session = format!("Cookie: outbound_session={token}");
    for (label, path, fragment) in [
        ("GET / (home page)", "/".to_owned(), false),
        (
            "GET /tasks/{id} (drawer, htmx)",
            format!("/tasks/{big}"),
            true,
        ),
        (
            "GET /tasks/{id} (whole page)",
            format!("/tasks/{big}"),
            false,
        ),
    ] {
        let (anchor, a_srv, a_pg) = measured(pid, secs, || {
            wrk(
                &format!("{}/api/task_list?page=1&page_size=20", server.base),
                Some(&token),
                secs,
            )
        })?;
        let mut headers = vec![session.clone()];
        if fragment {
            headers.extend([
                "HX-Request: true".to_owned(),
                "HX-Target: drawer".to_owned(),
            ]);
        }
        let (load, srv, pg) = measured(pid, secs, || {
            wrk_with(&format!("{}{path}", server.base), headers, secs)
        })?;
        anyhow::ensure!(
            load.errors == 0,
            "{label}: {} non-2xx responses",
            load.errors
        );
        println!(
            "console {label}: {:.0} req/s, p99 {:.2} ms (anchor {:.0}); CPU/request {srv:.0}+{pg:.0} µs (anchor {a_srv:.0}+{a_pg:.0})",
            load.rps, load.p99_ms, anchor.rps
        );
        rows.push_str(&format!(
            "| {label} | {:.0} | {:.2} {} | {:.0} | {:.2} | {:.0}% {} | {srv:.0} + {pg:.0} | {a_srv:.0} + {a_pg:.0} |\n",
            load.rps,
            load.p99_ms,
            mark(load.p99_ms < 10.0),
            anchor.rps,
            anchor.p99_ms,
            load.rps * 100.0 / anchor.rps,
            mark(load.rps >= 0.6 * anchor.rps),
        ));
    }

    // 200 streams, each on its own task (the worst case: a watcher each)
    let ids: Vec<i64> = {
        let mut v = Vec::new();
        for i in 0..200 {
            v.push(count(env, &format!("SELECT id AS n FROM call_tasks WHERE org_id = {org} ORDER BY id LIMIT 1 OFFSET {i}")).await?);
        }
        v
    };
    let running = count(
        env,
        &format!(
            "SELECT count(*) AS n FROM call_tasks WHERE id IN ({}) AND task_type = 2",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        ),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_before, _) = rss_kib(pid);
    let idle_cpu_before = {
        let c0 = cpu_secs(pid);
        tokio::time::sleep(Duration::from_secs(10)).await;
        (cpu_secs(pid) - c0) * 10.0
    };
    let client = reqwest::Client::new();
    let mut streams = Vec::new();
    for id in &ids {
        let r = client
            .get(format!("{}/tasks/{id}/live", server.base))
            .header("Cookie", format!("outbound_session={token}"))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "stream {id}: {}", r.status());
        streams.push(r);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let c0 = cpu_secs(pid);
    let (_, peak) = sampling_rss(pid, tokio::time::sleep(Duration::from_secs(20))).await;
    let cpu = (cpu_secs(pid) - c0) * 100.0 / 20.0;
    let (rss_after, _) = rss_kib(pid);
    let growth = mib(rss_after.saturating_sub(rss_before));
    println!("console streams: RSS +{growth:.1} MiB, CPU {cpu:.2}% (before {idle_cpu_before:.2}%)");
    drop(streams);
    rows.push_str(&format!(
        "\n200 live-statistics streams (`GET /tasks/{{id}}/live`) open at once on 200 different tasks ({running} of them running, \
         read every second; the others every 5 s), held for 20 s with nothing else going on:\n\n\
         | RSS before (MiB) | RSS with 200 streams (MiB) | growth | target | peak (MiB) | server CPU, idle before | server CPU with the streams | target |\n\
         |---:|---:|---:|---|---:|---:|---:|---|\n\
         | {:.1} | {:.1} | {growth:.1} MiB | < 20 MB {} | {:.1} | {idle_cpu_before:.2}% | {cpu:.2}% | < 2% {} |\n",
        mib(rss_before),
        mib(rss_after),
        mark(growth < 19.07),
        mib(peak),
        mark(cpu < 2.0),
    ));

    // what a page loads besides its HTML
    let page = reqwest::Client::new()
        .get(format!("{}/", server.base))
        .header("Cookie", format!("outbound_session={token}"))
        .send()
        .await?
        .text()
        .await?;
    let mut assets: Vec<String> = page
        .split(['"', '\''])
        .filter(|s| s.starts_with("/static/"))
        .map(str::to_owned)
        .collect();
    assets.sort();
    assets.dedup();
    let mut total = 0;
    let mut cells = Vec::new();
    for a in &assets {
        let n = gzip_bytes(&format!("{}{a}", server.base)).await?;
        total += n;
        cells.push(format!("`{a}` {:.1} KB", n as f64 / 1000.0));
    }
    rows.push_str(&format!(
        "\nWhat a page loads besides its HTML, gzip as served: {} = **{:.1} KB** (target < 40 KB {}); the home page's HTML itself: {:.1} KB.\n",
        cells.join(", "),
        total as f64 / 1000.0,
        mark(total < 40_000),
        page.len() as f64 / 1000.0,
    ));
    report.sections.push(rows);
    Ok(())
}
