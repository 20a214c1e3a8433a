//! The lead filter: raw input, validation, and the Chinese summary.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use kernel::{Invalid, OrgId, format_time, is_date_only, parse_time};
use serde::{Deserialize, Serialize};

use crate::LEVELS;

/// Longest list a filter field accepts.
pub const MAX_LIST: usize = 200;

/// The filter as the API receives it. Unknown fields are refused.
///
/// Every part is optional; parts combine with AND, the values of one list with OR.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LeadFilterInput {
    /// Organisations (must be in the caller's subtree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<i64>>, example = json!([1, 2])))]
    pub org_ids: Option<Vec<OrgId>>,
    /// Intent levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = json!(["H", "A"])))]
    pub levels: Option<Vec<String>>,
    /// Sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = json!(["汽车之家"])))]
    pub sources: Option<Vec<String>>,
    /// Follow-up statuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = json!(["未跟进"])))]
    pub statuses: Option<Vec<String>>,
    /// Vehicle models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = json!(["凯美瑞"])))]
    pub vehicle_models: Option<Vec<String>>,
    /// Created at or after (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "2025-11-01"))]
    pub created_from: Option<String>,
    /// Created at or before (inclusive; a bare date means the whole day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "2025-11-30"))]
    pub created_to: Option<String>,
    /// Not called since (never called counts as not called).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "2025-11-01 00:00:00"))]
    pub not_called_since: Option<String>,
    /// At most this many calls so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = 3))]
    pub max_call_count: Option<i64>,
    /// Literal substring of name or phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "张"))]
    pub keyword: Option<String>,
    /// Leave out phones already in an unfinished task (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_in_active_tasks: Option<bool>,
}

/// Why a filter was refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct FilterError(#[from] pub Invalid);

/// A validated filter. Every part is optional; parts combine with AND, list items with OR.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeadFilter {
    /// Organisations to restrict to (empty: the whole scope).
    pub org_ids: Vec<OrgId>,
    /// Intent levels.
    pub levels: Vec<String>,
    /// Sources.
    pub sources: Vec<String>,
    /// Follow-up statuses.
    pub statuses: Vec<String>,
    /// Vehicle models.
    pub vehicle_models: Vec<String>,
    /// `create_time >= created_from`.
    pub created_from: Option<DateTime<Utc>>,
    /// `create_time < created_before` (the inclusive `created_to` turned exclusive).
    pub created_before: Option<DateTime<Utc>>,
    /// `last_call_time IS NULL OR last_call_time < not_called_since`.
    pub not_called_since: Option<DateTime<Utc>>,
    /// `call_count <= max_call_count`.
    pub max_call_count: Option<i32>,
    /// Literal substring of name or phone.
    pub keyword: Option<String>,
    /// Leave out phones in unfinished tasks.
    pub exclude_in_active_tasks: bool,
    /// The normalised input, kept for storage and for [`LeadFilter::describe`].
    pub input: LeadFilterInput,
}

fn list(
    name: &'static str,
    v: &Option<Vec<String>>,
    max_len: usize,
) -> Result<Vec<String>, FilterError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    if v.len() > MAX_LIST {
        return Err(Invalid::TooMany {
            field: name,
            max: MAX_LIST,
        }
        .into());
    }
    let mut out = Vec::with_capacity(v.len());
    for s in v {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > max_len {
            return Err(Invalid::Length {
                field: name,
                min: 1,
                max: max_len,
            }
            .into());
        }
        if !out.iter().any(|o: &String| o == s) {
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

fn time(
    name: &'static str,
    v: &Option<String>,
    tz: Tz,
) -> Result<Option<DateTime<Utc>>, FilterError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_time(s, tz)
            .map(Some)
            .ok_or(FilterError(Invalid::Time { field: name })),
    }
}

