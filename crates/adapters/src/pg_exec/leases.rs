//! [`PgLeases`]: a worker's lease on a task, one column pair per kind of worker.

use async_trait::async_trait;
use diesel::OptionalExtension;
use diesel::prelude::QueryableByName;
use diesel::sql_types::{Array, BigInt, Double, Nullable, SmallInt, Text};
use diesel_async::RunQueryDsl;
use kernel::{RepoError, TaskId};
use tasks::TaskState;
use tasks::execution::{LeaseKind, LeaseRepository, LeasedTask};

use super::{StateRow, codes, state_of};
use crate::db::{DbPool, conn, db_error};

/// [`LeaseRepository`] on PostgreSQL.
#[derive(Clone)]
pub struct PgLeases {
    pool: DbPool,
}

impl PgLeases {
    /// Over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

#[derive(QueryableByName)]
struct LeaseRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = SmallInt)]
    task_type: i16,
    #[diesel(sql_type = Nullable<Text>)]
    job_group_id: Option<String>,
    #[diesel(sql_type = BigInt)]
    leads_count: i64,
    #[diesel(sql_type = BigInt)]
    jobs_recorded: i64,
}

/// A task in one of `$3` with a job group and something to send (a pending lead or an open
/// batch), whose dispatch lease is free or expired, least recently leased first; locked rows
/// are skipped so that instances never wait for each other.
const LEASE_DISPATCH: &str = "\
UPDATE call_tasks SET dispatch_locked_by = $1, dispatch_locked_until = now() + make_interval(secs => $2) \
WHERE id = ( \
  SELECT c.id FROM call_tasks c \
  WHERE c.task_type = ANY($3) AND c.job_group_id IS NOT NULL \
    AND (c.dispatch_locked_until IS NULL OR c.dispatch_locked_until < now()) \
    AND (EXISTS (SELECT 1 FROM leads_task_list t WHERE t.task_id = c.id AND t.job_id IS NULL AND t.call_status = 'pending') \
         OR EXISTS (SELECT 1 FROM dispatch_batches b WHERE b.task_id = c.id AND b.state = 'open')) \
  ORDER BY c.dispatch_locked_until NULLS FIRST, c.id \
  FOR UPDATE SKIP LOCKED LIMIT 1) \
RETURNING id, task_type, job_group_id, leads_count, \
  (SELECT COALESCE(sum(n), 0)::bigint FROM task_lead_counts k WHERE k.task_id = call_tasks.id AND k.has_job) AS jobs_recorded";

/// A task in one of `$3` with a job group whose monitor lease is free or expired.
const LEASE_MONITOR: &str = "\
UPDATE call_tasks SET monitor_locked_by = $1, monitor_locked_until = now() + make_interval(secs => $2) \
WHERE id = ( \
  SELECT c.id FROM call_tasks c \
  WHERE c.task_type = ANY($3) AND c.job_group_id IS NOT NULL \
    AND (c.monitor_locked_until IS NULL OR c.monitor_locked_until < now()) \
  ORDER BY c.monitor_locked_until NULLS FIRST, c.id \
  FOR UPDATE SKIP LOCKED LIMIT 1) \
RETURNING id, task_type, job_group_id, leads_count, \
  (SELECT COALESCE(sum(n), 0)::bigint FROM task_lead_counts k WHERE k.task_id = call_tasks.id AND k.has_job) AS jobs_recorded";

const RENEW_DISPATCH: &str = "UPDATE call_tasks SET dispatch_locked_until = now() + make_interval(secs => $3) \
WHERE id = $1 AND dispatch_locked_by = $2 RETURNING task_type";
const RENEW_MONITOR: &str = "UPDATE call_tasks SET monitor_locked_until = now() + make_interval(secs => $3) \
WHERE id = $1 AND monitor_locked_by = $2 RETURNING task_type";

