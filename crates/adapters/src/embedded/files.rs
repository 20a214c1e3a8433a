//! The files beside an embedded cluster's data directory: its secret, its lock, its
//! configuration's additions.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

/// Connection secrets kept in the sidecar file next to the data directory.
pub(super) struct Secret {
    pub(super) port: u16,
    pub(super) password: String,
}

/// `<parent>/<name>.<ext>` for data directory `<parent>/<name>`.
pub(super) fn sidecar_path(data_dir: &Path, ext: &str) -> anyhow::Result<PathBuf> {
    let name = data_dir
        .file_name()
        .ok_or_else(|| anyhow!("data directory {} has no name", data_dir.display()))?;
    let parent = data_dir
        .parent()
        .ok_or_else(|| anyhow!("data directory {} has no parent", data_dir.display()))?;
    let mut file = name.to_os_string();
    file.push(".");
    file.push(ext);
    Ok(parent.join(file))
}

/// Opens `path` and takes an exclusive lock on it, released when the file is dropped.
pub(super) fn lock_file(path: &Path) -> anyhow::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

/// Writes `contents` to `path` with mode 0600, atomically (temporary file and rename).
pub(super) fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    // a leftover of a crashed earlier write, if any; the create below fails if it stays
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(file);
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Writes the sidecar secret file.
pub(super) fn write_secret(path: &Path, secret: &Secret) -> anyhow::Result<()> {
    write_private(
        path,
        format!("port={}\npassword={}\n", secret.port, secret.password).as_bytes(),
    )
}

/// Reads and validates the sidecar secret file.
pub(super) fn read_secret(path: &Path) -> anyhow::Result<Secret> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut port = None;
    let mut password = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("port=") {
            port = v.trim().parse::<u16>().ok();
        } else if let Some(v) = line.strip_prefix("password=") {
            password = Some(v.trim().to_owned());
        }
    }
    let port = port
        .filter(|p| *p != 0)
        .ok_or_else(|| anyhow!("{} has no valid port= line", path.display()))?;
    let password = password
        .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
        .ok_or_else(|| anyhow!("{} has no valid password= line", path.display()))?;
    Ok(Secret { port, password })
}

/// Appends `text` to `<data_dir>/postgresql.conf`.
pub(super) fn append_conf(data_dir: &Path, text: &str) -> anyhow::Result<()> {
    let path = data_dir.join("postgresql.conf");
    let mut file = OpenOptions::new()
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
