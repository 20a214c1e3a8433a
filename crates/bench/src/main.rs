//! `outbound-bench`: measures the service (release build, real PostgreSQL, the simulator) and
//! rewrites `docs/benchmarks.md` with each figure next to its anchor measured in the same run.
//!
//! Run through `just bench` (or `cargo build --release --bin outbound --bin outbound-bench &&
//! target/release/outbound-bench`). Needs `wrk` and `psql` on PATH.

#![allow(
    clippy::indexing_slicing,
    reason = "a measuring tool, not the product: answers are read as serde_json values (whose indexing never panics) and samples are never empty"
)]

mod budget;
mod console;
mod env;
mod export;
mod production;
mod scenarios;
mod webhooks;

use clap::Parser;

#[derive(Parser, Debug, Clone)]
#[command(about = "Benchmark the outbound service and write docs/benchmarks.md")]
pub struct Args {
    /// Lead counts for the task-creation benchmark.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    pub create_sizes: Vec<usize>,
    /// Row counts for the list benchmarks (tasks and leads).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    pub list_sizes: Vec<usize>,
    /// Leads for the dispatch benchmark.
    #[arg(long, default_value_t = 100_000)]
    pub dispatch_leads: usize,
    /// The simulator's throttle for the dispatch benchmark (requests per second).
    #[arg(long, default_value_t = 20)]
    pub throttle_qps: u32,
    /// Leads of each of the five running tasks beside the busy dispatch.
    #[arg(long, default_value_t = 20_000)]
    pub busy_task_leads: usize,
    /// Finished jobs for the monitor-sync benchmark.
    #[arg(long, default_value_t = 100_000)]
    pub sync_jobs: usize,
    /// wrk duration per endpoint, seconds.
    #[arg(long, default_value_t = 10)]
    pub wrk_secs: u32,
    /// Repetitions of each task-creation measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Which benchmarks: create, list, dispatch, sync, budget, console, export, webhooks
    /// (comma-separated); also production, and busy, discovery or faulty (the parts of budget)
    /// alone.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "create,list,dispatch,sync,budget,console,export,webhooks"
    )]
    pub only: Vec<String>,
    /// A setting for every server the benchmarks start, `KEY=VALUE` (repeatable), e.g.
    /// `--server-env HTTP_WORKERS=1`; the report names them.
    #[arg(long, value_parser = key_value)]
    pub server_env: Vec<(String, String)>,
    /// For `production`: the release `outbound` of the build before the audit trail and the
    /// shared login throttle, to measure what they cost.
    #[arg(long)]
    pub baseline_bin: Option<String>,
    /// Output file.
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub out: String,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut report = scenarios::Report::new(&args.server_env);
    let env = env::BenchEnv::new(args.server_env.clone()).await?;
    for which in &args.only {
        match which.as_str() {
            "create" => scenarios::create(&env, &args, &mut report).await?,
            "list" => scenarios::lists(&env, &args, &mut report).await?,
            "dispatch" => scenarios::dispatch(&env, &args, &mut report).await?,
            "sync" => scenarios::sync(&env, &args, &mut report).await?,
            "budget" => {
                budget::busy(&env, &args, &mut report).await?;
                budget::retire_tasks(&env).await?;
                budget::discovery(&env, &args, &mut report).await?;
                budget::retire_tasks(&env).await?;
                budget::faulty(&env, &args, &mut report).await?;
            }
            "busy" => budget::busy(&env, &args, &mut report).await?,
            "discovery" => budget::discovery(&env, &args, &mut report).await?,
            "faulty" => budget::faulty(&env, &args, &mut report).await?,
            "console" => console::console(&env, &args, &mut report).await?,
            "export" => export::export(&env, &args, &mut report).await?,
            "webhooks" => webhooks::webhooks(&env, &args, &mut report).await?,
            // not in the default list: it needs --baseline-bin
            "production" => production::production(&env, &args, &mut report).await?,
            other => anyhow::bail!("unknown benchmark `{other}`"),
        }
    }
    report.write(&args.out)?;
    println!("wrote {}", args.out);
    Ok(())
}