impl LeadFilterInput {
    /// Validate into a [`LeadFilter`]; times without offset are read in `tz`.
    pub fn validate(&self, tz: Tz) -> Result<LeadFilter, FilterError> {
        let org_ids = self.org_ids.clone().unwrap_or_default();
        if org_ids.len() > MAX_LIST {
            return Err(Invalid::TooMany {
                field: "org_ids",
                max: MAX_LIST,
            }
            .into());
        }
        let levels = list("levels", &self.levels, 1)?
            .into_iter()
            .map(|l| l.to_uppercase())
            .collect::<Vec<_>>();
        if let Some(bad) = levels.iter().find(|l| !LEVELS.contains(&l.as_str())) {
            return Err(Invalid::NotOneOf {
                field: "levels",
                value: bad.clone(),
                allowed: "H, A, B, C, N",
            }
            .into());
        }
        let created_from = time("created_from", &self.created_from, tz)?;
        let created_before = time("created_to", &self.created_to, tz)?.map(|t| {
            let date_only = self.created_to.as_deref().is_some_and(is_date_only);
            if date_only {
                t + Duration::days(1)
            } else {
                t + Duration::seconds(1)
            }
        });
        if let (Some(f), Some(b)) = (created_from, created_before)
            && f >= b
        {
            return Err(Invalid::Reversed {
                from: "created_from",
                to: "created_to",
            }
            .into());
        }
        let max_call_count = match self.max_call_count {
            None => None,
            Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Some(n as i32),
            Some(_) => {
                return Err(Invalid::TooSmall {
                    field: "max_call_count",
                    min: 0,
                }
                .into());
            }
        };
        let keyword = match self.keyword.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(k) if k.chars().count() > 64 => {
                return Err(Invalid::Length {
                    field: "keyword",
                    min: 0,
                    max: 64,
                }
                .into());
            }
            Some(k) => Some(k.to_owned()),
        };
        let sources = list("sources", &self.sources, 64)?;
        let statuses = list("statuses", &self.statuses, 32)?;
        let vehicle_models = list("vehicle_models", &self.vehicle_models, 64)?;
        let not_called_since = time("not_called_since", &self.not_called_since, tz)?;
        let mut input = self.clone();
        if !levels.is_empty() {
            input.levels = Some(levels.clone());
        }
        Ok(LeadFilter {
            org_ids,
            levels,
            sources,
            statuses,
            vehicle_models,
            created_from,
            created_before,
            not_called_since,
            max_call_count,
            keyword,
            exclude_in_active_tasks: self.exclude_in_active_tasks.unwrap_or(true),
            input,
        })
    }
}

impl LeadFilter {
    /// Whether the filter selects every lead of its scope (no condition, no exclusion). Its
    /// `org_ids` are no condition of their own: they narrow the scope the filter is used in
    /// ([`crate::LeadService::resolve_filter`]).
    pub fn is_unrestricted(&self) -> bool {
        self.levels.is_empty()
            && self.sources.is_empty()
            && self.statuses.is_empty()
            && self.vehicle_models.is_empty()
            && self.created_from.is_none()
            && self.created_before.is_none()
            && self.not_called_since.is_none()
            && self.max_call_count.is_none()
            && self.keyword.is_none()
            && !self.exclude_in_active_tasks
    }

