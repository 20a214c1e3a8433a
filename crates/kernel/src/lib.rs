//! # kernel
//!
//! The small shared vocabulary every other crate of the service speaks:
//!
//! - identifiers ([`OrgId`], [`UserId`], [`LeadId`], [`TaskId`]),
//! - [`OrgScope`]: the set of organisations a caller may see. Every repository method that reads
//!   or writes tenant data takes one, so tenancy cannot be forgotten by a handler,
//! - paging ([`PageRequest`], [`Page`]) with the contract's bounds (page from 1, size 1..=100),
//! - time: the [`Clock`] port (so tests control time) and the contract's timestamp format,
//! - [`mask_phone`], the one place that hides a phone number.
//!
//! It depends on no IO crate and holds no business rule of its own.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Organisation id (`dcc_user_org_id` in the original system).
pub type OrgId = i64;
/// User id.
pub type UserId = i64;
/// Lead id (`dcc_leads.id`).
pub type LeadId = i64;
/// Call task id.
pub type TaskId = i64;

/// The organisations a caller may see: their own and all its descendants.
///
/// Built by the `org` crate from the organisation tree; repositories filter with
/// [`OrgScope::ids`] and check single ids with [`OrgScope::contains`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgScope {
    root: OrgId,
    ids: BTreeSet<OrgId>,
}

impl OrgScope {
    /// A scope rooted at `root` covering `ids` (the root is always included).
    pub fn new(root: OrgId, ids: impl IntoIterator<Item = OrgId>) -> Self {
        let mut ids: BTreeSet<OrgId> = ids.into_iter().collect();
        ids.insert(root);
        Self { root, ids }
    }

    /// The caller's own organisation.
    pub fn root(&self) -> OrgId {
        self.root
    }

    /// Whether `org` is inside the scope.
    pub fn contains(&self, org: OrgId) -> bool {
        self.ids.contains(&org)
    }

    /// All organisation ids in the scope, ascending.
    pub fn ids(&self) -> Vec<OrgId> {
        self.ids.iter().copied().collect()
    }

    /// Narrow the scope to `wanted` (must all be inside it).
    ///
    /// Returns `None` when any wanted id lies outside the scope: the caller answers 404 so that
    /// the existence of other tenants' organisations is never revealed.
    pub fn narrow(&self, wanted: &[OrgId]) -> Option<OrgScope> {
        if wanted.iter().all(|o| self.contains(*o)) {
            let root = if wanted.contains(&self.root) {
                self.root
            } else {
                wanted[0]
            };
            Some(OrgScope {
                root,
                ids: wanted.iter().copied().collect(),
            })
        } else {
            None
        }
    }
}

/// Largest page size the contract allows.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Page size when the request gives none.
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// A validated page request: `page` from 1, `page_size` 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    page_size: u32,
}

/// Why a page request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// `page` was 0 or absurdly large.
    #[error("page must be between 1 and 1000000")]
    Page,
    /// `page_size` outside 1..=100.
    #[error("page_size must be between 1 and 100")]
    PageSize,
}

impl PageRequest {
    /// Validate optional `page` / `page_size` (defaults 1 and 20).
    pub fn new(page: Option<i64>, page_size: Option<i64>) -> Result<Self, PageError> {
        let page = page.unwrap_or(1);
        let page_size = page_size.unwrap_or(i64::from(DEFAULT_PAGE_SIZE));
        if !(1..=1_000_000).contains(&page) {
            return Err(PageError::Page);
        }
        if !(1..=i64::from(MAX_PAGE_SIZE)).contains(&page_size) {
            return Err(PageError::PageSize);
        }
        Ok(Self {
            page: page as u32,
            page_size: page_size as u32,
        })
    }

    /// 1-based page number.
    pub fn page(&self) -> u32 {
        self.page
    }
    /// Items per page.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }
    /// SQL offset of the first item.
    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.page_size)
    }
    /// SQL limit.
    pub fn limit(&self) -> i64 {
        i64::from(self.page_size)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// One page of items with the totals the contract reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// Items of this page (empty past the end).
    pub items: Vec<T>,
    /// Paging totals.
    pub pagination: Pagination,
}

/// `data.pagination` of a paged response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    /// 1-based page number.
    pub page: u32,
    /// Items per page.
    pub page_size: u32,
    /// Items over all pages.
    pub total: i64,
    /// Number of pages (0 when there is nothing).
    pub total_pages: i64,
}

impl<T> Page<T> {
    /// Assemble a page from its items, the request and the total count.
    pub fn new(items: Vec<T>, req: PageRequest, total: i64) -> Self {
        let size = i64::from(req.page_size());
        Self {
            items,
            pagination: Pagination {
                page: req.page(),
                page_size: req.page_size(),
                total,
                total_pages: (total + size - 1) / size,
            },
        }
    }

