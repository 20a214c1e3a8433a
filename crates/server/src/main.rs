//! `outbound`: the AI outbound-call campaign service. See `outbound --help`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use kernel::{OrgId, Role};
use server::boot::{self, Database};
use server::config::Config;
use server::{AppOptions, AppState, HttpSettings, serve};

/// mimalloc instead of the system allocator: a request builds and drops many small strings and
/// vectors (rows, JSON), and glibc's malloc/free showed up as the server's largest cost under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "outbound",
    version,
    about = "AI outbound-call campaigns for car dealers' digital customer centres.\n\nWithout DATABASE_URL every command uses the embedded PostgreSQL under ./.data (started on demand)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// (serve) Do not seed the demo organisation, admin and leads on first start.
    #[arg(long, global = true)]
    no_demo: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve the HTTP API, the dispatcher and the monitor (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage organisations.
    Org {
        #[command(subcommand)]
        cmd: OrgCmd,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Manage leads.
    Leads {
        #[command(subcommand)]
        cmd: LeadsCmd,
    },
    /// Write a consistent archive of the whole database (pg_dump's custom format) to a file.
    Backup {
        /// The archive to write (replaced if it exists, only once complete).
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Restore an archive made by `backup` into an empty database (the embedded one of a fresh
    /// DATA_DIR, or DATABASE_URL's), in one transaction.
    Restore {
        /// The archive to read.
        #[arg(long)]
        from: std::path::PathBuf,
        /// Restore into a database that already has tables: what the archive holds is dropped
        /// and replaced (stop every instance first).
        #[arg(long)]
        force: bool,
    },
    /// Run the outbound-call platform simulator on its own (its protocol: docs/platform.md).
    PlatformSim(SimArgs),
}

#[derive(Args)]
struct SimArgs {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:9000")]
    bind: String,
    /// AccessKeyId requests must carry (default SIM_APP_KEY or "sim-key").
    #[arg(long)]
    app_key: Option<String>,
    /// Secret requests are signed with (default SIM_APP_SECRET or "sim-secret").
    #[arg(long)]
    app_secret: Option<String>,
    /// Seed of the outcome mix.
    #[arg(long)]
    seed: Option<u64>,
    /// Duration of one call, milliseconds.
    #[arg(long)]
    call_ms: Option<u64>,
    /// Most calls at once.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Latency added to every response, milliseconds.
    #[arg(long)]
    latency_ms: Option<u64>,
    /// Share (0..1) of requests answered 500 without effect.
    #[arg(long)]
    fail_rate: Option<f64>,
    /// Share (0..1) of requests that take effect, then stall past the client's timeout.
    #[arg(long)]
    timeout_rate: Option<f64>,
    /// Requests per second above which requests are throttled.
    #[arg(long)]
    throttle_qps: Option<u32>,
}

#[derive(Subcommand)]
enum OrgCmd {
    /// Create an organisation and print its id.
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Parent organisation id (omit for a new root).
        #[arg(long)]
        parent: Option<i64>,
    },
    /// Show every organisation as a tree, with ids.
    List,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user; the password is read from standard input, never from the command line.
    Create(UserCreate),
    /// List users (id, username, name, role, organisation, state).
    List {
        /// Only the users of this organisation.
        #[arg(long)]
        org: Option<i64>,
    },
    /// Disable a user: they cannot log in, and their tokens are refused.
    Disable {
        /// Login name.
        username: String,
    },
    /// Enable a disabled user.
    Enable {
        /// Login name.
        username: String,
    },
    /// Give a user a temporary password (printed once); they must change it at next login.
    ResetPassword {
        /// Login name.
        username: String,
    },
}

#[derive(Args)]
struct UserCreate {
    /// Organisation id.
    #[arg(long)]
    org: i64,
    /// Login name.
    #[arg(long)]
    username: String,
    /// Read the password from standard input (required).
    #[arg(long, required = true)]
    password_stdin: bool,
    /// Role.
    #[arg(long, default_value = "operator", value_parser = ["admin", "operator"])]
    role: String,
    /// Display name (default: the username).
    #[arg(long)]
    display_name: Option<String>,
}

#[derive(Subcommand)]
enum LeadsCmd {
    /// Import leads from a CSV file with a header row of lead field names (external_id,
    /// customer_name, phone, level, source, vehicle_model, status, owner_name, create_time,
    /// do_not_call). Good rows are kept; bad rows are reported with their line numbers.
    Import {
        /// Organisation id.
        #[arg(long)]
        org: i64,
        /// The CSV file.
        file: PathBuf,
    },
}

fn init_logs() {
    // tokio_postgres logs every bound query parameter (full phone numbers, password hashes) and
    // the text of simple queries at debug: those two modules stay silent even under
    // RUST_LOG=debug, unless RUST_LOG names tokio_postgres explicitly
    const QUIET: &str = "tokio_postgres::query=off,tokio_postgres::simple_query=off";
    let spec = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "info".into());
    let spec = if spec.contains("tokio_postgres") {
        spec
    } else {
        format!("{spec},{QUIET}")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&spec)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("info,{QUIET}")));
    // colours for a terminal only: a log file or a collector gets plain text
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let _ = dotenvy::dotenv();
    init_logs();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::PlatformSim(args)) = cli.command {
        return platform_sim_main(args).await;
    }
    let cfg = Config::from_env()?;
    let db = boot::open_database(&cfg).await?;
    let result = command(cli, &cfg, &db).await;
    db.shutdown();
    result
}

