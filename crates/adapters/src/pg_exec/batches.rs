//! [`PgBatches`]: dispatch batches. A batch is recorded, and its leads marked `assigning`, in
//! one transaction before the platform is called; its outcome (jobs, or nothing) is recorded in
//! one transaction after.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::{BatchId, RepoError, TaskId, TaskLeadId};
use tasks::call_status::CallStatus;
use tasks::execution::{Batch, DispatchLead, DispatchRepository};

use crate::db::{DbConn, DbPool, conn, db_error};
use crate::schema::{dispatch_batches, leads_task_list, task_lead_counts};

/// [`DispatchRepository`] on PostgreSQL.
#[derive(Clone)]
pub struct PgBatches {
    pool: DbPool,
}

impl PgBatches {
    /// Over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

fn dispatch_lead((id, phone, customer_name): (i64, String, String)) -> DispatchLead {
    DispatchLead {
        id: TaskLeadId(id),
        phone,
        customer_name,
    }
}

/// The leads of a batch still waiting for its outcome.
async fn batch_leads(c: &mut DbConn, batch: i64) -> Result<Vec<DispatchLead>, RepoError> {
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
    Ok(rows.into_iter().map(dispatch_lead).collect())
}

/// Leads of the batch without a recorded job go back to `pending`; the batch closes.
async fn close_batch(c: &mut AsyncPgConnection, batch: i64) -> Result<(), diesel::result::Error> {
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

/// The jobs of a batch, in one statement: each lead of the batch gets its job id and leaves
/// `assigning` (a result that arrived first keeps its status).
const RECORD_JOBS: &str = "\
UPDATE leads_task_list t SET job_id = u.job_id, batch_id = NULL, update_time = now(), \
  call_status = CASE WHEN t.call_status = 'assigning' THEN 'dispatched' ELSE t.call_status END \
FROM unnest($1::bigint[], $2::text[]) AS u(id, job_id) \
WHERE t.id = u.id AND t.batch_id = $3";

#[async_trait]
impl DispatchRepository for PgBatches {
    async fn claim_batch(
        &self,
        task: TaskId,
        worker: &str,
        max: i64,
        after: TaskLeadId,
    ) -> Result<Option<Batch>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let result: Result<Option<Batch>, diesel::result::Error> = c
            .transaction(async |c| {
                // `job_id IS NULL` lets the partial index `leads_task_list_unsent_idx` serve it
                let ids: Vec<i64> = leads_task_list::table
                    .filter(leads_task_list::task_id.eq(task.0))
                    .filter(leads_task_list::job_id.is_null())
                    .filter(leads_task_list::id.gt(after.0))
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
                            dispatch_batches::task_id.eq(task.0),
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
                let mut leads: Vec<DispatchLead> = rows.into_iter().map(dispatch_lead).collect();
                leads.sort_by_key(|l| l.id);
                Ok(Some(Batch {
                    id: BatchId(batch_id),
                    created_at,
                    leads,
                }))
            })
            .await;
        result.map_err(db_error)
    }

    async fn record_batch(
        &self,
        batch: BatchId,
        jobs: Vec<(TaskLeadId, String)>,
    ) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        let (ids, job_ids): (Vec<i64>, Vec<String>) =
            jobs.into_iter().map(|(id, job)| (id.0, job)).unzip();
        let result: Result<(), diesel::result::Error> = c
            .transaction(async |c| {
                if !ids.is_empty() {
                    diesel::sql_query(RECORD_JOBS)
                        .bind::<Array<BigInt>, _>(&ids)
                        .bind::<Array<Text>, _>(&job_ids)
                        .bind::<BigInt, _>(batch.0)
                        .execute(c)
                        .await?;
                }
                close_batch(c, batch.0).await
            })
            .await;
        result.map_err(db_error)
    }

    async fn release_batch(&self, batch: BatchId) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        let result: Result<(), diesel::result::Error> =
            c.transaction(async |c| close_batch(c, batch.0).await).await;
        result.map_err(db_error)
    }

    async fn mark_sent(&self, batch: BatchId) -> Result<bool, RepoError> {
        let mut c = conn(&self.pool).await?;
        // a retry after a throttling answer notes it again: the first time stands
        let n = diesel::update(
            dispatch_batches::table
                .find(batch.0)
                .filter(dispatch_batches::state.eq("open")),
        )
        .set(dispatch_batches::sent_at.eq(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >("COALESCE(sent_at, now())")))
        .execute(&mut c)
        .await
        .map_err(db_error)?;
        Ok(n == 1)
    }

    async fn release_unsent(&self, batch: BatchId) -> Result<bool, RepoError> {
        let mut c = conn(&self.pool).await?;
        let result: Result<bool, diesel::result::Error> = c
            .transaction(async |c| {
                // the row lock orders this against mark_sent: whichever comes second sees the
                // other's outcome
                let unsent: Option<i64> = dispatch_batches::table
                    .find(batch.0)
                    .filter(dispatch_batches::state.eq("open"))
                    .filter(dispatch_batches::sent_at.is_null())
                    .select(dispatch_batches::id)
                    .for_update()
                    .first(c)
                    .await
                    .optional()?;
                if unsent.is_none() {
                    return Ok(false);
                }
                close_batch(c, batch.0).await?;
                Ok(true)
            })
            .await;
        result.map_err(db_error)
    }

    async fn jobs_recorded(&self, task: TaskId) -> Result<u64, RepoError> {
        let mut c = conn(&self.pool).await?;
        // from the maintained counters: the cost does not grow with the task
        let n: i64 = task_lead_counts::table
            .filter(task_lead_counts::task_id.eq(task.0))
            .filter(task_lead_counts::has_job.eq(true))
            .select(crate::schema::sum_int8(task_lead_counts::n))
            .get_result(&mut c)
            .await
            .map_err(db_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn open_batches(&self, task: TaskId) -> Result<Vec<Batch>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let rows: Vec<(i64, DateTime<Utc>)> = dispatch_batches::table
            .filter(dispatch_batches::task_id.eq(task.0))
            .filter(dispatch_batches::state.eq("open"))
            .select((dispatch_batches::id, dispatch_batches::created_at))
            .order(dispatch_batches::id)
            .load(&mut c)
            .await
            .map_err(db_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, created_at) in rows {
            out.push(Batch {
                id: BatchId(id),
                created_at,
                leads: batch_leads(&mut c, id).await?,
            });
        }
        Ok(out)
    }
}
