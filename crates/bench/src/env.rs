//! The benchmark environment: a database, the release binary, the simulator, load tools.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::db::{DbPool, PoolSettings, make_pool};
use adapters::pg_auth::{PgOrgs, PgUsers};
use adapters::security::Argon2Hasher;
use auth::{NewUser, UserRepository};
use diesel_async::RunQueryDsl;
use kernel::Role;
use org::OrgRepository;
use testkit::TestDb;

/// Token secret of the benchmark server.
pub const SECRET: &str = "bench-secret-bench-secret-bench-secret-0123";

/// Database, pool and tools.
pub struct BenchEnv {
    /// The database (dropped at the end).
    pub db: TestDb,
    /// A pool on it.
    pub pool: DbPool,
    /// Where the release binary is.
    pub bin: std::path::PathBuf,
    /// Settings given to every server started (`--server-env`), after the scenario's own.
    pub server_env: Vec<(String, String)>,
}

/// A running release server.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:port`.
    pub base: String,
}

impl Server {
    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no cleanup, leases and a batch in flight left behind.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return; // already gone (killed)
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

/// Resident memory of a process, KiB (VmRSS), and its peak (VmHWM).
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (get("VmRSS:"), get("VmHWM:"))
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl BenchEnv {
    /// A fresh database and the release binary.
    pub async fn new(server_env: Vec<(String, String)>) -> anyhow::Result<BenchEnv> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
            });
        let bin = target.join("release/outbound");
        anyhow::ensure!(
            bin.exists(),
            "{} missing: cargo build --release --bin outbound",
            bin.display()
        );
        let db = TestDb::new().await?;
        let pool = make_pool(
            &db.url,
            &PoolSettings {
                max_size: 8,
                ..Default::default()
            },
        )?;
        Ok(BenchEnv {
            db,
            pool,
            bin,
            server_env,
        })
    }

    /// Run SQL.
    pub async fn sql(&self, q: &str) -> anyhow::Result<()> {
        let mut c = adapters::db::conn(&self.pool).await?;
        diesel::sql_query(q).execute(&mut c).await?;
        Ok(())
    }

    /// A new organisation with an admin `name` (password `bench-password`); returns its id.
    pub async fn tenant(&self, name: &str) -> anyhow::Result<i64> {
        let org = PgOrgs::new(self.pool.clone())
            .create(
                name,
                None,
                audit::Entry::cli(audit::Action::OrgCreate, None),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let hash = Argon2Hasher::with_params(1024, 1, 1)?.hash_blocking("bench-password")?;
        PgUsers::new(self.pool.clone())
            .create(
                NewUser {
                    username: name.into(),
                    display_name: name.into(),
                    role: Role::Admin,
                    org_id: org.id,
                    password_hash: hash,
                },
                None,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(org.id.0)
    }

    /// Start the release server; `env` adds or overrides variables.
    pub async fn server(&self, sim_url: &str, env: &[(&str, String)]) -> anyhow::Result<Server> {
        self.server_of(&self.bin, &self.db.url, free_port()?, sim_url, env)
            .await
    }

    /// Start binary `bin` on `db_url` at `port`; `env` adds or overrides variables.
    pub async fn server_of(
        &self,
        bin: &std::path::Path,
        db_url: &str,
        port: u16,
        sim_url: &str,
        env: &[(&str, String)],
    ) -> anyhow::Result<Server> {
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", db_url)
            .env("JWT_SECRET", SECRET)
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("PLATFORM_URL", sim_url)
            .env("PLATFORM_APP_KEY", "sim-key")
            .env("PLATFORM_APP_SECRET", "sim-secret")
            .env("CALL_WINDOWS", "00:00-24:00")
            .env(
                "RUST_LOG",
                std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        for (k, v) in &self.server_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn()?;
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client
                .get(format!("{}/api/health", server.base))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(server);
            }
            anyhow::ensure!(Instant::now() < deadline, "server did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Log in as `user` on `server`.
    pub async fn token(&self, server: &Server, user: &str) -> anyhow::Result<String> {
        let r: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/api/login", server.base))
            .json(&serde_json::json!({"username": user, "password": "bench-password"}))
            .send()
            .await?
            .json()
            .await?;
        r["data"]["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("login failed: {r}"))
    }

    /// Time one statement in psql (`\timing`), in milliseconds, committed on its own (so the time
    /// includes the commit's WAL flush, as every real write's does).
    pub fn psql_ms(&self, statement: &str) -> anyhow::Result<f64> {
        let script = format!("\\timing on\n{statement};\n\\timing off\n");
        let out = Command::new("psql")
            .arg(&self.db.url)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(script.as_bytes())?;
                }
                child.wait_with_output()
            })?;
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        anyhow::ensure!(out.status.success(), "psql failed: {text}");
        let line = text
            .lines()
            .find(|l| l.starts_with("Time: "))
            .ok_or_else(|| anyhow::anyhow!("no timing in: {text}"))?;
        Ok(line
            .trim_start_matches("Time: ")
            .split_whitespace()
            .next()
            .unwrap_or("0")
            .parse()?)
    }
}

/// wrk results.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Requests per second.
    pub rps: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Non-2xx responses.
    pub errors: u64,
    /// Requests made.
    pub requests: u64,
    /// The slowest request, ms.
    pub max_ms: f64,
    /// Failed connections, reads, writes and timeouts.
    pub socket_errors: u64,
}

fn ms(v: &str) -> f64 {
    let v = v.trim();
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => n,
    }
}

/// Run `wrk -t2 -c32 -d{secs}s --latency` against `url` with the token.
pub fn wrk(url: &str, token: Option<&str>, secs: u32) -> anyhow::Result<Load> {
    wrk_with(
        url,
        token
            .map(|t| format!("access-token: {t}"))
            .into_iter()
            .collect(),
        secs,
    )
}

/// `wrk` with request headers (`Name: value`).
pub fn wrk_with(url: &str, headers: Vec<String>, secs: u32) -> anyhow::Result<Load> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c32", &format!("-d{secs}s"), "--latency"]);
    for h in headers {
        cmd.args(["-H", &h]);
    }
    let out = cmd.arg(url).output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    anyhow::ensure!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(parse_wrk(&text))
}

/// What wrk's report (with `--latency`) says.
pub fn parse_wrk(text: &str) -> Load {
    let line = |p: &str| text.lines().find(|l| l.trim_start().starts_with(p));
    // "Latency  avg  stdev  max  +/- stdev"
    let latency: Vec<&str> = line("Latency")
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    Load {
        rps: line("Requests/sec:")
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        p99_ms: line("99%")
            .and_then(|l| l.split_whitespace().nth(1))
            .map(ms)
            .unwrap_or(f64::NAN),
        errors: line("Non-2xx or 3xx responses:")
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
        requests: text
            .lines()
            .find(|l| l.contains("requests in"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        max_ms: latency.get(3).map(|v| ms(v)).unwrap_or(f64::NAN),
        socket_errors: line("Socket errors:")
            .map(|l| {
                l.split(',')
                    .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0),
    }
}

/// Start a simulator in this process; returns it and its URL.
pub fn sim(cfg: platform_sim::SimConfig) -> anyhow::Result<(Arc<platform_sim::Simulator>, String)> {
    let sim = platform_sim::Simulator::new(cfg);
    platform_sim::start_clock(sim.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(platform_sim::serve(sim.clone(), listener, 1)?);
    Ok((sim, url))
}
