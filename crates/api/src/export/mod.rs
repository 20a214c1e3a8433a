//! Export of a task's results as a file download (CSV or XLSX), streamed: rows go from the
//! database to the socket a page at a time and the service never holds a task's rows; a client
//! that goes away stops the export.

pub mod csv;
pub mod dto;
pub mod xlsx;

use actix_web::http::header::CONTENT_DISPOSITION;
use actix_web::{HttpResponse, web};
use bytes::{BufMut, Bytes, BytesMut};
use futures::Stream;
use kernel::TaskId;
use tasks::execution::export::{COLUMNS, Export, cells};

use crate::error::ApiError;
use crate::extract::{Auth, Query};
use crate::responses::{BadRequest, DatabaseUnavailable, Forbidden, NotFound, Unauthorized};
use crate::state::ApiState;
use crate::words::call_status_name;
use csv::CsvCell;
use dto::{ExportFormat, ExportQuery};

/// Download a task's results as CSV or XLSX.
///
/// Columns: lead id, customer name, phone, level, source, vehicle model, call status, attempts,
/// last call time, duration, intent level, intent tags, summary, follow-up suggestion. Phones
/// are masked; an admin may ask `unmasked=true` (operators get 403), and such an export is
/// logged with who asked for it. Text a spreadsheet would run as a formula is prefixed with `'`.
#[utoipa::path(
    get,
    path = "/api/export-task-results",
    params(ExportQuery),
    operation_id = "export_task_results",
    tag = "execution",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The file (`Content-Disposition: attachment`, the task's name as the file name).",
            content(
                (String = "text/csv", example = "线索ID,客户姓名,电话\r\n1,王先生,138****5678\r\n"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn export(
    state: web::Data<ApiState>,
    auth: Auth,
    q: Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let statuses: Vec<&str> = q
        .call_status
        .as_deref()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let format = q.format.unwrap_or(ExportFormat::Csv);
    let unmasked = q.unmasked.unwrap_or(false);
    download(
        &state,
        &auth,
        TaskId(q.task_id),
        format,
        &statuses,
        unmasked,
    )
    .await
}

/// The download of task `task`'s results for `auth` (the API's and the console's): of the call
/// statuses named (none: all), phones whole when `unmasked` (admins only).
pub async fn download(
    state: &ApiState,
    auth: &Auth,
    task: TaskId,
    format: ExportFormat,
    statuses: &[&str],
    unmasked: bool,
) -> Result<HttpResponse, ApiError> {
    if unmasked {
        auth.require_admin()?;
    }
    let export = state
        .execution
        .results
        .export(&auth.caller.scope, task, statuses, unmasked)
        .await?;
    if unmasked {
        tracing::info!(
            task_id = task.0,
            user_id = auth.user.id.0,
            username = %auth.user.username,
            "export with whole phone numbers"
        );
    }
    let disposition = attachment(&export.task.task_name, task.0, format.extension());
    let mut res = HttpResponse::Ok();
    res.content_type(format.content_type())
        .insert_header((CONTENT_DISPOSITION, disposition))
        .insert_header(("Cache-Control", "no-store"));
    Ok(match format {
        ExportFormat::Csv => res.streaming(csv_stream(export, state.tz)),
        ExportFormat::Xlsx => res.streaming(xlsx_file(export, state.tz).await?),
    })
}

/// `Content-Disposition` of a download named after the task: a plain ASCII fallback and the
/// name itself (RFC 6266 with RFC 5987's `filename*`).
pub fn attachment(task_name: &str, task_id: i64, extension: &str) -> String {
    const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let name: String = task_name
        .chars()
        .map(|c| {
            if c.is_control() || "/\\".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let name = format!("{}.{extension}", name.trim());
    format!(
        "attachment; filename=\"task-{task_id}.{extension}\"; filename*=UTF-8''{}",
        percent_encoding::utf8_percent_encode(&name, ATTR)
    )
}

type Chunk = Result<Bytes, actix_web::Error>;

/// The CSV: the byte-order mark and header first, then a chunk per page of rows.
fn csv_stream(export: Export, tz: chrono_tz::Tz) -> impl Stream<Item = Chunk> {
    futures::stream::unfold(Some((export, true)), move |state| async move {
        let (mut export, first) = state?;
        let mut out = BytesMut::new();
        if first {
            out.put_slice(csv::BOM);
            csv::record(&mut out, COLUMNS.iter().map(|c| CsvCell::Text(c)));
            return Some((Ok(out.freeze()), Some((export, false))));
        }
        match export.next_page().await {
            Ok(Some(rows)) => {
                for row in &rows {
                    let cells = cells(row, export.unmasked, tz, call_status_name);
                    csv::record(&mut out, cells.iter().map(CsvCell::from));
                }
                Some((Ok(out.freeze()), Some((export, false))))
            }
            Ok(None) => None,
            Err(e) => {
                // the headers are sent: the download can only be cut short
                tracing::warn!(error = %e, "export stopped");
                Some((Err(ApiError::from(e).into()), None))
            }
        }
    })
}

/// Size of the pieces a finished workbook is sent in.
const FILE_CHUNK: usize = 64 * 1024;

/// The workbook, written to a temporary file page by page (off the async threads), then read
/// back in pieces. The file is unlinked once open: nothing is left behind, whatever happens.
async fn xlsx_file(
    mut export: Export,
    tz: chrono_tz::Tz,
) -> Result<impl Stream<Item = Chunk>, ApiError> {
    let failed = |e: &dyn std::fmt::Display| ApiError::internal(format!("xlsx: {e}"));
    let mut sheet = xlsx::Sheet::new(&COLUMNS).map_err(|e| failed(&e))?;
    let unmasked = export.unmasked;
    while let Some(rows) = export.next_page().await? {
        sheet = tokio::task::spawn_blocking(move || {
            for row in &rows {
                sheet.row(&cells(row, unmasked, tz, call_status_name))?;
            }
            Ok::<_, rust_xlsxwriter::XlsxError>(sheet)
        })
        .await
        .map_err(|e| failed(&e))?
        .map_err(|e| failed(&e))?;
    }
    let file = tempfile::NamedTempFile::new().map_err(|e| failed(&e))?;
    let path = file.path().to_owned();
    tokio::task::spawn_blocking(move || sheet.save(&path))
        .await
        .map_err(|e| failed(&e))?
        .map_err(|e| failed(&e))?;
    let reader = tokio::fs::File::open(file.path())
        .await
        .map_err(|e| failed(&e))?;
    drop(file);
    Ok(futures::stream::unfold(Some(reader), |state| async move {
        use tokio::io::AsyncReadExt;
        let mut reader = state?;
        let mut buf = vec![0u8; FILE_CHUNK];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(reader)))
            }
            Err(e) => Some((Err(actix_web::error::ErrorInternalServerError(e)), None)),
        }
    }))
}