/// Services for the administrative commands (no HTTP, no platform).
struct Admin {
    orgs: org::OrgService,
    leads: leads::LeadService,
    pool: adapters::db::DbPool,
}

async fn admin(cfg: &Config, db: &Database) -> anyhow::Result<Admin> {
    let pool = boot::migrate_and_pool(db, 4).await?;
    Ok(Admin {
        orgs: org::OrgService::new(std::sync::Arc::new(adapters::pg_auth::PgOrgs::new(
            pool.clone(),
        ))),
        leads: leads::LeadService::new(
            std::sync::Arc::new(adapters::pg_leads::PgLeads::new(pool.clone())),
            cfg.tz,
        ),
        pool,
    })
}

async fn command(cli: Cli, cfg: &Config, db: &Database) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve_until_signal(cfg, db, cli.no_demo).await,
        Command::Migrate => {
            let applied = adapters::db::run_migrations(&db.url).await?;
            println!("applied {} migration(s)", applied.len());
            Ok(())
        }
        Command::Org {
            cmd: OrgCmd::Create { name, parent },
        } => {
            let state = admin(cfg, db).await?;
            let org = state
                .orgs
                .create(&name, parent.map(kernel::OrgId))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", org.id);
            Ok(())
        }
        Command::Org { cmd: OrgCmd::List } => {
            print!("{}", accounts(db).await?.org_tree().await?);
            Ok(())
        }
        Command::User {
            cmd: UserCmd::Create(u),
        } => create_user(cfg, db, u).await,
        Command::User { cmd } => {
            let cli = accounts(db).await?;
            match cmd {
                UserCmd::Create(_) => unreachable!("handled above"),
                UserCmd::List { org } => print!("{}", cli.list(org).await?),
                UserCmd::Disable { username } => {
                    cli.set_enabled(&username, false).await?;
                    println!("disabled {username}");
                }
                UserCmd::Enable { username } => {
                    cli.set_enabled(&username, true).await?;
                    println!("enabled {username}");
                }
                UserCmd::ResetPassword { username } => {
                    let password = cli.reset_password(&username).await?;
                    println!("temporary password for {username}: {password}");
                    println!("(shown once; {username} must change it at next login)");
                }
            }
            Ok(())
        }
        Command::PlatformSim(_) => Ok(()),
        Command::Backup { to } => server::backup_cli::backup(&db.url, &to).await,
        Command::Restore { from, force } => {
            server::backup_cli::restore(&db.url, &from, force).await
        }
        Command::Leads {
            cmd: LeadsCmd::Import { org, file },
        } => {
            let state = admin(cfg, db).await?;
            let scope = state.orgs.scope_of(OrgId(org)).await?;
            if state.orgs.tree(&scope).await?.is_empty() {
                anyhow::bail!("organisation {org} not found");
            }
            let cli = kernel::Caller::cli(OrgId(org), scope);
            let r = server::csv_import::import_file(&state.leads, &cli, OrgId(org), &file).await?;
            for (line, error) in &r.rejected {
                eprintln!("line {line}: {error}");
            }
            println!(
                "inserted {}, updated {}, unchanged {}, rejected {}",
                r.inserted,
                r.updated,
                r.unchanged,
                r.rejected.len()
            );
            Ok(())
        }
    }
}

/// The console's address for a browser on this machine (a wildcard address is reached at
/// loopback).
fn console_url(addr: std::net::SocketAddr) -> String {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{addr}/")
}

async fn accounts(db: &Database) -> anyhow::Result<server::accounts_cli::AccountsCli> {
    server::accounts_cli::AccountsCli::new(boot::migrate_and_pool(db, 4).await?)
}

async fn create_user(cfg: &Config, db: &Database, u: UserCreate) -> anyhow::Result<()> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    auth::validate_username(&u.username)?;
    auth::validate_password("password", &password)?;
    let role: Role = u.role.parse().map_err(anyhow::Error::msg)?;
    let pool = admin(cfg, db).await?.pool;
    let hash = boot::hasher()?.hash_blocking(&password)?;
    let repo = adapters::pg_auth::PgUsers::new(pool);
    let user = auth::UserRepository::create(
        &repo,
        auth::NewUser {
            display_name: u.display_name.unwrap_or_else(|| u.username.clone()),
            username: u.username,
            role,
            org_id: OrgId(u.org),
            password_hash: hash,
        },
        Some(audit::Entry::cli(
            audit::Action::UserCreate,
            Some(OrgId(u.org)),
        )),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", user.id);
    Ok(())
}

