//! Embedded PostgreSQL: a private cluster built from the machine's PostgreSQL server binaries.
//!
//! [`EmbeddedPostgres::start`] initialises a cluster the first time (`initdb`), starts it with
//! `pg_ctl` and reuses it when it is already running. As root every PostgreSQL binary runs as the
//! `postgres` user through `runuser`, because the server refuses to run as root.
//!
//! Files next to the data directory `<parent>/<name>`:
//! - `<parent>/<name>.secret` (mode 0600): `port=<n>` and `password=<pw>` of the cluster;
//! - `<parent>/<name>.lock`: lock file serialising concurrent starts;
//! - the server log is `<parent>/<name>/server.log`, inside the data directory.
//!
//! Everything here is synchronous; async callers wrap it in `spawn_blocking`.

mod files;

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rand::Rng;
use rand::distributions::Alphanumeric;

use files::{
    Secret, append_conf, lock_file, read_secret, sidecar_path, write_private, write_secret,
};

/// Message returned when no usable PostgreSQL server binaries exist on the machine.
const NOT_FOUND: &str = "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under \
/usr/lib/postgresql/*/bin: install them (e.g. `apt-get install postgresql`) or set DATABASE_URL \
to an existing database";

/// The system user the server runs as when we are root.
const PG_USER: &str = "postgres";
/// Name of the server log inside the data directory.
const LOG_FILE: &str = "server.log";
/// Longest data directory path still used as the Unix socket directory (sun_path is 108 bytes).
const MAX_SOCKET_DIR_LEN: usize = 90;
/// How long a server that `pg_ctl status` misses is looked for before a new one is started.
const CONFIRM: Duration = Duration::from_millis(500);
/// How long to wait for the server to accept TCP connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A private PostgreSQL cluster, started (or found running) by [`EmbeddedPostgres::start`].
#[derive(Debug)]
pub struct EmbeddedPostgres {
    /// Absolute data directory (possibly the `/tmp` fallback).
    data_dir: PathBuf,
    /// Directory holding `initdb`, `pg_ctl` and `postgres`.
    bin_dir: PathBuf,
    /// TCP port on 127.0.0.1.
    port: u16,
    /// Password of the `postgres` role (alphanumeric; never logged).
    password: String,
    /// Whether `start` started the server rather than reusing a running one.
    started_by_us: bool,
    /// Whether binaries run as the `postgres` user through `runuser` (we are root).
    run_as_postgres: bool,
}

