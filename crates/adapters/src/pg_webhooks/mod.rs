//! [`PgWebhooks`]: endpoints and their deliveries (the outbox); [`outbox`] writes deliveries
//! inside other repositories' transactions.

pub mod outbox;

use ::webhooks::{
    Delivery, DeliveryStatus, DueDelivery, Event, EventType, NewWebhook, Outcome, Webhook,
    WebhookChange, WebhookRepository,
};
use async_trait::async_trait;
use audit::{Entry, Target};
use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use kernel::{DeliveryId, OrgId, OrgScope, Page, PageRequest, RepoError, UserId, WebhookId};

use crate::db::{DbPool, conn, db_error, scope_ids};
use crate::pg_audit::audited;
use crate::schema::{webhook_deliveries, webhooks};

/// [`WebhookRepository`] on PostgreSQL.
#[derive(Clone)]
pub struct PgWebhooks {
    pool: DbPool,
}

impl PgWebhooks {
    /// Over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

type HookRow = (
    i64,
    i64,
    String,
    Vec<String>,
    String,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
);

macro_rules! hook_columns {
    () => {
        (
            webhooks::id,
            webhooks::org_id,
            webhooks::url,
            webhooks::events,
            webhooks::description,
            webhooks::enabled,
            webhooks::create_time,
            webhooks::update_time,
        )
    };
}

fn to_hook(r: HookRow) -> Webhook {
    let (id, org_id, url, events, description, enabled, created_at, updated_at) = r;
    Webhook {
        id: WebhookId(id),
        org_id: OrgId(org_id),
        url,
        events: events.iter().filter_map(|e| EventType::parse(e)).collect(),
        description,
        enabled,
        created_at,
        updated_at,
    }
}

fn names(events: &[EventType]) -> Vec<&'static str> {
    events.iter().map(|e| e.as_str()).collect()
}

type DeliveryRow = (
    i64,
    i64,
    String,
    String,
    String,
    i32,
    DateTime<Utc>,
    Option<i32>,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
);

macro_rules! delivery_columns {
    () => {
        (
            webhook_deliveries::id,
            webhook_deliveries::webhook_id,
            webhook_deliveries::event_id,
            webhook_deliveries::event_type,
            webhook_deliveries::status,
            webhook_deliveries::attempts,
            webhook_deliveries::next_attempt_at,
            webhook_deliveries::last_status,
            webhook_deliveries::last_error,
            webhook_deliveries::last_response,
            webhook_deliveries::create_time,
            webhook_deliveries::update_time,
        )
    };
}

fn to_delivery(r: DeliveryRow) -> Result<Delivery, RepoError> {
    let status = DeliveryStatus::parse(&r.4)
        .ok_or_else(|| RepoError::Other(anyhow::anyhow!("unknown delivery status {}", r.4)))?;
    Ok(Delivery {
        id: DeliveryId(r.0),
        webhook_id: WebhookId(r.1),
        event_id: r.2,
        event_type: r.3,
        status,
        attempts: r.5,
        next_attempt_at: r.6,
        last_status: r.7,
        last_error: r.8,
        last_response: r.9,
        created_at: r.10,
        updated_at: r.11,
    })
}

