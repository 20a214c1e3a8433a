//! PostgreSQL repositories of execution, one per port of `tasks::execution`:
//!
//! | repository | port | tables |
//! |---|---|---|
//! | [`PgLifecycle`] | `LifecycleRepository` | `call_tasks` (state, job group), `leads_task_list` (cancel) |
//! | [`PgLeases`] | `LeaseRepository` | `call_tasks` (`dispatch_locked_*`, `monitor_locked_*`) |
//! | [`PgBatches`] | `DispatchRepository` | `dispatch_batches`, `leads_task_list` (claims, jobs) |
//! | [`PgResults`] | `ResultRepository` | `leads_task_list` (results), `dcc_leads` (call counts), `task_lead_counts` |
//! | [`PgRuns`] | `RunRepository` | `query_execution_runs` |
//!
//! Queries that diesel's builder cannot express (row locking in subqueries, `unnest` bulk
//! updates, data-modifying CTEs) are fixed SQL texts, each beside the method that runs it, with
//! every value a bound parameter.

mod batches;
mod leases;
mod lifecycle;
mod results;
mod runs;
mod state_events;

use diesel::prelude::*;
use diesel::sql_types::SmallInt;
use diesel_async::RunQueryDsl;
use kernel::{OrgScope, RepoError, TaskId};
use tasks::TaskState;
use tasks::call_status::CallStatus;

use crate::db::{DbConn, db_error, scope_ids};
use crate::schema::call_tasks;

pub use batches::PgBatches;
pub use leases::PgLeases;
pub use lifecycle::PgLifecycle;
pub use results::PgResults;
pub use runs::PgRuns;

/// Codes of task states, for `task_type = ANY($n)`.
fn codes(states: &[TaskState]) -> Vec<i16> {
    states.iter().map(|s| s.code()).collect()
}

/// Stored names of call statuses, for `call_status = ANY($n)`.
fn names(statuses: &[CallStatus]) -> Vec<&'static str> {
    statuses.iter().map(|s| s.as_str()).collect()
}

/// A stored task state.
fn state_of(code: i16) -> Result<TaskState, RepoError> {
    TaskState::from_code(i64::from(code))
        .ok_or_else(|| RepoError::Other(anyhow::anyhow!("unknown task_type {code}")))
}

/// `RETURNING task_type` of a raw statement.
#[derive(QueryableByName)]
struct StateRow {
    #[diesel(sql_type = SmallInt)]
    task_type: i16,
}

/// Whether `task` exists within `scope`.
async fn in_scope(c: &mut DbConn, scope: &OrgScope, task: TaskId) -> Result<bool, RepoError> {
    let n: i64 = call_tasks::table
        .filter(call_tasks::id.eq(task.0))
        .filter(call_tasks::org_id.eq_any(scope_ids(scope)))
        .select(diesel::dsl::count_star())
        .get_result(c)
        .await
        .map_err(db_error)?;
    Ok(n > 0)
}
