//! `outbound backup` and `outbound restore`: the database to a file and back, with a progress
//! line per table on stderr (stdout carries only the result).

use std::path::Path;

use adapters::backup;

/// `backup --to FILE`.
pub async fn backup(database_url: &str, to: &Path) -> anyhow::Result<()> {
    let total = backup::table_count(database_url).await?;
    let url = database_url.to_owned();
    let path = to.to_owned();
    let bytes = tokio::task::spawn_blocking(move || {
        let mut done = 0;
        backup::backup(&url, &path, |table| {
            done += 1;
            eprintln!("backup: {done}/{total} {table}");
        })
    })
    .await??;
    println!(
        "backup written: {} ({} tables, {} bytes)",
        to.display(),
        total,
        bytes
    );
    Ok(())
}

/// `restore --from FILE [--force]`.
pub async fn restore(database_url: &str, from: &Path, force: bool) -> anyhow::Result<()> {
    let existing = backup::table_count(database_url).await?;
    if existing > 0 && !force {
        anyhow::bail!(
            "the database already has {existing} tables: restore into an empty database, or \
             add --force to replace what the archive holds (stop every instance first)"
        );
    }
    let url = database_url.to_owned();
    let path = from.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut done = 0;
        backup::restore(&url, &path, existing > 0, |table| {
            done += 1;
            eprintln!("restore: {done} {table}");
        })
    })
    .await??;
    let tables = backup::table_count(database_url).await?;
    println!("restored {} ({tables} tables)", from.display());
    Ok(())
}
