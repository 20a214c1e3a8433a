//! [`PgLifecycle`]: task states and job groups.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, SmallInt, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use kernel::{OrgScope, RepoError, TaskId};
use tasks::call_status::CallStatus;
use tasks::execution::LifecycleRepository;
use tasks::{CallTask, TaskState, TransitionError};

use super::{names, state_events, state_of};
use crate::db::{DbPool, conn, db_error, scope_ids};
use crate::pg_tasks::{TaskRow, task_columns, to_task};
use crate::schema::{call_tasks, leads_task_list};

/// [`LifecycleRepository`] on PostgreSQL.
#[derive(Clone)]
pub struct PgLifecycle {
    pool: DbPool,
}

impl PgLifecycle {
    /// Over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

/// Running → completed when no lead of the task is unfinished, read from the maintained
/// counters (the cost does not grow with the task).
const COMPLETE_IF_DONE: &str = "\
UPDATE call_tasks SET task_type = $3, update_time = now() \
WHERE id = $1 AND task_type = $4 AND job_group_id IS NOT NULL \
  AND NOT EXISTS (SELECT 1 FROM task_lead_counts WHERE task_id = $1 AND call_status = ANY($2) AND n > 0) \
RETURNING task_name";

/// `RETURNING task_name` of [`COMPLETE_IF_DONE`].
#[derive(QueryableByName)]
struct CompletedRow {
    #[diesel(sql_type = Text)]
    task_name: String,
}

#[async_trait]
impl LifecycleRepository for PgLifecycle {
    async fn transition(
        &self,
        scope: &OrgScope,
        id: TaskId,
        from: Vec<TaskState>,
        to: TaskState,
        audit: audit::Entry,
    ) -> Result<CallTask, TransitionError> {
        let mut c = conn(&self.pool).await?;
        let outcome = c
            .transaction(async |c| {
                // the state before, locked: the event says what it was
                let current: Option<(i16, String)> = call_tasks::table
                    .filter(call_tasks::id.eq(id.0))
                    .filter(call_tasks::org_id.eq_any(scope_ids(scope)))
                    .select((call_tasks::task_type, call_tasks::task_name))
                    .for_update()
                    .first(c)
                    .await
                    .optional()?;
                let Some((code, name)) = current else {
                    return Ok(Err(None));
                };
                let Some(before) = TaskState::from_code(i64::from(code)) else {
                    return Ok(Err(Some(code)));
                };
                if !from.contains(&before) {
                    return Ok(Err(Some(code)));
                }
                let row: TaskRow = diesel::update(call_tasks::table.find(id.0))
                    .set((
                        call_tasks::task_type.eq(to.code()),
                        call_tasks::update_time.eq(diesel::dsl::now),
                    ))
                    .returning(task_columns!())
                    .get_result(c)
                    .await?;
                let actor = audit.actor.user_id;
                state_events::state_changed(c, id, &name, before, to, actor).await?;
                let audit = audit
                    .detail("from", before.as_str())
                    .detail("to", to.as_str())
                    .detail("task_name", name.as_str());
                crate::pg_audit::insert(c, &audit).await?;
                Ok::<_, diesel::result::Error>(Ok(row))
            })
            .await
            .map_err(db_error)?;
        match outcome {
            Ok(row) => Ok(to_task(row)?),
            Err(None) => Err(TransitionError::NotFound),
            Err(Some(code)) => Err(TransitionError::InvalidState(state_of(code)?)),
        }
    }

    async fn force_state(
        &self,
        id: TaskId,
        from: TaskState,
        to: TaskState,
    ) -> Result<bool, RepoError> {
        let mut c = conn(&self.pool).await?;
        c.transaction(async |c| {
            let name: Option<String> = diesel::update(
                call_tasks::table
                    .filter(call_tasks::id.eq(id.0))
                    .filter(call_tasks::task_type.eq(from.code())),
            )
            .set((
                call_tasks::task_type.eq(to.code()),
                call_tasks::update_time.eq(diesel::dsl::now),
            ))
            .returning(call_tasks::task_name)
            .get_result(c)
            .await
            .optional()?;
            if let Some(name) = &name {
                state_events::state_changed(c, id, name, from, to, None).await?;
            }
            Ok::<_, diesel::result::Error>(name.is_some())
        })
        .await
        .map_err(db_error)
    }

    async fn set_job_group(&self, id: TaskId, job_group_id: &str) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        diesel::update(call_tasks::table.find(id.0))
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
        c.transaction(async |c| {
            let undone: Vec<(i64, String)> = diesel::update(
                call_tasks::table
                    .filter(call_tasks::task_type.eq(TaskState::Running.code()))
                    .filter(call_tasks::job_group_id.is_null())
                    .filter(call_tasks::update_time.lt(older_than)),
            )
            .set((
                call_tasks::task_type.eq(TaskState::Created.code()),
                call_tasks::update_time.eq(diesel::dsl::now),
            ))
            .returning((call_tasks::id, call_tasks::task_name))
            .get_results(c)
            .await?;
            for (id, name) in &undone {
                let (from, to) = (TaskState::Running, TaskState::Created);
                state_events::state_changed(c, TaskId(*id), name, from, to, None).await?;
            }
            Ok::<_, diesel::result::Error>(undone.len() as u64)
        })
        .await
        .map_err(db_error)
    }

    async fn cancel_open_leads(&self, id: TaskId) -> Result<u64, RepoError> {
        let mut c = conn(&self.pool).await?;
        let n = diesel::update(
            leads_task_list::table
                .filter(leads_task_list::task_id.eq(id.0))
                .filter(leads_task_list::call_status.eq_any(names(&CallStatus::unfinished()))),
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

    async fn complete_if_done(&self, task: TaskId) -> Result<bool, RepoError> {
        let mut c = conn(&self.pool).await?;
        c.transaction(async |c| {
            let row: Option<CompletedRow> = diesel::sql_query(COMPLETE_IF_DONE)
                .bind::<BigInt, _>(task.0)
                .bind::<Array<Text>, _>(names(&CallStatus::unfinished()))
                .bind::<SmallInt, _>(TaskState::Completed.code())
                .bind::<SmallInt, _>(TaskState::Running.code())
                .get_result(c)
                .await
                .optional()?;
            if let Some(r) = &row {
                let (from, to) = (TaskState::Running, TaskState::Completed);
                state_events::state_changed(c, task, &r.task_name, from, to, None).await?;
                state_events::completed(c, task, &r.task_name).await?;
            }
            Ok::<_, diesel::result::Error>(row.is_some())
        })
        .await
        .map_err(db_error)
    }

    async fn task_group(
        &self,
        task: TaskId,
    ) -> Result<Option<(TaskState, Option<String>)>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<(i16, Option<String>)> = call_tasks::table
            .find(task.0)
            .select((call_tasks::task_type, call_tasks::job_group_id))
            .first(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        row.map(|(t, g)| Ok((state_of(t)?, g))).transpose()
    }
}
