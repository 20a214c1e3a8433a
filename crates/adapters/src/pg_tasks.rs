//! PostgreSQL repository of call tasks, task leads and scenes.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::{OrgId, OrgScope, Page, PageRequest, RepoError, SceneId, TaskId, UserId};
use leads::{LeadFilter, LeadFilterInput};
use tasks::{
    CallTask, CreatedTask, NewScene, NewTask, Scene, TaskListFilter, TaskRepository, TaskState,
    TaskStats, TransitionError,
};

use crate::db::{DbPool, conn, db_error, plan_for_values, scope_ids};
use crate::pg_leads::{
    Exclusions, filtered_distinct_phone, org_count, org_count_subquery, split_total, strpos,
};
use crate::schema::{call_tasks, dcc_leads, scenes, sum_int8};

/// [`TaskRepository`] on PostgreSQL.
#[derive(Clone)]
pub struct PgTasks {
    pool: DbPool,
}

impl PgTasks {
    /// Over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

/// Columns of a task row, in [`TaskRow`] order.
macro_rules! task_columns {
    () => {
        (
            call_tasks::id,
            call_tasks::org_id,
            call_tasks::task_name,
            call_tasks::task_type,
            call_tasks::create_time,
            call_tasks::update_time,
            call_tasks::leads_count,
            call_tasks::script_id,
            call_tasks::job_group_id,
            call_tasks::size_desc,
            call_tasks::called_count,
            call_tasks::connected_count,
        )
    };
}
pub(crate) use task_columns;

/// A task row as selected by the `task_columns!` macro.
pub type TaskRow = (
    i64,
    i64,
    String,
    i16,
    DateTime<Utc>,
    DateTime<Utc>,
    i64,
    String,
    Option<String>,
    String,
    i64,
    i64,
);

/// Turn a row into the domain type.
pub fn to_task(r: TaskRow) -> Result<CallTask, RepoError> {
    let state = TaskState::from_code(i64::from(r.3)).ok_or_else(|| {
        RepoError::Other(anyhow::anyhow!(
            "task {} has unknown task_type {}",
            r.0,
            r.3
        ))
    })?;
    Ok(CallTask {
        id: TaskId(r.0),
        org_id: OrgId(r.1),
        task_name: r.2,
        state,
        create_time: r.4,
        update_time: r.5,
        leads_count: r.6,
        script_id: r.7,
        job_group_id: r.8,
        size_desc: r.9,
        called_count: r.10,
        connected_count: r.11,
    })
}

type SceneRow = (
    i64,
    i64,
    String,
    String,
    String,
    serde_json::Value,
    DateTime<Utc>,
);

fn to_scene(r: SceneRow) -> Scene {
    Scene {
        id: SceneId(r.0),
        org_id: OrgId(r.1),
        scene_name: r.2,
        script_id: r.3,
        description: r.4,
        filters: serde_json::from_value::<LeadFilterInput>(r.5).unwrap_or_default(),
        create_time: r.6,
    }
}

/// `WITH picked AS (<select>) INSERT INTO leads_task_list … SELECT … FROM picked`, answering
/// (rows inserted, candidates): the task's leads and the count of the leads they were picked
/// from, in one statement. `picked` must select `org_id, id, phone, customer_name, candidates`.
struct CreateTaskLeads<S> {
    task_id: i64,
    picked: S,
}

impl<S: diesel::query_builder::QueryFragment<diesel::pg::Pg>>
    diesel::query_builder::QueryFragment<diesel::pg::Pg> for CreateTaskLeads<S>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("WITH picked AS (");
        self.picked.walk_ast(out.reborrow())?;
        out.push_sql(
            "), ins AS (INSERT INTO leads_task_list (task_id, org_id, lead_id, phone, customer_name) SELECT ",
        );
        out.push_bind_param::<BigInt, _>(&self.task_id)?;
        out.push_sql(
            ", org_id, id, phone, customer_name FROM picked RETURNING 1) \
             SELECT (SELECT count(*) FROM ins), COALESCE((SELECT max(candidates) FROM picked), 0)",
        );
        Ok(())
    }
}

impl<S> diesel::query_builder::QueryId for CreateTaskLeads<S> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<S> diesel::query_builder::Query for CreateTaskLeads<S> {
    type SqlType = (BigInt, BigInt);
}

