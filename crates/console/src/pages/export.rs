//! Downloading a task's results from its detail: the API's export, with the session's caller.

use actix_web::{HttpRequest, HttpResponse, web};
use api::ApiState;
use api::export::Download;
use api::export::dto::ExportFormat;
use api::export::peer::Peer;
use kernel::TaskId;
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::session::Session;

#[derive(Deserialize)]
pub struct ExportInput {
    format: ExportFormat,
    #[serde(default)]
    status: String,
}

/// The file (CSV or XLSX) of the task's results, of the status the results show (if one).
pub async fn download(
    req: HttpRequest,
    state: web::Data<ApiState>,
    session: Session,
    id: web::Path<i64>,
    q: web::Query<ExportInput>,
) -> Result<HttpResponse, ConsoleError> {
    let statuses: Vec<&str> = [q.status.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let asked = Download {
        task: TaskId(*id),
        format: q.format,
        statuses: &statuses,
        unmasked: false,
        peer: Peer::of(&req),
    };
    Ok(api::export::download(&state, &session, asked).await?)
}
