//! `outbound leads import FILE.csv`: [`LeadService::import_csv`] over a file, with a progress
//! bar when standard error is a terminal.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use kernel::OrgId;
use leads::{CSV_FIELDS, CsvError, CsvImport, LeadService};

/// Import `path` into organisation `org` (inside the caller's scope).
pub async fn import_file(
    leads: &LeadService,
    caller: &kernel::Caller,
    org: OrgId,
    path: &Path,
) -> anyhow::Result<CsvImport> {
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(size);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let out = leads
        .import_csv(caller, org, std::io::BufReader::new(file), |bytes| {
            bar.set_position(bytes)
        })
        .await
        .map_err(|e| match e {
            CsvError::UnknownColumns(_) => {
                anyhow::anyhow!("{e}; allowed: {}", CSV_FIELDS.join(", "))
            }
            e => anyhow::Error::new(e),
        })?;
    bar.finish_and_clear();
    Ok(out)
}