enum CreateAbort {
    NoLeads,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for CreateAbort {
    fn from(e: diesel::result::Error) -> Self {
        CreateAbort::Db(e)
    }
}

#[async_trait]
impl TaskRepository for PgTasks {
    async fn create_from_filter(
        &self,
        scope: &OrgScope,
        filter: &LeadFilter,
        task: NewTask,
        audit: audit::Entry,
    ) -> Result<Option<CreatedTask>, RepoError> {
        let filters_json = serde_json::to_value(&task.filters)
            .map_err(|e| RepoError::Other(anyhow::Error::new(e)))?;
        let mut c = conn(&self.pool).await?;
        // READ COMMITTED: the lead list and its candidate count come from one statement, so one
        // snapshot, and two creations in one organisation update its task counter one after the
        // other (under REPEATABLE READ the second failed with a serialization error)
        let result: Result<CreatedTask, CreateAbort> = c
            .transaction(async |c| {
                // the lead list's plan depends on the filter's values
                plan_for_values(c).await?;
                let task_id: i64 = diesel::insert_into(call_tasks::table)
                    .values((
                        call_tasks::org_id.eq(task.org_id.0),
                        call_tasks::created_by.eq(task.created_by.0),
                        call_tasks::task_name.eq(&task.task_name),
                        call_tasks::script_id.eq(&task.script_id),
                        call_tasks::size_desc.eq(&task.size_desc),
                        call_tasks::filters.eq(&filters_json),
                    ))
                    .returning(call_tasks::id)
                    .get_result(c)
                    .await?;
                // one statement, one pass over the leads: the lead list is built by
                // INSERT … SELECT DISTINCT ON (phone), and the candidates (callable leads before
                // de-duplication) are counted by a window function over the same rows
                let picked = filtered_distinct_phone(scope, filter, Exclusions::Callable)
                    .select((
                        dcc_leads::org_id,
                        dcc_leads::id,
                        dcc_leads::phone,
                        dcc_leads::customer_name,
                        diesel::dsl::sql::<BigInt>("count(*) OVER () AS candidates"),
                    ))
                    .order((
                        dcc_leads::phone,
                        dcc_leads::create_time.desc(),
                        dcc_leads::id.desc(),
                    ));
                let (inserted, callable): (i64, i64) =
                    CreateTaskLeads { task_id, picked }.get_result(c).await?;
                if inserted == 0 {
                    return Err(CreateAbort::NoLeads);
                }
                let row: TaskRow = diesel::update(call_tasks::table.find(task_id))
                    .set(call_tasks::leads_count.eq(inserted))
                    .returning(task_columns!())
                    .get_result(c)
                    .await?;
                let task = to_task(row).map_err(|e| {
                    CreateAbort::Db(diesel::result::Error::QueryBuilderError(e.into()))
                })?;
                let audit = audit
                    .on(audit::Target::Task(task.id))
                    .detail("leads_count", inserted);
                crate::pg_audit::insert(c, &audit).await?;
                Ok(CreatedTask {
                    task,
                    duplicates_removed: callable - inserted,
                })
            })
            .await;
        match result {
            Ok(t) => Ok(Some(t)),
            Err(CreateAbort::NoLeads) => Ok(None),
            Err(CreateAbort::Db(e)) => Err(db_error(e)),
        }
    }

    async fn get(&self, scope: &OrgScope, id: TaskId) -> Result<Option<CallTask>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<TaskRow> = call_tasks::table
            .filter(call_tasks::id.eq(id.0))
            .filter(call_tasks::org_id.eq_any(scope_ids(scope)))
            .select(task_columns!())
            .first(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        row.map(to_task).transpose()
    }

    async fn list(
        &self,
        scope: &OrgScope,
        f: &TaskListFilter,
        page: PageRequest,
    ) -> Result<Page<CallTask>, RepoError> {
        let c = conn(&self.pool).await?;
        list_on(&c, scope, f, page).await
    }

