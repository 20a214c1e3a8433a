//! [`PgResults`]: results of task leads (one bulk statement per few thousand), the task's
//! counters, and reading them back.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::{LeadId, OrgScope, PageRequest, RepoError, TaskId, TaskLeadId};
use tasks::CallTask;
use tasks::call_status::{CallStatus, LeadResult};
use tasks::execution::export::ExportRow;
use tasks::execution::{ExecutionRow, LeadCount, ResultRepository, StoredView};

use super::names;
use super::runs::{RunRow, run_columns, to_run};
use crate::db::{DbPool, conn, db_error, scope_ids};
use crate::pg_tasks::{TaskRow, task_columns, to_task};
use crate::pg_webhooks::outbox;
use crate::schema::{
    call_tasks, dcc_leads, leads_task_list, query_execution_runs, task_lead_counts,
};

/// [`ResultRepository`] on PostgreSQL.
#[derive(Clone)]
pub struct PgResults {
    pool: DbPool,
}

impl PgResults {
    /// Over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

/// What [`APPLY_RESULTS`] answers: how many leads changed, and the leads (task lead id, lead
/// id, phone) that finished a call by it: now in a final status that they were not in before,
/// or with more attempts. The status before is read through a second reference to the row
/// (`o`, by primary key), which sees the version the update replaces; a join of two CTEs under
/// the forced nested loops would compare every row of a bulk with every other.
#[derive(QueryableByName)]
struct Applied {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Array<BigInt>)]
    finished: Vec<i64>,
    #[diesel(sql_type = Array<BigInt>)]
    finished_leads: Vec<i64>,
    #[diesel(sql_type = Array<Text>)]
    finished_phones: Vec<String>,
}

/// Bulk result update, one statement. A result never moves a lead back to fewer attempts, and
/// the leads' call counts grow by exactly the new attempts, whether results arrive twice, out of
/// order, or from two appliers (monitor, run, refresh) at once: `prev_attempts = t.attempts` is
/// evaluated on the row version this update replaces (after waiting for a concurrent writer of
/// the row, PostgreSQL re-reads its latest version), so `RETURNING attempts - prev_attempts` is
/// the exact number of new calls, without locking the rows in a separate pass. A lead cancelled
/// by a stop only takes a final result (a call that ended before the cancel reached it): a sync
/// that read the platform before the stop cannot make it unfinished again. Rows come in id
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
  FROM u, leads_task_list o \
  WHERE t.id = u.id AND o.id = u.id AND t.task_id = $1 AND u.attempts >= t.attempts \
    AND (t.call_status <> 'cancelled' OR u.call_status = ANY($12)) \
    AND (t.call_status, t.attempts, t.last_call_time, t.duration_seconds, t.intent_level, t.job_id, t.intent_tags) \
        IS DISTINCT FROM (u.call_status, u.attempts, u.last_call_time, u.duration_seconds, u.intent_level, COALESCE(t.job_id, u.job_id), u.intent_tags::jsonb) \
  RETURNING t.id, t.lead_id, t.phone, t.call_status, t.attempts, t.prev_attempts, \
    o.call_status AS old_status, t.attempts - t.prev_attempts AS calls, t.last_call_time \
), done AS ( \
  SELECT id, lead_id, phone FROM upd \
  WHERE call_status = ANY($12) AND (old_status <> ALL($12) OR attempts > prev_attempts) \
), touched AS ( \
  UPDATE dcc_leads d SET call_count = d.call_count + upd.calls, \
    last_call_time = GREATEST(d.last_call_time, upd.last_call_time) \
  FROM upd WHERE d.id = upd.lead_id AND upd.calls > 0 \
) SELECT (SELECT count(*) FROM upd) AS n, \
  COALESCE((SELECT array_agg(id ORDER BY id) FROM done), '{}') AS finished, \
  COALESCE((SELECT array_agg(lead_id ORDER BY id) FROM done), '{}') AS finished_leads, \
  COALESCE((SELECT array_agg(phone ORDER BY id) FROM done), '{}') AS finished_phones";

