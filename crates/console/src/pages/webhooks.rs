//! `/webhooks` (admins): the organisation's webhook endpoints (register, enable or disable,
//! ping, rotate the secret, delete) and their latest deliveries (retry a failed one). A secret
//! is shown once, with a copy button. The API's webhook service, with the session's caller.

use actix_web::{HttpResponse, web};
use api::audit::record::refusal;
use api::{ApiError, ApiState};
use askama::Template;
use askama_web::WebTemplate;
use audit::{Action as Audited, Target};
use kernel::{DeliveryId, PageRequest, WebhookId};
use serde::Deserialize;
use webhooks::service::parse_events;
use webhooks::{DeliveryStatus, EventType, NewWebhook, WebhookChange};

use crate::error::ConsoleError;
use crate::pages::filter_form::{field, pairs};
use crate::pages::ok;
use crate::session::Session;
use crate::views::{Layout, time};

struct HookRow {
    id: i64,
    url: String,
    events: String,
    description: String,
    enabled: bool,
    created: String,
}

struct DeliveryRow {
    id: i64,
    webhook_id: i64,
    event_type: String,
    status: &'static str,
    attempts: i32,
    last: String,
    created: String,
}

/// A secret, shown once.
struct Secret {
    webhook_id: i64,
    secret: String,
}

#[derive(Template)]
#[template(path = "webhook_panel.html")]
struct Panel {
    hooks: Vec<HookRow>,
    deliveries: Vec<DeliveryRow>,
    status: String,
    notice: Option<String>,
    secret: Option<Secret>,
}

#[derive(Template, WebTemplate)]
#[template(path = "webhooks.html")]
pub struct WebhooksPage {
    layout: Layout,
    panel: String,
    events: Vec<(&'static str, &'static str)>,
}