    async fn recent(&self, scope: &OrgScope, limit: i64) -> Result<Vec<CallTask>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let rows: Vec<TaskRow> = call_tasks::table
            .filter(call_tasks::org_id.eq_any(scope_ids(scope)))
            .select(task_columns!())
            .order(call_tasks::id.desc())
            .limit(limit)
            .load(&mut c)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(to_task).collect()
    }

    async fn stats(&self, scope: &OrgScope) -> Result<TaskStats, RepoError> {
        let c = conn(&self.pool).await?;
        stats_on(&c, scope).await
    }

    async fn overview(
        &self,
        scope: &OrgScope,
        f: &TaskListFilter,
        page: PageRequest,
    ) -> Result<(TaskStats, Page<CallTask>), RepoError> {
        let c = conn(&self.pool).await?;
        // both statements sent at once on one connection (pipelined): one wait, one checkout
        futures::try_join!(stats_on(&c, scope), list_on(&c, scope, f, page))
    }

    async fn update_script(
        &self,
        scope: &OrgScope,
        id: TaskId,
        script_id: &str,
        audit: audit::Entry,
    ) -> Result<CallTask, TransitionError> {
        let mut c = conn(&self.pool).await?;
        let ids = scope_ids(scope);
        let row: Option<TaskRow> = c
            .transaction(async |c| {
                let row = diesel::update(
                    call_tasks::table
                        .filter(call_tasks::id.eq(id.0))
                        .filter(call_tasks::org_id.eq_any(ids))
                        .filter(call_tasks::task_type.eq(TaskState::Created.code())),
                )
                .set((
                    call_tasks::script_id.eq(script_id),
                    call_tasks::update_time.eq(diesel::dsl::now),
                ))
                .returning(task_columns!())
                .get_result::<TaskRow>(c)
                .await
                .optional()?;
                if row.is_some() {
                    crate::pg_audit::insert(c, &audit).await?;
                }
                diesel::QueryResult::Ok(row)
            })
            .await
            .map_err(db_error)?;
        drop(c);
        match row {
            Some(r) => Ok(to_task(r)?),
            None => match self.get(scope, id).await? {
                None => Err(TransitionError::NotFound),
                Some(t) => Err(TransitionError::InvalidState(t.state)),
            },
        }
    }

    async fn create_scene(
        &self,
        scope: &OrgScope,
        s: NewScene,
        created_by: UserId,
    ) -> Result<Scene, RepoError> {
        let filters = serde_json::to_value(&s.filters)
            .map_err(|e| RepoError::Other(anyhow::Error::new(e)))?;
        let mut c = conn(&self.pool).await?;
        let row: SceneRow = diesel::insert_into(scenes::table)
            .values((
                scenes::org_id.eq(scope.root().0),
                scenes::created_by.eq(created_by.0),
                scenes::scene_name.eq(&s.scene_name),
                scenes::script_id.eq(&s.script_id),
                scenes::description.eq(&s.description),
                scenes::filters.eq(&filters),
            ))
            .returning(scene_columns())
            .get_result(&mut c)
            .await
            .map_err(db_error)?;
        Ok(to_scene(row))
    }

    async fn get_scene(&self, scope: &OrgScope, id: SceneId) -> Result<Option<Scene>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<SceneRow> = scenes::table
            .filter(scenes::id.eq(id.0))
            .filter(scenes::org_id.eq_any(scope_ids(scope)))
            .select(scene_columns())
            .first(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        Ok(row.map(to_scene))
    }

    async fn list_scenes(&self, scope: &OrgScope) -> Result<Vec<Scene>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let rows: Vec<SceneRow> = scenes::table
            .filter(scenes::org_id.eq_any(scope_ids(scope)))
            .select(scene_columns())
            .order(scenes::id.desc())
            .limit(500)
            .load(&mut c)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(to_scene).collect())
    }
}

fn scene_columns() -> (
    scenes::id,
    scenes::org_id,
    scenes::scene_name,
    scenes::script_id,
    scenes::description,
    scenes::filters,
    scenes::create_time,
) {
    (
        scenes::id,
        scenes::org_id,
        scenes::scene_name,
        scenes::script_id,
        scenes::description,
        scenes::filters,
        scenes::create_time,
    )
}

