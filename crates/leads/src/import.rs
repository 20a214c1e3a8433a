//! Import rules: row validation and the in-order plan of inserts and updates.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use kernel::{LeadId, OrgId, parse_time};
use serde::{Deserialize, Serialize};

use crate::LEVELS;

/// Most rows one import call accepts.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// One row as the API or a CSV file gives it. Unknown fields are refused (for that row).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LeadInput {
    /// Id in the source system.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Customer name (required).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, example = "张三"))]
    pub customer_name: Option<String>,
    /// Mainland mobile number (required).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, example = "13812345678"))]
    pub phone: Option<String>,
    /// Intent level.
    #[serde(default)]
    pub level: Option<String>,
    /// Source.
    #[serde(default)]
    pub source: Option<String>,
    /// Vehicle model.
    #[serde(default)]
    pub vehicle_model: Option<String>,
    /// Follow-up status.
    #[serde(default)]
    pub status: Option<String>,
    /// Sales owner.
    #[serde(default)]
    pub owner_name: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub create_time: Option<String>,
    /// Never call.
    #[serde(default)]
    pub do_not_call: Option<bool>,
}

/// A validated row. `None` fields keep the stored value on update and take the default on
/// insert.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLead {
    /// Id in the source system (identity when present).
    pub external_id: Option<String>,
    /// Customer name.
    pub customer_name: String,
    /// Phone (identity when there is no external id).
    pub phone: String,
    /// Intent level.
    pub level: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Vehicle model.
    pub vehicle_model: Option<String>,
    /// Follow-up status.
    pub status: Option<String>,
    /// Sales owner.
    pub owner_name: Option<String>,
    /// Creation time.
    pub create_time: Option<DateTime<Utc>>,
    /// Never call.
    pub do_not_call: Option<bool>,
}

/// A row refused by validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportRejection {
    /// 0-based index into the request's `leads`.
    pub index: usize,
    /// What is wrong, for people.
    pub error: String,
}

/// Result of an import.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ImportCounts {
    /// New leads.
    pub inserted: i64,
    /// Leads whose stored values changed.
    pub updated: i64,
    /// Rows equal to what was stored.
    pub unchanged: i64,
    /// Rows refused.
    pub rejected: Vec<ImportRejection>,
}

/// The stored values of a lead that an import compares and writes.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLead {
    /// Row id (`None` for a lead planned for insertion).
    pub id: Option<LeadId>,
    /// Identity key within the organisation (see [`NewLead::identity`]).
    pub ident: String,
    /// External id.
    pub external_id: Option<String>,
    /// Customer name.
    pub customer_name: String,
    /// Phone.
    pub phone: String,
    /// Intent level.
    pub level: String,
    /// Source.
    pub source: String,
    /// Vehicle model.
    pub vehicle_model: String,
    /// Follow-up status.
    pub status: String,
    /// Sales owner.
    pub owner_name: String,
    /// Creation time.
    pub create_time: DateTime<Utc>,
    /// Never call.
    pub do_not_call: bool,
}

fn text(name: &str, v: Option<String>, max: usize) -> Result<Option<String>, String> {
    match v.map(|s| s.trim().to_owned()) {
        None => Ok(None),
        Some(s) if s.chars().count() > max => {
            Err(format!("{name} must be at most {max} characters"))
        }
        Some(s) => Ok(Some(s)),
    }
}

/// Whether `phone` is a mainland mobile number (11 digits starting with 1).
pub fn is_mainland_mobile(phone: &str) -> bool {
    phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit())
}

