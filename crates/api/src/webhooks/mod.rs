//! Webhooks: admins register endpoints of their organisation and see their deliveries.

pub mod dto;

use actix_web::{HttpResponse, web};
use audit::{Action, Target};
use kernel::{DeliveryId, PageRequest, WebhookId};
use webhooks::service::parse_events;
use webhooks::{DeliveryStatus, NewWebhook, WebhookChange};

use crate::audit::record::refusal;
use crate::envelope::{Envelope, Items, Paged, ok};
use crate::error::ApiError;
use crate::extract::{Auth, Json, NoQuery, Query};
use crate::responses::{
    BadRequest, DatabaseUnavailable, Forbidden, NotFound, PayloadTooLarge, Unauthorized,
};
use crate::state::ApiState;
use dto::{
    DeletedDto, DeliveriesQuery, DeliveryDto, DeliveryIdBody, NewWebhookBody, PingDto,
    UpdateWebhookBody, WebhookDto, WebhookIdBody, WebhookSecretDto,
};

/// Register an endpoint for the caller's organisation (admins). The answer carries its signing
/// secret, shown this once.
#[utoipa::path(
    post,
    path = "/api/webhooks",
    request_body = NewWebhookBody,
    operation_id = "create_webhook",
    tag = "webhooks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The endpoint and its secret.", body = Envelope<WebhookSecretDto>,
            links(
                ("UpdateWebhook" = (operation_id = "update_webhook", request_body = json!({"webhook_id": "$response.body#/data/webhook/id"}), description = "The new endpoint.")),
                ("TestWebhook" = (operation_id = "test_webhook", request_body = json!({"webhook_id": "$response.body#/data/webhook/id"}), description = "The new endpoint.")),
                ("RotateWebhookSecret" = (operation_id = "rotate_webhook_secret", request_body = json!({"webhook_id": "$response.body#/data/webhook/id"}), description = "The new endpoint."))
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn create(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
    body: Json<NewWebhookBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let new = NewWebhook {
        url: b.url,
        events: parse_events(&b.events)?,
        description: b.description.unwrap_or_default(),
    };
    let created = state
        .webhooks
        .register(&auth.caller, new)
        .await
        .map_err(ApiError::from);
    let (hook, secret) =
        refusal(&state, &auth.caller, (Action::WebhookCreate, None), created).await?;
    let data = WebhookSecretDto {
        webhook: WebhookDto::new(&hook, state.tz),
        secret,
    };
    Ok(ok("已创建 Webhook", data))
}

/// The endpoints of the caller's organisations (admins).
#[utoipa::path(
    get,
    path = "/api/webhooks",
    operation_id = "webhooks",
    tag = "webhooks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The endpoints, by id.", body = Envelope<Items<WebhookDto>>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn list(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    let hooks = state.webhooks.list(&auth.caller).await?;
    let tz = state.tz;
    Ok(ok(
        "获取 Webhook 列表成功",
        Items::of(hooks, |h| WebhookDto::new(&h, tz)),
    ))
}

/// Change an endpoint's URL, events, description, or enable / disable it (admins). A disabled
/// endpoint receives nothing; what happens meanwhile is not queued for it.
#[utoipa::path(
    post,
    path = "/api/webhooks/update",
    request_body = UpdateWebhookBody,
    operation_id = "update_webhook",
    tag = "webhooks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The endpoint as changed.", body = Envelope<WebhookDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn update(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
    body: Json<UpdateWebhookBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let change = WebhookChange {
        url: b.url,
        events: b.events.as_deref().map(parse_events).transpose()?,
        enabled: b.enabled,
        description: b.description,
    };
    let id = b.webhook_id;
    let hook = state
        .webhooks
        .update(&auth.caller, WebhookId(id), change)
        .await
        .map_err(ApiError::from);
    let what = (Action::WebhookUpdate, Some(Target::Webhook(id)));
    let hook = refusal(&state, &auth.caller, what, hook).await?;
    Ok(ok("已修改 Webhook", WebhookDto::new(&hook, state.tz)))
}

/// Remove an endpoint and its deliveries (admins).
#[utoipa::path(
    post,
    path = "/api/webhooks/delete",
    request_body = WebhookIdBody,
    operation_id = "delete_webhook",
    tag = "webhooks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "Removed.", body = Envelope<DeletedDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn delete(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
    body: Json<WebhookIdBody>,
) -> Result<HttpResponse, ApiError> {
    let deleted = state
        .webhooks
        .delete(&auth.caller, WebhookId(body.webhook_id))
        .await
        .map_err(ApiError::from);
    let what = (
        Action::WebhookDelete,
        Some(Target::Webhook(body.webhook_id)),
    );
    refusal(&state, &auth.caller, what, deleted).await?;
    Ok(ok("已删除 Webhook", DeletedDto { deleted: true }))
}