/// A page of tasks, newest first, with its total.
async fn list_on(
    mut c: &AsyncPgConnection,
    scope: &OrgScope,
    f: &TaskListFilter,
    page: PageRequest,
) -> Result<Page<CallTask>, RepoError> {
    let query = || {
        // one organisation: `=` (PostgreSQL 15 cannot walk an index in order under `= ANY`)
        let ids = scope_ids(scope);
        let mut q = match ids.as_slice() {
            [one] => call_tasks::table
                .into_boxed()
                .filter(call_tasks::org_id.eq(*one)),
            _ => call_tasks::table
                .into_boxed()
                .filter(call_tasks::org_id.eq_any(ids)),
        };
        if let Some(s) = f.state {
            q = q.filter(call_tasks::task_type.eq(s.code()));
        }
        if let Some(k) = &f.keyword {
            q = q.filter(strpos(call_tasks::task_name, k.clone()).gt(0));
        }
        q
    };
    let page_of = || {
        query()
            .order(call_tasks::id.desc())
            .limit(page.limit())
            .offset(page.offset())
    };
    let (rows, total): (Vec<TaskRow>, i64) = match &f.keyword {
        // no keyword: the maintained per-organisation counters, not a scan, selected next to
        // the page (one round trip); past the end, the counters alone
        None => {
            let states = f
                .state
                .map(|s| vec![s])
                .unwrap_or_else(|| TaskState::ALL.to_vec());
            let kinds: Vec<String> = states
                .iter()
                .map(|s| format!("tasks:{}", s.code()))
                .collect();
            let rows: Vec<(TaskRow, Option<i64>)> = page_of()
                .select((task_columns!(), org_count_subquery(scope, kinds.clone())))
                .load(&mut c)
                .await
                .map_err(db_error)?;
            match split_total(rows) {
                Some(page) => page,
                None => (Vec::new(), org_count(c, scope, kinds).await?),
            }
        }
        // a keyword: the page, and its total counted by a subquery beside it (one round
        // trip); past the end, the count apart
        Some(_) => {
            let rows: Vec<(TaskRow, Option<i64>)> = page_of()
                .select((task_columns!(), query().select(count_star()).single_value()))
                .load(&mut c)
                .await
                .map_err(db_error)?;
            match split_total(rows) {
                Some(page) => page,
                None => (
                    Vec::new(),
                    query()
                        .select(count_star())
                        .get_result(&mut c)
                        .await
                        .map_err(db_error)?,
                ),
            }
        }
    };
    let items = rows
        .into_iter()
        .map(to_task)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::new(items, page, total))
}

/// Counts over the scope's tasks, from the maintained per-organisation counters.
async fn stats_on(mut c: &AsyncPgConnection, scope: &OrgScope) -> Result<TaskStats, RepoError> {
    use crate::schema::org_counts;
    // the maintained per-organisation counters: tasks by state and the sums of their
    // leads, called and connected counters, whatever the number of tasks
    let kinds: Vec<String> = TaskState::ALL
        .iter()
        .map(|s| format!("tasks:{}", s.code()))
        .chain(["task_leads", "task_called", "task_connected"].map(str::to_owned))
        .collect();
    let summed: Vec<(String, i64)> = org_counts::table
        .filter(org_counts::org_id.eq_any(scope_ids(scope)))
        .filter(org_counts::kind.eq_any(kinds))
        .group_by(org_counts::kind)
        .select((org_counts::kind, sum_int8(org_counts::n)))
        .load(&mut c)
        .await
        .map_err(db_error)?;
    let mut by_type: BTreeMap<String, i64> = TaskState::ALL
        .iter()
        .map(|s| (s.code().to_string(), 0))
        .collect();
    let (mut total_tasks, mut total_leads, mut called, mut connected) = (0, 0, 0, 0);
    for (kind, n) in summed {
        match kind.as_str() {
            "task_leads" => total_leads = n,
            "task_called" => called = n,
            "task_connected" => connected = n,
            state => {
                if let Some(code) = state.strip_prefix("tasks:") {
                    by_type.insert(code.to_owned(), n);
                    total_tasks += n;
                }
            }
        }
    }
    Ok(TaskStats {
        total_tasks,
        by_type,
        total_leads,
        called,
        connected,
        connect_rate: if called > 0 {
            connected as f64 / called as f64
        } else {
            0.0
        },
    })
}