impl LeadInput {
    /// Validate a row; times without offset are read in `tz`.
    pub fn validate(self, tz: Tz) -> Result<NewLead, String> {
        let customer_name = text("customer_name", self.customer_name, 64)?
            .filter(|s| !s.is_empty())
            .ok_or("customer_name is required")?;
        let phone = self
            .phone
            .map(|p| p.trim().replace([' ', '-'], ""))
            .ok_or("phone is required")?;
        let phone = phone
            .strip_prefix("+86")
            .map(str::to_owned)
            .unwrap_or(phone);
        if !is_mainland_mobile(&phone) {
            return Err(
                "phone must be a mainland mobile number (11 digits starting with 1)".into(),
            );
        }
        let level = match text("level", self.level, 1)?.filter(|s| !s.is_empty()) {
            None => None,
            Some(l) => {
                let l = l.to_uppercase();
                if !LEVELS.contains(&l.as_str()) {
                    return Err("level must be one of H, A, B, C, N".into());
                }
                Some(l)
            }
        };
        let external_id = text("external_id", self.external_id, 64)?.filter(|s| !s.is_empty());
        let create_time = match self
            .create_time
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(s) => Some(
                parse_time(s, tz).ok_or("create_time must be 'YYYY-MM-DD HH:MM:SS' or ISO-8601")?,
            ),
        };
        Ok(NewLead {
            external_id,
            customer_name,
            phone,
            level,
            source: text("source", self.source, 64)?,
            vehicle_model: text("vehicle_model", self.vehicle_model, 64)?,
            status: text("status", self.status, 32)?,
            owner_name: text("owner_name", self.owner_name, 64)?,
            create_time,
            do_not_call: self.do_not_call,
        })
    }
}

impl NewLead {
    /// Identity within an organisation: `e:<external_id>` when given, else `p:<phone>`.
    pub fn identity(&self) -> String {
        match &self.external_id {
            Some(e) => format!("e:{e}"),
            None => format!("p:{}", self.phone),
        }
    }

    /// Values to insert for a new lead (defaults for what the row leaves out).
    pub fn to_stored(&self, now: DateTime<Utc>) -> StoredLead {
        StoredLead {
            id: None,
            ident: self.identity(),
            external_id: self.external_id.clone(),
            customer_name: self.customer_name.clone(),
            phone: self.phone.clone(),
            level: self.level.clone().unwrap_or_else(|| "N".into()),
            source: self.source.clone().unwrap_or_default(),
            vehicle_model: self.vehicle_model.clone().unwrap_or_default(),
            status: self.status.clone().unwrap_or_else(|| "未跟进".into()),
            owner_name: self.owner_name.clone().unwrap_or_default(),
            create_time: self.create_time.unwrap_or(now),
            do_not_call: self.do_not_call.unwrap_or(false),
        }
    }

    /// `stored` with this row's values applied (what the row leaves out is kept).
    pub fn apply_to(&self, stored: &StoredLead) -> StoredLead {
        let mut s = stored.clone();
        s.customer_name = self.customer_name.clone();
        s.phone = self.phone.clone();
        if let Some(v) = &self.level {
            s.level = v.clone();
        }
        if let Some(v) = &self.source {
            s.source = v.clone();
        }
        if let Some(v) = &self.vehicle_model {
            s.vehicle_model = v.clone();
        }
        if let Some(v) = &self.status {
            s.status = v.clone();
        }
        if let Some(v) = &self.owner_name {
            s.owner_name = v.clone();
        }
        if let Some(v) = self.create_time {
            s.create_time = v;
        }
        if let Some(v) = self.do_not_call {
            s.do_not_call = v;
        }
        s
    }
}

/// What an import writes: leads to insert, leads to update (with their ids), and counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportPlan {
    /// New leads (final values after every row of the batch applied).
    pub inserts: Vec<StoredLead>,
    /// Changed stored leads (final values).
    pub updates: Vec<StoredLead>,
    /// Counts (rejections are added by the caller).
    pub counts: ImportCounts,
}

