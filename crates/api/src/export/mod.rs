//! Export of a task's results as a file download (CSV or XLSX), streamed: rows go from the
//! database to the socket a page at a time and the service never holds a task's rows; a client
//! that goes away stops the export.

pub mod csv;
pub mod dto;
pub mod peer;
mod progress;
pub mod xlsx;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_DISPOSITION;
use actix_web::{HttpRequest, HttpResponse, web};
use audit::{Action, Entry, Target};
use bytes::{BufMut, Bytes, BytesMut};
use futures::Stream;
use kernel::TaskId;
use tasks::execution::export::{COLUMNS, Export, cells};

use crate::audit::record::refusal;
use crate::error::ApiError;
use crate::extract::{Auth, Query};
use crate::responses::{BadRequest, DatabaseUnavailable, Forbidden, NotFound, Unauthorized};
use crate::state::ApiState;
use crate::words::call_status_name;
use csv::CsvCell;
use dto::{ExportFormat, ExportQuery};
use peer::Peer;
use progress::Progress;

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
    req: HttpRequest,
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
    let asked = Download {
        task: TaskId(q.task_id),
        format,
        statuses: &statuses,
        unmasked,
        peer: Peer::of(&req),
    };
    download(&state, &auth, asked).await
}

/// A download asked for.
pub struct Download<'a> {
    /// The task.
    pub task: TaskId,
    /// The file's format.
    pub format: ExportFormat,
    /// Only leads in these call statuses (wire names; none: all).
    pub statuses: &'a [&'a str],
    /// Whole phones (admins only).
    pub unmasked: bool,
    /// The client, asked whether it is still there while a workbook is written.
    pub peer: Option<Peer>,
}

/// nginx's "client closed request": what the log shows for a download nobody received.
const CLIENT_CLOSED: u16 = 499;

/// The download `asked` by `auth` (the API's and the console's).
pub async fn download(
    state: &ApiState,
    auth: &Auth,
    asked: Download<'_>,
) -> Result<HttpResponse, ApiError> {
    let Download {
        task,
        format,
        statuses,
        unmasked,
        peer,
    } = asked;
    let allowed = if unmasked {
        auth.require_admin()
    } else {
        Ok(())
    };
    let export = match allowed {
        Ok(()) => state
            .execution
            .results
            .export(&auth.caller.scope, task, statuses, unmasked)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let what = (Action::Export, Some(Target::Task(task)));
    let export = refusal(state, &auth.caller, what, export).await?;
    let entry = Entry::by(&auth.caller, Action::Export)
        .on(Target::Task(task))
        .detail("format", format.extension())
        .detail("unmasked", unmasked)
        .detail("call_status", statuses.join(","));
    state.audit.record(&entry).await;
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
    let progress = Progress::new(task, format);
    Ok(match format {
        ExportFormat::Csv => res.streaming(csv_stream(export, state.tz, progress)),
        ExportFormat::Xlsx => match xlsx_file(export, state.tz, progress, peer).await? {
            Some(file) => res.streaming(file),
            None => HttpResponse::new(
                StatusCode::from_u16(CLIENT_CLOSED).unwrap_or(StatusCode::BAD_REQUEST),
            ),
        },
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

/// The CSV: the byte-order mark and header first, then a chunk per page of rows. A client
/// that leaves makes the next write fail, and actix drops the stream: no page is read after.
fn csv_stream(export: Export, tz: chrono_tz::Tz, progress: Progress) -> impl Stream<Item = Chunk> {
    futures::stream::unfold(Some((export, true, progress)), move |state| async move {
        let (mut export, first, mut progress) = state?;
        let mut out = BytesMut::new();
        if first {
            out.put_slice(csv::BOM);
            csv::record(&mut out, COLUMNS.iter().map(|c| CsvCell::Text(c)));
            return Some((Ok(out.freeze()), Some((export, false, progress))));
        }
        match export.next_page().await {
            Ok(Some(rows)) => {
                for row in &rows {
                    let cells = cells(row, export.unmasked, tz, call_status_name);
                    csv::record(&mut out, cells.iter().map(CsvCell::from));
                }
                progress.rows += rows.len();
                Some((Ok(out.freeze()), Some((export, false, progress))))
            }
            Ok(None) => {
                progress.finished();
                None
            }
            Err(e) => {
                // the headers are sent: the download can only be cut short
                progress.failed(&e);
                Some((Err(ApiError::from(e).into()), None))
            }
        }
    })
}

/// Size of the pieces a finished workbook is sent in.
const FILE_CHUNK: usize = 64 * 1024;

/// The workbook, then read back in pieces; `None` when the client left before it was written.
async fn xlsx_file(
    mut export: Export,
    tz: chrono_tz::Tz,
    mut progress: Progress,
    peer: Option<Peer>,
) -> Result<Option<impl Stream<Item = Chunk>>, ApiError> {
    let reader = match workbook(&mut export, tz, &mut progress, peer.as_ref()).await {
        Ok(Some(reader)) => reader,
        Ok(None) => return Ok(None),
        Err(e) => {
            progress.failed(&e);
            return Err(e);
        }
    };
    Ok(Some(futures::stream::unfold(
        Some((reader, progress)),
        |state| async move {
            use tokio::io::AsyncReadExt;
            let (mut reader, mut progress) = state?;
            let mut buf = vec![0u8; FILE_CHUNK];
            match reader.read(&mut buf).await {
                Ok(0) => {
                    progress.finished();
                    None
                }
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), Some((reader, progress))))
                }
                Err(e) => {
                    progress.failed(&e);
                    Some((Err(actix_web::error::ErrorInternalServerError(e)), None))
                }
            }
        },
    )))
}

/// The workbook, written to a temporary file page by page (off the async threads) and opened
/// for reading. The file is unlinked once open: nothing is left behind, whatever happens.
/// `None` when the client is gone (asked before every page: nothing else would tell).
async fn workbook(
    export: &mut Export,
    tz: chrono_tz::Tz,
    progress: &mut Progress,
    peer: Option<&Peer>,
) -> Result<Option<tokio::fs::File>, ApiError> {
    let failed = |e: &dyn std::fmt::Display| ApiError::internal(format!("xlsx: {e}"));
    let mut sheet = xlsx::Sheet::new(&COLUMNS).map_err(|e| failed(&e))?;
    let unmasked = export.unmasked;
    loop {
        if peer.is_some_and(Peer::gone) {
            return Ok(None);
        }
        let Some(rows) = export.next_page().await? else {
            break;
        };
        progress.rows += rows.len();
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
    Ok(Some(reader))
}
