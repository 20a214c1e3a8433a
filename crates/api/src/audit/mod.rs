//! The audit trail: reading it (`GET /api/audit-log`), and what the HTTP adapters record
//! themselves ([`record`]).

pub mod dto;
pub mod record;

use actix_web::{HttpResponse, web};
use audit::{AuditError, AuditQuery};
use kernel::{PageRequest, TaskId};

use crate::envelope::{Envelope, Paged, ok};
use crate::error::ApiError;
use crate::extract::{Auth, Query};
use crate::responses::{BadRequest, DatabaseUnavailable, Forbidden, Unauthorized};
use crate::state::ApiState;
use dto::{AuditEntryDto, AuditQueryDto};

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Forbidden => ApiError::forbidden(),
            AuditError::Invalid(why) => ApiError::bad_request(format!("请求参数无效: {why}")),
            AuditError::Repo(r) => r.into(),
        }
    }
}

/// The audit trail of the caller's organisations, newest first (admins).
///
/// Every state-changing action and every refusal of one: who (`actor`, `cli` for the server's
/// command line), when, in which organisation, what (`action`), on what (`target_type`,
/// `target_id`), with what `outcome` (`ok` or the error code the caller got), from where
/// (`client_addr`, `request_id`). A failed login is in the trail of the account's organisation;
/// one with a username that belongs to nobody is in no organisation's trail.
#[utoipa::path(
    get,
    path = "/api/audit-log",
    params(AuditQueryDto),
    operation_id = "audit_log",
    tag = "audit",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "A page of entries.", body = Envelope<Paged<AuditEntryDto>>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn audit_log(
    state: web::Data<ApiState>,
    auth: Auth,
    q: Query<AuditQueryDto>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = PageRequest::new(q.page, q.page_size)?;
    let time = |name: &str, v: Option<String>| -> Result<_, ApiError> {
        match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => kernel::parse_time(s, state.tz).map(Some).ok_or_else(|| {
                ApiError::bad_request(format!("请求参数无效: {name} 须为 YYYY-MM-DD HH:MM:SS"))
            }),
        }
    };
    let query = AuditQuery {
        action: q.action.filter(|s| !s.is_empty()),
        actor: q.actor.filter(|s| !s.is_empty()),
        task_id: q.task_id.map(TaskId),
        from: time("from", q.from)?,
        to: time("to", q.to)?,
    };
    let page = state.audit.list(&auth.caller, &query, page).await?;
    let tz = state.tz;
    Ok(ok(
        "获取审计日志成功",
        Paged::of(page, |e| AuditEntryDto::of(e, tz)),
    ))
}