    /// The human summary used as a task's `size_desc`, e.g.
    /// `意向级别: H/A; 来源: 汽车之家; 创建时间: 2025-11-01 至 2025-11-30`.
    pub fn describe(&self, tz: Tz) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.org_ids.is_empty() {
            parts.push(format!(
                "组织: {}",
                self.org_ids
                    .iter()
                    .map(|o| o.to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            ));
        }
        for (label, v) in [
            ("意向级别", &self.levels),
            ("来源", &self.sources),
            ("跟进状态", &self.statuses),
            ("意向车型", &self.vehicle_models),
        ] {
            if !v.is_empty() {
                parts.push(format!("{label}: {}", v.join("/")));
            }
        }
        let day = |t: DateTime<Utc>| {
            let s = format_time(t, tz);
            s.strip_suffix(" 00:00:00").map(str::to_owned).unwrap_or(s)
        };
        let from = self.created_from.map(day);
        let to = self
            .input
            .created_to
            .as_deref()
            .and_then(|s| parse_time(s, tz))
            .map(day);
        match (from, to) {
            (Some(f), Some(t)) => parts.push(format!("创建时间: {f} 至 {t}")),
            (Some(f), None) => parts.push(format!("创建时间: {f} 起")),
            (None, Some(t)) => parts.push(format!("创建时间: 截至 {t}")),
            (None, None) => {}
        }
        if let Some(t) = self.not_called_since {
            parts.push(format!("自 {} 起未外呼", day(t)));
        }
        if let Some(n) = self.max_call_count {
            parts.push(format!("外呼次数: 不超过 {n} 次"));
        }
        if let Some(k) = &self.keyword {
            parts.push(format!("关键词: {k}"));
        }
        if !self.exclude_in_active_tasks {
            parts.push("包含进行中任务的线索".into());
        }
        if parts.is_empty() {
            "全部线索".into()
        } else {
            parts.join("; ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn parse(json: &str) -> Result<LeadFilterInput, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn org_ids_alone_leave_a_filter_unrestricted() {
        let unrestricted =
            |json: &str| parse(json).unwrap().validate(TZ).unwrap().is_unrestricted();
        let all = r#""exclude_in_active_tasks":false"#;
        assert!(unrestricted(&format!("{{{all}}}")));
        // org_ids narrow the scope; they are not a condition on the rows within it
        assert!(unrestricted(&format!(r#"{{"org_ids":[2,3],{all}}}"#)));
        assert!(!unrestricted(&format!(
            r#"{{"org_ids":[2],"levels":["H"],{all}}}"#
        )));
        assert!(!unrestricted(&format!(r#"{{"keyword":"138",{all}}}"#)));
        assert!(
            !unrestricted(r#"{"org_ids":[2]}"#),
            "excludes leads in active tasks"
        );
    }

    #[test]
    fn unknown_field_is_refused() {
        assert!(parse(r#"{"levelz":["H"]}"#).is_err());
    }

    #[test]
    fn impossible_ranges_are_refused() {
        let f = parse(r#"{"created_from":"2025-12-01","created_to":"2025-11-01"}"#).unwrap();
        assert!(f.validate(TZ).is_err());
        assert!(
            parse(r#"{"max_call_count":-1}"#)
                .unwrap()
                .validate(TZ)
                .is_err()
        );
        assert!(parse(r#"{"levels":["Z"]}"#).unwrap().validate(TZ).is_err());
        assert!(
            parse(r#"{"created_from":"not a date"}"#)
                .unwrap()
                .validate(TZ)
                .is_err()
        );
    }

    #[test]
    fn inclusive_date_upper_bound_covers_the_whole_day() {
        let f = parse(r#"{"created_from":"2025-11-01","created_to":"2025-11-01"}"#)
            .unwrap()
            .validate(TZ)
            .unwrap();
        assert_eq!(
            (f.created_before.unwrap() - f.created_from.unwrap()).num_hours(),
            24
        );
        assert!(f.exclude_in_active_tasks);
    }

    #[test]
    fn summary_reads_well_in_chinese() {
        let f = parse(r#"{"levels":["h","A"],"sources":["汽车之家"],"created_from":"2025-11-01","created_to":"2025-11-30"}"#)
            .unwrap()
            .validate(TZ)
            .unwrap();
        assert_eq!(
            f.describe(TZ),
            "意向级别: H/A; 来源: 汽车之家; 创建时间: 2025-11-01 至 2025-11-30"
        );
        assert_eq!(
            LeadFilterInput::default()
                .validate(TZ)
                .unwrap()
                .describe(TZ),
            "全部线索"
        );
    }
}
