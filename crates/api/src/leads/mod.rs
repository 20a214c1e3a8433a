//! Leads: import, list, statistics, preview.

pub mod dto;
pub mod schema;

use actix_web::{HttpResponse, web};
use leads::LeadInput;

use crate::envelope::{Envelope, Paged, ok};
use crate::error::ApiError;
use crate::extract::{Auth, Json, NUL_TEXT, NoQuery, Query, contains_nul};
use crate::responses::{
    BadRequest, DatabaseUnavailable, NotFound, PasswordChangeRequired, PayloadTooLarge,
    Unauthorized,
};
use crate::state::ApiState;
use dto::{
    ImportBody, ImportResultDto, LeadDto, LeadListQuery, LeadStatisticsDto, PreviewBody, PreviewDto,
};

/// Import leads.
///
/// Idempotent: a lead is identified by `external_id` when given, else by phone, within the
/// organisation; rows apply in order, so a later row of the batch updates an earlier one.
/// Re-importing the same batch inserts and updates nothing.
#[utoipa::path(
    post,
    path = "/api/leads/import",
    operation_id = "import_leads",
    tag = "leads",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "Counts, and the rejected rows with their reasons.", body = Envelope<ImportResultDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn import(
    state: web::Data<ApiState>,
    auth: Auth,
    body: web::Json<ImportBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    // each row is parsed on its own, so one malformed row is rejected alone
    let rows = body
        .leads
        .into_iter()
        .map(|v| {
            if contains_nul(&v) {
                return Err(format!("invalid row: {NUL_TEXT}"));
            }
            serde_json::from_value::<LeadInput>(v).map_err(|e| format!("invalid row: {e}"))
        })
        .collect();
    let counts = state
        .leads
        .import(&auth.caller, body.org_id.map(kernel::OrgId), rows)
        .await
        .map_err(ApiError::from);
    let what = (audit::Action::LeadImport, None);
    let counts = crate::audit::record::refusal(&state, &auth.caller, what, counts).await?;
    Ok(ok("导入线索完成", ImportResultDto::from(counts)))
}

/// List leads (paged, newest first), filtered by the lead filter's fields.
///
/// Unlike task creation, the list shows `do_not_call` leads and, unless asked otherwise, leads in
/// unfinished tasks. An unknown query parameter is 400.
#[utoipa::path(
    get,
    path = "/api/leads",
    params(LeadListQuery),
    operation_id = "list_leads",
    tag = "leads",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "A page of leads, phones masked.", body = Envelope<Paged<LeadDto>>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn list(
    state: web::Data<ApiState>,
    auth: Auth,
    q: Query<LeadListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (page, filter) = q.into_inner().into_parts()?;
    let page = state.leads.list(&auth.caller.scope, &filter, page).await?;
    let tz = state.tz;
    Ok(ok(
        "获取线索列表成功",
        Paged::of(page, |l| LeadDto::new(l, tz)),
    ))
}

/// Lead counts of the caller's organisations.
#[utoipa::path(
    get,
    path = "/api/leads/statistics",
    operation_id = "lead_statistics",
    tag = "leads",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "Counts.", body = Envelope<LeadStatisticsDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PasswordChangeRequired),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn statistics(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    let stats = state.leads.statistics(&auth.caller.scope).await?;
    Ok(ok("获取线索统计成功", LeadStatisticsDto::from(stats)))
}

/// Preview what a task created from a filter now would get.
#[utoipa::path(
    post,
    path = "/api/leads/preview",
    operation_id = "preview_leads",
    tag = "leads",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "Counts; `deduplicated` is the `leads_count` a task created now would get.", body = Envelope<PreviewDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn preview(
    state: web::Data<ApiState>,
    auth: Auth,
    body: Json<PreviewBody>,
) -> Result<HttpResponse, ApiError> {
    let preview = state
        .leads
        .preview(&auth.caller.scope, &body.filters)
        .await?;
    Ok(ok("预览成功", PreviewDto::from(preview)))
}
