//! [`PgAudit`]: the audit trail in `audit_log`, and [`insert`], which the other adapters call
//! inside the transaction of the action they record.

use async_trait::async_trait;
use audit::{AuditLog, AuditQuery, Entry, StoredEntry};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::{OrgId, OrgScope, Page, PageRequest, RepoError, UserId};

use crate::db::{DbPool, conn, db_error, scope_ids};
use crate::schema::audit_log;

/// [`AuditLog`] on PostgreSQL.
#[derive(Clone)]
pub struct PgAudit {
    pool: DbPool,
}

impl PgAudit {
    /// Over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

/// Write `entry` on connection `c` (inside the caller's transaction, when it has one).
pub async fn insert(c: &mut AsyncPgConnection, entry: &Entry) -> QueryResult<()> {
    let (kind, id) = entry.target.map(|t| t.parts()).unzip();
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor_id.eq(entry.actor.user_id.map(|u| u.0)),
            audit_log::actor_name.eq(&entry.actor.name),
            audit_log::org_id.eq(entry.org_id.map(|o| o.0)),
            audit_log::action.eq(entry.action.as_str()),
            audit_log::target_kind.eq(kind),
            audit_log::target_id.eq(id),
            audit_log::outcome.eq(entry.outcome.as_str()),
            audit_log::request_id.eq(entry.origin.request_id.as_deref()),
            audit_log::client_addr.eq(entry.origin.client_addr.as_deref()),
            audit_log::details.eq(&entry.details),
        ))
        .execute(c)
        .await
        .map(|_| ())
}

type Row = (
    i64,
    DateTime<Utc>,
    Option<i64>,
    String,
    Option<i64>,
    String,
    Option<String>,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
    serde_json::Value,
);

fn stored(r: Row) -> StoredEntry {
    StoredEntry {
        id: r.0,
        time: r.1,
        actor_id: r.2.map(UserId),
        actor_name: r.3,
        org_id: r.4.map(OrgId),
        action: r.5,
        target: r.6.zip(r.7),
        outcome: r.8,
        request_id: r.9,
        client_addr: r.10,
        details: r.11,
    }
}

#[async_trait]
impl AuditLog for PgAudit {
    async fn record(&self, entry: &Entry) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        insert(&mut c, entry).await.map_err(db_error)
    }

    async fn list(
        &self,
        scope: &OrgScope,
        query: &AuditQuery,
        page: PageRequest,
    ) -> Result<Page<StoredEntry>, RepoError> {
        let ids = scope_ids(scope);
        let filtered = || {
            let mut q = audit_log::table
                .into_boxed()
                .filter(audit_log::org_id.eq_any(ids.clone()));
            if let Some(a) = &query.action {
                q = q.filter(audit_log::action.eq(a.clone()));
            }
            if let Some(a) = &query.actor {
                q = q.filter(audit_log::actor_name.eq(a.clone()));
            }
            if let Some(t) = query.task_id {
                q = q.filter(
                    audit_log::target_kind
                        .eq("task")
                        .and(audit_log::target_id.eq(t.0)),
                );
            }
            if let Some(from) = query.from {
                q = q.filter(audit_log::time.ge(from));
            }
            if let Some(to) = query.to {
                q = q.filter(audit_log::time.lt(to));
            }
            q
        };
        let mut c = conn(&self.pool).await?;
        let total: i64 = filtered()
            .count()
            .get_result(&mut c)
            .await
            .map_err(db_error)?;
        let rows: Vec<Row> = filtered()
            .select((
                audit_log::id,
                audit_log::time,
                audit_log::actor_id,
                audit_log::actor_name,
                audit_log::org_id,
                audit_log::action,
                audit_log::target_kind,
                audit_log::target_id,
                audit_log::outcome,
                audit_log::request_id,
                audit_log::client_addr,
                audit_log::details,
            ))
            .order(audit_log::id.desc())
            .limit(page.limit())
            .offset(page.offset())
            .load(&mut c)
            .await
            .map_err(db_error)?;
        Ok(Page::new(
            rows.into_iter().map(stored).collect(),
            page,
            total,
        ))
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, RepoError> {
        let mut c = conn(&self.pool).await?;
        let n = c
            .transaction(async |c| {
                // the table refuses deletes but from this job (see its migration)
                diesel::sql_query("SET LOCAL outbound.audit_retention = 'on'")
                    .execute(c)
                    .await?;
                diesel::delete(audit_log::table.filter(audit_log::time.lt(before)))
                    .execute(c)
                    .await
            })
            .await
            .map_err(db_error)?;
        Ok(n as u64)
    }
}

/// Run `$change` (an expression using connection `$c`, answering a `QueryResult<$t>`) on a
/// connection of `$pool`, and write the entry `$entry` makes of its result `$r` in the same
/// transaction (`None`: nothing happened, nothing to record, e.g. an unknown id). A macro, not
/// a function: the transaction's future must stay `Send`, which a generic async closure cannot
/// promise.
macro_rules! audited {
    ($pool:expr, |$c:ident| $change:expr, |$r:ident: &$t:ty| $entry:expr $(,)?) => {{
        let mut conn = $crate::db::conn($pool).await?;
        diesel_async::AsyncConnection::transaction(&mut conn, async |$c| {
            let result: $t = $change?;
            let $r = &result;
            let entry: Option<audit::Entry> = $entry;
            if let Some(entry) = entry {
                $crate::pg_audit::insert($c, &entry).await?;
            }
            diesel::QueryResult::Ok(result)
        })
        .await
        .map_err($crate::db::db_error)
    }};
}
pub(crate) use audited;