/// Plan an import of `rows` (in order) against the `existing` leads of the organisation, keyed
/// by identity.
///
/// Rows apply in order, so a later row of the batch updates an earlier one. Counting:
/// - an identity new to the organisation: its first row is `inserted`; each later row that
///   changes the value left by the rows before it is `updated`, else `unchanged`;
/// - an identity already stored: when the batch's final value differs from the stored one, its
///   last row is `updated` and its other rows `unchanged`; otherwise all its rows are `unchanged`.
///
/// So re-importing the same batch inserts nothing and updates nothing.
pub fn plan_import(
    _org: OrgId,
    existing: HashMap<String, StoredLead>,
    rows: &[(usize, NewLead)],
    now: DateTime<Utc>,
) -> ImportPlan {
    let mut state = existing;
    let mut counts = ImportCounts::default();
    let mut new_idents: Vec<String> = Vec::new();
    let mut is_new: HashMap<String, bool> = HashMap::new();
    // stored identities touched by the batch: their value before it and how many rows they had
    let mut originals: HashMap<String, (StoredLead, i64)> = HashMap::new();
    let mut touched: Vec<String> = Vec::new();
    for (_, row) in rows {
        let ident = row.identity();
        match state.get(&ident) {
            None => {
                state.insert(ident.clone(), row.to_stored(now));
                is_new.insert(ident.clone(), true);
                new_idents.push(ident);
                counts.inserted += 1;
            }
            Some(cur) => {
                let next = row.apply_to(cur);
                if is_new.get(&ident).copied().unwrap_or(false) {
                    if &next == cur {
                        counts.unchanged += 1;
                    } else {
                        counts.updated += 1;
                    }
                } else {
                    match originals.get_mut(&ident) {
                        Some((_, n)) => *n += 1,
                        None => {
                            originals.insert(ident.clone(), (cur.clone(), 1));
                            touched.push(ident.clone());
                        }
                    }
                }
                state.insert(ident, next);
            }
        }
    }
    let mut plan = ImportPlan::default();
    for ident in touched {
        let (Some(final_value), Some((original, n))) =
            (state.remove(&ident), originals.remove(&ident))
        else {
            continue;
        };
        if final_value == original {
            counts.unchanged += n;
        } else {
            counts.updated += 1;
            counts.unchanged += n - 1;
            plan.updates.push(final_value);
        }
    }
    for ident in new_idents {
        if let Some(s) = state.remove(&ident) {
            plan.inserts.push(s);
        }
    }
    plan.counts = counts;
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn row(phone: &str, name: &str, ext: Option<&str>) -> NewLead {
        LeadInput {
            phone: Some(phone.into()),
            customer_name: Some(name.into()),
            external_id: ext.map(Into::into),
            ..Default::default()
        }
        .validate(TZ)
        .unwrap()
    }

    #[test]
    fn rejects_bad_phones_and_levels() {
        let bad = LeadInput {
            phone: Some("12345".into()),
            customer_name: Some("x".into()),
            ..Default::default()
        };
        assert!(bad.validate(TZ).is_err());
        let bad = LeadInput {
            phone: Some("13800000000".into()),
            customer_name: Some("x".into()),
            level: Some("Q".into()),
            ..Default::default()
        };
        assert!(bad.validate(TZ).is_err());
        let no_name = LeadInput {
            phone: Some("13800000000".into()),
            ..Default::default()
        };
        assert!(no_name.validate(TZ).is_err());
    }

    #[test]
    fn later_row_updates_earlier_and_reimport_changes_nothing() {
        let now = Utc::now();
        let rows = vec![
            (0, row("13800000001", "张三", None)),
            (1, row("13800000001", "张三丰", None)),
        ];
        let plan = plan_import(OrgId(1), HashMap::new(), &rows, now);
        assert_eq!(
            (
                plan.counts.inserted,
                plan.counts.updated,
                plan.counts.unchanged
            ),
            (1, 1, 0)
        );
        assert_eq!(plan.inserts.len(), 1);
        assert_eq!(plan.inserts[0].customer_name, "张三丰");
        assert!(plan.updates.is_empty());

        let mut stored = plan.inserts[0].clone();
        stored.id = Some(LeadId(10));
        let existing = HashMap::from([(stored.ident.clone(), stored)]);
        let again = plan_import(OrgId(1), existing, &rows, now);
        assert_eq!(
            (
                again.counts.inserted,
                again.counts.updated,
                again.counts.unchanged
            ),
            (0, 0, 2)
        );
        assert!(again.inserts.is_empty() && again.updates.is_empty());
    }

    #[test]
    fn external_id_is_identity_when_given() {
        let now = Utc::now();
        let rows = vec![
            (0, row("13800000001", "A", Some("x1"))),
            (1, row("13800000002", "A", Some("x1"))),
        ];
        let plan = plan_import(OrgId(1), HashMap::new(), &rows, now);
        assert_eq!(plan.counts.inserted, 1);
        assert_eq!(plan.counts.updated, 1);
        assert_eq!(plan.inserts[0].phone, "13800000002");
    }
}
