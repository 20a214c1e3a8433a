//! Leads: import, list, statistics, preview.

use actix_web::{HttpResponse, web};
use kernel::{PageRequest, format_time, mask_phone};
use leads::{Lead, LeadFilterInput, LeadInput};
use serde::Deserialize;
use serde_json::Value;

use crate::envelope::ok;
use crate::error::ApiError;
use crate::extract::{Auth, Json, Query, contains_nul, nul_row_error};
use crate::openapi::{
    BadRequest, DatabaseUnavailable, Envelope, ImportResultDto, LeadDto, LeadStatisticsDto,
    NotFound, Paged, PayloadTooLarge, PreviewDto, Unauthorized,
};
use crate::state::AppState;

/// `POST /api/leads/import` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// Organisation to import into: the caller's by default; must be in the caller's subtree (else 404).
    #[serde(default)]
    org_id: Option<i64>,
    /// Up to 10,000 rows. Each row is checked on its own: an invalid row (including one with an
    /// unknown field) is reported in `rejected`, never failing the batch.
    #[schema(value_type = Vec<crate::openapi::LeadImportRowDto>, max_items = 10000)]
    leads: Vec<Value>,
}

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
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn import(
    state: web::Data<AppState>,
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
                return Err(format!("invalid row: {}", nul_row_error()));
            }
            let row =
                serde_json::from_value::<LeadInput>(v).map_err(|e| format!("invalid row: {e}"))?;
            Ok(row)
        })
        .collect();
    let counts = state
        .leads
        .import(&auth.caller.scope, body.org_id, rows)
        .await?;
    Ok(ok("导入线索完成", counts))
}

/// A lead as the API shows it (phone masked).
pub fn lead_json(l: Lead, tz: chrono_tz::Tz) -> LeadDto {
    LeadDto {
        id: l.id,
        org_id: l.org_id,
        customer_name: l.customer_name,
        phone: mask_phone(&l.phone),
        level: l.level,
        source: l.source,
        vehicle_model: l.vehicle_model,
        status: l.status,
        owner_name: l.owner_name,
        create_time: format_time(l.create_time, tz),
        last_call_time: l.last_call_time.map(|t| format_time(t, tz)),
        call_count: l.call_count,
        do_not_call: l.do_not_call,
        external_id: l.external_id,
    }
}

/// `GET /api/leads` query: paging plus the filter's fields, lists comma-separated.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LeadListQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    page: Option<i64>,
    /// Items per page, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    page_size: Option<i64>,
    /// Organisation ids, comma-separated, at most 200 (each must be in the caller's subtree, else 404).
    #[param(example = "1,2", pattern = r"^[0-9]{1,18}(,[0-9]{1,18}){0,199}$")]
    org_ids: Option<String>,
    /// Intent levels (H, A, B, C, N), comma-separated.
    #[param(example = "H,A", pattern = r"^[HABCN](,[HABCN]){0,199}$")]
    levels: Option<String>,
    /// Sources, comma-separated (at most 200, each up to 64 characters).
    #[param(
        example = "汽车之家,懂车帝",
        pattern = r"^[^,\u0000]{0,64}(,[^,\u0000]{0,64}){0,199}$"
    )]
    sources: Option<String>,
    /// Follow-up statuses, comma-separated (at most 200, each up to 32 characters).
    #[param(
        example = "未跟进",
        pattern = r"^[^,\u0000]{0,32}(,[^,\u0000]{0,32}){0,199}$"
    )]
    statuses: Option<String>,
    /// Vehicle models, comma-separated (at most 200, each up to 64 characters).
    #[param(pattern = r"^[^,\u0000]{0,64}(,[^,\u0000]{0,64}){0,199}$")]
    vehicle_models: Option<String>,
    /// Created at or after (inclusive): `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD` or ISO-8601 with offset.
    #[param(
        example = "2025-11-01",
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]|T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    created_from: Option<String>,
    /// Created at or before (inclusive; a bare date means the whole day).
    #[param(
        example = "2025-11-30",
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]|T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    created_to: Option<String>,
    /// Not called since (never called counts as not called).
    #[param(
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]|T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    not_called_since: Option<String>,
    /// At most this many calls so far (0 or more).
    #[param(minimum = 0, maximum = 2147483647)]
    max_call_count: Option<i64>,
    /// Literal substring of the customer name or the phone (`%` and `_` are plain characters),
    /// up to 64 characters.
    #[param(max_length = 64, pattern = r"^[^\u0000]*$")]
    keyword: Option<String>,
    /// Leave out leads whose phone is in a task in state 1, 2 or 4 (default `false` here, unlike
    /// task creation and preview).
    #[param(default = false)]
    exclude_in_active_tasks: Option<bool>,
}

fn split(s: Option<String>) -> Option<Vec<String>> {
    s.map(|s| {
        s.split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect()
    })
}

impl LeadListQuery {
    fn into_parts(self) -> Result<(PageRequest, LeadFilterInput), ApiError> {
        let page = PageRequest::new(self.page, self.page_size)?;
        let org_ids = match split(self.org_ids) {
            None => None,
            Some(v) => Some(
                v.iter()
                    .map(|s| s.parse::<i64>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| ApiError::bad_request("org_ids 必须是以逗号分隔的整数"))?,
            ),
        };
        let filter = LeadFilterInput {
            org_ids,
            levels: split(self.levels),
            sources: split(self.sources),
            statuses: split(self.statuses),
            vehicle_models: split(self.vehicle_models),
            created_from: self.created_from,
            created_to: self.created_to,
            not_called_since: self.not_called_since,
            max_call_count: self.max_call_count,
            keyword: self.keyword,
            // the list shows leads whatever tasks they are in, unless asked otherwise
            exclude_in_active_tasks: Some(self.exclude_in_active_tasks.unwrap_or(false)),
        };
        Ok((page, filter))
    }
}

/// List leads (paged, newest first), filtered by the lead filter's fields.
///
/// `do_not_call` leads are never selected. An unknown query parameter is 400.
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
        (status = 404, response = NotFound),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    q: Query<LeadListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (page, filter) = q.into_inner().into_parts()?;
    let page = state.leads.list(&auth.caller.scope, &filter, page).await?;
    let tz = state.tz;
    Ok(ok("获取线索列表成功", page.map(|l| lead_json(l, tz))))
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
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn statistics(
    state: web::Data<AppState>,
    _: crate::extract::Query<crate::extract::NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(
        "获取线索统计成功",
        state.leads.statistics(&auth.caller.scope).await?,
    ))
}

/// `POST /api/leads/preview` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// The filter (all leads of the caller's organisations when omitted).
    #[serde(default)]
    #[schema(value_type = crate::openapi::LeadFilterDto)]
    filters: LeadFilterInput,
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
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn preview(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<PreviewBody>,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(
        "预览成功",
        state
            .leads
            .preview(&auth.caller.scope, &body.filters)
            .await?,
    ))
}
