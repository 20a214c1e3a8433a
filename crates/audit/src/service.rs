//! Reading the trail (admins, their organisations only) and its retention.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use kernel::{Caller, OrgId, Page, PageRequest, RepoError, Role, TaskId, UserId};
use serde_json::Value;

use crate::{AuditLog, Entry};

/// Which entries to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Of this action (its stored name).
    pub action: Option<String>,
    /// By this username (or `cli`).
    pub actor: Option<String>,
    /// About this task.
    pub task_id: Option<TaskId>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    /// Id (entries are numbered in the order they were written).
    pub id: i64,
    /// When.
    pub time: DateTime<Utc>,
    /// The user who acted, if one.
    pub actor_id: Option<UserId>,
    /// Their username, `cli`, or the name a failed login gave.
    pub actor_name: String,
    /// The organisation.
    pub org_id: Option<OrgId>,
    /// The action's stored name.
    pub action: String,
    /// What it was done to: kind (`task`, `user`, ...) and id.
    pub target: Option<(String, i64)>,
    /// `ok` or the refusal's error code.
    pub outcome: String,
    /// The request's id (as in the request log).
    pub request_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
    /// Details.
    pub details: Value,
}

/// Why the trail could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Not an admin.
    #[error("admins only")]
    Forbidden,
    /// The query is not valid.
    #[error("{0}")]
    Invalid(String),
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// The trail's use cases.
#[derive(Clone)]
pub struct AuditService {
    log: Arc<dyn AuditLog>,
    retention: Duration,
}

impl AuditService {
    /// Over `log`, keeping entries `retention_days` days.
    pub fn new(log: Arc<dyn AuditLog>, retention_days: u32) -> Self {
        Self {
            log,
            retention: Duration::days(i64::from(retention_days)),
        }
    }

    /// Write `entry` on its own. The action it records has happened (or was refused) already,
    /// so a failure to write it is logged, not answered.
    pub async fn record(&self, entry: &Entry) {
        if let Err(e) = self.log.record(entry).await {
            tracing::warn!(action = entry.action.as_str(), outcome = entry.outcome.as_str(), error = %e, "audit entry not written");
        }
    }

    /// Entries of the caller's organisations matching `query`, newest first (admins only).
    pub async fn list(
        &self,
        caller: &Caller,
        query: &AuditQuery,
        page: PageRequest,
    ) -> Result<Page<StoredEntry>, AuditError> {
        if caller.role != Role::Admin {
            return Err(AuditError::Forbidden);
        }
        if let Some(a) = &query.action
            && crate::Action::parse(a).is_none()
        {
            return Err(AuditError::Invalid(format!("unknown action `{a}`")));
        }
        if let (Some(from), Some(to)) = (query.from, query.to)
            && from > to
        {
            return Err(AuditError::Invalid("`from` is after `to`".into()));
        }
        Ok(self.log.list(&caller.scope, query, page).await?)
    }

    /// Remove what is older than the retention allows, as of `now`; how many were removed.
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        self.log.purge(now - self.retention).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockAuditLog;
    use kernel::{OrgScope, Origin};

    fn caller(role: Role) -> Caller {
        Caller {
            user_id: UserId(1),
            username: "ada".into(),
            org_id: OrgId(2),
            role,
            scope: OrgScope::new(OrgId(2), [OrgId(2)]),
            origin: Origin::default(),
        }
    }

    #[tokio::test]
    async fn only_admins_read_and_a_bad_query_is_refused_before_the_store() {
        let mut log = MockAuditLog::new();
        log.expect_list()
            .times(1)
            .returning(|_, _, _| Ok(Page::new(vec![], PageRequest::default(), 0)));
        let s = AuditService::new(Arc::new(log), 180);
        let page = PageRequest::default();
        let q = AuditQuery::default();
        assert!(matches!(
            s.list(&caller(Role::Operator), &q, page).await,
            Err(AuditError::Forbidden)
        ));
        let bad = AuditQuery {
            action: Some("task.delete".into()),
            ..AuditQuery::default()
        };
        assert!(matches!(
            s.list(&caller(Role::Admin), &bad, page).await,
            Err(AuditError::Invalid(_))
        ));
        assert!(s.list(&caller(Role::Admin), &q, page).await.is_ok());
    }

    #[tokio::test]
    async fn the_retention_removes_what_is_older_than_its_days() {
        let now = Utc::now();
        let mut log = MockAuditLog::new();
        log.expect_purge()
            .withf(move |before| *before == now - Duration::days(180))
            .returning(|_| Ok(7));
        let s = AuditService::new(Arc::new(log), 180);
        assert_eq!(s.purge_expired(now).await.unwrap(), 7);
    }
}