impl EmbeddedPostgres {
    /// Finds the directory holding the PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`).
    ///
    /// `initdb` on `PATH` is tried first (symlinks resolved, and only if `pg_ctl` and `postgres`
    /// sit in the same directory), else the highest version under `/usr/lib/postgresql/*/bin`.
    pub fn find_binaries() -> anyhow::Result<PathBuf> {
        if let Some(dir) = initdb_dir_on_path() {
            return Ok(dir);
        }
        let mut candidates: Vec<(Vec<u64>, PathBuf)> = Vec::new();
        if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
            for entry in entries.flatten() {
                let bin = entry.path().join("bin");
                if !is_server_bin_dir(&bin) {
                    continue;
                }
                let name = entry.file_name();
                let version: Vec<u64> = name
                    .to_string_lossy()
                    .split('.')
                    .map(|part| part.parse::<u64>().unwrap_or(0))
                    .collect();
                candidates.push((version, bin));
            }
        }
        candidates.sort();
        candidates
            .pop()
            .map(|(_, bin)| bin)
            .ok_or_else(|| anyhow!(NOT_FOUND))
    }

    /// Prepares (runs `initdb` the first time) and starts the cluster whose data lives at
    /// `preferred_dir`, or reuses it if it is already running (then `started_by_us()` is false).
    ///
    /// As root, if the `postgres` user cannot reach `preferred_dir`, the data lives in
    /// `/tmp/outbound-pg-<16 hex digits of a hash of the absolute preferred path>` instead (logged).
    /// Concurrent calls for the same directory, from threads or processes, are serialised by a
    /// lock file next to the data directory.
    pub fn start(preferred_dir: &Path) -> anyhow::Result<EmbeddedPostgres> {
        let bin_dir = Self::find_binaries()?;
        let preferred = std::path::absolute(preferred_dir)
            .with_context(|| format!("cannot make {} absolute", preferred_dir.display()))?;
        let run_as_postgres = running_as_root()?;

        let data_dir = if run_as_postgres {
            choose_dir_for_postgres_user(&preferred)?
        } else {
            fs::create_dir_all(&preferred)
                .with_context(|| format!("cannot create {}", preferred.display()))?;
            preferred
        };
        tracing::info!(data_dir = %data_dir.display(), "embedded PostgreSQL data directory");

        let lock_path = sidecar_path(&data_dir, "lock")?;
        let _lock = lock_file(&lock_path)?;

        let secret_path = sidecar_path(&data_dir, "secret")?;
        let initialised = data_dir.join("PG_VERSION").exists();
        let mut pg = EmbeddedPostgres {
            data_dir,
            bin_dir,
            port: 0,
            password: String::new(),
            started_by_us: false,
            run_as_postgres,
        };

        if initialised {
            let secret = read_secret(&secret_path).with_context(|| {
                format!(
                    "data directory {} holds a PostgreSQL cluster but its credentials file {} \
                     cannot be read; restore that file, or remove the data directory to start \
                     afresh (this deletes its data)",
                    pg.data_dir.display(),
                    secret_path.display()
                )
            })?;
            pg.port = secret.port;
            pg.password = secret.password;
        } else {
            pg.init(&secret_path)?;
        }

        // A server that was just killed can still look alive to `pg_ctl status` for a moment
        // (its pid not yet reaped): wait until it either answers or is reported gone.
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match pg.status()? {
                Status::Running => {
                    if let Some(port) = pg.port_from_pid_file() {
                        pg.port = port;
                    }
                    if pg.is_ready() {
                        tracing::info!(
                            data_dir = %pg.data_dir.display(),
                            port = pg.port,
                            "embedded PostgreSQL already running, reusing it"
                        );
                        return Ok(pg);
                    }
                    if Instant::now() >= deadline {
                        let (dir, port) = (pg.data_dir.display(), pg.port);
                        bail!(
                            "embedded PostgreSQL in {dir} is reported running but does not accept \
                             connections on 127.0.0.1:{port} after {} s; stop it (pg_ctl -D {dir} \
                             stop) or end its process; last lines of its log:\n{}",
                            READY_TIMEOUT.as_secs(),
                            tail(&pg.data_dir.join(LOG_FILE), 20)
                        );
                    }
                    thread::sleep(Duration::from_millis(100));
                }
                // `pg_ctl status` can miss a running server for a moment (seen under load while
                // the server rewrites postmaster.pid): one whose pid file says ready and whose
                // port answers is running; ask again rather than start a second one
                Status::NotRunning if Instant::now() < deadline && pg.answers_within(CONFIRM) => {
                    thread::sleep(Duration::from_millis(100));
                }
                Status::NotRunning => {
                    if !port_is_free(pg.port) {
                        let new_port = free_port()?;
                        tracing::warn!(
                            old_port = pg.port,
                            new_port,
                            "embedded PostgreSQL port is taken by another program, moving the cluster"
                        );
                        pg.port = new_port;
                        write_secret(
                            &secret_path,
                            &Secret {
                                port: pg.port,
                                password: pg.password.clone(),
                            },
                        )?;
                        append_conf(&pg.data_dir, &format!("port = {}\n", pg.port))?;
                    }
                    pg.pg_ctl_start()?;
                    pg.started_by_us = true;
                    pg.wait_ready()?;
                    tracing::info!(
                        data_dir = %pg.data_dir.display(),
                        port = pg.port,
                        "embedded PostgreSQL started"
                    );
                    return Ok(pg);
                }
            }
        }
    }

    /// Connection URL for database `db`:
    /// `postgres://postgres:<password>@127.0.0.1:<port>/<db>` (the password is alphanumeric).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://{PG_USER}:{}@127.0.0.1:{}/{db}",
            self.password, self.port
        )
    }

    /// The directory the cluster's data lives in (absolute; may be the `/tmp` fallback).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The TCP port the server listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// True if this call to [`EmbeddedPostgres::start`] started the server, false if it reused a
    /// running one.
    pub fn started_by_us(&self) -> bool {
        self.started_by_us
    }

    /// Stops the server (`pg_ctl stop -m fast`, waiting for it); does nothing if it is not running.
    pub fn stop(&self) -> anyhow::Result<()> {
        let lock_path = sidecar_path(&self.data_dir, "lock")?;
        let _lock = lock_file(&lock_path)?;
        if self.status()? == Status::NotRunning {
            return Ok(());
        }
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "-t", "60", "stop"])
            .output()
            .context("cannot run pg_ctl stop")?;
        if !out.status.success() {
            bail!(
                "pg_ctl stop failed for {}: {}",
                self.data_dir.display(),
                output_text(&out)
            );
        }
        tracing::info!(data_dir = %self.data_dir.display(), "embedded PostgreSQL stopped");
        Ok(())
    }

    /// A command running PostgreSQL binary `bin`, as the `postgres` user when we are root.
    fn command(&self, bin: &str) -> Command {
        let path = self.bin_dir.join(bin);
        let mut cmd = if self.run_as_postgres {
            let mut c = Command::new(runuser());
            c.args(["-u", PG_USER, "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // Our working directory may be unreadable for the postgres user; all paths are absolute.
        cmd.current_dir("/")
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST")
            .stdin(Stdio::null());
        cmd
    }

    /// First-time setup: `initdb`, configuration and the sidecar secret file.
    fn init(&mut self, secret_path: &Path) -> anyhow::Result<()> {
        let non_empty = fs::read_dir(&self.data_dir)
            .with_context(|| format!("cannot read {}", self.data_dir.display()))?
            .next()
            .is_some();
        if non_empty {
            bail!(
                "{} is neither empty nor a PostgreSQL data directory (no PG_VERSION); \
                 remove it or point the service elsewhere",
                self.data_dir.display()
            );
        }
        let password: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(32)
            .map(char::from)
            .collect();
        let port = free_port()?;

        let pwfile = sidecar_path(&self.data_dir, "pwfile")?;
        write_private(&pwfile, format!("{password}\n").as_bytes())?;
        let result = (|| -> anyhow::Result<()> {
            if self.run_as_postgres {
                chown_to_postgres(&pwfile, false)?;
            }
            tracing::info!(data_dir = %self.data_dir.display(), "initialising embedded PostgreSQL cluster");
            let out = self
                .command("initdb")
                .arg("-D")
                .arg(&self.data_dir)
                .args([
                    "-U",
                    PG_USER,
                    "-A",
                    "scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ])
                .arg(format!("--pwfile={}", pwfile.display()))
                .output()
                .context("cannot run initdb")?;
            if !out.status.success() {
                bail!(
                    "initdb failed for {}: {}",
                    self.data_dir.display(),
                    output_text(&out)
                );
            }
            Ok(())
        })();
        // the file holds the superuser's password: it must not outlive initdb
        if let Err(e) = fs::remove_file(&pwfile)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %pwfile.display(), error = %e, "could not remove initdb's password file");
        }
        result?;

        let socket_dir = if self.data_dir.as_os_str().len() > MAX_SOCKET_DIR_LEN {
            "/tmp".to_owned()
        } else {
            self.data_dir.to_string_lossy().into_owned()
        };
        let conf = format!(
            "\n# added by outbound (embedded PostgreSQL)\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{}'\n\
             max_connections = 200\n\
             shared_buffers = 128MB\n\
             fsync = on\n\
             logging_collector = off\n",
            socket_dir.replace('\'', "''")
        );
        append_conf(&self.data_dir, &conf)?;
        write_secret(
            secret_path,
            &Secret {
                port,
                password: password.clone(),
            },
        )?;
        self.port = port;
        self.password = password;
        Ok(())
    }

    /// `pg_ctl status`: running or not.
    fn status(&self) -> anyhow::Result<Status> {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("status")
            .output()
            .context("cannot run pg_ctl status")?;
        match out.status.code() {
            Some(0) => Ok(Status::Running),
            Some(3) => Ok(Status::NotRunning),
            _ => bail!(
                "pg_ctl status failed for {}: {}",
                self.data_dir.display(),
                output_text(&out)
            ),
        }
    }

    /// `pg_ctl start`, waiting for the server; on failure the error carries the log's tail.
    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let log = self.data_dir.join(LOG_FILE);
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .args([
                "-o",
                &format!("-p {}", self.port),
                "-w",
                "-t",
                "60",
                "start",
            ])
            .output()
            .context("cannot run pg_ctl start")?;
        if !out.status.success() {
            bail!(
                "pg_ctl start failed for {}: {}\nlast lines of {}:\n{}",
                self.data_dir.display(),
                output_text(&out),
                log.display(),
                tail(&log, 20)
            );
        }
        Ok(())
    }

    /// The port recorded in `postmaster.pid` (its fourth line) by the running server.
    fn port_from_pid_file(&self) -> Option<u16> {
        let text = fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        text.lines().nth(3)?.trim().parse().ok()
    }

    /// Whether `postmaster.pid` says the server is ready (or does not say at all).
    fn pid_file_ready(&self) -> bool {
        match fs::read_to_string(self.data_dir.join("postmaster.pid")) {
            Ok(text) => match text.lines().nth(7) {
                Some(status) => matches!(status.trim(), "ready" | "standby"),
                None => true,
            },
            Err(_) => false,
        }
    }

    /// Whether postmaster.pid names a port that accepts connections and says the server is ready.
    fn answers_per_pid_file(&self) -> bool {
        self.port_from_pid_file()
            .is_some_and(|port| self.answers_on(port))
    }

    /// Whether [`Self::answers_per_pid_file`] within `window`, asked every 50 ms: the pid file
    /// can be caught half rewritten by the server, so one negative answer is not enough to start
    /// a second server (whose `pg_ctl start -w` would report success on the first one's file).
    fn answers_within(&self, window: Duration) -> bool {
        let until = Instant::now() + window;
        loop {
            if self.answers_per_pid_file() {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the server accepts TCP connections and its pid file says it is ready.
    fn is_ready(&self) -> bool {
        self.answers_on(self.port)
    }

    /// Whether `port` accepts TCP connections and the pid file says the server is ready.
    fn answers_on(&self, port: u16) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
            && self.pid_file_ready()
    }

    /// Polls until the server accepts TCP connections and reports ready, for up to 30 s.
    fn wait_ready(&self) -> anyhow::Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if self.is_ready() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "embedded PostgreSQL in {} does not accept connections on {addr} after {} s; \
                     last lines of its log:\n{}",
                    self.data_dir.display(),
                    READY_TIMEOUT.as_secs(),
                    tail(&self.data_dir.join(LOG_FILE), 20)
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Result of `pg_ctl status`.
#[derive(Debug, PartialEq, Eq)]
enum Status {
    Running,
    NotRunning,
}

/// Directory of `initdb` found on `PATH` (symlinks resolved), if `pg_ctl` and `postgres` are beside it.
fn initdb_dir_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join("initdb");
        if !is_executable(&candidate) {
            continue;
        }
        let Ok(real) = fs::canonicalize(&candidate) else {
            continue;
        };
        if let Some(bin) = real.parent()
            && is_server_bin_dir(bin)
        {
            return Some(bin.to_path_buf());
        }
    }
    None
}

/// Whether `dir` holds executable `initdb`, `pg_ctl` and `postgres`.
fn is_server_bin_dir(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|bin| is_executable(&dir.join(bin)))
}

/// Whether `path` is a regular file with an execute bit.
fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Whether the effective user id is 0, from `/proc/self/status`, else from `id -u`.
fn running_as_root() -> anyhow::Result<bool> {
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            if let Some(rest) = line.strip_prefix("Uid:")
                && let Some(euid) = rest.split_whitespace().nth(1)
            {
                return Ok(euid == "0");
            }
        }
    }
    let out = Command::new("id")
        .arg("-u")
        .output()
        .context("cannot determine the user id (`id -u`)")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Path of the `runuser` program (PATH may lack /usr/sbin).
