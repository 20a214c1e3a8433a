//! Leads: import, list, statistics, preview.

use actix_web::{web, HttpResponse};
use kernel::{format_time, mask_phone, PageRequest};
use leads::{Lead, LeadFilterInput, LeadInput};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::envelope::ok;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::state::AppState;

/// `POST /api/leads/import` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    #[serde(default)]
    org_id: Option<i64>,
    leads: Vec<Value>,
}

/// `POST /api/leads/import`.
pub async fn import(state: web::Data<AppState>, auth: Auth, body: web::Json<ImportBody>) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    // each row is parsed on its own, so one malformed row is rejected alone
    let rows = body
        .leads
        .into_iter()
        .map(|v| serde_json::from_value::<LeadInput>(v).map_err(|e| format!("invalid row: {e}")))
        .collect();
    let counts = state.leads.import(&auth.caller.scope, body.org_id, rows).await?;
    Ok(ok("导入线索完成", counts))
}

/// A lead as the API shows it (phone masked).
pub fn lead_json(l: &Lead, tz: chrono_tz::Tz) -> Value {
    json!({
        "id": l.id,
        "org_id": l.org_id,
        "customer_name": l.customer_name,
        "phone": mask_phone(&l.phone),
        "level": l.level,
        "source": l.source,
        "vehicle_model": l.vehicle_model,
        "status": l.status,
        "owner_name": l.owner_name,
        "create_time": format_time(l.create_time, tz),
        "last_call_time": l.last_call_time.map(|t| format_time(t, tz)),
        "call_count": l.call_count,
        "do_not_call": l.do_not_call,
        "external_id": l.external_id,
    })
}

/// `GET /api/leads` query: paging plus the filter's fields, lists comma-separated.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadListQuery {
    page: Option<i64>,
    page_size: Option<i64>,
    org_ids: Option<String>,
    levels: Option<String>,
    sources: Option<String>,
    statuses: Option<String>,
    vehicle_models: Option<String>,
    created_from: Option<String>,
    created_to: Option<String>,
    not_called_since: Option<String>,
    max_call_count: Option<i64>,
    keyword: Option<String>,
    exclude_in_active_tasks: Option<bool>,
}

fn split(s: Option<String>) -> Option<Vec<String>> {
    s.map(|s| s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect())
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

/// `GET /api/leads`.
pub async fn list(state: web::Data<AppState>, auth: Auth, q: web::Query<LeadListQuery>) -> Result<HttpResponse, ApiError> {
    let (page, filter) = q.into_inner().into_parts()?;
    let page = state.leads.list(&auth.caller.scope, &filter, page).await?;
    let tz = state.tz;
    Ok(ok("获取线索列表成功", page.map(|l| lead_json(&l, tz))))
}

/// `GET /api/leads/statistics`.
pub async fn statistics(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    Ok(ok("获取线索统计成功", state.leads.statistics(&auth.caller.scope).await?))
}

/// `POST /api/leads/preview` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    #[serde(default)]
    filters: LeadFilterInput,
}

/// `POST /api/leads/preview`.
pub async fn preview(state: web::Data<AppState>, auth: Auth, body: web::Json<PreviewBody>) -> Result<HttpResponse, ApiError> {
    Ok(ok("预览成功", state.leads.preview(&auth.caller.scope, &body.filters).await?))
}
