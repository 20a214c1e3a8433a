//! DTOs of leads.

use std::collections::BTreeMap;

use kernel::{OrgId, PageRequest, format_time, mask_phone};
use leads::{FilterPreview, ImportCounts, Lead, LeadFilterInput, LeadStatistics};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// `POST /api/leads/import` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// Organisation to import into: the caller's by default; must be in the caller's subtree (else 404).
    #[serde(default)]
    pub org_id: Option<i64>,
    /// Up to 10,000 rows. Each row is checked on its own: an invalid row (including one with an
    /// unknown field) is reported in `rejected`, never failing the batch.
    #[schema(value_type = Vec<super::schema::LeadImportRowDto>, max_items = 10000)]
    pub leads: Vec<Value>,
}

/// A rejected import row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportRejectionDto {
    /// 0-based index into `leads`.
    pub index: u64,
    /// Why.
    pub error: String,
}

/// `data` of `POST /api/leads/import`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportResultDto {
    /// New leads.
    pub inserted: i64,
    /// Existing leads that changed.
    pub updated: i64,
    /// Existing leads given again unchanged.
    pub unchanged: i64,
    /// Rows refused one by one.
    pub rejected: Vec<ImportRejectionDto>,
}

impl From<ImportCounts> for ImportResultDto {
    fn from(c: ImportCounts) -> Self {
        Self {
            inserted: c.inserted,
            updated: c.updated,
            unchanged: c.unchanged,
            rejected: c
                .rejected
                .into_iter()
                .map(|r| ImportRejectionDto {
                    index: r.index as u64,
                    error: r.error,
                })
                .collect(),
        }
    }
}

/// A lead (`dcc_leads`), phone masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadDto {
    /// Id.
    pub id: i64,
    /// Owning organisation.
    pub org_id: i64,
    /// Customer name.
    pub customer_name: String,
    /// Masked phone.
    #[schema(example = "138****5678")]
    pub phone: String,
    /// Intent level H, A, B, C or N.
    #[schema(example = "H")]
    pub level: String,
    /// Source.
    #[schema(example = "汽车之家")]
    pub source: String,
    /// Vehicle model.
    pub vehicle_model: String,
    /// Follow-up status (free text, up to 32 characters).
    #[schema(example = "未跟进")]
    pub status: String,
    /// Sales owner.
    pub owner_name: String,
    /// Created, `YYYY-MM-DD HH:MM:SS`.
    #[schema(example = "2025-11-10 10:00:00")]
    pub create_time: String,
    /// Last call, if any.
    #[schema(required = true)]
    pub last_call_time: Option<String>,
    /// Calls so far.
    pub call_count: i32,
    /// Never call.
    pub do_not_call: bool,
    /// Id in the source system.
    #[schema(required = true)]
    pub external_id: Option<String>,
}