fn runuser() -> PathBuf {
    for candidate in [
        "/usr/sbin/runuser",
        "/sbin/runuser",
        "/usr/bin/runuser",
        "/bin/runuser",
    ] {
        let path = Path::new(candidate);
        if is_executable(path) {
            return path.to_path_buf();
        }
    }
    PathBuf::from("runuser")
}

/// As root: the preferred directory if the postgres user can use it, else the `/tmp` fallback.
fn choose_dir_for_postgres_user(preferred: &Path) -> anyhow::Result<PathBuf> {
    let reason = match prepare_for_postgres_user(preferred) {
        Ok(()) => return Ok(preferred.to_path_buf()),
        Err(e) => e,
    };
    let fallback = PathBuf::from(format!("/tmp/outbound-pg-{:016x}", fnv1a(preferred)));
    tracing::warn!(
        preferred = %preferred.display(),
        used = %fallback.display(),
        reason = %format!("{reason:#}"),
        "the postgres user cannot use the preferred PostgreSQL data directory; using a fallback"
    );
    prepare_for_postgres_user(&fallback).with_context(|| {
        format!(
            "the postgres user can use neither {} ({reason:#}) nor the fallback {}",
            preferred.display(),
            fallback.display()
        )
    })?;
    Ok(fallback)
}