/// The task's called / connected counters from the maintained per-status counts, and its synced
/// prefix moved forward to `$4` (never back: 0 leaves it as it is).
const REFRESH_COUNTERS: &str = "\
UPDATE call_tasks SET \
  called_count = (SELECT COALESCE(sum(n), 0) FROM task_lead_counts WHERE task_id = $1 AND call_status = ANY($2)), \
  connected_count = (SELECT COALESCE(sum(n), 0) FROM task_lead_counts WHERE task_id = $1 AND call_status = $3), \
  synced_final_jobs = GREATEST(synced_final_jobs, $4), \
  update_time = now() \
WHERE id = $1";

/// The `lead.call_finished` events of the leads [`APPLY_RESULTS`] found finished.
fn finished_events(
    task: TaskId,
    results: &[LeadResult],
    applied: &Applied,
) -> Vec<::webhooks::Event> {
    use ::webhooks::events::{LeadCallFinished, rfc3339};
    let now = Utc::now();
    applied
        .finished
        .iter()
        .zip(&applied.finished_leads)
        .zip(&applied.finished_phones)
        .filter_map(|((id, lead), phone)| {
            // results are sorted by task lead id (see latest_per_lead)
            let i = results
                .binary_search_by_key(id, |r| r.task_lead_id.0)
                .ok()?;
            let r = results.get(i)?;
            let data = LeadCallFinished {
                task_id: task.0,
                lead_id: *lead,
                phone: kernel::mask_phone(phone),
                call_status: r.call_status.as_str().to_owned(),
                attempts: r.attempts,
                duration_seconds: r.duration_seconds,
                intent_level: r.intent_level.clone(),
                intent_tags: r.intent_tags.clone(),
                summary: r.summary.clone(),
                follow_suggestion: r.follow_suggestion.clone(),
                time: r.last_call_time.map(rfc3339),
            };
            Some(::webhooks::Event::new(
                ::webhooks::EventType::LeadCallFinished,
                now,
                data,
            ))
        })
        .collect()
}

/// One result per lead (the one with the most attempts), in id order (see [`APPLY_RESULTS`]).
fn latest_per_lead(mut results: Vec<LeadResult>) -> Vec<LeadResult> {
    results.sort_by_key(|r| (r.task_lead_id, r.attempts));
    results.dedup_by(|later, earlier| {
        if later.task_lead_id == earlier.task_lead_id {
            std::mem::swap(later, earlier);
            true
        } else {
            false
        }
    });
    results
}

type CountsRow = (String, String, bool, i64, i64, i64);

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

/// The columns of an [`ExecRow`].
macro_rules! exec_columns {
    () => {
        (
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
        )
    };
}

fn execution_row(r: ExecRow) -> Result<ExecutionRow, RepoError> {
    let call_status = CallStatus::parse(&r.4)
        .ok_or_else(|| RepoError::Other(anyhow::anyhow!("unknown call_status {}", r.4)))?;
    Ok(ExecutionRow {
        id: TaskLeadId(r.0),
        lead_id: LeadId(r.1),
        customer_name: r.2,
        phone: r.3,
        call_status,
        attempts: r.5,
        last_call_time: r.6,
        duration_seconds: r.7,
        intent_level: r.8,
        job_id: r.9,
        intent_tags: serde_json::from_value(r.10).unwrap_or_default(),
        summary: r.11,
        follow_suggestion: r.12,
    })
}

