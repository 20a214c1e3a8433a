//! PostgreSQL repository of execution state: transitions, leases, dispatch batches, results,
//! statistics and query execution runs.
//!
//! Queries that diesel's builder cannot express (row locking in subqueries, `unnest` bulk
//! updates, data-modifying CTEs) are fixed SQL texts with every value a bound parameter.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use kernel::{OrgScope, Page, PageRequest, RepoError, TaskId};
use tasks::execution::{
    Batch, DispatchLead, ExecutionRepository, ExecutionRow, Executions, LeaseKind, LeasedTask, Run,
    TaskStatistics,
};
use tasks::results::{CallStatus, LeadResult};
use tasks::{CallTask, TaskState, TransitionError};

use crate::db::{DbPool, conn, db_error};
use crate::pg_tasks::{TaskRow, task_columns, to_task};
use crate::schema::{
    call_tasks, dispatch_batches, leads_task_list, query_execution_runs, task_lead_counts,
};

type CountsRow = (String, String, bool, i64, i64, i64);

/// [`ExecutionRepository`] on PostgreSQL.
#[derive(Clone)]
pub struct PgExecution {
    pool: DbPool,
}

impl PgExecution {
    /// Over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

fn codes(states: &[TaskState]) -> Vec<i16> {
    states.iter().map(|s| s.code()).collect()
}

fn strs(statuses: &[CallStatus]) -> Vec<&'static str> {
    statuses.iter().map(|s| s.as_str()).collect()
}

fn open_statuses() -> Vec<&'static str> {
    strs(&[
        CallStatus::Pending,
        CallStatus::Assigning,
        CallStatus::Dispatched,
        CallStatus::Calling,
    ])
}

fn state_of(code: i16) -> Result<TaskState, RepoError> {
    TaskState::from_code(i64::from(code))
        .ok_or_else(|| RepoError::Other(anyhow::anyhow!("unknown task_type {code}")))
}

#[derive(QueryableByName)]
struct LeaseRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    task_type: i16,
    #[diesel(sql_type = Nullable<Text>)]
    job_group_id: Option<String>,
    #[diesel(sql_type = BigInt)]
    leads_count: i64,
}

