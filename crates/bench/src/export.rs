//! The export of a task's results: CSV and XLSX of a task of 100,000 leads, next to psql's own
//! `COPY (SELECT …) TO STDOUT WITH CSV` of the same rows in the same run, with the server's
//! memory growth.

use std::time::Instant;

use crate::Args;
use crate::env::{BenchEnv, Server, rss_kib, sim};
use crate::scenarios::{Report, count, mib, sampling_rss, seed_leads, seed_task_leads, settle};

/// How often each measurement is repeated (the median is reported).
const REPS: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mark(ok: bool) -> &'static str {
    if ok { "✅" } else { "❌" }
}

/// Download `path` whole: (milliseconds, bytes, the server's peak RSS in KiB meanwhile).
async fn download(server: &Server, token: &str, path: &str) -> anyhow::Result<(f64, usize, u64)> {
    let url = format!("{}{path}", server.base);
    let started = Instant::now();
    let (bytes, peak) = sampling_rss(server.pid(), async {
        let r = reqwest::Client::new()
            .get(&url)
            .header("access-token", token)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "{url}: {}", r.status());
        let mut r = r;
        let mut n = 0;
        while let Some(chunk) = r.chunk().await? {
            n += chunk.len();
        }
        Ok(n)
    })
    .await;
    Ok((started.elapsed().as_secs_f64() * 1000.0, bytes?, peak))
}

/// psql's `COPY … TO STDOUT WITH CSV` of the same rows, read whole: (milliseconds, bytes).
fn psql_copy(env: &BenchEnv, task: i64) -> anyhow::Result<(f64, usize)> {
    let copy = format!(
        "COPY (SELECT t.lead_id, t.customer_name, t.phone, d.level, d.source, d.vehicle_model, t.call_status, \
         t.attempts, t.last_call_time, t.duration_seconds, t.intent_level, t.intent_tags, t.summary, t.follow_suggestion \
         FROM leads_task_list t JOIN dcc_leads d ON d.id = t.lead_id WHERE t.task_id = {task} ORDER BY t.id) \
         TO STDOUT WITH (FORMAT csv, HEADER)"
    );
    let started = Instant::now();
    let out = std::process::Command::new("psql")
        .arg(&env.db.url)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", &copy])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((started.elapsed().as_secs_f64() * 1000.0, out.stdout.len()))
}

/// The export benchmark.
pub async fn export(env: &BenchEnv, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let (_sim, sim_url) = sim(platform_sim::SimConfig::default())?;
    let server = env
        .server(&sim_url, &[("MONITOR_INTERVAL_SECS", "3600".into())])
        .await?;
    let name = "export";
    let org = env.tenant(name).await?;
    // one task lead per phone: about 1 lead in 25 shares its phone with another
    let leads = args.dispatch_leads + args.dispatch_leads / 24 + 1;
    println!(
        "export: seeding a task of about {} leads with results",
        args.dispatch_leads
    );
    seed_leads(env, org, leads).await?;
    let task = count(env, &format!("INSERT INTO call_tasks (org_id, task_name, task_type, script_id, job_group_id) VALUES ({org}, '导出任务', 3, 's', 'jg-export') RETURNING id AS n")).await?;
    seed_task_leads(env, org, task).await?;
    let rows = count(
        env,
        &format!("SELECT count(*) AS n FROM leads_task_list WHERE task_id = {task}"),
    )
    .await?;
    settle(env).await?;
    let token = env.token(&server, name).await?;
    // one of each first: the first request of a kind warms caches the others then share
    psql_copy(env, task)?;
    for format in ["csv", "xlsx"] {
        download(
            &server,
            &token,
            &format!("/api/export-task-results?task_id={task}&format={format}"),
        )
        .await?;
    }

    let mut anchor = Vec::new();
    let mut anchor_bytes = 0;
    let mut measured: Vec<(&str, Vec<f64>, usize, u64)> = Vec::new();
    for format in ["csv", "xlsx"] {
        measured.push((format, Vec::new(), 0, 0));
    }
    let (rss_before, _) = rss_kib(server.pid());
    for _ in 0..REPS {
        let (ms, bytes) = psql_copy(env, task)?;
        anchor.push(ms);
        anchor_bytes = bytes;
        for m in &mut measured {
            let path = format!("/api/export-task-results?task_id={task}&format={}", m.0);
            let (ms, bytes, peak) = download(&server, &token, &path).await?;
            m.1.push(ms);
            m.2 = bytes;
            m.3 = m.3.max(peak);
        }
    }
    let anchor_ms = median(anchor);
    let mut section = format!(
        "## Export of a task's results\n\n`GET /api/export-task-results` of a task of {rows} leads with results, read whole by \
         the client, next to its anchor from the same run: psql's `COPY (SELECT …) TO STDOUT WITH CSV` of the same rows and \
         columns (joined with the leads, in the same order), timed around the psql process (its start and connection \
         included). Median of {REPS}. Memory: the server's RSS before the first measured export and its peak during them. \
         Targets: CSV within 1.5x of the anchor; growth under 30 MB for both.\n\n\
         | export | time (ms) | size (MB) | anchor (ms) | anchor size (MB) | vs anchor | RSS before (MiB) | peak (MiB) | growth |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for (format, times, bytes, peak) in measured {
        let ms = median(times);
        let growth = mib(peak.saturating_sub(rss_before));
        let ratio = ms / anchor_ms;
        let vs = if format == "csv" {
            format!("{ratio:.2}x {}", mark(ratio <= 1.5))
        } else {
            format!("{ratio:.2}x (recorded)")
        };
        println!(
            "export {format}: {ms:.0} ms ({bytes} bytes), anchor {anchor_ms:.0} ms; RSS +{growth:.1} MiB"
        );
        section.push_str(&format!(
            "| {format} | {ms:.0} | {:.1} | {anchor_ms:.0} | {:.1} | {vs} | {:.1} | {:.1} | {growth:.1} MiB {} |\n",
            bytes as f64 / 1e6,
            anchor_bytes as f64 / 1e6,
            mib(rss_before),
            mib(peak),
            mark(growth < 28.6),
        ));
    }
    report.sections.push(section);
    Ok(())
}
