//! # webhooks
//!
//! Results that leave the system by themselves: admins register HTTPS endpoints for their
//! organisation and the events they want; every event is signed the Standard Webhooks way
//! (standardwebhooks.com) and delivered at least once, retried for more than a day.
//!
//! Owns: the [`Webhook`] and [`Delivery`] models, the [`EventType`]s and their payloads
//! ([`events`]), the signature ([`sign`]), which targets may be called ([`target`]: HTTPS, no
//! private or loopback address unless allowed), the retry schedule ([`schedule`]), the admins'
//! use cases ([`WebhookService`]) and the delivery worker's pipeline ([`Deliverer`]).
//!
//! Ports (implemented in `adapters`): [`WebhookRepository`] (endpoints and the outbox of
//! deliveries, written by the same transactions as the changes they report) and [`Sender`] (the
//! HTTP POST, with the address check at connection time).

pub mod deliver;
pub mod events;
pub mod schedule;
pub mod service;
pub mod sign;
pub mod target;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{DeliveryId, OrgId, OrgScope, Page, PageRequest, RepoError, UserId, WebhookId};
use serde::Serialize;

pub use deliver::{Deliverer, DeliverySettings};
pub use events::{Event, EventType};
pub use service::{NewWebhook, WebhookChange, WebhookError, WebhookService};

/// A registered endpoint (without its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    /// Id.
    pub id: WebhookId,
    /// The organisation whose events (and its descendants') it receives.
    pub org_id: OrgId,
    /// Where events are POSTed.
    pub url: String,
    /// What it receives.
    pub events: Vec<EventType>,
    /// For people.
    pub description: String,
    /// A disabled endpoint receives nothing.
    pub enabled: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not delivered yet: due now or at its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every attempt failed (or the target is refused); can be retried by hand.
    Failed,
}

impl DeliveryStatus {
    /// The stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// The status of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "succeeded" => Some(DeliveryStatus::Succeeded),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event for one endpoint, as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Id.
    pub id: DeliveryId,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// The event's id (`webhook-id`), the same on every retry.
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: DateTime<Utc>,
    /// The HTTP status of the last attempt, if one came back.
    pub last_status: Option<i32>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// The start (at most 1 KB) of the last answer.
    pub last_response: Option<String>,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// When the delivery last changed.
    pub updated_at: DateTime<Utc>,
}

/// A delivery claimed for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    /// Id.
    pub id: DeliveryId,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// Its URL.
    pub url: String,
    /// The secrets that sign it (the current one, and the previous during a rotation).
    pub secrets: Vec<String>,
    /// The event's id.
    pub event_id: String,
    /// The body: `{type, timestamp, data}`, as the event made it.
    pub body: String,
    /// Attempts made before this one.
    pub attempts: i32,
}

/// What became of one attempt, to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Delivered {
        /// Its status.
        status: u16,
        /// The start of the answer.
        response: String,
    },
    /// Failed; tried again at `retry_at`, or never again (`None`: failed for good).
    Failed {
        /// The HTTP status, if an answer came.
        status: Option<u16>,
        /// Why.
        error: String,
        /// The start of the answer.
        response: String,
        /// The next attempt.
        retry_at: Option<DateTime<Utc>>,
    },
}

/// What an endpoint answered to a POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The start (at most 1 KB) of the body.
    pub body: String,
}

/// Storage of endpoints and deliveries. Each change writes the `audit` entry it is given in its
/// own transaction, when it changed something.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WebhookRepository: Send + Sync + 'static {
    /// Register an endpoint of `org` signed with `secret`.
    async fn create(
        &self,
        org: OrgId,
        by: UserId,
        new: &NewWebhook,
        secret: &str,
        audit: audit::Entry,
    ) -> Result<Webhook, RepoError>;
    /// The endpoints of organisations in `scope`, by id.
    async fn list(&self, scope: &OrgScope) -> Result<Vec<Webhook>, RepoError>;
    /// Apply `change` to endpoint `id` of `scope`.
    async fn update(
        &self,
        scope: &OrgScope,
        id: WebhookId,
        change: &WebhookChange,
        audit: audit::Entry,
    ) -> Result<Option<Webhook>, RepoError>;
    /// Remove endpoint `id` of `scope` and its deliveries.
    async fn delete(
        &self,
        scope: &OrgScope,
        id: WebhookId,
        audit: audit::Entry,
    ) -> Result<bool, RepoError>;
    /// Sign with `secret` from now on, and with the current one too until `previous_until`.
    async fn rotate(
        &self,
        scope: &OrgScope,
        id: WebhookId,
        secret: &str,
        previous_until: DateTime<Utc>,
        audit: audit::Entry,
    ) -> Result<Option<Webhook>, RepoError>;
    /// Put `event` in the outbox of endpoint `id` of `scope` (whatever events it subscribes to).
    async fn enqueue(
        &self,
        scope: &OrgScope,
        id: WebhookId,
        event: &Event,
        audit: audit::Entry,
    ) -> Result<bool, RepoError>;
    /// Deliveries of the endpoints of `scope` (of one endpoint, of one status), newest first.
    async fn deliveries(
        &self,
        scope: &OrgScope,
        webhook: Option<WebhookId>,
        status: Option<DeliveryStatus>,
        page: PageRequest,
    ) -> Result<Page<Delivery>, RepoError>;
    /// Make delivery `id` of `scope` due now again (a failed one pending again).
    async fn retry(
        &self,
        scope: &OrgScope,
        id: DeliveryId,
        audit: audit::Entry,
    ) -> Result<Option<Delivery>, RepoError>;
    /// Claim up to `limit` due deliveries of enabled endpoints for `lease`, at most
    /// `per_endpoint` of one endpoint counting the ones `busy` says this worker has in flight
    /// (endpoint, attempts), skipping rows other workers hold.
    async fn claim_due(
        &self,
        worker: &str,
        limit: i64,
        per_endpoint: i64,
        busy: &[(WebhookId, i64)],
        lease: std::time::Duration,
    ) -> Result<Vec<DueDelivery>, RepoError>;
    /// Record what became of attempts of deliveries claimed by `worker` (one statement).
    async fn record(
        &self,
        worker: &str,
        outcomes: &[(DeliveryId, Outcome)],
    ) -> Result<(), RepoError>;
}

/// The HTTP side of delivery.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Sender: Send + Sync + 'static {
    /// Whether the addresses the name `host` resolves to now may be called ([`target`]'s
    /// rules); `Err` says why not. A name that does not resolve passes: its addresses are
    /// checked when it is called.
    async fn check_host(&self, host: &str) -> Result<(), String>;
    /// POST `body` with `headers` to `url`: no redirect followed, the address checked again at
    /// connection time. `Err` when no answer came.
    async fn post(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Answer, SendError>;
}

/// Why a POST got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The target may not be called ([`target`]): the delivery fails at once, with the reason.
    #[error("refused target: {0}")]
    Refused(String),
    /// Timeout, connection refused or lost, TLS: tried again later.
    #[error("{0}")]
    Transport(String),
}
