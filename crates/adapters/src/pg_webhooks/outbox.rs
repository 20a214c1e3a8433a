//! The outbox: deliveries written by the transaction of the change they report, one per event
//! and subscribed endpoint of the task's organisation or one of its ancestors. A rolled-back
//! change leaves no delivery; a committed one always has its deliveries.

use diesel::sql_types::{Array, BigInt, Bool, Text};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::TaskId;
use webhooks::{Event, EventType};

/// The task's organisation and its ancestors (`$1` the task).
const ANCESTORS: &str = "\
WITH RECURSIVE anc AS ( \
  SELECT o.id, o.parent_id, 0 AS depth FROM organizations o \
  WHERE o.id = (SELECT org_id FROM call_tasks WHERE id = $1) \
  UNION ALL \
  SELECT o.id, o.parent_id, a.depth + 1 FROM organizations o JOIN anc a ON o.id = a.parent_id \
  WHERE a.depth < 64 \
) ";

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    any: bool,
}

/// Whether an enabled endpoint would receive events of `event_type` about task `task`.
pub async fn subscribed(
    c: &mut AsyncPgConnection,
    task: TaskId,
    event_type: EventType,
) -> diesel::QueryResult<bool> {
    let q = format!(
        "{ANCESTORS}SELECT EXISTS (SELECT 1 FROM webhooks w WHERE w.org_id IN (SELECT id FROM anc) \
         AND w.enabled AND $2 = ANY(w.events)) AS any"
    );
    let r: Exists = sql_query(q)
        .bind::<BigInt, _>(task.0)
        .bind::<Text, _>(event_type.as_str())
        .get_result(c)
        .await?;
    Ok(r.any)
}

/// Write `events` (all of one type) about task `task` to the outbox of every subscribed, enabled
/// endpoint; how many deliveries were written.
pub async fn write(
    c: &mut AsyncPgConnection,
    task: TaskId,
    event_type: EventType,
    events: &[Event],
) -> diesel::QueryResult<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let bodies: Vec<&str> = events.iter().map(|e| e.body.as_str()).collect();
    let q = format!(
        "{ANCESTORS}INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload) \
         SELECT w.id, e.event_id, $2, e.payload \
         FROM webhooks w CROSS JOIN unnest($3::text[], $4::text[]) AS e(event_id, payload) \
         WHERE w.org_id IN (SELECT id FROM anc) AND w.enabled AND $2 = ANY(w.events)"
    );
    sql_query(q)
        .bind::<BigInt, _>(task.0)
        .bind::<Text, _>(event_type.as_str())
        .bind::<Array<Text>, _>(ids)
        .bind::<Array<Text>, _>(bodies)
        .execute(c)
        .await
}
