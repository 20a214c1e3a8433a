//! `outbound`: the AI outbound-call campaign service. See `outbound --help`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use kernel::Role;
use server::boot::{self, Database};
use server::config::Config;
use server::{serve, AppState, HttpSettings};

#[derive(Parser)]
#[command(name = "outbound", version, about = "AI outbound-call campaigns for car dealers' digital customer centres.\n\nWithout DATABASE_URL every command uses the embedded PostgreSQL under ./.data (started on demand).")]
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
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user; the password is read from standard input, never from the command line.
    Create(UserCreate),
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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
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
    let cfg = Config::from_env()?;
    let db = boot::open_database(&cfg).await?;
    let result = command(cli, &cfg, &db).await;
    db.shutdown();
    result
}

async fn state_for(cfg: &Config, db: &Database) -> anyhow::Result<(AppState, adapters::db::DbPool)> {
    let pool = boot::migrate_and_pool(db, cfg.db_pool_size).await?;
    let secret = boot::jwt_secret(cfg)?;
    let state = AppState::new(pool.clone(), &secret, cfg.tz, cfg.token_ttl_secs, boot::hasher()?);
    Ok((state, pool))
}

async fn command(cli: Cli, cfg: &Config, db: &Database) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve_until_signal(cfg, db, cli.no_demo).await,
        Command::Migrate => {
            let applied = adapters::db::run_migrations(&db.url).await?;
            println!("applied {} migration(s)", applied.len());
            Ok(())
        }
        Command::Org { cmd: OrgCmd::Create { name, parent } } => {
            let (state, _) = state_for(cfg, db).await?;
            let org = state.orgs.create(&name, parent).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", org.id);
            Ok(())
        }
        Command::User { cmd: UserCmd::Create(u) } => create_user(cfg, db, u).await,
        Command::Leads { cmd: LeadsCmd::Import { org, file } } => {
            let (state, _) = state_for(cfg, db).await?;
            let scope = state.orgs.scope_of(org).await?;
            if state.orgs.tree(&scope).await?.is_empty() {
                anyhow::bail!("organisation {org} not found");
            }
            let r = server::csv_import::import_file(&state.leads, org, &file).await?;
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

async fn create_user(cfg: &Config, db: &Database, u: UserCreate) -> anyhow::Result<()> {
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    auth::validate_username(&u.username).map_err(anyhow::Error::msg)?;
    auth::validate_password(&password).map_err(anyhow::Error::msg)?;
    let role: Role = u.role.parse().map_err(anyhow::Error::msg)?;
    let (_, pool) = state_for(cfg, db).await?;
    let hash = boot::hasher()?.hash_blocking(&password)?;
    let repo = adapters::pg_auth::PgUsers::new(pool);
    let user = auth::UserRepository::create(
        &repo,
        auth::NewUser {
            display_name: u.display_name.unwrap_or_else(|| u.username.clone()),
            username: u.username,
            role,
            org_id: u.org,
            password_hash: hash,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", user.id);
    Ok(())
}

async fn serve_until_signal(cfg: &Config, db: &Database, no_demo: bool) -> anyhow::Result<()> {
    let (state, pool) = state_for(cfg, db).await?;
    if db.embedded.is_some() && !no_demo {
        if let Some((user, password)) = server::demo::seed_demo(&state, &pool, &boot::hasher()?).await? {
            println!("demo login: username={user} password={password}");
        }
    }
    let listener = std::net::TcpListener::bind(&cfg.bind).with_context(|| format!("cannot listen on {}", cfg.bind))?;
    let http = HttpSettings { body_limit: cfg.body_limit, cors_origins: cfg.cors_origins.clone() };
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let running = serve(state, http, listener, workers)?;
    tracing::info!(addr = %running.addr, "listening");
    let handle = running.handle.clone();
    let server = tokio::spawn(running.server);
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    handle.stop(true).await;
    let _ = server.await;
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