    /// Convert the items, keeping the totals.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            pagination: self.pagination,
        }
    }
}

/// The time source of the domain. Production uses [`SystemClock`]; tests use a fixed clock.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The contract's timestamp format, `YYYY-MM-DD HH:MM:SS`.
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Render `t` in the contract's format in time zone `tz`.
pub fn format_time(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    // the fields written directly: `format(TIME_FORMAT)` parses the pattern on every call, and
    // lists format many times per page
    let l = t.with_timezone(&tz).naive_local();
    let mut s = String::with_capacity(19);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        l.year(),
        l.month(),
        l.day(),
        l.hour(),
        l.minute(),
        l.second()
    );
    s
}

/// Parse a timestamp given in a request: `YYYY-MM-DD HH:MM:SS` (in `tz`), `YYYY-MM-DD`
/// (midnight in `tz`), or RFC 3339 with an offset. Local years outside 0000..=9999 are refused (the
/// database could not store them).
pub fn parse_time(s: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    parse_any_time(s, tz).filter(|t| (0..=9999).contains(&t.with_timezone(&tz).year()))
}

fn parse_any_time(s: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(s, TIME_FORMAT)
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether a date-only string was given (so that an inclusive upper bound means the whole day).
pub fn is_date_only(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").is_ok()
}

/// Mask a phone number for display: `13812345678` → `138****5678`.
///
/// Anything too short to mask safely is fully starred.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// A user's role within their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May manage users and run admin-only operations.
    Admin,
    /// Works with leads and tasks.
    Operator,
}

impl Role {
    /// The stored / wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "operator" => Ok(Role::Operator),
            other => Err(format!("unknown role `{other}` (admin or operator)")),
        }
    }
}

/// Who is calling: resolved from a verified token for every authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user.
    pub user_id: UserId,
    /// Their organisation.
    pub org_id: OrgId,
    /// Their role.
    pub role: Role,
    /// Their organisation and its descendants.
    pub scope: OrgScope,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_mainland_mobile() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn page_bounds() {
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(None, Some(0)).is_err());
        assert!(PageRequest::new(None, Some(101)).is_err());
        let p = PageRequest::new(Some(3), Some(10)).unwrap();
        assert_eq!(p.offset(), 20);
        let page: Page<u8> = Page::new(vec![], p, 21);
        assert_eq!(page.pagination.total_pages, 3);
        let empty: Page<u8> = Page::new(vec![], p, 0);
        assert_eq!(empty.pagination.total_pages, 0);
    }

    #[test]
    fn scope_narrowing_refuses_outsiders() {
        let s = OrgScope::new(1, [2, 3]);
        assert!(s.narrow(&[2]).is_some());
        assert!(s.narrow(&[2, 9]).is_none());
    }

    #[test]
    fn parses_contract_and_iso_times() {
        let tz = chrono_tz::Asia::Shanghai;
        let a = parse_time("2025-11-01 08:00:00", tz).unwrap();
        let b = parse_time("2025-11-01T00:00:00Z", tz).unwrap();
        assert_eq!(a, b);
        assert_eq!(format_time(a, tz), "2025-11-01 08:00:00");
        assert!(parse_time("yesterday", tz).is_none());
        assert!(parse_time("-200000-01-01", tz).is_none());
        assert!(parse_time("+20000-01-01T00:00:00Z", tz).is_none());
    }

    #[test]
    fn format_time_writes_what_the_contract_pattern_writes() {
        // years 0000..=9999 (all the database and parse_time let in), across zones with and
        // without daylight saving, against chrono's own rendering of TIME_FORMAT
        let zones = [
            chrono_tz::Asia::Shanghai,
            chrono_tz::Europe::Berlin,
            chrono_tz::America::New_York,
            chrono_tz::UTC,
        ];
        let mut secs: i64 = -62_135_596_800 + 86_400; // 0001-01-02
        let end: i64 = 253_402_300_799 - 86_400; // 9999-12-30
        let step = 7_919_777; // about 92 days and a few hours: every field moves
        while secs < end {
            let t = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
            for tz in zones {
                assert_eq!(
                    format_time(t, tz),
                    t.with_timezone(&tz).format(TIME_FORMAT).to_string()
                );
            }
            secs += step;
        }
    }
}

/// A storage failure, as every repository port reports it.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The database cannot be used right now (connection refused or lost, pool timeout, or a
    /// transaction that lost a race and was rolled back): nothing changed; the caller answers 503
    /// and may try again.
    #[error("database unavailable")]
    Unavailable,
    /// Anything else: a bug or an unexpected database state; logged, answered 500.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}