#[derive(QueryableByName)]
struct StateRow {
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    task_type: i16,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

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
RETURNING id, task_type, job_group_id, leads_count";

const LEASE_MONITOR: &str = "\
UPDATE call_tasks SET monitor_locked_by = $1, monitor_locked_until = now() + make_interval(secs => $2) \
WHERE id = ( \
  SELECT c.id FROM call_tasks c \
  WHERE c.task_type = ANY($3) AND c.job_group_id IS NOT NULL \
    AND (c.monitor_locked_until IS NULL OR c.monitor_locked_until < now()) \
  ORDER BY c.monitor_locked_until NULLS FIRST, c.id \
  FOR UPDATE SKIP LOCKED LIMIT 1) \
RETURNING id, task_type, job_group_id, leads_count";

const RENEW_DISPATCH: &str = "UPDATE call_tasks SET dispatch_locked_until = now() + make_interval(secs => $3) \
WHERE id = $1 AND dispatch_locked_by = $2 RETURNING task_type";
const RENEW_MONITOR: &str = "UPDATE call_tasks SET monitor_locked_until = now() + make_interval(secs => $3) \
WHERE id = $1 AND monitor_locked_by = $2 RETURNING task_type";
const RELEASE_DISPATCH: &str = "UPDATE call_tasks SET dispatch_locked_by = NULL, dispatch_locked_until = NULL WHERE id = $1 AND dispatch_locked_by = $2";
const RELEASE_MONITOR: &str = "UPDATE call_tasks SET monitor_locked_by = NULL, monitor_locked_until = NULL WHERE id = $1 AND monitor_locked_by = $2";

const RECORD_JOBS: &str = "\
UPDATE leads_task_list t SET job_id = u.job_id, batch_id = NULL, update_time = now(), \
  call_status = CASE WHEN t.call_status = 'assigning' THEN 'dispatched' ELSE t.call_status END \
FROM unnest($1::bigint[], $2::text[]) AS u(id, job_id) \
WHERE t.id = u.id AND t.batch_id = $3";

/// Bulk result update, one statement. A result never moves a lead back to fewer attempts, and
/// the leads' call counts grow by exactly the new attempts, whether results arrive twice, out of
/// order, or from two appliers (monitor, run, refresh) at once: `prev_attempts = t.attempts` is
/// evaluated on the row version this update replaces (after waiting for a concurrent writer of
/// the row, PostgreSQL re-reads its latest version), so `RETURNING attempts - prev_attempts` is
/// the exact number of new calls, without locking the rows in a separate pass. Rows come in id
/// order (the caller sorts them) and are found one by one by primary key, so appliers of the
/// same rows lock them in the same order. Unchanged rows are filtered out before any write.
const APPLY_RESULTS: &str = "\
WITH u AS ( \
  SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::int[], \
                       $8::text[], $9::text[], $10::text[], $11::text[]) \
    AS u(id, job_id, call_status, attempts, last_call_time, duration_seconds, intent_level, intent_tags, summary, follow_suggestion) \
), upd AS ( \
  UPDATE leads_task_list t SET \
    job_id = COALESCE(t.job_id, u.job_id), call_status = u.call_status, \
    attempts = u.attempts, prev_attempts = t.attempts, \
    last_call_time = u.last_call_time, duration_seconds = u.duration_seconds, intent_level = u.intent_level, \
    intent_tags = u.intent_tags::jsonb, summary = u.summary, follow_suggestion = u.follow_suggestion, \
    batch_id = NULL, update_time = now() \
  FROM u \
  WHERE t.id = u.id AND t.task_id = $1 AND u.attempts >= t.attempts \
    AND (t.call_status, t.attempts, t.last_call_time, t.duration_seconds, t.intent_level, t.job_id, t.intent_tags) \
        IS DISTINCT FROM (u.call_status, u.attempts, u.last_call_time, u.duration_seconds, u.intent_level, COALESCE(t.job_id, u.job_id), u.intent_tags::jsonb) \
  RETURNING t.lead_id, t.attempts - t.prev_attempts AS calls, t.last_call_time \
), touched AS ( \
  UPDATE dcc_leads d SET call_count = d.call_count + upd.calls, \
    last_call_time = GREATEST(d.last_call_time, upd.last_call_time) \
  FROM upd WHERE d.id = upd.lead_id AND upd.calls > 0 \
) SELECT (SELECT count(*) FROM upd) AS n";

const REFRESH_COUNTERS: &str = "\
UPDATE call_tasks SET \
  called_count = (SELECT COALESCE(sum(n), 0) FROM task_lead_counts WHERE task_id = $1 AND call_status = ANY($2)), \
  connected_count = (SELECT COALESCE(sum(n), 0) FROM task_lead_counts WHERE task_id = $1 AND call_status = 'connected'), \
  update_time = now() \
WHERE id = $1";

const COMPLETE_IF_DONE: &str = "\
UPDATE call_tasks SET task_type = 3, update_time = now() \
WHERE id = $1 AND task_type = 2 AND job_group_id IS NOT NULL \
  AND NOT EXISTS (SELECT 1 FROM task_lead_counts WHERE task_id = $1 AND call_status = ANY($2) AND n > 0) \
RETURNING task_type";

const CREATE_RUN: &str = "\
INSERT INTO query_execution_runs (task_id, org_id, total) \
SELECT c.id, c.org_id, c.leads_count FROM call_tasks c WHERE c.id = $1 \
ON CONFLICT (task_id) WHERE status IN ('pending', 'running') DO NOTHING";

const LEASE_RUN: &str = "\
UPDATE query_execution_runs SET status = 'running', locked_by = $1, \
  locked_until = now() + make_interval(secs => $2), started_at = COALESCE(started_at, now()) \
WHERE id = ( \
  SELECT id FROM query_execution_runs WHERE status IN ('pending', 'running') \
    AND (locked_until IS NULL OR locked_until < now()) \
  ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) \
RETURNING id";

type RunRow = (
    i64,
    i64,
    String,
    i64,
    i64,
    i32,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
);

fn run_columns() -> (
    query_execution_runs::id,
    query_execution_runs::task_id,
    query_execution_runs::status,
    query_execution_runs::total,
    query_execution_runs::processed,
    query_execution_runs::next_page,
    query_execution_runs::started_at,
    query_execution_runs::finished_at,
    query_execution_runs::error,
) {
    (
        query_execution_runs::id,
        query_execution_runs::task_id,
        query_execution_runs::status,
        query_execution_runs::total,
        query_execution_runs::processed,
        query_execution_runs::next_page,
        query_execution_runs::started_at,
        query_execution_runs::finished_at,
        query_execution_runs::error,
    )
}

fn to_run(r: RunRow) -> Run {
    Run {
        id: r.0,
        task_id: r.1,
        status: r.2,
        total: r.3,
        processed: r.4,
        next_page: r.5,
        started_at: r.6,
        finished_at: r.7,
        error: r.8,
    }
}

type ExecRow = (
    i64,
    i64,
    String,
    String,
    String,
    i32,
    Option<DateTime<Utc>>,
    Option<i32>,
    Option<String>,
    Option<String>,
    serde_json::Value,
    Option<String>,
    Option<String>,
);

impl PgExecution {
    async fn in_scope(
        &self,
        c: &mut crate::db::DbConn,
        scope: &OrgScope,
        task: TaskId,
    ) -> Result<bool, RepoError> {
        let n: i64 = call_tasks::table
            .filter(call_tasks::id.eq(task))
            .filter(call_tasks::org_id.eq_any(scope.ids()))
            .select(count_star())
            .get_result(c)
            .await
            .map_err(db_error)?;
        Ok(n > 0)
    }