/// Creates `dir` (owned by postgres) if its parent is reachable, and checks postgres can use it.
fn prepare_for_postgres_user(dir: &Path) -> anyhow::Result<()> {
    let parent = dir
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent directory", dir.display()))?;
    fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    if !postgres_can(parent, false)? {
        bail!("the postgres user cannot enter {}", parent.display());
    }
    // another start (a thread, a process) may create it at the same moment: no reason to fall
    // back to another directory, and so to a second cluster
    if let Err(e) = fs::DirBuilder::new().mode(0o700).create(dir)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(e).with_context(|| format!("cannot create {}", dir.display()));
    }
    let recursive = !dir.join("PG_VERSION").exists();
    chown_to_postgres(dir, recursive)?;
    if !postgres_can(dir, true)? {
        bail!("the postgres user cannot enter and write {}", dir.display());
    }
    Ok(())
}

/// Runs `runuser -u postgres -- test -x <path>` (plus `-a -w <path>` if `write`); true if it succeeds.
fn postgres_can(path: &Path, write: bool) -> anyhow::Result<bool> {
    let mut args: Vec<&std::ffi::OsStr> = vec!["-x".as_ref(), path.as_os_str()];
    if write {
        args.extend(["-a".as_ref(), "-w".as_ref(), path.as_os_str()]);
    }
    let out = Command::new(runuser())
        .args(["-u", PG_USER, "--", "test"])
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .context("cannot run runuser (needed to run PostgreSQL as the postgres user)")?;
    if out.status.code() == Some(0) {
        return Ok(true);
    }
    if out.status.code() == Some(1) && out.stderr.is_empty() {
        return Ok(false);
    }
    bail!(
        "`runuser -u {PG_USER} -- test` failed (does the {PG_USER} user exist?): {}",
        output_text(&out)
    )
}