/// Claim due deliveries: at most `$3` of one endpoint less what the claimer has in flight
/// (`$5` endpoints, `$6` their attempts), `$2` in all, in due order, skipping rows another
/// worker holds (a row lock, or a lease not run out); `$4` the lease in milliseconds.
/// Only the first due rows are looked at (the partial index on `next_attempt_at` gives them in
/// order), so a claim costs the same whatever the backlog. The lease is checked again on the
/// locked row, so two claimers never take the same one.
const CLAIM_DUE: &str = "\
WITH first AS ( \
  SELECT d.id, d.webhook_id, d.next_attempt_at FROM webhook_deliveries d \
  JOIN webhooks w ON w.id = d.webhook_id AND w.enabled \
  WHERE d.status = 'pending' AND d.next_attempt_at <= now() \
    AND (d.locked_until IS NULL OR d.locked_until < now()) \
  ORDER BY d.next_attempt_at, d.id LIMIT $2 * 8 \
), due AS ( \
  SELECT f.id, f.webhook_id, row_number() OVER (PARTITION BY f.webhook_id ORDER BY f.next_attempt_at, f.id) AS rn \
  FROM first f \
), picked AS ( \
  SELECT d.id FROM webhook_deliveries d JOIN due ON due.id = d.id \
  LEFT JOIN unnest($5::bigint[], $6::bigint[]) AS busy(webhook_id, n) ON busy.webhook_id = due.webhook_id \
  WHERE due.rn <= $3 - COALESCE(busy.n, 0) AND d.status = 'pending' AND (d.locked_until IS NULL OR d.locked_until < now()) \
  ORDER BY d.next_attempt_at, d.id LIMIT $2 \
  FOR UPDATE OF d SKIP LOCKED \
) \
UPDATE webhook_deliveries d SET locked_by = $1, locked_until = now() + $4 * interval '1 millisecond' \
FROM picked, webhooks w WHERE d.id = picked.id AND w.id = d.webhook_id \
RETURNING d.id, d.webhook_id, w.url, w.secret, \
  CASE WHEN w.previous_secret_until > now() THEN w.previous_secret END AS previous_secret, \
  d.event_id, d.payload, d.attempts";

/// Record the outcomes of a turn's attempts, one statement (`$7` the claimer).
const RECORD: &str = "\
UPDATE webhook_deliveries d SET status = u.status, attempts = d.attempts + 1, \
  next_attempt_at = COALESCE(u.next, d.next_attempt_at), last_status = u.http, \
  last_error = u.error, last_response = u.response, locked_by = NULL, locked_until = NULL, \
  update_time = now() \
FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::int[], $5::text[], $6::text[]) \
  AS u(id, status, next, http, error, response) \
WHERE d.id = u.id AND d.locked_by = $7 AND d.status = 'pending'";

#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    webhook_id: i64,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Nullable<Text>)]
    previous_secret: Option<String>,
    #[diesel(sql_type = Text)]
    event_id: String,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Int4)]
    attempts: i32,
}

/// Keep at most 1 KB of an answer or an error, on a character boundary.
fn kilobyte(s: &str) -> String {
    let mut end = s.len().min(1024);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}

#[async_trait]
impl WebhookRepository for PgWebhooks {
    async fn create(
        &self,
        org: OrgId,
        by: UserId,
        new: &NewWebhook,
        secret: &str,
        audit: Entry,
    ) -> Result<Webhook, RepoError> {
        let row: HookRow = audited!(
            &self.pool,
            |c| {
                diesel::insert_into(webhooks::table)
                    .values((
                        webhooks::org_id.eq(org.0),
                        webhooks::url.eq(&new.url),
                        webhooks::events.eq(names(&new.events)),
                        webhooks::description.eq(&new.description),
                        webhooks::secret.eq(secret),
                        webhooks::created_by.eq(Some(by.0).filter(|id| *id > 0)),
                    ))
                    .returning(hook_columns!())
                    .get_result(c)
                    .await
            },
            |r: &HookRow| Some(audit.on(Target::Webhook(r.0))),
        )?;
        Ok(to_hook(row))
    }