async fn serve_until_signal(cfg: &Config, db: &Database, no_demo: bool) -> anyhow::Result<()> {
    let pcfg = server::config::PlatformConfig::from_env()?;
    let pool = boot::migrate_and_pool(db, cfg.db_pool_size).await?;
    let worker_pool = boot::pool(db, cfg.db_worker_pool_size, boot::PoolUse::Workers)?;
    // the account's request budget takes one short transaction per platform request
    let budget_pool = boot::pool(db, 2, boot::PoolUse::Workers)?;
    let platform = boot::platform(&pcfg, &budget_pool).await?;
    let state = AppState::new(AppOptions {
        pool: pool.clone(),
        worker_pool,
        database_url: db.url.clone(),
        jwt_secret: boot::jwt_secret(cfg)?,
        tz: cfg.tz,
        token_ttl_secs: cfg.token_ttl_secs,
        auth_cache: std::time::Duration::from_millis(cfg.auth_cache_ms),
        hasher: boot::hasher()?,
        platforms: platform.platform.platforms(),
        platform_simulated: platform.simulated,
        exec: boot::exec_settings(&pcfg),
        monitor_interval: std::time::Duration::from_secs(cfg.monitor_interval_secs),
        webhook_allow: webhooks::target::AllowHosts::parse(&cfg.webhook_allow_hosts),
        webhook_sender: boot::webhook_sender(cfg)?,
        delivery: boot::delivery_settings(cfg, &pcfg),
        audit_retention_days: cfg.audit_retention_days,
    });
    if db.embedded.is_some()
        && !no_demo
        && let Some((user, password)) =
            server::demo::seed_demo(&state, &pool, &boot::hasher()?).await?
    {
        println!("demo login: username={user} password={password}");
    }
    let listener = std::net::TcpListener::bind(&cfg.bind)
        .with_context(|| format!("cannot listen on {}", cfg.bind))?;
    let http = HttpSettings {
        body_limit: cfg.body_limit,
        cors_origins: cfg.cors_origins.clone(),
        cookie_secure: cfg.cookie_secure,
        trusted_proxies: cfg.trusted_proxies.clone(),
    };
    let running = serve(state.clone(), http, listener, cfg.http_workers)?;
    state.workers.start(state.workers_execution.clone()).await;
    state.workers.start_deliveries(state.deliverer.clone());
    state.workers.start_audit_retention(state.api.audit.clone());
    tracing::info!(addr = %running.addr, "listening");
    println!("console: {}", console_url(running.addr));
    let handle = running.handle.clone();
    let server = tokio::spawn(running.server);
    shutdown_signal().await;
    // not ready from now on; load balancers notice and stop sending requests meanwhile
    state.api.ops.start_draining();
    if cfg.drain_secs > 0 {
        tracing::info!(
            drain_secs = cfg.drain_secs,
            "draining: not ready, still serving"
        );
        tokio::time::sleep(std::time::Duration::from_secs(cfg.drain_secs)).await;
    }
    tracing::info!("shutting down: finishing in-flight requests");
    // stop taking requests and finish in-flight ones, while the workers finish their step
    let stop_http = async {
        handle.stop(true).await;
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the HTTP server stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "the HTTP server task failed"),
        }
    };
    tokio::join!(
        stop_http,
        state.workers.shutdown(std::time::Duration::from_secs(8))
    );
    tracing::info!("stopped");
    Ok(())
}

async fn platform_sim_main(a: SimArgs) -> anyhow::Result<()> {
    let mut c = platform_sim::SimConfig::from_env().map_err(anyhow::Error::msg)?;
    if let Some(v) = a.app_key {
        c.app_key = v;
    }
    if let Some(v) = a.app_secret {
        c.app_secret = v;
    }
    if let Some(v) = a.seed {
        c.seed = v;
    }
    if let Some(v) = a.call_ms {
        c.call_ms = v;
    }
    if let Some(v) = a.concurrency {
        c.concurrency = v;
    }
    if let Some(v) = a.latency_ms {
        c.latency_ms = v;
    }
    if let Some(v) = a.fail_rate {
        c.fail_rate = v;
    }
    if let Some(v) = a.timeout_rate {
        c.timeout_rate = v;
    }
    if let Some(v) = a.throttle_qps {
        c.throttle_qps = (v > 0).then_some(v);
    }
    for (name, v) in [
        ("--fail-rate", c.fail_rate),
        ("--timeout-rate", c.timeout_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            anyhow::bail!("{name} must be between 0 and 1");
        }
    }
    let sim = platform_sim::Simulator::new(c);
    platform_sim::start_clock(sim.clone());
    let listener = std::net::TcpListener::bind(&a.bind)
        .with_context(|| format!("cannot listen on {}", a.bind))?;
    let addr = listener.local_addr()?;
    let server = platform_sim::serve(sim, listener, 2)?;
    let handle = server.handle();
    let task = tokio::spawn(server);
    tracing::info!(%addr, "platform simulator listening");
    println!("platform simulator listening on http://{addr}");
    shutdown_signal().await;
    handle.stop(true).await;
    let _ = task.await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