/// Both kinds of a task's leases in one UPDATE (a row cannot be updated twice by one
/// statement); the count is read from the statement's snapshot, before the update.
const RELEASE_ALL: &str = "WITH held AS ( \
  SELECT count(*) FILTER (WHERE dispatch_locked_by = $1) + count(*) FILTER (WHERE monitor_locked_by = $1) AS n \
  FROM call_tasks WHERE dispatch_locked_by = $1 OR monitor_locked_by = $1), \
t AS ( \
  UPDATE call_tasks SET \
    dispatch_locked_until = CASE WHEN dispatch_locked_by = $1 THEN NULL ELSE dispatch_locked_until END, \
    dispatch_locked_by = NULLIF(dispatch_locked_by, $1), \
    monitor_locked_until = CASE WHEN monitor_locked_by = $1 THEN NULL ELSE monitor_locked_until END, \
    monitor_locked_by = NULLIF(monitor_locked_by, $1) \
  WHERE dispatch_locked_by = $1 OR monitor_locked_by = $1 RETURNING 1), \
r AS ( \
  UPDATE query_execution_runs SET locked_by = NULL, locked_until = NULL \
  WHERE locked_by = $1 AND status IN ('pending', 'running') RETURNING 1) \
SELECT (SELECT n FROM held) + (SELECT count(*) FROM r) AS n";

const RELEASE_DISPATCH: &str = "UPDATE call_tasks SET dispatch_locked_by = NULL, dispatch_locked_until = NULL \
WHERE id = $1 AND dispatch_locked_by = $2";
const RELEASE_MONITOR: &str = "UPDATE call_tasks SET monitor_locked_by = NULL, monitor_locked_until = NULL \
WHERE id = $1 AND monitor_locked_by = $2";

#[async_trait]
impl LeaseRepository for PgLeases {
    async fn lease_task(
        &self,
        kind: LeaseKind,
        worker: &str,
        states: Vec<TaskState>,
        lease_secs: i64,
    ) -> Result<Option<LeasedTask>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let sql = match kind {
            LeaseKind::Dispatch => LEASE_DISPATCH,
            LeaseKind::Monitor => LEASE_MONITOR,
        };
        let row: Option<LeaseRow> = diesel::sql_query(sql)
            .bind::<Text, _>(worker)
            .bind::<Double, _>(lease_secs as f64)
            .bind::<Array<SmallInt>, _>(codes(&states))
            .get_result(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        row.map(|r| {
            Ok(LeasedTask {
                id: TaskId(r.id),
                state: state_of(r.task_type)?,
                job_group_id: r.job_group_id,
                leads_count: r.leads_count,
                jobs_recorded: u64::try_from(r.jobs_recorded).unwrap_or(0),
            })
        })
        .transpose()
    }

    async fn renew_lease(
        &self,
        kind: LeaseKind,
        id: TaskId,
        worker: &str,
        lease_secs: i64,
    ) -> Result<Option<TaskState>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let sql = match kind {
            LeaseKind::Dispatch => RENEW_DISPATCH,
            LeaseKind::Monitor => RENEW_MONITOR,
        };
        let row: Option<StateRow> = diesel::sql_query(sql)
            .bind::<BigInt, _>(id.0)
            .bind::<Text, _>(worker)
            .bind::<Double, _>(lease_secs as f64)
            .get_result(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        row.map(|r| state_of(r.task_type)).transpose()
    }

    async fn release_lease(
        &self,
        kind: LeaseKind,
        id: TaskId,
        worker: &str,
    ) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        let sql = match kind {
            LeaseKind::Dispatch => RELEASE_DISPATCH,
            LeaseKind::Monitor => RELEASE_MONITOR,
        };
        diesel::sql_query(sql)
            .bind::<BigInt, _>(id.0)
            .bind::<Text, _>(worker)
            .execute(&mut c)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn release_all(&self, worker: &str) -> Result<u64, RepoError> {
        #[derive(QueryableByName)]
        struct Released {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut c = conn(&self.pool).await?;
        let r: Released = diesel::sql_query(RELEASE_ALL)
            .bind::<Text, _>(worker)
            .get_result(&mut c)
            .await
            .map_err(db_error)?;
        Ok(u64::try_from(r.n).unwrap_or(0))
    }
}
