//! The webhook events of a task's state, written in the transaction that changes it.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{TaskId, UserId};
use tasks::TaskState;
use tasks::execution::{LeadCount, TaskStatistics};
use webhooks::events::{EventActor, TaskCompleted, TaskStateChanged};
use webhooks::{Event, EventType};

use crate::pg_webhooks::outbox;
use crate::schema::{task_lead_counts, users};

/// `task.state_changed` of task `task` (named `name`), from `from` to `to`, by `actor` (none:
/// the service), when an endpoint wants it.
pub(super) async fn state_changed(
    c: &mut AsyncPgConnection,
    task: TaskId,
    name: &str,
    from: TaskState,
    to: TaskState,
    actor: Option<UserId>,
) -> QueryResult<()> {
    let kind = EventType::TaskStateChanged;
    if !outbox::subscribed(c, task, kind).await? {
        return Ok(());
    }
    let actor = match actor {
        Some(id) => users::table
            .find(id.0)
            .select(users::username)
            .first::<String>(c)
            .await
            .optional()?
            .map(|username| EventActor {
                user_id: id.0,
                username,
            }),
        None => None,
    };
    let data = TaskStateChanged {
        task_id: task.0,
        task_name: name.to_owned(),
        from: from.as_str().to_owned(),
        to: to.as_str().to_owned(),
        actor,
    };
    let event = Event::new(kind, chrono::Utc::now(), data);
    outbox::write(c, task, kind, &[event]).await.map(|_| ())
}

/// `task.completed` of task `task` with its final statistics, when an endpoint wants it.
pub(super) async fn completed(
    c: &mut AsyncPgConnection,
    task: TaskId,
    name: &str,
) -> QueryResult<()> {
    let kind = EventType::TaskCompleted;
    if !outbox::subscribed(c, task, kind).await? {
        return Ok(());
    }
    let rows: Vec<(String, String, bool, i64, i64, i64)> = task_lead_counts::table
        .filter(task_lead_counts::task_id.eq(task.0))
        .select((
            task_lead_counts::call_status,
            task_lead_counts::intent_level,
            task_lead_counts::has_job,
            task_lead_counts::n,
            task_lead_counts::duration_sum,
            task_lead_counts::duration_n,
        ))
        .load(c)
        .await?;
    let s = TaskStatistics::tally(rows.into_iter().map(
        |(call_status, intent_level, has_job, n, duration_sum, duration_n)| LeadCount {
            call_status,
            intent_level,
            has_job,
            n,
            duration_sum,
            duration_n,
        },
    ));
    let data = TaskCompleted {
        task_id: task.0,
        task_name: name.to_owned(),
        leads_total: s.leads_total,
        called: s.called,
        connected: s.connected,
        connect_rate: s.connect_rate(),
        avg_duration_seconds: s.avg_duration_seconds,
        by_call_status: s.by_call_status,
    };
    let event = Event::new(kind, chrono::Utc::now(), data);
    outbox::write(c, task, kind, &[event]).await.map(|_| ())
}