#[async_trait]
impl ResultRepository for PgResults {
    async fn apply_results(
        &self,
        task: TaskId,
        results: Vec<LeadResult>,
    ) -> Result<u64, RepoError> {
        if results.is_empty() {
            return Ok(0);
        }
        let results = latest_per_lead(results);
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
        for r in &results {
            ids.push(r.task_lead_id.0);
            job_ids.push(r.job_id.clone());
            statuses.push(r.call_status.as_str().to_owned());
            attempts.push(r.attempts);
            times.push(r.last_call_time);
            durations.push(r.duration_seconds);
            levels.push(r.intent_level.clone());
            tags.push(serde_json::Value::from(r.intent_tags.clone()).to_string());
            summaries.push(r.summary.clone());
            suggestions.push(r.follow_suggestion.clone());
        }
        let mut c = conn(&self.pool).await?;
        let result: Result<Applied, diesel::result::Error> = c
            .transaction(async |c| {
                // at most a bulk of rows, each found by primary key: index nested loops are
                // always right, and a generic plan must not pick a hash join over the whole table
                diesel_async::SimpleAsyncConnection::batch_execute(
                    c,
                    "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off",
                )
                .await?;
                let applied: Applied = diesel::sql_query(APPLY_RESULTS)
                    .bind::<BigInt, _>(task.0)
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
                    .bind::<Array<Text>, _>(names(&CallStatus::finals()))
                    .get_result(c)
                    .await?;
                // the events of the calls that finished, in the same transaction
                let kind = ::webhooks::EventType::LeadCallFinished;
                if !applied.finished.is_empty() && outbox::subscribed(c, task, kind).await? {
                    let events = finished_events(task, &results, &applied);
                    outbox::write(c, task, kind, &events).await?;
                }
                Ok(applied)
            })
            .await;
        Ok(result.map_err(db_error)?.n as u64)
    }

    async fn refresh_counters(&self, task: TaskId) -> Result<(), RepoError> {
        self.advance_sync(task, 0, true).await
    }

    async fn synced_final_jobs(&self, task: TaskId) -> Result<u64, RepoError> {
        let mut c = conn(&self.pool).await?;
        let n: Option<i64> = call_tasks::table
            .find(task.0)
            .select(call_tasks::synced_final_jobs)
            .first(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
    }

    async fn advance_sync(
        &self,
        task: TaskId,
        final_jobs: u64,
        changed: bool,
    ) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        let jobs = i64::try_from(final_jobs).unwrap_or(i64::MAX);
        if changed {
            diesel::sql_query(REFRESH_COUNTERS)
                .bind::<BigInt, _>(task.0)
                .bind::<Array<Text>, _>(names(&CallStatus::called()))
                .bind::<Text, _>(CallStatus::Connected.as_str())
                .bind::<BigInt, _>(jobs)
                .execute(&mut c)
                .await
                .map_err(db_error)?;
        } else {
            // only forward: two syncs of one task that finish out of order keep the larger count
            diesel::update(
                call_tasks::table
                    .find(task.0)
                    .filter(call_tasks::synced_final_jobs.lt(jobs)),
            )
            .set(call_tasks::synced_final_jobs.eq(jobs))
            .execute(&mut c)
            .await
            .map_err(db_error)?;
        }
        Ok(())
    }

    async fn statistics(
        &self,
        scope: &OrgScope,
        task: TaskId,
    ) -> Result<Option<(CallTask, Vec<LeadCount>)>, RepoError> {
        let c = conn(&self.pool).await?;
        task_and_counts(load_statistics(&c, scope, task).await.map_err(db_error)?)
    }

    async fn view(
        &self,
        scope: &OrgScope,
        task: TaskId,
        status: Option<CallStatus>,
        page: PageRequest,
        newest_run: bool,
    ) -> Result<Option<StoredView>, RepoError> {
        let c = conn(&self.pool).await?;
        // the statements sent at once on one connection (pipelined): one wait, one checkout
        let run = async {
            if newest_run {
                load_newest_run(&c, scope, task).await
            } else {
                Ok(None)
            }
        };
        let (stats, rows, run) = futures::try_join!(
            load_statistics(&c, scope, task),
            load_rows(&c, scope, task, status, page),
            run
        )
        .map_err(db_error)?;
        let Some((task, counts)) = task_and_counts(stats)? else {
            return Ok(None);
        };
        Ok(Some(StoredView {
            task,
            counts,
            rows: rows
                .into_iter()
                .map(execution_row)
                .collect::<Result<_, _>>()?,
            newest_run: run.map(to_run).transpose()?,
        }))
    }

