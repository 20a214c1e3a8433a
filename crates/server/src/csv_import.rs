//! `outbound leads import FILE.csv`: the HTTP import's rules over a CSV file, in batches, with a
//! progress bar on a terminal and bad rows reported with their line numbers.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use kernel::{OrgId, OrgScope};
use leads::{LeadInput, LeadService, MAX_IMPORT_ROWS};

/// Totals of a file import.
#[derive(Debug, Default)]
pub struct FileImport {
    /// New leads.
    pub inserted: i64,
    /// Changed leads.
    pub updated: i64,
    /// Unchanged rows.
    pub unchanged: i64,
    /// Rejected rows: (line number in the file, reason).
    pub rejected: Vec<(u64, String)>,
}

const FIELDS: &[&str] = &[
    "external_id",
    "customer_name",
    "phone",
    "level",
    "source",
    "vehicle_model",
    "status",
    "owner_name",
    "create_time",
    "do_not_call",
];

fn parse_bool(s: &str) -> Result<Option<bool>, String> {
    match s.trim().to_lowercase().as_str() {
        "" => Ok(None),
        "true" | "1" | "yes" | "y" | "是" => Ok(Some(true)),
        "false" | "0" | "no" | "n" | "否" => Ok(Some(false)),
        other => Err(format!("do_not_call must be true or false, got `{other}`")),
    }
}

fn to_input(row: HashMap<String, String>) -> Result<LeadInput, String> {
    // PostgreSQL text cannot hold U+0000: refuse the row, not the file
    if row.values().any(|v| v.contains('\0')) {
        return Err(api::extract::NUL_TEXT.to_owned());
    }
    let get = |k: &str| {
        row.get(k)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    Ok(LeadInput {
        external_id: get("external_id"),
        customer_name: get("customer_name"),
        phone: get("phone"),
        level: get("level"),
        source: get("source"),
        vehicle_model: get("vehicle_model"),
        status: get("status"),
        owner_name: get("owner_name"),
        create_time: get("create_time"),
        do_not_call: parse_bool(row.get("do_not_call").map(String::as_str).unwrap_or(""))?,
    })
}

/// Import `path` into organisation `org`.
pub async fn import_file(
    leads: &LeadService,
    org: OrgId,
    path: &Path,
) -> anyhow::Result<FileImport> {
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(file);
    let headers = reader.headers()?.clone();
    let unknown: Vec<&str> = headers.iter().filter(|h| !FIELDS.contains(h)).collect();
    if !unknown.is_empty() {
        anyhow::bail!(
            "unknown column(s) {unknown:?}; allowed: {}",
            FIELDS.join(", ")
        );
    }
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(size);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let scope = OrgScope::new(org, []);
    let mut out = FileImport::default();
    let mut batch: Vec<Result<LeadInput, String>> = Vec::new();
    let mut lines: Vec<u64> = Vec::new();
    let flush = async |batch: &mut Vec<Result<LeadInput, String>>,
                       lines: &mut Vec<u64>,
                       out: &mut FileImport| {
        if batch.is_empty() {
            return anyhow::Ok(());
        }
        let counts = leads
            .import(&scope, Some(org), std::mem::take(batch))
            .await?;
        out.inserted += counts.inserted;
        out.updated += counts.updated;
        out.unchanged += counts.unchanged;
        for r in counts.rejected {
            out.rejected
                .push((lines.get(r.index).copied().unwrap_or(0), r.error));
        }
        lines.clear();
        anyhow::Ok(())
    };
    for record in reader.records() {
        let (line, row) = match record {
            Ok(rec) => {
                let line = rec.position().map(|p| p.line()).unwrap_or(0);
                let map: HashMap<String, String> = headers
                    .iter()
                    .zip(rec.iter())
                    .map(|(h, v)| (h.to_owned(), v.to_owned()))
                    .collect();
                bar.set_position(rec.position().map(|p| p.byte()).unwrap_or(0));
                (line, to_input(map))
            }
            Err(e) => (
                e.position().map(|p| p.line()).unwrap_or(0),
                Err(format!("unreadable row: {e}")),
            ),
        };
        lines.push(line);
        batch.push(row);
        if batch.len() >= MAX_IMPORT_ROWS {
            flush(&mut batch, &mut lines, &mut out).await?;
            bar.set_message(format!("{} inserted", out.inserted));
        }
    }
    flush(&mut batch, &mut lines, &mut out).await?;
    bar.finish_and_clear();
    Ok(out)
}
