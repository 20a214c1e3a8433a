//! The query of an export.

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// UTF-8 CSV with a byte-order mark (Excel reads it right).
    Csv,
    /// An Excel workbook.
    Xlsx,
}

impl ExportFormat {
    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }

    /// The answer's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }
}

/// `GET /api/export-task-results` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// The task.
    pub task_id: i64,
    /// `csv` (default) or `xlsx`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
    /// Only leads in these call statuses, comma-separated (e.g. `connected,no_answer`).
    #[param(pattern = r"^[^\u0000]*$")]
    pub call_status: Option<String>,
    /// Whole phone numbers (admins only; operators get 403).
    pub unmasked: Option<bool>,
}