/// The events, with their Chinese names.
fn event_names() -> Vec<(&'static str, &'static str)> {
    EventType::SUBSCRIBABLE
        .iter()
        .map(|e| {
            let name = match e {
                EventType::LeadCallFinished => "线索外呼结束",
                EventType::TaskStateChanged => "任务状态变化",
                EventType::TaskCompleted => "任务完成",
                EventType::Ping => "测试",
            };
            (e.as_str(), name)
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub struct PanelQuery {
    #[serde(default)]
    status: String,
}

async fn panel(
    state: &ApiState,
    session: &Session,
    status: String,
    notice: Option<String>,
    secret: Option<Secret>,
) -> Result<Panel, ConsoleError> {
    let filter = match status.as_str() {
        "" => None,
        s => Some(DeliveryStatus::parse(s).ok_or_else(|| ConsoleError::bad_input("状态无效"))?),
    };
    let hooks = state.webhooks.list(&session.caller).await?;
    let page = PageRequest::new(Some(1), Some(20))?;
    let deliveries = state
        .webhooks
        .deliveries(&session.caller, None, filter, page)
        .await?;
    let tz = state.tz;
    Ok(Panel {
        hooks: hooks
            .into_iter()
            .map(|h| HookRow {
                id: h.id.0,
                url: h.url,
                events: h
                    .events
                    .iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                description: h.description,
                enabled: h.enabled,
                created: time(h.created_at, tz),
            })
            .collect(),
        deliveries: deliveries
            .items
            .into_iter()
            .map(|d| DeliveryRow {
                id: d.id.0,
                webhook_id: d.webhook_id.0,
                event_type: d.event_type,
                status: match d.status {
                    DeliveryStatus::Pending => "待投递",
                    DeliveryStatus::Succeeded => "已送达",
                    DeliveryStatus::Failed => "失败",
                },
                attempts: d.attempts,
                last: match (d.last_status, d.last_error) {
                    (_, Some(e)) => e,
                    (Some(s), None) => format!("HTTP {s}"),
                    (None, None) => String::new(),
                },
                created: time(d.created_at, tz),
            })
            .collect(),
        status,
        notice,
        secret,
    })
}

/// The page.
pub async fn page(
    state: web::Data<ApiState>,
    session: Session,
    q: web::Query<PanelQuery>,
) -> Result<WebhooksPage, ConsoleError> {
    session.require_admin()?;
    let p = panel(&state, &session, q.into_inner().status, None, None).await?;
    Ok(WebhooksPage {
        layout: Layout::of(&session, "webhooks"),
        panel: crate::pages::text(p)?,
        events: event_names(),
    })
}

/// The panel alone (the deliveries' status filter).
pub async fn refresh(
    state: web::Data<ApiState>,
    session: Session,
    q: web::Query<PanelQuery>,
) -> Result<HttpResponse, ConsoleError> {
    session.require_admin()?;
    ok(panel(&state, &session, q.into_inner().status, None, None).await?)
}

/// Register an endpoint (form fields `url`, `description`, `events` repeated).
pub async fn create(
    state: web::Data<ApiState>,
    session: Session,
    body: String,
) -> Result<HttpResponse, ConsoleError> {
    session.require_admin()?;
    let pairs = pairs(&body)?;
    let events: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let new = NewWebhook {
        url: field(&pairs, "url").unwrap_or_default(),
        events: parse_events(&events)?,
        description: field(&pairs, "description").unwrap_or_default(),
    };
    let created = state.webhooks.register(&session.caller, new).await;
    let what = (Audited::WebhookCreate, None);
    let (hook, secret) = refusal(
        &state,
        &session.caller,
        what,
        created.map_err(ApiError::from),
    )
    .await?;
    let secret = Secret {
        webhook_id: hook.id.0,
        secret,
    };
    let notice = format!("已添加 Webhook #{}", hook.id.0);
    ok(panel(&state, &session, String::new(), Some(notice), Some(secret)).await?)
}

/// An action on endpoint `id`: `enable`, `disable`, `test`, `rotate`, `delete`.
pub async fn act(
    state: web::Data<ApiState>,
    session: Session,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, ConsoleError> {
    session.require_admin()?;
    let (id, action) = path.into_inner();
    let (caller, id) = (&session.caller, WebhookId(id));
    let (notice, secret) = match action.as_str() {
        "enable" | "disable" => {
            let change = WebhookChange {
                enabled: Some(action == "enable"),
                ..WebhookChange::default()
            };
            let done = state.webhooks.update(caller, id, change).await;
            let what = (Audited::WebhookUpdate, Some(Target::Webhook(id.0)));
            refusal(&state, caller, what, done.map_err(ApiError::from)).await?;
            let verb = if action == "enable" {
                "启用"
            } else {
                "停用"
            };
            (format!("已{verb} Webhook #{}", id.0), None)
        }
        "test" => {
            let done = state.webhooks.test(caller, id).await;
            let what = (Audited::WebhookTest, Some(Target::Webhook(id.0)));
            let e = refusal(&state, caller, what, done.map_err(ApiError::from)).await?;
            (format!("已发送测试事件 {}", e.id), None)
        }
        "rotate" => {
            let done = state.webhooks.rotate(caller, id).await;
            let what = (Audited::WebhookRotateSecret, Some(Target::Webhook(id.0)));
            let (_, secret) = refusal(&state, caller, what, done.map_err(ApiError::from)).await?;
            let s = Secret {
                webhook_id: id.0,
                secret,
            };
            (
                "已更换签名密钥；旧密钥在 24 小时内仍然有效".to_owned(),
                Some(s),
            )
        }
        "delete" => {
            let done = state.webhooks.delete(caller, id).await;
            let what = (Audited::WebhookDelete, Some(Target::Webhook(id.0)));
            refusal(&state, caller, what, done.map_err(ApiError::from)).await?;
            (format!("已删除 Webhook #{}", id.0), None)
        }
        _ => return Err(ConsoleError::NotFound),
    };
    ok(panel(&state, &session, String::new(), Some(notice), secret).await?)
}

/// Deliver a delivery again now.
pub async fn retry(
    state: web::Data<ApiState>,
    session: Session,
    id: web::Path<i64>,
) -> Result<HttpResponse, ConsoleError> {
    session.require_admin()?;
    state
        .webhooks
        .retry(&session.caller, DeliveryId(*id))
        .await?;
    let notice = format!("已重新投递 #{}", *id);
    ok(panel(&state, &session, String::new(), Some(notice), None).await?)
}