/// A new signing secret, shown this once (admins). For 24 hours deliveries carry a signature
/// under each secret, so a receiver verifies with either while it switches.
#[utoipa::path(
    post,
    path = "/api/webhooks/rotate-secret",
    request_body = WebhookIdBody,
    operation_id = "rotate_webhook_secret",
    tag = "webhooks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The endpoint and its new secret.", body = Envelope<WebhookSecretDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn rotate(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
    body: Json<WebhookIdBody>,
) -> Result<HttpResponse, ApiError> {
    let rotated = state
        .webhooks
        .rotate(&auth.caller, WebhookId(body.webhook_id))
        .await
        .map_err(ApiError::from);
    let what = (
        Action::WebhookRotateSecret,
        Some(Target::Webhook(body.webhook_id)),
    );
    let (hook, secret) = refusal(&state, &auth.caller, what, rotated).await?;
    let data = WebhookSecretDto {
        webhook: WebhookDto::new(&hook, state.tz),
        secret,
    };
    Ok(ok("已更换签名密钥", data))
}

/// Queue a `ping` event for an endpoint (admins); it is delivered like any event.
#[utoipa::path(
    post,
    path = "/api/webhooks/test",
    request_body = WebhookIdBody,
    operation_id = "test_webhook",
    tag = "webhooks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The ping's event id.", body = Envelope<PingDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn test(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
    body: Json<WebhookIdBody>,
) -> Result<HttpResponse, ApiError> {
    let event = state
        .webhooks
        .test(&auth.caller, WebhookId(body.webhook_id))
        .await?;
    Ok(ok("已发送测试事件", PingDto { event_id: event.id }))
}

/// Deliveries of the caller's endpoints, newest first (admins).
#[utoipa::path(
    get,
    path = "/api/webhook-deliveries",
    params(DeliveriesQuery),
    operation_id = "webhook_deliveries",
    tag = "webhooks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "A page of deliveries.", body = Envelope<Paged<DeliveryDto>>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn deliveries(
    state: web::Data<ApiState>,
    auth: Auth,
    q: Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = PageRequest::new(q.page, q.page_size)?;
    let status =
        match q.status.as_deref() {
            None | Some("") => None,
            Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request("status 必须是 pending、succeeded 或 failed")
            })?),
        };
    let page = state
        .webhooks
        .deliveries(&auth.caller, q.webhook_id.map(WebhookId), status, page)
        .await?;
    let tz = state.tz;
    Ok(ok(
        "获取投递记录成功",
        Paged::of(page, |d| DeliveryDto::new(&d, tz)),
    ))
}

/// Try a delivery again now, with a fresh retry schedule (admins).
#[utoipa::path(
    post,
    path = "/api/webhook-deliveries/retry",
    request_body = DeliveryIdBody,
    operation_id = "retry_webhook_delivery",
    tag = "webhooks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The delivery, pending again.", body = Envelope<DeliveryDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn retry(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
    body: Json<DeliveryIdBody>,
) -> Result<HttpResponse, ApiError> {
    let d = state
        .webhooks
        .retry(&auth.caller, DeliveryId(body.delivery_id))
        .await
        .map_err(ApiError::from);
    let what = (
        Action::DeliveryRetry,
        Some(Target::Delivery(body.delivery_id)),
    );
    let d = refusal(&state, &auth.caller, what, d).await?;
    Ok(ok("已重新投递", DeliveryDto::new(&d, state.tz)))
}