impl LeadDto {
    /// A lead as the API shows it: phone masked, times in `tz`.
    pub fn new(l: Lead, tz: chrono_tz::Tz) -> Self {
        Self {
            id: l.id.0,
            org_id: l.org_id.0,
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
}

/// `GET /api/leads` query: paging plus the filter's fields, lists comma-separated.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LeadListQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    pub page: Option<i64>,
    /// Items per page, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub page_size: Option<i64>,
    /// Organisation ids, comma-separated, at most 200 (each must be in the caller's subtree, else 404).
    #[param(example = "1,2", pattern = r"^[0-9]{1,18}(,[0-9]{1,18}){0,199}$")]
    pub org_ids: Option<String>,
    /// Intent levels (H, A, B, C, N), comma-separated.
    #[param(example = "H,A", pattern = r"^[HABCN](,[HABCN]){0,199}$")]
    pub levels: Option<String>,
    /// Sources, comma-separated (at most 200, each up to 64 characters).
    #[param(
        example = "汽车之家,懂车帝",
        pattern = r"^[^,\u0000]{0,64}(,[^,\u0000]{0,64}){0,199}$"
    )]
    pub sources: Option<String>,
    /// Follow-up statuses, comma-separated (at most 200, each up to 32 characters).
    #[param(
        example = "未跟进",
        pattern = r"^[^,\u0000]{0,32}(,[^,\u0000]{0,32}){0,199}$"
    )]
    pub statuses: Option<String>,
    /// Vehicle models, comma-separated (at most 200, each up to 64 characters).
    #[param(pattern = r"^[^,\u0000]{0,64}(,[^,\u0000]{0,64}){0,199}$")]
    pub vehicle_models: Option<String>,
    /// Created at or after (inclusive): `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD` or ISO-8601 with offset.
    #[param(
        example = "2025-11-01",
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]|T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub created_from: Option<String>,
    /// Created at or before (inclusive; a bare date means the whole day).
    #[param(
        example = "2025-11-30",
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]|T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub created_to: Option<String>,
    /// Not called since (never called counts as not called).
    #[param(
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]|T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub not_called_since: Option<String>,
    /// At most this many calls so far (0 or more).
    #[param(minimum = 0, maximum = 2147483647)]
    pub max_call_count: Option<i64>,
    /// Literal substring of the customer name or the phone (`%` and `_` are plain characters),
    /// up to 64 characters.
    #[param(max_length = 64, pattern = r"^[^\u0000]*$")]
    pub keyword: Option<String>,
    /// Leave out leads whose phone is in a task in state 1, 2 or 4 (default `false` here, unlike
    /// task creation and preview).
    #[param(default = false)]
    pub exclude_in_active_tasks: Option<bool>,
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
    /// The page and the filter (lists split at commas).
    pub fn into_parts(self) -> Result<(PageRequest, LeadFilterInput), ApiError> {
        let page = PageRequest::new(self.page, self.page_size)?;
        let org_ids = match split(self.org_ids) {
            None => None,
            Some(v) => Some(
                v.iter()
                    .map(|s| s.parse::<i64>().map(OrgId))
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
            exclude_in_active_tasks: self.exclude_in_active_tasks,
        };
        Ok((page, filter))
    }
}

/// `data` of `GET /api/leads/statistics`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadStatisticsDto {
    /// All leads.
    pub total: i64,
    /// Leads that may be called (not `do_not_call`).
    pub callable: i64,
    /// Count per intent level.
    pub by_level: BTreeMap<String, i64>,
    /// Count per source.
    pub by_source: BTreeMap<String, i64>,
    /// Count per follow-up status.
    pub by_status: BTreeMap<String, i64>,
}

impl From<LeadStatistics> for LeadStatisticsDto {
    fn from(s: LeadStatistics) -> Self {
        Self {
            total: s.total,
            callable: s.callable,
            by_level: s.by_level,
            by_source: s.by_source,
            by_status: s.by_status,
        }
    }
}

/// `POST /api/leads/preview` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// The filter (all leads of the caller's organisations when omitted).
    #[serde(default)]
    #[schema(value_type = super::schema::LeadFilterDto)]
    pub filters: LeadFilterInput,
}

/// `data` of `POST /api/leads/preview`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewDto {
    /// Leads matching the filter.
    pub matched: i64,
    /// Distinct phones left after both exclusion rules (a new task's `leads_count`).
    pub deduplicated: i64,
    /// Matching leads removed because they are `do_not_call`.
    pub excluded_do_not_call: i64,
    /// Matching callable leads removed because their phone is in an unfinished task.
    pub excluded_in_active_tasks: i64,
}

impl From<FilterPreview> for PreviewDto {
    fn from(p: FilterPreview) -> Self {
        Self {
            matched: p.matched,
            deduplicated: p.deduplicated,
            excluded_do_not_call: p.excluded_do_not_call,
            excluded_in_active_tasks: p.excluded_in_active_tasks,
        }
    }
}
