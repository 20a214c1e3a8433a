//! [`PgRuns`]: query execution runs, leased like tasks (`locked_by` / `locked_until`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Integer, Text};
use diesel_async::RunQueryDsl;
use kernel::{OrgScope, RepoError, RunId, TaskId};
use tasks::execution::{Run, RunRepository, RunStatus};

use super::in_scope;
use crate::db::{DbPool, conn, db_error, scope_ids};
use crate::schema::query_execution_runs;

/// [`RunRepository`] on PostgreSQL.
#[derive(Clone)]
pub struct PgRuns {
    pool: DbPool,
}

impl PgRuns {
    /// Over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

/// Stored names of unfinished runs (a partial unique index keeps one per task).
fn unfinished() -> [&'static str; 2] {
    [RunStatus::Pending.as_str(), RunStatus::Running.as_str()]
}

pub(super) type RunRow = (
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

pub(super) fn run_columns() -> (
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

pub(super) fn to_run(r: RunRow) -> Result<Run, RepoError> {
    let status = RunStatus::parse(&r.2)
        .ok_or_else(|| RepoError::Other(anyhow::anyhow!("unknown run status {}", r.2)))?;
    Ok(Run {
        id: RunId(r.0),
        task_id: TaskId(r.1),
        status,
        total: r.3,
        processed: r.4,
        next_page: r.5,
        started_at: r.6,
        finished_at: r.7,
        error: r.8,
    })
}

/// A new run of the task, unless it has an unfinished one.
const CREATE_RUN: &str = "\
INSERT INTO query_execution_runs (task_id, org_id, total) \
SELECT c.id, c.org_id, c.leads_count FROM call_tasks c WHERE c.id = $1 \
ON CONFLICT (task_id) WHERE status IN ('pending', 'running') DO NOTHING";

/// The oldest unfinished run whose lease is free or expired; it becomes `running`.
const LEASE_RUN: &str = "\
UPDATE query_execution_runs SET status = 'running', locked_by = $1, \
  locked_until = now() + make_interval(secs => $2), started_at = COALESCE(started_at, now()) \
WHERE id = ( \
  SELECT id FROM query_execution_runs WHERE status IN ('pending', 'running') \
    AND (locked_until IS NULL OR locked_until < now()) \
  ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) \
RETURNING id";

/// Progress of a run whose lease this worker still holds; the lease is extended.
const SAVE_PROGRESS: &str = "\
UPDATE query_execution_runs SET processed = LEAST($3, total), next_page = $4, \
  locked_until = now() + make_interval(secs => $5) \
WHERE id = $1 AND locked_by = $2 AND status = 'running'";

#[async_trait]
impl RunRepository for PgRuns {
    async fn create_run(&self, scope: &OrgScope, task: TaskId) -> Result<Option<Run>, RepoError> {
        let mut c = conn(&self.pool).await?;
        if !in_scope(&mut c, scope, task).await? {
            return Ok(None);
        }
        diesel::sql_query(CREATE_RUN)
            .bind::<BigInt, _>(task.0)
            .execute(&mut c)
            .await
            .map_err(db_error)?;
        let row: Option<RunRow> = query_execution_runs::table
            .filter(query_execution_runs::task_id.eq(task.0))
            .filter(query_execution_runs::status.eq_any(unfinished()))
            .select(run_columns())
            .first(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        let row = match row {
            Some(r) => Some(r),
            // it finished between the two statements: report the latest
            None => query_execution_runs::table
                .filter(query_execution_runs::task_id.eq(task.0))
                .select(run_columns())
                .order(query_execution_runs::id.desc())
                .first(&mut c)
                .await
                .optional()
                .map_err(db_error)?,
        };
        row.map(to_run).transpose()
    }

    async fn get_run(&self, scope: &OrgScope, run: RunId) -> Result<Option<Run>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<RunRow> = query_execution_runs::table
            .filter(query_execution_runs::id.eq(run.0))
            .filter(query_execution_runs::org_id.eq_any(scope_ids(scope)))
            .select(run_columns())
            .first(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        row.map(to_run).transpose()
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
            .bind::<Double, _>(lease_secs as f64)
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
        to_run(r).map(Some)
    }

    async fn save_run_progress(
        &self,
        run: RunId,
        worker: &str,
        processed: i64,
        next_page: i32,
        lease_secs: i64,
    ) -> Result<bool, RepoError> {
        let mut c = conn(&self.pool).await?;
        let n = diesel::sql_query(SAVE_PROGRESS)
            .bind::<BigInt, _>(run.0)
            .bind::<Text, _>(worker)
            .bind::<BigInt, _>(processed)
            .bind::<Integer, _>(next_page)
            .bind::<Double, _>(lease_secs as f64)
            .execute(&mut c)
            .await
            .map_err(db_error)?;
        Ok(n > 0)
    }

    async fn finish_run(
        &self,
        run: RunId,
        worker: &str,
        ok: bool,
        error: Option<String>,
    ) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        let status = if ok {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        diesel::update(
            query_execution_runs::table
                .filter(query_execution_runs::id.eq(run.0))
                .filter(query_execution_runs::locked_by.eq(worker)),
        )
        .set((
            query_execution_runs::status.eq(status.as_str()),
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
}
