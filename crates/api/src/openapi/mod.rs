//! The OpenAPI 3.1 document of the API, assembled from the code with `utoipa`, and the two
//! routes that serve it: `GET /api/openapi.json` and Swagger UI at `/api/docs/` (offline: the
//! UI's files are compiled into the binary).
//!
//! This module only assembles: operations come from the `#[utoipa::path]` attributes on the
//! handlers, request and response shapes from the DTOs beside them (each area's `dto.rs`; types
//! the API shows as they are, such as call and run statuses, derive their schemas in their own
//! crates behind an `openapi` feature), error responses from [`crate::responses`]. 200 responses that
//! create or change a task or a run carry OpenAPI links to the operations that take its id
//! (followed by clients and by schemathesis's stateful phase). `tests/openapi_drift.rs` checks
//! that answers and document agree, and that the routes and the document list the same
//! operations.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use kernel::Pagination;
use tasks::call_status::CallStatus;
use utoipa::openapi::RefOr;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ErrorCode;
use crate::error::ErrorEnvelope;
use crate::responses::{
    AccountConflict, AccountDisabled, BadPasswordChange, BadRequest, DatabaseUnavailable,
    Forbidden, InvalidCredentials, InvalidTaskState, NoMatchingLeads, NotFound, OrgNameTaken,
    PasswordChangeRequired, PayloadTooLarge, PlatformFailed, ScriptNotSet, TaskNotStartable,
    TooManyAttempts, Unauthorized, Unavailable, UsernameTaken,
};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Where Swagger UI is served.
pub const DOCS_PATH: &str = "/api/docs/";
/// Name of the `access-token` header security scheme.
pub const ACCESS_TOKEN_SCHEME: &str = "access_token";
/// Name of the `Authorization: Bearer` security scheme (accepted as well).
pub const BEARER_SCHEME: &str = "bearer_token";

/// The OpenAPI document of the service.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "outbound",
        description = "Outbound-call task service: the HTTP contract of the dcc-digital-employee frontend.\n\n\
Every response is an envelope: `{status: \"success\", code: 200, message, data}` on success, \
`{status: \"error\", code, message, error, data: null}` on error, where `code` equals the HTTP status, \
`message` is for people (Chinese) and `error` is a stable snake_case machine code. \
Timestamps are `YYYY-MM-DD HH:MM:SS` in the service's time zone (default Asia/Shanghai). \
Phone numbers are masked (`138****5678`). Unknown JSON fields and unknown query parameters are 400. \
Any endpoint that reaches the database may answer 503 `database_unavailable`; a 500 `internal_error` is always a bug.\n\n\
Authentication: header `access-token: <token>` (or `Authorization: Bearer <token>`) on every endpoint \
except `POST /api/login` and `GET /api/health` (and its `/live` and `/ready`).",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        crate::health::health,
        crate::health::live,
        crate::health::ready,
        crate::auth::login,
        crate::auth::verify,
        crate::auth::organizations,
        crate::auth::create_organization,
        crate::accounts::logout,
        crate::accounts::change_password,
        crate::accounts::list,
        crate::accounts::create,
        crate::accounts::update,
        crate::accounts::disable,
        crate::accounts::enable,
        crate::accounts::reset_password,
        crate::leads::import,
        crate::leads::list,
        crate::leads::statistics,
        crate::leads::preview,
        crate::tasks::create,
        crate::tasks::task_list,
        crate::tasks::recent,
        crate::tasks::stats,
        crate::tasks::update_script,
        crate::tasks::create_scene,
        crate::tasks::scenes,
        crate::execution::start,
        crate::execution::suspend_resume,
        crate::execution::stop,
        crate::execution::executions,
        crate::export::export,
        crate::execution::follow,
        crate::execution::statistics,
        crate::execution::start_run,
        crate::execution::get_run,
        crate::execution::auto_task,
        crate::health::config_check,
        crate::audit::audit_log,
        crate::webhooks::create,
        crate::webhooks::list,
        crate::webhooks::update,
        crate::webhooks::delete,
        crate::webhooks::rotate,
        crate::webhooks::test,
        crate::webhooks::deliveries,
        crate::webhooks::retry,
    ),
    components(
        schemas(ErrorEnvelope, ErrorCode, Pagination, CallStatus),
        responses(
            BadRequest,
            Unauthorized,
            InvalidCredentials,
            Forbidden,
            PasswordChangeRequired,
            AccountDisabled,
            BadPasswordChange,
            UsernameTaken,
            AccountConflict,
            OrgNameTaken,
            NotFound,
            InvalidTaskState,
            TaskNotStartable,
            PayloadTooLarge,
            NoMatchingLeads,
            ScriptNotSet,
            TooManyAttempts,
            PlatformFailed,
            DatabaseUnavailable,
            Unavailable,
        ),
    ),
    modifiers(&SecuritySchemes, &LinkFieldNames),
    tags(
        (name = "health", description = "Liveness and configuration"),
        (name = "audit", description = "The audit trail"),
        (name = "auth", description = "Login, tokens and organisations"),
        (name = "accounts", description = "Users managed by admins, own password, logout"),
        (name = "webhooks", description = "Signed events to the dealer's systems, with their deliveries"),
        (name = "leads", description = "Sales leads (dcc_leads): import, list, statistics, preview"),
        (name = "tasks", description = "Call tasks and scenes"),
        (name = "execution", description = "Running tasks on the outbound-call platform, results, monitor"),
    ),
)]
pub struct ApiDoc;

/// Adds the two security schemes the operations refer to.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            ACCESS_TOKEN_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "access-token",
                "The token from `POST /api/login` (a JWT signed with HS256).",
            ))),
        );
        components.add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The same token as `Authorization: Bearer <token>`."))
                    .build(),
            ),
        );
    }
}

/// utoipa 5 writes a link's `operationId`, `operationRef` and `requestBody` in snake case
/// (`operation_id`, ...), names no OpenAPI tool reads; this moves them to the names of the
/// specification, so that clients (and schemathesis's stateful phase) can follow the links.
struct LinkFieldNames;

impl Modify for LinkFieldNames {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for op in operations.into_iter().flatten() {
                for response in op.responses.responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    for link in response.links.values_mut() {
                        let RefOr::T(link) = link else { continue };
                        let ext = link.extensions.get_or_insert_with(Default::default);
                        if !link.operation_id.is_empty() {
                            ext.insert(
                                "operationId".into(),
                                std::mem::take(&mut link.operation_id).into(),
                            );
                        }
                        if !link.operation_ref.is_empty() {
                            ext.insert(
                                "operationRef".into(),
                                std::mem::take(&mut link.operation_ref).into(),
                            );
                        }
                        if let Some(body) = link.request_body.take() {
                            ext.insert("requestBody".into(), body);
                        }
                    }
                }
            }
        }
    }
}

static DOC: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// The generated document (built once per process).
pub fn document() -> utoipa::openapi::OpenApi {
    DOC.clone()
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, DOCS_PATH))
        .finish()
}

/// Mount `GET /api/openapi.json` and Swagger UI at `/api/docs/` (no authentication), before the
/// API's `/api` scope, whose default service would answer 404.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/docs", web::get().to(docs_redirect))
        .service(SwaggerUi::new(format!("{DOCS_PATH}{{_:.*}}")).url(OPENAPI_PATH, document()));
}