    async fn list(&self, scope: &OrgScope) -> Result<Vec<Webhook>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let rows: Vec<HookRow> = webhooks::table
            .filter(webhooks::org_id.eq_any(scope_ids(scope)))
            .order(webhooks::id)
            .select(hook_columns!())
            .load(&mut c)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(to_hook).collect())
    }

    async fn update(
        &self,
        scope: &OrgScope,
        id: WebhookId,
        change: &WebhookChange,
        audit: Entry,
    ) -> Result<Option<Webhook>, RepoError> {
        let ids = scope_ids(scope);
        let row: Option<HookRow> = audited!(
            &self.pool,
            |c| {
                let target = webhooks::table
                    .filter(webhooks::id.eq(id.0))
                    .filter(webhooks::org_id.eq_any(ids));
                diesel::update(target)
                    .set((
                        change.url.as_ref().map(|u| webhooks::url.eq(u.clone())),
                        change.events.as_ref().map(|e| {
                            webhooks::events
                                .eq(names(e).into_iter().map(str::to_owned).collect::<Vec<_>>())
                        }),
                        change.enabled.map(|e| webhooks::enabled.eq(e)),
                        change
                            .description
                            .as_ref()
                            .map(|d| webhooks::description.eq(d.clone())),
                        webhooks::update_time.eq(diesel::dsl::now),
                    ))
                    .returning(hook_columns!())
                    .get_result(c)
                    .await
                    .optional()
            },
            |r: &Option<HookRow>| r.as_ref().map(|_| audit),
        )?;
        Ok(row.map(to_hook))
    }

    async fn delete(
        &self,
        scope: &OrgScope,
        id: WebhookId,
        audit: Entry,
    ) -> Result<bool, RepoError> {
        let ids = scope_ids(scope);
        let n = audited!(
            &self.pool,
            |c| {
                diesel::delete(
                    webhooks::table
                        .filter(webhooks::id.eq(id.0))
                        .filter(webhooks::org_id.eq_any(ids)),
                )
                .execute(c)
                .await
            },
            |n: &usize| (*n > 0).then_some(audit),
        )?;
        Ok(n > 0)
    }

    async fn rotate(
        &self,
        scope: &OrgScope,
        id: WebhookId,
        secret: &str,
        previous_until: DateTime<Utc>,
        audit: Entry,
    ) -> Result<Option<Webhook>, RepoError> {
        let ids = scope_ids(scope);
        let row: Option<HookRow> = audited!(
            &self.pool,
            |c| {
                diesel::update(
                    webhooks::table
                        .filter(webhooks::id.eq(id.0))
                        .filter(webhooks::org_id.eq_any(ids)),
                )
                .set((
                    webhooks::previous_secret.eq(webhooks::secret.nullable()),
                    webhooks::previous_secret_until.eq(Some(previous_until)),
                    webhooks::secret.eq(secret),
                    webhooks::update_time.eq(diesel::dsl::now),
                ))
                .returning(hook_columns!())
                .get_result(c)
                .await
                .optional()
            },
            |r: &Option<HookRow>| r.as_ref().map(|_| audit),
        )?;
        Ok(row.map(to_hook))
    }

    async fn enqueue(
        &self,
        scope: &OrgScope,
        id: WebhookId,
        event: &Event,
        audit: Entry,
    ) -> Result<bool, RepoError> {
        let ids = scope_ids(scope);
        let n = audited!(
            &self.pool,
            |c| {
                diesel::sql_query(
                    "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload) \
                     SELECT w.id, $2, $3, $4 FROM webhooks w WHERE w.id = $1 AND w.org_id = ANY($5)",
                )
                .bind::<BigInt, _>(id.0)
                .bind::<Text, _>(&event.id)
                .bind::<Text, _>(event.event_type.as_str())
                .bind::<Text, _>(&event.body)
                .bind::<diesel::sql_types::Array<BigInt>, _>(ids)
                .execute(c)
                .await
            },
            |n: &usize| (*n > 0).then_some(audit),
        )?;
        Ok(n > 0)
    }

    async fn deliveries(
        &self,
        scope: &OrgScope,
        webhook: Option<WebhookId>,
        status: Option<DeliveryStatus>,
        page: PageRequest,
    ) -> Result<Page<Delivery>, RepoError> {
        let query = || {
            let mut q = webhook_deliveries::table
                .inner_join(webhooks::table)
                .into_boxed()
                .filter(webhooks::org_id.eq_any(scope_ids(scope)));
            if let Some(w) = webhook {
                q = q.filter(webhook_deliveries::webhook_id.eq(w.0));
            }
            if let Some(s) = status {
                q = q.filter(webhook_deliveries::status.eq(s.as_str()));
            }
            q
        };
        let mut c = conn(&self.pool).await?;
        let total: i64 = query()
            .select(count_star())
            .get_result(&mut c)
            .await
            .map_err(db_error)?;
        let rows: Vec<DeliveryRow> = query()
            .select(delivery_columns!())
            .order(webhook_deliveries::id.desc())
            .limit(page.limit())
            .offset(page.offset())
            .load(&mut c)
            .await
            .map_err(db_error)?;
        let items = rows
            .into_iter()
            .map(to_delivery)
            .collect::<Result<_, _>>()?;
        Ok(Page::new(items, page, total))
    }

    async fn retry(
        &self,
        scope: &OrgScope,
        id: DeliveryId,
        audit: Entry,
    ) -> Result<Option<Delivery>, RepoError> {
        let ids = scope_ids(scope);
        let row: Option<DeliveryRow> = audited!(
            &self.pool,
            |c| {
                let mine = webhooks::table
                    .filter(webhooks::org_id.eq_any(ids))
                    .select(webhooks::id);
                diesel::update(
                    webhook_deliveries::table
                        .filter(webhook_deliveries::id.eq(id.0))
                        .filter(webhook_deliveries::webhook_id.eq_any(mine)),
                )
                .set((
                    webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
                    webhook_deliveries::attempts.eq(0),
                    webhook_deliveries::next_attempt_at.eq(diesel::dsl::now),
                    webhook_deliveries::locked_by.eq(None::<String>),
                    webhook_deliveries::locked_until.eq(None::<DateTime<Utc>>),
                    webhook_deliveries::update_time.eq(diesel::dsl::now),
                ))
                .returning(delivery_columns!())
                .get_result(c)
                .await
                .optional()
            },
            |r: &Option<DeliveryRow>| r.as_ref().map(|_| audit),
        )?;
        row.map(to_delivery).transpose()
    }

    async fn claim_due(
        &self,
        worker: &str,
        limit: i64,
        per_endpoint: i64,
        busy: &[(WebhookId, i64)],
        lease: std::time::Duration,
    ) -> Result<Vec<DueDelivery>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let rows: Vec<DueRow> = diesel::sql_query(CLAIM_DUE)
            .bind::<Text, _>(worker)
            .bind::<BigInt, _>(limit)
            .bind::<BigInt, _>(per_endpoint)
            .bind::<BigInt, _>(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
            .bind::<Array<BigInt>, _>(busy.iter().map(|(w, _)| w.0).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(busy.iter().map(|(_, n)| *n).collect::<Vec<_>>())
            .load(&mut c)
            .await
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|r| DueDelivery {
                id: DeliveryId(r.id),
                webhook_id: WebhookId(r.webhook_id),
                url: r.url,
                secrets: std::iter::once(r.secret).chain(r.previous_secret).collect(),
                event_id: r.event_id,
                body: r.payload,
                attempts: r.attempts,
            })
            .collect())
    }

    async fn record(
        &self,
        worker: &str,
        outcomes: &[(DeliveryId, Outcome)],
    ) -> Result<(), RepoError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let n = outcomes.len();
        let mut ids = Vec::with_capacity(n);
        let mut statuses = Vec::with_capacity(n);
        let mut nexts = Vec::with_capacity(n);
        let mut https = Vec::with_capacity(n);
        let mut errors = Vec::with_capacity(n);
        let mut responses = Vec::with_capacity(n);
        for (id, outcome) in outcomes {
            let (status, http, error, response, next) = match outcome {
                Outcome::Delivered { status, response } => (
                    DeliveryStatus::Succeeded,
                    Some(*status),
                    None,
                    response,
                    None,
                ),
                Outcome::Failed {
                    status,
                    error,
                    response,
                    retry_at,
                } => (
                    if retry_at.is_some() {
                        DeliveryStatus::Pending
                    } else {
                        DeliveryStatus::Failed
                    },
                    *status,
                    Some(kilobyte(error)),
                    response,
                    *retry_at,
                ),
            };
            ids.push(id.0);
            statuses.push(status.as_str());
            nexts.push(next);
            https.push(http.map(i32::from));
            errors.push(error);
            responses.push(kilobyte(response));
        }
        let mut c = conn(&self.pool).await?;
        // only the claimer's, still pending: a claim that ran out and was taken again is the
        // new claimer's to record
        diesel::sql_query(RECORD)
            .bind::<Array<BigInt>, _>(ids)
            .bind::<Array<Text>, _>(statuses)
            .bind::<Array<Nullable<Timestamptz>>, _>(nexts)
            .bind::<Array<Nullable<Int4>>, _>(https)
            .bind::<Array<Nullable<Text>>, _>(errors)
            .bind::<Array<Text>, _>(responses)
            .bind::<Text, _>(worker)
            .execute(&mut c)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
