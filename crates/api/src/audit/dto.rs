//! DTOs of the audit trail.

use audit::StoredEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /api/audit-log` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQueryDto {
    /// Page, from 1.
    pub page: Option<i64>,
    /// Entries per page (1..=100, default 20).
    pub page_size: Option<i64>,
    /// Only this action (`task.start`, `auth.login`, ...).
    #[param(pattern = r"^[^\u0000]*$")]
    pub action: Option<String>,
    /// Only by this username (or `cli`).
    #[param(pattern = r"^[^\u0000]*$")]
    pub actor: Option<String>,
    /// Only about this task.
    pub task_id: Option<i64>,
    /// At or after (`YYYY-MM-DD HH:MM:SS`, the service's time zone).
    #[param(pattern = r"^[^\u0000]*$")]
    pub from: Option<String>,
    /// Before (`YYYY-MM-DD HH:MM:SS`).
    #[param(pattern = r"^[^\u0000]*$")]
    pub to: Option<String>,
}

/// One entry of the trail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntryDto {
    /// Id (in the order written).
    pub id: i64,
    /// When (`YYYY-MM-DD HH:MM:SS`).
    pub time: String,
    /// The user who acted, if one.
    pub actor_id: Option<i64>,
    /// Their username, `cli`, or the name a failed login gave.
    pub actor: String,
    /// The organisation.
    pub org_id: Option<i64>,
    /// What (`task.start`, ...).
    pub action: String,
    /// What it was done to (`task`, `user`, `org`, `webhook`, `delivery`).
    pub target_type: Option<String>,
    /// Its id.
    pub target_id: Option<i64>,
    /// `ok`, or the error code of the refusal.
    pub outcome: String,
    /// The request's id (as in the request log).
    pub request_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
    /// Details (counts, names, flags): an object, empty when there are none.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl AuditEntryDto {
    /// The entry, its time in `tz`.
    pub fn of(e: StoredEntry, tz: chrono_tz::Tz) -> Self {
        let (target_type, target_id) = e.target.unzip();
        Self {
            id: e.id,
            time: kernel::format_time(e.time, tz),
            actor_id: e.actor_id.map(|u| u.0),
            actor: e.actor_name,
            org_id: e.org_id.map(|o| o.0),
            action: e.action,
            target_type,
            target_id,
            outcome: e.outcome,
            request_id: e.request_id,
            client_addr: e.client_addr,
            details: if e.details.is_object() {
                e.details
            } else {
                serde_json::Value::Object(serde_json::Map::new())
            },
        }
    }
}
