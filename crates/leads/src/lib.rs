//! # leads
//!
//! Sales leads (`dcc_leads`): the model, the import rules, and the [`LeadFilter`] that selects
//! leads for a call task.
//!
//! Owns:
//! - [`LeadInput`] → [`NewLead`] validation (mainland mobile phones, intent levels, lengths),
//! - the import plan ([`plan_import`]): identity by `external_id` else phone within an
//!   organisation, rows applied in order, counts of inserted / updated / unchanged,
//! - [`LeadFilterInput`] → [`LeadFilter`] validation (unknown fields and impossible ranges are
//!   refused) and its Chinese summary ([`LeadFilter::describe`]).
//!
//! Port: [`LeadRepository`]. Use it through [`LeadService`], which checks organisation scope
//! before it reaches storage.

mod csv_file;
mod filter;
mod import;
mod service;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{LeadId, OrgId, OrgScope, Page, PageRequest, RepoError};
use serde::Serialize;
use std::collections::BTreeMap;

pub use csv_file::{CSV_FIELDS, CsvError, CsvImport};
pub use filter::{FilterError, LeadFilter, LeadFilterInput, MAX_LIST};
pub use import::{
    ImportCounts, ImportPlan, ImportRejection, LeadInput, MAX_IMPORT_ROWS, NewLead, StoredLead,
    plan_import,
};
pub use service::{LeadError, LeadService};

/// Intent levels a lead may carry.
pub const LEVELS: [&str; 5] = ["H", "A", "B", "C", "N"];

/// A lead as stored (the phone unmasked: mask it at the edge with [`kernel::mask_phone`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lead {
    /// Id.
    pub id: LeadId,
    /// Owning organisation.
    pub org_id: OrgId,
    /// Customer name.
    pub customer_name: String,
    /// Full phone number.
    pub phone: String,
    /// Intent level H/A/B/C/N.
    pub level: String,
    /// Where the lead came from (汽车之家, 懂车帝, ...).
    pub source: String,
    /// Car model of interest.
    pub vehicle_model: String,
    /// Follow-up status (free text).
    pub status: String,
    /// Sales owner.
    pub owner_name: String,
    /// When the lead was created.
    pub create_time: DateTime<Utc>,
    /// Last call, if any.
    pub last_call_time: Option<DateTime<Utc>>,
    /// Calls made so far.
    pub call_count: i32,
    /// Never call.
    pub do_not_call: bool,
    /// Id in the source system.
    pub external_id: Option<String>,
}

/// Lead counts of the caller's organisations.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct LeadStatistics {
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

/// What a task created from a filter now would get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct FilterPreview {
    /// Leads matching the filter.
    pub matched: i64,
    /// Distinct phones left after both exclusion rules (= a new task's `leads_count`).
    pub deduplicated: i64,
    /// Matching leads removed because they are `do_not_call`.
    pub excluded_do_not_call: i64,
    /// Matching callable leads removed because their phone is in an unfinished task.
    pub excluded_in_active_tasks: i64,
}

/// Storage of leads. Every method is scoped to organisations the caller may see.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait LeadRepository: Send + Sync + 'static {
    /// Apply validated rows (in order) to organisation `org`; see [`plan_import`]. `audit` is
    /// written in the same transaction, with the counts.
    async fn import(
        &self,
        org: OrgId,
        rows: Vec<(usize, NewLead)>,
        audit: audit::Entry,
    ) -> Result<ImportCounts, RepoError>;
    /// A page of leads matching `filter` within `scope`, newest first.
    async fn list(
        &self,
        scope: &OrgScope,
        filter: &LeadFilter,
        page: PageRequest,
    ) -> Result<Page<Lead>, RepoError>;
    /// Counts for the statistics view.
    async fn statistics(&self, scope: &OrgScope) -> Result<LeadStatistics, RepoError>;
    /// What a task from `filter` would get.
    async fn preview(
        &self,
        scope: &OrgScope,
        filter: &LeadFilter,
    ) -> Result<FilterPreview, RepoError>;
}
