//! DTOs of webhooks and their deliveries.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// An endpoint (`Webhook`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookDto {
    /// Id.
    pub id: i64,
    /// The organisation it belongs to (it receives the events of its subtree).
    pub org_id: i64,
    /// Where events are POSTed.
    #[schema(example = "https://crm.example.com/hooks/outbound")]
    pub url: String,
    /// What it receives.
    #[schema(example = json!(["lead.call_finished", "task.completed"]))]
    pub events: Vec<String>,
    /// For people.
    pub description: String,
    /// A disabled endpoint receives nothing.
    pub enabled: bool,
    /// When it was registered, `YYYY-MM-DD HH:MM:SS`.
    pub create_time: String,
    /// When it last changed.
    pub update_time: String,
}

impl WebhookDto {
    /// The DTO of `w`, times in `tz`.
    pub fn new(w: &webhooks::Webhook, tz: chrono_tz::Tz) -> Self {
        Self {
            id: w.id.0,
            org_id: w.org_id.0,
            url: w.url.clone(),
            events: w.events.iter().map(|e| e.as_str().to_owned()).collect(),
            description: w.description.clone(),
            enabled: w.enabled,
            create_time: kernel::format_time(w.created_at, tz),
            update_time: kernel::format_time(w.updated_at, tz),
        }
    }
}

/// An endpoint with its signing secret (shown when registered or rotated, never again).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookSecretDto {
    /// The endpoint.
    pub webhook: WebhookDto,
    /// `whsec_…`: the key of the `webhook-signature` HMAC (Standard Webhooks).
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// `POST /api/webhooks` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    /// An `https` URL (at most 2,000 characters).
    #[schema(max_length = 2000, pattern = r"^[^\u0000]*$")]
    pub url: String,
    /// At least one of `lead.call_finished`, `task.state_changed`, `task.completed`.
    pub events: Vec<String>,
    /// For people (at most 500 characters).
    #[schema(max_length = 500, pattern = r"^[^\u0000]*$")]
    pub description: Option<String>,
}

/// `POST /api/webhooks/update` body: what is given changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookBody {
    /// The endpoint.
    pub webhook_id: i64,
    /// New URL.
    #[schema(max_length = 2000, pattern = r"^[^\u0000]*$")]
    pub url: Option<String>,
    /// New events.
    pub events: Option<Vec<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New description.
    #[schema(max_length = 500, pattern = r"^[^\u0000]*$")]
    pub description: Option<String>,
}

/// Body naming one endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookIdBody {
    /// The endpoint.
    pub webhook_id: i64,
}

/// `data` of `POST /api/webhooks/delete`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletedDto {
    /// Always `true`.
    pub deleted: bool,
}

/// `data` of `POST /api/webhooks/test`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PingDto {
    /// The `ping` event's id (its `webhook-id`), queued for delivery.
    #[schema(example = "msg_2b1c7c0e9f8d4a6b8e5f0a1b2c3d4e5f")]
    pub event_id: String,
}

/// `GET /api/webhook-deliveries` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    pub page: Option<i64>,
    /// Items per page, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub page_size: Option<i64>,
    /// One endpoint's deliveries only.
    pub webhook_id: Option<i64>,
    /// `pending`, `succeeded` or `failed`.
    #[param(pattern = r"^[^\u0000]*$")]
    pub status: Option<String>,
}

/// One delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryDto {
    /// Id.
    pub id: i64,
    /// The endpoint.
    pub webhook_id: i64,
    /// The event's id (`webhook-id`), the same on every retry.
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    #[schema(example = "succeeded")]
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: String,
    /// The HTTP status of the last attempt, if an answer came.
    #[schema(required = true)]
    pub last_status: Option<i32>,
    /// Why the last attempt failed.
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// The start (at most 1 KB) of the last answer.
    #[schema(required = true)]
    pub last_response: Option<String>,
    /// When the event happened.
    pub create_time: String,
    /// When the delivery last changed.
    pub update_time: String,
}

impl DeliveryDto {
    /// The DTO of `d`, times in `tz`.
    pub fn new(d: &webhooks::Delivery, tz: chrono_tz::Tz) -> Self {
        Self {
            id: d.id.0,
            webhook_id: d.webhook_id.0,
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: kernel::format_time(d.next_attempt_at, tz),
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            last_response: d.last_response.clone(),
            create_time: kernel::format_time(d.created_at, tz),
            update_time: kernel::format_time(d.updated_at, tz),
        }
    }
}

/// `POST /api/webhook-deliveries/retry` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryIdBody {
    /// The delivery.
    pub delivery_id: i64,
}
