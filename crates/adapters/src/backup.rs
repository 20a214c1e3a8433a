//! Backups of the database with the machine's PostgreSQL tools: `pg_dump` writes a consistent
//! custom-format archive (one snapshot, whatever runs meanwhile), `pg_restore` reads it back
//! into an empty database in one transaction (a failed restore leaves the database as it was).
//! The password never appears on a command line (`ps` shows those): it goes in `PGPASSWORD`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use crate::embedded::EmbeddedPostgres;

/// A database URL split for the tools: the URL without its password, and the password.
struct Target {
    url: String,
    password: Option<String>,
}

fn target(database_url: &str) -> anyhow::Result<Target> {
    let mut url = url::Url::parse(database_url).context("DATABASE_URL is not a URL")?;
    let password = url.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    url.set_password(None)
        .map_err(|()| anyhow::anyhow!("DATABASE_URL cannot hold a password"))?;
    Ok(Target {
        url: url.to_string(),
        password,
    })
}

/// A PostgreSQL client tool of the machine (the directory the embedded cluster's binaries come
/// from, or `PG_BIN_DIR`'s), pointed at `database_url`.
fn tool(name: &str, database_url: &str) -> anyhow::Result<(Command, String)> {
    let bin: PathBuf = EmbeddedPostgres::find_binaries()?.join(name);
    let t = target(database_url)?;
    let mut cmd = Command::new(&bin);
    if let Some(p) = t.password {
        cmd.env("PGPASSWORD", p);
    }
    Ok((cmd, t.url))
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Tables of the database at `database_url` (for a progress line, and to refuse a restore
/// into a database that holds some).
pub async fn table_count(database_url: &str) -> anyhow::Result<i64> {
    let mut c = crate::pg_connect::connect(database_url)
        .await
        .context("cannot connect to the database")?;
    let r: Count =
        diesel::sql_query("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'")
            .get_result(&mut c)
            .await?;
    Ok(r.n)
}

/// Run `cmd`, calling `progress` with each table it reports (`--verbose` output), and fail
/// with its last words if it fails.
fn run(mut cmd: Command, what: &str, mut progress: impl FnMut(&str)) -> anyhow::Result<()> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {what}"))?;
    let mut last = Vec::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if let Some(table) = line
                .split("table data for table ")
                .nth(1)
                .or_else(|| line.split("dumping contents of table ").nth(1))
                .or_else(|| line.split("processing data for table ").nth(1))
            {
                progress(table.trim_matches('"'));
            } else if !line.contains(": processing ") && !line.contains(": creating ") {
                last.push(line);
                if last.len() > 5 {
                    last.remove(0);
                }
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("{what} failed ({status}): {}", last.join("; "));
    }
    Ok(())
}

/// Write a consistent archive of the database at `database_url` to `to`: first to a file
/// beside it, renamed when complete, so `to` is never a half-written archive. `progress` gets
/// each table as it is dumped. Answers the archive's size in bytes.
pub fn backup(database_url: &str, to: &Path, progress: impl FnMut(&str)) -> anyhow::Result<u64> {
    let partial = to.with_extension("partial");
    let (mut cmd, url) = tool("pg_dump", database_url)?;
    cmd.args([
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        "--verbose",
    ])
    .arg("--file")
    .arg(&partial)
    .arg("--dbname")
    .arg(url);
    let result = run(cmd, "pg_dump", progress);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, to).with_context(|| format!("cannot write {}", to.display()))?;
    Ok(std::fs::metadata(to)?.len())
}

/// Restore the archive `from` into the database at `database_url`, in one transaction. The
/// caller has checked that the database is empty, or asked for `clean` (drop what the archive
/// holds first).
pub fn restore(
    database_url: &str,
    from: &Path,
    clean: bool,
    progress: impl FnMut(&str),
) -> anyhow::Result<()> {
    if !from.is_file() {
        bail!("{} is not a file", from.display());
    }
    let (mut cmd, url) = tool("pg_restore", database_url)?;
    cmd.args([
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--verbose",
    ]);
    if clean {
        cmd.args(["--clean", "--if-exists"]);
    }
    cmd.arg("--dbname").arg(url).arg(from);
    run(cmd, "pg_restore", progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        let t = target("postgres://outbound:p%40ss%2Fw@127.0.0.1:5432/outbound?sslmode=disable")
            .unwrap();
        assert_eq!(
            t.url,
            "postgres://outbound@127.0.0.1:5432/outbound?sslmode=disable"
        );
        assert_eq!(t.password.as_deref(), Some("p@ss/w"));
        let t = target("postgres://me@db/outbound").unwrap();
        assert_eq!(t.password, None);
    }
}
