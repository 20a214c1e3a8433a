//! Importing leads from CSV (the command line's `outbound leads import` and the console's upload):
//! a header row of lead field names, then one lead a row, imported by the rules of
//! [`LeadService::import`] in batches; bad rows are reported with their line numbers and the
//! good ones kept.

use std::collections::HashMap;
use std::io::Read;

use kernel::{Caller, OrgId};

use crate::{LeadError, LeadInput, LeadService, MAX_IMPORT_ROWS};

/// The columns a file may have.
pub const CSV_FIELDS: &[&str] = &[
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

/// What a file import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CsvImport {
    /// New leads.
    pub inserted: i64,
    /// Changed leads.
    pub updated: i64,
    /// Unchanged rows.
    pub unchanged: i64,
    /// Rejected rows: (line number in the file, reason).
    pub rejected: Vec<(u64, String)>,
}

/// Why a file could not be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The header names columns that are not lead fields.
    #[error("unknown column(s) {0:?}")]
    UnknownColumns(Vec<String>),
    /// The header row cannot be read.
    #[error("unreadable header: {0}")]
    Header(String),
    /// The import itself failed (organisation, storage).
    #[error(transparent)]
    Lead(#[from] LeadError),
}

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
        return Err("text may not contain U+0000".to_owned());
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

impl LeadService {
    /// Import the CSV of `reader` into `org` (inside the caller's scope); `progress` is told the bytes read
    /// so far after every batch.
    pub async fn import_csv(
        &self,
        caller: &Caller,
        org: OrgId,
        reader: impl Read,
        mut progress: impl FnMut(u64),
    ) -> Result<CsvImport, CsvError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(reader);
        let headers = reader
            .headers()
            .map_err(|e| CsvError::Header(e.to_string()))?
            .clone();
        let unknown: Vec<String> = headers
            .iter()
            .filter(|h| !CSV_FIELDS.contains(h))
            .map(str::to_owned)
            .collect();
        if !unknown.is_empty() {
            return Err(CsvError::UnknownColumns(unknown));
        }
        let mut out = CsvImport::default();
        let mut batch: Vec<Result<LeadInput, String>> = Vec::new();
        let mut lines: Vec<u64> = Vec::new();
        let mut records = reader.records();
        loop {
            let record = records.next();
            let last = record.is_none();
            if let Some(record) = record {
                let (line, row) = match record {
                    Ok(rec) => {
                        let line = rec.position().map(|p| p.line()).unwrap_or(0);
                        let map: HashMap<String, String> = headers
                            .iter()
                            .zip(rec.iter())
                            .map(|(h, v)| (h.to_owned(), v.to_owned()))
                            .collect();
                        (line, to_input(map))
                    }
                    Err(e) => (
                        e.position().map(|p| p.line()).unwrap_or(0),
                        Err(format!("unreadable row: {e}")),
                    ),
                };
                lines.push(line);
                batch.push(row);
            }
            if (last || batch.len() >= MAX_IMPORT_ROWS) && !batch.is_empty() {
                let counts = self
                    .import(caller, Some(org), std::mem::take(&mut batch))
                    .await?;
                out.inserted += counts.inserted;
                out.updated += counts.updated;
                out.unchanged += counts.unchanged;
                for r in counts.rejected {
                    out.rejected
                        .push((lines.get(r.index).copied().unwrap_or(0), r.error));
                }
                lines.clear();
                progress(records.reader().position().byte());
            }
            if last {
                return Ok(out);
            }
        }
    }
}