/// `chown [-R] postgres:postgres <path>`.
fn chown_to_postgres(path: &Path, recursive: bool) -> anyhow::Result<()> {
    let mut cmd = Command::new("chown");
    if recursive {
        cmd.arg("-R");
    }
    let out = cmd
        .arg(format!("{PG_USER}:{PG_USER}"))
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .context("cannot run chown")?;
    if !out.status.success() {
        bail!(
            "chown of {} to {PG_USER} failed: {}",
            path.display(),
            output_text(&out)
        );
    }
    Ok(())
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("cannot find a free TCP port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// Whether 127.0.0.1:`port` can be bound now.
fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// 64-bit FNV-1a of a path's bytes: stable across runs and Rust versions.
fn fnv1a(path: &Path) -> u64 {
    path.as_os_str()
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// Stdout and stderr of a finished command, trimmed, for error messages.
fn output_text(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let text = format!("{} {}", stdout.trim(), stderr.trim());
    format!("{} ({})", text.trim(), out.status)
}

/// The last `n` lines of the file at `path` (or a note that it cannot be read).
fn tail(path: &Path, n: usize) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let skip = lines.len().saturating_sub(n);
            lines.into_iter().skip(skip).collect::<Vec<_>>().join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under /tmp (reachable by the postgres user); removed (also a file) on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> anyhow::Result<TempDir> {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_nanos();
            let dir = PathBuf::from(format!(
                "/tmp/outbound-embedded-{tag}-{}-{nanos}",
                std::process::id()
            ));
            fs::create_dir_all(&dir)?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
            Ok(TempDir(dir))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            if fs::remove_dir_all(&self.0).is_err() {
                let _ = fs::remove_file(&self.0);
            }
        }
    }

    /// Stops the cluster when dropped, so a failing assertion leaves no server behind.
    struct StopOnDrop(PathBuf, PathBuf, bool);

    impl StopOnDrop {
        fn new(pg: &EmbeddedPostgres) -> StopOnDrop {
            StopOnDrop(pg.data_dir.clone(), pg.bin_dir.clone(), pg.run_as_postgres)
        }
    }

    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            let pg = EmbeddedPostgres {
                data_dir: self.0.clone(),
                bin_dir: self.1.clone(),
                port: 0,
                password: String::new(),
                started_by_us: true,
                run_as_postgres: self.2,
            };
            let _ = pg.stop();
        }
    }

    fn binaries_or_skip() -> bool {
        match EmbeddedPostgres::find_binaries() {
            Ok(_) => true,
            Err(e) => {
                eprintln!("skipping embedded PostgreSQL test: {e}");
                false
            }
        }
    }

    fn can_connect(port: u16) -> bool {
        TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            Duration::from_millis(500),
        )
        .is_ok()
    }

    /// Runs `sql` through psql (from the same bin dir) against `pg`; None if psql is missing.
    fn psql(pg: &EmbeddedPostgres, sql: &str) -> anyhow::Result<Option<String>> {
        let psql = pg.bin_dir.join("psql");
        if !is_executable(&psql) {
            return Ok(None);
        }
        let out = Command::new(psql)
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(pg.url("postgres"))
            .args(["-c", sql])
            .output()?;
        if !out.status.success() {
            bail!("psql failed: {}", output_text(&out));
        }
        Ok(Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()))
    }

    #[test]
    fn finds_binaries_with_pg_ctl_beside_initdb() {
        if let Ok(bin) = EmbeddedPostgres::find_binaries() {
            assert!(is_server_bin_dir(&bin), "{}", bin.display());
        }
    }

    #[test]
    fn start_reuse_stop_restart() -> anyhow::Result<()> {
        if !binaries_or_skip() {
            return Ok(());
        }
        let tmp = TempDir::new("cycle")?;
        let dir = tmp.0.join("pg");

        let first = EmbeddedPostgres::start(&dir)?;
        let _guard = StopOnDrop::new(&first);
        assert!(first.started_by_us());
        assert_eq!(first.data_dir(), dir.as_path());
        assert!(can_connect(first.port()));
        assert!(first.url("app").starts_with("postgres://postgres:"));
        assert!(
            first
                .url("app")
                .ends_with(&format!("@127.0.0.1:{}/app", first.port()))
        );
        assert!(sidecar_path(&dir, "secret")?.exists());
        assert!(!sidecar_path(&dir, "pwfile")?.exists());
        psql(
            &first,
            "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42);",
        )?;

        let second = EmbeddedPostgres::start(&dir)?;
        assert!(!second.started_by_us());
        assert_eq!(second.port(), first.port());
        assert_eq!(second.url("x"), first.url("x"));

        first.stop()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while can_connect(first.port()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
        }
        assert!(!can_connect(first.port()));
        first.stop()?; // stopping a stopped cluster is fine

        let third = EmbeddedPostgres::start(&dir)?;
        assert!(third.started_by_us());
        assert_eq!(third.url("x"), first.url("x"));
        assert!(can_connect(third.port()));
        if let Some(v) = psql(&third, "SELECT v FROM kept")? {
            assert_eq!(v, "42");
        }
        third.stop()?;
        Ok(())
    }

    #[test]
    fn concurrent_starts_share_one_cluster() -> anyhow::Result<()> {
        if !binaries_or_skip() {
            return Ok(());
        }
        let tmp = TempDir::new("concurrent")?;
        let dir = tmp.0.join("pg");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let dir = dir.clone();
                thread::spawn(move || EmbeddedPostgres::start(&dir))
            })
            .collect();
        let mut results = Vec::new();
        for h in handles {
            results.push(h.join().map_err(|_| anyhow!("thread panicked"))?);
        }
        let mut guards = Vec::new();
        let mut started = Vec::new();
        for r in results {
            let pg = r?;
            guards.push(StopOnDrop::new(&pg));
            started.push(pg);
        }
        let by_us = started.iter().filter(|p| p.started_by_us()).count();
        let ports: std::collections::BTreeSet<u16> = started.iter().map(|p| p.port()).collect();
        assert_eq!(by_us, 1);
        assert_eq!(ports.len(), 1);
        Ok(())
    }

    #[test]
    fn unreachable_dir_falls_back_to_tmp_as_root() -> anyhow::Result<()> {
        if !binaries_or_skip() || !running_as_root()? {
            return Ok(());
        }
        let tmp = TempDir::new("private")?;
        let private = tmp.0.join("private");
        fs::create_dir(&private)?;
        fs::set_permissions(&private, fs::Permissions::from_mode(0o700))?;
        let dir = private.join("pg");
        let expected = PathBuf::from(format!("/tmp/outbound-pg-{:016x}", fnv1a(&dir)));
        // Removes the fallback directory and its sidecars when the test ends.
        let _fallback = (
            TempDir(expected.clone()),
            TempDir(sidecar_path(&expected, "secret")?),
            TempDir(sidecar_path(&expected, "lock")?),
        );
        let pg = EmbeddedPostgres::start(&dir)?;
        let _guard = StopOnDrop::new(&pg);
        assert_eq!(pg.data_dir(), expected.as_path());
        assert!(pg.started_by_us());
        assert!(can_connect(pg.port()));
        Ok(())
    }

    #[test]
    fn data_dir_without_secret_is_a_clear_error() -> anyhow::Result<()> {
        if !binaries_or_skip() {
            return Ok(());
        }
        let tmp = TempDir::new("nosecret")?;
        let dir = tmp.0.join("pg");
        let pg = EmbeddedPostgres::start(&dir)?;
        pg.stop()?;
        fs::remove_file(sidecar_path(&dir, "secret")?)?;
        let err = match EmbeddedPostgres::start(&dir) {
            Ok(p) => {
                p.stop()?;
                bail!("start without credentials file succeeded");
            }
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("credentials file"), "{err}");
        Ok(())
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(Path::new("")), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(Path::new("a")), 0xaf63_dc4c_8601_ec8c);
    }
}