    async fn batch_leads(
        &self,
        c: &mut crate::db::DbConn,
        batch: i64,
    ) -> Result<Vec<DispatchLead>, RepoError> {
        let rows: Vec<(i64, String, String)> = leads_task_list::table
            .filter(leads_task_list::batch_id.eq(batch))
            .filter(leads_task_list::call_status.eq(CallStatus::Assigning.as_str()))
            .select((
                leads_task_list::id,
                leads_task_list::phone,
                leads_task_list::customer_name,
            ))
            .order(leads_task_list::id)
            .load(c)
            .await
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, phone, customer_name)| DispatchLead {
                id,
                phone,
                customer_name,
            })
            .collect())
    }

    async fn close_batch(
        c: &mut diesel_async::AsyncPgConnection,
        batch: i64,
    ) -> Result<(), diesel::result::Error> {
        diesel::update(leads_task_list::table)
            .filter(leads_task_list::batch_id.eq(batch))
            .filter(leads_task_list::call_status.eq(CallStatus::Assigning.as_str()))
            .set((
                leads_task_list::call_status.eq(CallStatus::Pending.as_str()),
                leads_task_list::batch_id.eq(None::<i64>),
            ))
            .execute(c)
            .await?;
        diesel::update(dispatch_batches::table.find(batch))
            .set((
                dispatch_batches::state.eq("closed"),
                dispatch_batches::closed_at.eq(diesel::dsl::now),
            ))
            .execute(c)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl ExecutionRepository for PgExecution {
    async fn transition(
        &self,
        scope: &OrgScope,
        id: TaskId,
        from: Vec<TaskState>,
        to: TaskState,
    ) -> Result<CallTask, TransitionError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<TaskRow> = diesel::update(
            call_tasks::table
                .filter(call_tasks::id.eq(id))
                .filter(call_tasks::org_id.eq_any(scope.ids()))
                .filter(call_tasks::task_type.eq_any(codes(&from))),
        )
        .set((
            call_tasks::task_type.eq(to.code()),
            call_tasks::update_time.eq(diesel::dsl::now),
        ))
        .returning(task_columns!())
        .get_result(&mut c)
        .await
        .optional()
        .map_err(db_error)?;
        if let Some(r) = row {
            return Ok(to_task(r)?);
        }
        let current: Option<i16> = call_tasks::table
            .filter(call_tasks::id.eq(id))
            .filter(call_tasks::org_id.eq_any(scope.ids()))
            .select(call_tasks::task_type)
            .first(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        match current {
            None => Err(TransitionError::NotFound),
            Some(code) => Err(TransitionError::InvalidState(state_of(code)?)),
        }
    }

    async fn force_state(
        &self,
        id: TaskId,
        from: TaskState,
        to: TaskState,
    ) -> Result<bool, RepoError> {
        let mut c = conn(&self.pool).await?;
        let n = diesel::update(
            call_tasks::table
                .filter(call_tasks::id.eq(id))
                .filter(call_tasks::task_type.eq(from.code())),
        )
        .set((
            call_tasks::task_type.eq(to.code()),
            call_tasks::update_time.eq(diesel::dsl::now),
        ))
        .execute(&mut c)
        .await
        .map_err(db_error)?;
        Ok(n > 0)
    }

    async fn set_job_group(&self, id: TaskId, job_group_id: &str) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        diesel::update(call_tasks::table.find(id))
            .set((
                call_tasks::job_group_id.eq(job_group_id),
                call_tasks::update_time.eq(diesel::dsl::now),
            ))
            .execute(&mut c)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn undo_stale_starts(&self, older_than: DateTime<Utc>) -> Result<u64, RepoError> {
        let mut c = conn(&self.pool).await?;
        let n = diesel::update(
            call_tasks::table
                .filter(call_tasks::task_type.eq(TaskState::Running.code()))
                .filter(call_tasks::job_group_id.is_null())
                .filter(call_tasks::update_time.lt(older_than)),
        )
        .set((
            call_tasks::task_type.eq(TaskState::Created.code()),
            call_tasks::update_time.eq(diesel::dsl::now),
        ))
        .execute(&mut c)
        .await
        .map_err(db_error)?;
        Ok(n as u64)
    }

    async fn cancel_open_leads(&self, id: TaskId) -> Result<u64, RepoError> {
        let mut c = conn(&self.pool).await?;
        let n = diesel::update(
            leads_task_list::table
                .filter(leads_task_list::task_id.eq(id))
                .filter(leads_task_list::call_status.eq_any(open_statuses())),
        )
        .set((
            leads_task_list::call_status.eq(CallStatus::Cancelled.as_str()),
            leads_task_list::update_time.eq(diesel::dsl::now),
        ))
        .execute(&mut c)
        .await
        .map_err(db_error)?;
        Ok(n as u64)
    }

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
            .bind::<diesel::sql_types::Double, _>(lease_secs as f64)
            .bind::<Array<diesel::sql_types::SmallInt>, _>(codes(&states))
            .get_result(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        row.map(|r| {
            Ok(LeasedTask {
                id: r.id,
                state: state_of(r.task_type)?,
                job_group_id: r.job_group_id,
                leads_count: r.leads_count,
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
            .bind::<BigInt, _>(id)
            .bind::<Text, _>(worker)
            .bind::<diesel::sql_types::Double, _>(lease_secs as f64)
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
            .bind::<BigInt, _>(id)
            .bind::<Text, _>(worker)
            .execute(&mut c)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn claim_batch(
        &self,
        task: TaskId,
        worker: &str,
        max: i64,
        after: i64,
    ) -> Result<Option<Batch>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let result: Result<Option<Batch>, diesel::result::Error> = c
            .transaction(async |c| {
                // `job_id IS NULL` lets the partial index `leads_task_list_unsent_idx` serve it
                let ids: Vec<i64> = leads_task_list::table
                    .filter(leads_task_list::task_id.eq(task))
                    .filter(leads_task_list::job_id.is_null())
                    .filter(leads_task_list::id.gt(after))
                    .filter(leads_task_list::call_status.eq(CallStatus::Pending.as_str()))
                    .select(leads_task_list::id)
                    .order(leads_task_list::id)
                    .limit(max)
                    .for_update()
                    .skip_locked()
                    .load(c)
                    .await?;
                if ids.is_empty() {
                    return Ok(None);
                }
                let (batch_id, created_at): (i64, DateTime<Utc>) =
                    diesel::insert_into(dispatch_batches::table)
                        .values((
                            dispatch_batches::task_id.eq(task),
                            dispatch_batches::worker.eq(worker),
                            dispatch_batches::size.eq(ids.len() as i32),
                        ))
                        .returning((dispatch_batches::id, dispatch_batches::created_at))
                        .get_result(c)
                        .await?;
                let rows: Vec<(i64, String, String)> =
                    diesel::update(leads_task_list::table.filter(leads_task_list::id.eq_any(&ids)))
                        .set((
                            leads_task_list::call_status.eq(CallStatus::Assigning.as_str()),
                            leads_task_list::batch_id.eq(batch_id),
                            leads_task_list::update_time.eq(diesel::dsl::now),
                        ))
                        .returning((
                            leads_task_list::id,
                            leads_task_list::phone,
                            leads_task_list::customer_name,
                        ))
                        .get_results(c)
                        .await?;
                let mut leads: Vec<DispatchLead> = rows
                    .into_iter()
                    .map(|(id, phone, customer_name)| DispatchLead {
                        id,
                        phone,
                        customer_name,
                    })
                    .collect();
                leads.sort_by_key(|l| l.id);
                Ok(Some(Batch {
                    id: batch_id,
                    created_at,
                    leads,
                }))
            })
            .await;
        result.map_err(db_error)
    }

    async fn record_batch(&self, batch_id: i64, jobs: Vec<(i64, String)>) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        let (ids, job_ids): (Vec<i64>, Vec<String>) = jobs.into_iter().unzip();
        let result: Result<(), diesel::result::Error> = c
            .transaction(async |c| {
                if !ids.is_empty() {
                    diesel::sql_query(RECORD_JOBS)
                        .bind::<Array<BigInt>, _>(&ids)
                        .bind::<Array<Text>, _>(&job_ids)
                        .bind::<BigInt, _>(batch_id)
                        .execute(c)
                        .await?;
                }
                Self::close_batch(c, batch_id).await
            })
            .await;
        result.map_err(db_error)
    }

    async fn release_batch(&self, batch_id: i64) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        let result: Result<(), diesel::result::Error> = c
            .transaction(async |c| Self::close_batch(c, batch_id).await)
            .await;
        result.map_err(db_error)
    }

    async fn open_batches(&self, task: TaskId) -> Result<Vec<Batch>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let rows: Vec<(i64, DateTime<Utc>)> = dispatch_batches::table
            .filter(dispatch_batches::task_id.eq(task))
            .filter(dispatch_batches::state.eq("open"))
            .select((dispatch_batches::id, dispatch_batches::created_at))
            .order(dispatch_batches::id)
            .load(&mut c)
            .await
            .map_err(db_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, created_at) in rows {
            let leads = self.batch_leads(&mut c, id).await?;
            out.push(Batch {
                id,
                created_at,
                leads,
            });
        }
        Ok(out)
    }

    async fn apply_results(
        &self,
        task: TaskId,
        results: Vec<LeadResult>,
    ) -> Result<u64, RepoError> {
        if results.is_empty() {
            return Ok(0);
        }
        // id order (see APPLY_RESULTS); one result per lead, the one with the most attempts
        let mut results = results;
        results.sort_by_key(|r| (r.task_lead_id, r.attempts));
        results.dedup_by(|later, earlier| {
            if later.task_lead_id == earlier.task_lead_id {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        let n = results.len();
        let mut ids = Vec::with_capacity(n);
        let mut job_ids = Vec::with_capacity(n);
        let mut statuses = Vec::with_capacity(n);
        let mut attempts = Vec::with_capacity(n);
        let mut times = Vec::with_capacity(n);
        let mut durations = Vec::with_capacity(n);
        let mut levels = Vec::with_capacity(n);
        let mut tags = Vec::with_capacity(n);
        let mut summaries = Vec::with_capacity(n);
        let mut suggestions = Vec::with_capacity(n);
        for r in results {
            ids.push(r.task_lead_id);
            job_ids.push(r.job_id);
            statuses.push(r.call_status.as_str().to_owned());
            attempts.push(r.attempts);
            times.push(r.last_call_time);
            durations.push(r.duration_seconds);
            levels.push(r.intent_level);
            tags.push(serde_json::Value::from(r.intent_tags).to_string());
            summaries.push(r.summary);
            suggestions.push(r.follow_suggestion);
        }
        let mut c = conn(&self.pool).await?;
        let result: Result<CountRow, diesel::result::Error> = c
            .transaction(async |c| {
                // at most SYNC_WRITE_ROWS rows, each found by primary key: index nested loops are
                // always right, and a generic plan must not pick a hash join over the whole table
                diesel_async::SimpleAsyncConnection::batch_execute(
                    c,
                    "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off",
                )
                .await?;
                diesel::sql_query(APPLY_RESULTS)
                    .bind::<BigInt, _>(task)
                    .bind::<Array<BigInt>, _>(ids)
                    .bind::<Array<Text>, _>(job_ids)
                    .bind::<Array<Text>, _>(statuses)
                    .bind::<Array<Integer>, _>(attempts)
                    .bind::<Array<Nullable<Timestamptz>>, _>(times)
                    .bind::<Array<Nullable<Integer>>, _>(durations)
                    .bind::<Array<Nullable<Text>>, _>(levels)
                    .bind::<Array<Text>, _>(tags)
                    .bind::<Array<Nullable<Text>>, _>(summaries)
                    .bind::<Array<Nullable<Text>>, _>(suggestions)
                    .get_result(c)
                    .await
            })
            .await;
        Ok(result.map_err(db_error)?.n as u64)
    }

    async fn refresh_counters(&self, task: TaskId) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        diesel::sql_query(REFRESH_COUNTERS)
            .bind::<BigInt, _>(task)
            .bind::<Array<Text>, _>(strs(&CallStatus::called()))
            .execute(&mut c)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn complete_if_done(&self, task: TaskId) -> Result<bool, RepoError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<StateRow> = diesel::sql_query(COMPLETE_IF_DONE)
            .bind::<BigInt, _>(task)
            .bind::<Array<Text>, _>(open_statuses())
            .get_result(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn statistics(
        &self,
        scope: &OrgScope,
        task: TaskId,
    ) -> Result<Option<(CallTask, TaskStatistics)>, RepoError> {
        let mut c = conn(&self.pool).await?;
        // from the maintained counters (the cost does not grow with the task), joined to the task
        // in the caller's scope: no row at all means no such task here, one row of NULLs a task
        // without counters; the task beside each row; one round trip either way
        let rows: Vec<(TaskRow, Option<CountsRow>)> = call_tasks::table
            .left_join(
                task_lead_counts::table.on(task_lead_counts::task_id
                    .eq(call_tasks::id)
                    .and(task_lead_counts::n.ne(0))),
            )
            .filter(call_tasks::id.eq(task))
            .filter(call_tasks::org_id.eq_any(scope.ids()))
            .select((
                task_columns!(),
                (
                    task_lead_counts::call_status,
                    task_lead_counts::intent_level,
                    task_lead_counts::has_job,
                    task_lead_counts::n,
                    task_lead_counts::duration_sum,
                    task_lead_counts::duration_n,
                )
                    .nullable(),
            ))
            .load(&mut c)
            .await
            .map_err(db_error)?;
        let Some((task, _)) = <[_]>::first(&rows) else {
            return Ok(None);
        };
        let task = to_task(task.clone())?;
        let rows = rows.into_iter().filter_map(|(_, counts)| counts);
        let mut s = TaskStatistics::default();
        for st in CallStatus::ALL {
            s.by_call_status.insert(st.as_str().to_owned(), 0);
        }
        let (mut dur_sum, mut dur_n) = (0i64, 0i64);
        for (status, level, has_job, n, d_sum, d_n) in rows {
            s.leads_total += n;
            *s.by_call_status.entry(status.clone()).or_insert(0) += n;
            if has_job {
                s.dispatched += n;
            }
            if !level.is_empty() {
                *s.by_intent_level.entry(level).or_insert(0) += n;
            }
            if let Some(cs) = CallStatus::parse(&status) {
                if cs.is_called() {
                    s.called += n;
                }
                if cs == CallStatus::Connected {
                    s.connected += n;
                    dur_sum += d_sum;
                    dur_n += d_n;
                }
                if cs.is_final() {
                    s.finished += n;
                }
            }
        }
        s.avg_duration_seconds = if dur_n > 0 {
            (dur_sum as f64 / dur_n as f64 * 10.0).round() / 10.0
        } else {
            0.0
        };
        Ok(Some((task, s)))
    }

    async fn executions(
        &self,
        scope: &OrgScope,
        task: TaskId,
        status: Option<String>,
        page: PageRequest,
    ) -> Result<Option<Executions>, RepoError> {
        let mut c = conn(&self.pool).await?;
        if !self.in_scope(&mut c, scope, task).await? {
            return Ok(None);
        }
        let base = || {
            let mut q = leads_task_list::table
                .into_boxed()
                .filter(leads_task_list::task_id.eq(task));
            if let Some(s) = &status {
                q = q.filter(leads_task_list::call_status.eq(s.clone()));
            }
            q
        };
        let total: i64 = base()
            .select(count_star())
            .get_result(&mut c)
            .await
            .map_err(db_error)?;
        let rows: Vec<ExecRow> = base()
            .select((
                leads_task_list::id,
                leads_task_list::lead_id,
                leads_task_list::customer_name,
                leads_task_list::phone,
                leads_task_list::call_status,
                leads_task_list::attempts,
                leads_task_list::last_call_time,
                leads_task_list::duration_seconds,
                leads_task_list::intent_level,
                leads_task_list::job_id,
                leads_task_list::intent_tags,
                leads_task_list::summary,
                leads_task_list::follow_suggestion,
            ))
            .order(leads_task_list::id)
            .limit(page.limit())
            .offset(page.offset())
            .load(&mut c)
            .await
            .map_err(db_error)?;
        let summary: Vec<(String, i64)> = task_lead_counts::table
            .filter(task_lead_counts::task_id.eq(task))
            .group_by(task_lead_counts::call_status)
            .select((
                task_lead_counts::call_status,
                crate::schema::sum_int8(task_lead_counts::n),
            ))
            .load(&mut c)
            .await
            .map_err(db_error)?;
        let items = rows
            .into_iter()
            .map(|r| ExecutionRow {
                id: r.0,
                lead_id: r.1,
                customer_name: r.2,
                phone: r.3,
                call_status: r.4,
                attempts: r.5,
                last_call_time: r.6,
                duration_seconds: r.7,
                intent_level: r.8,
                job_id: r.9,
                intent_tags: serde_json::from_value(r.10).unwrap_or_default(),
                summary: r.11,
                follow_suggestion: r.12,
            })
            .collect();
        let mut counts: BTreeMap<String, i64> = CallStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect();
        counts.extend(summary);
        Ok(Some((Page::new(items, page, total), counts)))
    }

    async fn create_run(&self, scope: &OrgScope, task: TaskId) -> Result<Option<Run>, RepoError> {
        let mut c = conn(&self.pool).await?;
        if !self.in_scope(&mut c, scope, task).await? {
            return Ok(None);
        }
        diesel::sql_query(CREATE_RUN)
            .bind::<BigInt, _>(task)
            .execute(&mut c)
            .await
            .map_err(db_error)?;
        let row: Option<RunRow> = query_execution_runs::table
            .filter(query_execution_runs::task_id.eq(task))
            .filter(query_execution_runs::status.eq_any(["pending", "running"]))
            .select(run_columns())
            .first(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        match row {
            Some(r) => Ok(Some(to_run(r))),
            // it finished between the two statements: report the latest
            None => query_execution_runs::table
                .filter(query_execution_runs::task_id.eq(task))
                .select(run_columns())
                .order(query_execution_runs::id.desc())
                .first(&mut c)
                .await
                .optional()
                .map(|r| r.map(to_run))
                .map_err(db_error),
        }
    }

    async fn get_run(&self, scope: &OrgScope, run: i64) -> Result<Option<Run>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<RunRow> = query_execution_runs::table
            .filter(query_execution_runs::id.eq(run))
            .filter(query_execution_runs::org_id.eq_any(scope.ids()))
            .select(run_columns())
            .first(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        Ok(row.map(to_run))
    }

    async fn lease_run(&self, worker: &str, lease_secs: i64) -> Result<Option<Run>, RepoError> {
        let mut c = conn(&self.pool).await?;
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        let row: Option<Id> = diesel::sql_query(LEASE_RUN)
            .bind::<Text, _>(worker)
            .bind::<diesel::sql_types::Double, _>(lease_secs as f64)
            .get_result(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        let Some(Id { id }) = row else {
            return Ok(None);
        };
        let r: RunRow = query_execution_runs::table
            .find(id)
            .select(run_columns())
            .first(&mut c)
            .await
            .map_err(db_error)?;
        Ok(Some(to_run(r)))
    }

    async fn save_run_progress(
        &self,
        run: i64,
        worker: &str,
        processed: i64,
        next_page: i32,
        lease_secs: i64,
    ) -> Result<bool, RepoError> {
        let mut c = conn(&self.pool).await?;
        let n = diesel::sql_query(
            "UPDATE query_execution_runs SET processed = LEAST($3, total), next_page = $4, \
             locked_until = now() + make_interval(secs => $5) WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        )
        .bind::<BigInt, _>(run)
        .bind::<Text, _>(worker)
        .bind::<BigInt, _>(processed)
        .bind::<Integer, _>(next_page)
        .bind::<diesel::sql_types::Double, _>(lease_secs as f64)
        .execute(&mut c)
        .await
        .map_err(db_error)?;
        Ok(n > 0)
    }

    async fn finish_run(
        &self,
        run: i64,
        worker: &str,
        ok: bool,
        error: Option<String>,
    ) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        diesel::update(
            query_execution_runs::table
                .filter(query_execution_runs::id.eq(run))
                .filter(query_execution_runs::locked_by.eq(worker)),
        )
        .set((
            query_execution_runs::status.eq(if ok { "succeeded" } else { "failed" }),
            query_execution_runs::error.eq(error),
            query_execution_runs::finished_at.eq(Some(Utc::now())),
            query_execution_runs::locked_by.eq(None::<String>),
            query_execution_runs::locked_until.eq(None::<DateTime<Utc>>),
        ))
        .execute(&mut c)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn task_group(
        &self,
        task: TaskId,
    ) -> Result<Option<(TaskState, Option<String>)>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<(i16, Option<String>)> = call_tasks::table
            .find(task)
            .select((call_tasks::task_type, call_tasks::job_group_id))
            .first(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        row.map(|(t, g)| Ok((state_of(t)?, g))).transpose()
    }
}