    async fn export_page(
        &self,
        task: TaskId,
        statuses: &[CallStatus],
        after: Option<TaskLeadId>,
        limit: i64,
    ) -> Result<Vec<ExportRow>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let mut q = leads_task_list::table
            .inner_join(dcc_leads::table.on(dcc_leads::id.eq(leads_task_list::lead_id)))
            .into_boxed()
            .filter(leads_task_list::task_id.eq(task.0))
            .filter(leads_task_list::id.gt(after.map_or(0, |a| a.0)));
        if !statuses.is_empty() {
            q = q.filter(
                leads_task_list::call_status
                    .eq_any(statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            );
        }
        let rows: Vec<(ExecRow, (String, String, String))> = q
            .select((
                exec_columns!(),
                (
                    dcc_leads::level,
                    dcc_leads::source,
                    dcc_leads::vehicle_model,
                ),
            ))
            .order(leads_task_list::id)
            .limit(limit)
            .load(&mut c)
            .await
            .map_err(db_error)?;
        rows.into_iter()
            .map(|(r, (level, source, vehicle_model))| {
                Ok(ExportRow {
                    result: execution_row(r)?,
                    level,
                    source,
                    vehicle_model,
                })
            })
            .collect()
    }
}

/// A task of `scope` beside each of its counters (one row of NULLs for a task without counters;
/// no row at all for no such task here), from the maintained counters: the cost does not grow
/// with the task.
async fn load_statistics(
    mut c: &AsyncPgConnection,
    scope: &OrgScope,
    task: TaskId,
) -> QueryResult<Vec<(TaskRow, Option<CountsRow>)>> {
    call_tasks::table
        .left_join(
            task_lead_counts::table.on(task_lead_counts::task_id
                .eq(call_tasks::id)
                .and(task_lead_counts::n.ne(0))),
        )
        .filter(call_tasks::id.eq(task.0))
        .filter(call_tasks::org_id.eq_any(scope_ids(scope)))
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
}

fn task_and_counts(
    rows: Vec<(TaskRow, Option<CountsRow>)>,
) -> Result<Option<(CallTask, Vec<LeadCount>)>, RepoError> {
    let Some((task, _)) = <[_]>::first(&rows) else {
        return Ok(None);
    };
    let task = to_task(task.clone())?;
    let counts = rows
        .into_iter()
        .filter_map(|(_, counts)| counts)
        .map(
            |(call_status, intent_level, has_job, n, duration_sum, duration_n)| LeadCount {
                call_status,
                intent_level,
                has_job,
                n,
                duration_sum,
                duration_n,
            },
        )
        .collect();
    Ok(Some((task, counts)))
}

/// A page of a task's leads in id order, the task's scope checked inside the statement.
async fn load_rows(
    mut c: &AsyncPgConnection,
    scope: &OrgScope,
    task: TaskId,
    status: Option<CallStatus>,
    page: PageRequest,
) -> QueryResult<Vec<ExecRow>> {
    let in_scope = call_tasks::table
        .filter(call_tasks::id.eq(task.0))
        .filter(call_tasks::org_id.eq_any(scope_ids(scope)))
        .select(call_tasks::id);
    let mut q = leads_task_list::table
        .into_boxed()
        .filter(leads_task_list::task_id.eq_any(in_scope));
    if let Some(s) = status {
        q = q.filter(leads_task_list::call_status.eq(s.as_str()));
    }
    q.select(exec_columns!())
        .order(leads_task_list::id)
        .limit(page.limit())
        .offset(page.offset())
        .load(&mut c)
        .await
}

/// The newest query execution run of a task of `scope`.
pub(super) async fn load_newest_run(
    mut c: &AsyncPgConnection,
    scope: &OrgScope,
    task: TaskId,
) -> QueryResult<Option<RunRow>> {
    query_execution_runs::table
        .filter(query_execution_runs::task_id.eq(task.0))
        .filter(query_execution_runs::org_id.eq_any(scope_ids(scope)))
        .order(query_execution_runs::id.desc())
        .select(run_columns())
        .first(&mut c)
        .await
        .optional()
}
