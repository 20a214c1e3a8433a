//! The OpenAPI 3.1 document of the HTTP API, generated from the code with `utoipa`, and the two
//! routes that serve it: `GET /api/openapi.json` and Swagger UI at `/api/docs/` (offline: the
//! UI's files are compiled into the binary).
//!
//! - Operations come from the `#[utoipa::path]` attributes on the handlers in [`crate::routes`].
//! - Request bodies and query strings are the handlers' own serde types (they derive
//!   [`ToSchema`] / [`utoipa::IntoParams`]), with the lengths, patterns and enums the service
//!   enforces, so that data generated from the document (`scripts/fuzz-api.sh`) is accepted. The
//!   lead filter and the import row of a request are [`LeadFilterDto`] and [`LeadImportRowDto`]
//!   here (the `leads` crate's `LeadFilterInput` and `LeadInput` with their validation spelled
//!   out; a unit test keeps the field names equal); a stored scene's filter is shown as given,
//!   `leads::LeadFilterInput`.
//! - 200 responses that create or change a task or a run carry OpenAPI links to the operations
//!   that take its id (followed by clients and by schemathesis's stateful phase).
//! - The `*Dto` structs here describe each answer's `data` field by field. The hot ones (a task, a
//!   lead, task statistics) are also what the handlers serialize; the others document `data` the
//!   handlers build with `json!`. `tests/openapi_drift.rs` checks that answers and document
//!   agree, and that [`crate::routes::ENDPOINTS`] and the document list the same operations.
//! - Error responses are the reusable components of [`ErrorEnvelope`] below, one per status and
//!   `error` code of [`crate::error`].

use std::collections::BTreeMap;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{
    AllOfBuilder, Array, ArrayBuilder, Object, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToResponse, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use crate::routes;

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
except `POST /api/login` and `GET /api/health`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        routes::auth::health,
        routes::auth::login,
        routes::auth::verify,
        routes::auth::organizations,
        routes::leads::import,
        routes::leads::list,
        routes::leads::statistics,
        routes::leads::preview,
        routes::tasks::create,
        routes::tasks::task_list,
        routes::tasks::recent,
        routes::tasks::stats,
        routes::tasks::update_script,
        routes::tasks::create_scene,
        routes::tasks::scenes,
        routes::exec::start,
        routes::exec::suspend_resume,
        routes::exec::stop,
        routes::exec::executions,
        routes::exec::follow,
        routes::exec::statistics,
        routes::exec::start_run,
        routes::exec::get_run,
        routes::exec::auto_task,
        routes::exec::config_check,
    ),
    components(
        schemas(ErrorEnvelope, ErrorCode, Pagination, CallStatusDto),
        responses(
            BadRequest,
            Unauthorized,
            InvalidCredentials,
            Forbidden,
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
        (name = "auth", description = "Login, tokens and organisations"),
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

/// Mount `GET /api/openapi.json` and Swagger UI at `/api/docs/` (no authentication).
///
/// Must be mounted before [`crate::routes::configure`], whose `/api` scope would answer 404.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/docs", web::get().to(docs_redirect))
        .service(SwaggerUi::new(format!("{DOCS_PATH}{{_:.*}}")).url(OPENAPI_PATH, document()));
}

// ----------------------------------------------------------------------------------------------
// Envelopes

/// `"success"`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum SuccessStatus {
    /// Always `success`.
    Success,
}

/// `"error"`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ErrorStatus {
    /// Always `error`.
    Error,
}

/// The success envelope: `{status: "success", code: 200, message, data}`.
#[derive(ToSchema)]
pub struct Envelope<T> {
    /// Always `success`.
    pub status: SuccessStatus,
    /// The HTTP status, 200.
    #[schema(minimum = 200, maximum = 200, example = 200)]
    pub code: u16,
    /// For people (Chinese).
    #[schema(example = "操作成功")]
    pub message: String,
    /// The payload.
    pub data: T,
}

/// Every `error` code the service answers with.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed request, unknown field or parameter, value out of range.
    InvalidRequest,
    /// 401: missing, malformed, expired or revoked token.
    Unauthorized,
    /// 401: wrong username or password.
    InvalidCredentials,
    /// 403: authenticated but not allowed (role).
    Forbidden,
    /// 404: unknown id, an id of another organisation, or an unknown path.
    NotFound,
    /// 405: the path exists for other methods (see `Allow`).
    MethodNotAllowed,
    /// 409: the task's state does not allow the operation.
    InvalidTaskState,
    /// 409: only a task in state 1 (created) can be started.
    TaskNotStartable,
    /// 409: the username exists already.
    UsernameTaken,
    /// 413: request body too large.
    PayloadTooLarge,
    /// 422: no lead matches the filter; no task was created.
    NoMatchingLeads,
    /// 422: the task has no script.
    ScriptNotSet,
    /// 429: too many failed logins; see `Retry-After`.
    TooManyAttempts,
    /// 502: the outbound-call platform refused the request.
    PlatformError,
    /// 503: the outbound-call platform cannot be reached.
    PlatformUnavailable,
    /// 503: the database cannot be reached.
    DatabaseUnavailable,
    /// 500: a bug.
    InternalError,
}

fn null_schema() -> Object {
    ObjectBuilder::new().schema_type(Type::Null).build()
}

/// The error envelope: `{status: "error", code, message, error, data: null}`.
#[derive(ToSchema)]
pub struct ErrorEnvelope {
    /// Always `error`.
    pub status: ErrorStatus,
    /// The HTTP status.
    #[schema(minimum = 400, maximum = 599, example = 409)]
    pub code: u16,
    /// For people (Chinese); never a stack trace, SQL or secret.
    #[schema(example = "任务当前状态不允许开始外呼")]
    pub message: String,
    /// Stable machine code.
    pub error: ErrorCode,
    /// Always `null`.
    #[schema(schema_with = null_schema)]
    pub data: (),
}

/// The one error answer whose `data` is not null: health's 503.
#[derive(ToSchema)]
pub struct HealthUnavailable {
    /// Always `error`.
    pub status: ErrorStatus,
    /// 503.
    #[schema(minimum = 503, maximum = 503, example = 503)]
    pub code: u16,
    /// For people.
    #[schema(example = "数据库不可用")]
    pub message: String,
    /// `database_unavailable`.
    pub error: ErrorCode,
    /// The degraded report.
    pub data: HealthData,
}

/// An error response component: [`ErrorEnvelope`] with `code` fixed to `status` and `error` one
/// of `codes`.
fn error_response(description: &str, status: u16, codes: &[&str], message: &str) -> Response {
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name("ErrorEnvelope"))
        .item(
            ObjectBuilder::new()
                .property(
                    "code",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .enum_values(Some([status])),
                )
                .property(
                    "error",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(codes.iter().copied())),
                ),
        )
        .build();
    let example = json!({ "status": "error", "code": status, "message": message, "error": codes[0], "data": null });
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Schema::AllOf(schema)))
            .example(Some(example))
            .build(),
    );
    if status == 429 {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some("Seconds until a login is accepted again."))
                .build(),
        );
    }
    response.build()
}

macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident = $status:literal, [$($code:literal),+], $message:literal, $description:literal;)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), error_response($description, $status, &[$($code),+], $message).into())
                }
            }
        )+
    };
}

error_responses! {
    /// 400 `invalid_request`.
    BadRequest = 400, ["invalid_request"], "请求参数无效: page_size must be between 1 and 100",
        "Malformed request: invalid JSON or wrong content type, unknown or missing field or query parameter, value out of range.";
    /// 401 `unauthorized`.
    Unauthorized = 401, ["unauthorized"], "未登录或登录已过期",
        "Missing, malformed, expired or revoked token.";
    /// 401 `invalid_credentials` (login).
    InvalidCredentials = 401, ["invalid_credentials"], "用户名或密码错误",
        "Wrong username or password (the same answer, and the same work, for both).";
    /// 403 `forbidden`.
    Forbidden = 403, ["forbidden"], "没有权限执行此操作",
        "Authenticated, but the role does not allow this (admin only).";
    /// 404 `not_found`.
    NotFound = 404, ["not_found"], "任务不存在",
        "Unknown id, or an id owned by another organisation (its existence is never revealed).";
    /// 409 `invalid_task_state`.
    InvalidTaskState = 409, ["invalid_task_state"], "任务当前状态（已停止）不允许此操作",
        "The task's state does not allow this transition.";
    /// 409 `task_not_startable`.
    TaskNotStartable = 409, ["task_not_startable"], "任务当前状态（进行中）不允许开始外呼",
        "Only a task in state 1 (created) can be started.";
    /// 413 `payload_too_large`.
    PayloadTooLarge = 413, ["payload_too_large"], "请求体过大",
        "Request body too large.";
    /// 422 `no_matching_leads`.
    NoMatchingLeads = 422, ["no_matching_leads"], "没有符合筛选条件的线索，任务未创建",
        "No lead matches the filter; no task was created.";
    /// 422 `script_not_set`.
    ScriptNotSet = 422, ["script_not_set"], "任务尚未设置外呼脚本",
        "The task has no script yet (`POST /api/update-script-id`).";
    /// 429 `too_many_attempts`.
    TooManyAttempts = 429, ["too_many_attempts"], "登录失败次数过多，请稍后再试",
        "Too many failed logins for this username (5 in 15 minutes) or client address (50); see `Retry-After`.";
    /// 502 `platform_error`.
    PlatformFailed = 502, ["platform_error"], "外呼平台拒绝了请求，请检查脚本与平台配置",
        "The outbound-call platform refused the request; the local state is unchanged and the call can be retried.";
    /// 503 `database_unavailable`.
    DatabaseUnavailable = 503, ["database_unavailable"], "数据库暂时不可用，请稍后重试",
        "The database cannot be reached.";
    /// 503 `database_unavailable` or `platform_unavailable`.
    Unavailable = 503, ["platform_unavailable", "database_unavailable"], "外呼平台暂时不可用，请稍后重试",
        "The outbound-call platform (`platform_unavailable`) or the database (`database_unavailable`) cannot be reached; the local state is unchanged and the call can be retried.";
}

// ----------------------------------------------------------------------------------------------
// Shared shapes

/// `data.pagination` of a paged response.
#[derive(ToSchema)]
pub struct Pagination {
    /// 1-based page number.
    #[schema(minimum = 1, example = 1)]
    pub page: u32,
    /// Items per page (1..=100).
    #[schema(minimum = 1, maximum = 100, example = 20)]
    pub page_size: u32,
    /// Items over all pages.
    #[schema(minimum = 0, example = 42)]
    pub total: i64,
    /// Number of pages (0 when there is nothing).
    #[schema(minimum = 0, example = 3)]
    pub total_pages: i64,
}

/// A page: `items` plus `pagination` (a page past the end has empty `items` and the right totals).
#[derive(ToSchema)]
pub struct Paged<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Totals.
    pub pagination: Pagination,
}

/// A list without paging: `{items}`.
#[derive(ToSchema)]
pub struct Items<T> {
    /// The items.
    pub items: Vec<T>,
}

// ----------------------------------------------------------------------------------------------
// Health, auth, organisations

/// `ok`, or `degraded` when the database cannot be reached.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Everything works.
    Ok,
    /// The database cannot be reached.
    Degraded,
}

/// `ok` or `unavailable`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DatabaseStatus {
    /// Reachable.
    Ok,
    /// Not reachable.
    Unavailable,
}

/// `data` of `GET /api/health`.
#[derive(ToSchema)]
pub struct HealthData {
    /// Overall status.
    pub status: HealthStatus,
    /// Database status.
    pub database: DatabaseStatus,
    /// Service version.
    #[schema(example = "0.1.0")]
    pub version: String,
}

/// `admin` or `operator`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum RoleDto {
    /// May manage users and run admin-only operations.
    Admin,
    /// Works with leads and tasks.
    Operator,
}

/// The contract's `User`.
#[derive(ToSchema)]
pub struct UserDto {
    /// User id.
    pub id: i64,
    /// Login name.
    #[schema(example = "admin")]
    pub username: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// Role.
    pub role: RoleDto,
    /// The user's organisation.
    pub org_id: i64,
    /// Same as `org_id` (the original system's name).
    pub dcc_user_org_id: i64,
    /// Name of the organisation.
    pub org_name: String,
}

/// `bearer`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum TokenType {
    /// Always `bearer`.
    Bearer,
}

/// `data` of `POST /api/login`.
#[derive(ToSchema)]
pub struct LoginData {
    /// The token for the `access-token` header.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: TokenType,
    /// Seconds until the token expires.
    #[schema(example = 86400)]
    pub expires_in: i64,
    /// Who logged in.
    pub user: UserDto,
}

/// `data` of `GET /api/auth/verify`.
#[derive(ToSchema)]
pub struct VerifyData {
    /// Always `true` (an invalid token is 401).
    pub valid: bool,
    /// The token's user.
    pub user: UserDto,
    /// When the token expires, `YYYY-MM-DD HH:MM:SS`.
    #[schema(example = "2025-11-02 10:00:00")]
    pub expires_at: String,
}

/// An organisation with its descendants.
#[derive(ToSchema)]
pub struct OrgNodeDto {
    /// Id (`dcc_user_org_id`).
    pub id: i64,
    /// Name.
    pub name: String,
    /// Parent id, `null` for a root.
    #[schema(required = true)]
    pub parent_id: Option<i64>,
    /// Children, by id.
    #[schema(no_recursion)]
    pub children: Vec<OrgNodeDto>,
}

// ----------------------------------------------------------------------------------------------
// Leads

/// A rejected import row.
#[derive(ToSchema)]
pub struct ImportRejectionDto {
    /// 0-based index into `leads`.
    pub index: u64,
    /// Why.
    pub error: String,
}

/// `data` of `POST /api/leads/import`.
#[derive(ToSchema)]
pub struct ImportResultDto {
    /// New leads.
    pub inserted: i64,
    /// Existing leads that changed.
    pub updated: i64,
    /// Existing leads given again unchanged.
    pub unchanged: i64,
    /// Rows refused one by one.
    pub rejected: Vec<ImportRejectionDto>,
}

/// A lead (`dcc_leads`), phone masked.
#[derive(ToSchema, serde::Serialize)]
pub struct LeadDto {
    /// Id.
    pub id: i64,
    /// Owning organisation.
    pub org_id: i64,
    /// Customer name.
    pub customer_name: String,
    /// Masked phone.
    #[schema(example = "138****5678")]
    pub phone: String,
    /// Intent level H, A, B, C or N.
    #[schema(example = "H")]
    pub level: String,
    /// Source.
    #[schema(example = "汽车之家")]
    pub source: String,
    /// Vehicle model.
    pub vehicle_model: String,
    /// Follow-up status (free text, up to 32 characters).
    #[schema(example = "未跟进")]
    pub status: String,
    /// Sales owner.
    pub owner_name: String,
    /// Created, `YYYY-MM-DD HH:MM:SS`.
    #[schema(example = "2025-11-10 10:00:00")]
    pub create_time: String,
    /// Last call, if any.
    #[schema(required = true)]
    pub last_call_time: Option<String>,
    /// Calls so far.
    pub call_count: i32,
    /// Never call.
    pub do_not_call: bool,
    /// Id in the source system.
    #[schema(required = true)]
    pub external_id: Option<String>,
}

/// `data` of `GET /api/leads/statistics`.
#[derive(ToSchema)]
pub struct LeadStatisticsDto {
    /// All leads.
    pub total: i64,
    /// Leads that may be called (not `do_not_call`).
    pub callable: i64,
    /// Count per intent level.
    pub by_level: BTreeMap<String, i64>,
    /// Count per source.
    pub by_source: BTreeMap<String, i64>,
    /// Count per follow-up status.
    pub by_status: BTreeMap<String, i64>,
}

/// `data` of `POST /api/leads/preview`.
#[derive(ToSchema)]
pub struct PreviewDto {
    /// Leads matching the filter.
    pub matched: i64,
    /// Distinct phones left after both exclusion rules (a new task's `leads_count`).
    pub deduplicated: i64,
    /// Matching leads removed because they are `do_not_call`.
    pub excluded_do_not_call: i64,
    /// Matching callable leads removed because their phone is in an unfinished task.
    pub excluded_in_active_tasks: i64,
}

// ----------------------------------------------------------------------------------------------
// Tasks and scenes

/// `data` of `POST /api/create-autoCall-tasks`.
#[derive(ToSchema)]
pub struct CreatedTaskDto {
    /// The new task's id.
    pub task_id: i64,
    /// Name.
    pub task_name: String,
    /// Always 1 (created).
    #[schema(minimum = 1, maximum = 1, example = 1)]
    pub task_type: i16,
    /// Leads in the task (distinct phones).
    pub leads_count: i64,
    /// Matching leads left out because another lead had the same phone.
    pub duplicates_removed: i64,
    /// Human summary of the filter.
    #[schema(example = "意向级别: H/A; 来源: 汽车之家; 创建时间: 2025-11-01 至 2025-11-30")]
    pub size_desc: String,
    /// Created, `YYYY-MM-DD HH:MM:SS`.
    pub create_time: String,
}

/// The contract's `Task`.
#[derive(ToSchema, serde::Serialize)]
pub struct TaskDto {
    /// Id.
    pub id: i64,
    /// Name.
    pub task_name: String,
    /// State: 1 created, 2 running, 3 completed, 4 paused, 5 stopped.
    #[schema(minimum = 1, maximum = 5, example = 1)]
    pub task_type: i16,
    /// Created, `YYYY-MM-DD HH:MM:SS`.
    pub create_time: String,
    /// Last changed, `YYYY-MM-DD HH:MM:SS`.
    pub update_time: String,
    /// Leads in the task.
    pub leads_count: i64,
    /// Script on the platform (`""` when not set).
    pub script_id: String,
    /// Platform job group, once started.
    #[schema(required = true)]
    pub job_group_id: Option<String>,
    /// Human summary of the filter.
    pub size_desc: String,
    /// Leads whose call was attempted.
    pub called_count: i64,
    /// Leads whose call connected.
    pub connected_count: i64,
}

/// `data` of `GET /api/task-stats`.
#[derive(ToSchema)]
pub struct TaskStatsDto {
    /// Tasks.
    pub total_tasks: i64,
    /// Tasks per state code (`"1"`..`"5"`).
    pub by_type: BTreeMap<String, i64>,
    /// Leads over all tasks.
    pub total_leads: i64,
    /// Called leads.
    pub called: i64,
    /// Connected leads.
    pub connected: i64,
    /// connected / called, 0..1 (0 when nothing was called).
    #[schema(minimum = 0, maximum = 1)]
    pub connect_rate: f64,
}

/// A scene: a saved script and filter.
#[derive(ToSchema)]
pub struct SceneDto {
    /// Id.
    pub id: i64,
    /// Name.
    pub scene_name: String,
    /// Script.
    pub script_id: String,
    /// Description (`""` when none).
    pub description: String,
    /// The filter.
    pub filters: leads::LeadFilterInput,
    /// Created, `YYYY-MM-DD HH:MM:SS`.
    pub create_time: String,
}

// ----------------------------------------------------------------------------------------------
// Execution

/// `data` of `POST /api/start-call-task`.
#[derive(ToSchema)]
pub struct StartedDto {
    /// The task.
    pub task_id: i64,
    /// Always 2 (running).
    #[schema(minimum = 2, maximum = 2, example = 2)]
    pub task_type: i16,
    /// The platform job group.
    pub job_group_id: String,
    /// Leads to call.
    pub leads_total: i64,
}

/// The call status of a lead in a task.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CallStatusDto {
    /// Not yet sent to the platform.
    Pending,
    /// Transient: claimed by the dispatcher, the platform request in flight.
    Assigning,
    /// Sent: the platform has a job for it.
    Dispatched,
    /// Being called.
    Calling,
    /// Final: answered.
    Connected,
    /// Final: not answered.
    NoAnswer,
    /// Final: line busy.
    Busy,
    /// Final: number unreachable.
    Unreachable,
    /// Final: refused by the platform.
    Rejected,
    /// Final: the call failed.
    Failed,
    /// Final: cancelled (task stopped).
    Cancelled,
}

/// A per-lead execution row.
#[derive(ToSchema)]
pub struct ExecutionRowDto {
    /// The lead.
    pub lead_id: i64,
    /// Customer name.
    pub customer_name: String,
    /// Masked phone.
    #[schema(example = "138****5678")]
    pub phone: String,
    /// Call status.
    pub call_status: CallStatusDto,
    /// Dial attempts.
    pub attempts: i32,
    /// Last call, `YYYY-MM-DD HH:MM:SS`.
    #[schema(required = true)]
    pub last_call_time: Option<String>,
    /// Duration of the connected call.
    #[schema(required = true)]
    pub duration_seconds: Option<i32>,
    /// Intent level from the call.
    #[schema(required = true)]
    pub intent_level: Option<String>,
    /// Platform job id.
    #[schema(required = true)]
    pub job_id: Option<String>,
}

/// `data` of `POST /api/query-task-execution`.
#[derive(ToSchema)]
pub struct ExecutionPageDto {
    /// Rows of this page.
    pub items: Vec<ExecutionRowDto>,
    /// Totals.
    pub pagination: Pagination,
    /// Leads of the task per call status (every status, zeros included).
    pub summary: BTreeMap<String, i64>,
}

/// A follow-up row of `GET /api/get-leads-follow`.
#[derive(ToSchema)]
pub struct FollowRowDto {
    /// The lead.
    pub lead_id: i64,
    /// Customer name.
    pub customer_name: String,
    /// Masked phone.
    #[schema(example = "138****5678")]
    pub phone: String,
    /// Call status.
    pub call_status: CallStatusDto,
    /// Intent level from the call.
    #[schema(required = true)]
    pub intent_level: Option<String>,
    /// Intent tags from the call.
    pub intent_tags: Vec<String>,
    /// Call summary.
    #[schema(required = true)]
    pub summary: Option<String>,
    /// Suggested follow-up.
    #[schema(required = true)]
    pub follow_suggestion: Option<String>,
    /// Last call, `YYYY-MM-DD HH:MM:SS`.
    #[schema(required = true)]
    pub call_time: Option<String>,
    /// Duration of the connected call.
    #[schema(required = true)]
    pub duration_seconds: Option<i32>,
}

/// `data` of `GET /api/task-statistics`.
#[derive(ToSchema, serde::Serialize)]
pub struct TaskStatisticsDto {
    /// The task.
    pub task_id: i64,
    /// Its state (1..5).
    #[schema(minimum = 1, maximum = 5)]
    pub task_type: i16,
    /// Leads in the task.
    pub leads_total: i64,
    /// Leads with a platform job.
    pub dispatched: i64,
    /// Leads whose dial was attempted.
    pub called: i64,
    /// Leads whose call connected.
    pub connected: i64,
    /// connected / called, 0..1 (0 when nothing was called).
    #[schema(minimum = 0, maximum = 1)]
    pub connect_rate: f64,
    /// Average duration of connected calls.
    pub avg_duration_seconds: f64,
    /// Leads per call status.
    pub by_call_status: BTreeMap<String, i64>,
    /// Leads per intent level.
    pub by_intent_level: BTreeMap<String, i64>,
    /// Final leads / leads × 100, one decimal.
    #[schema(minimum = 0, maximum = 100)]
    pub progress: f64,
}

/// Status of a query execution run.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum RunStatus {
    /// Waiting for a worker.
    Pending,
    /// Being worked.
    Running,
    /// Done.
    Succeeded,
    /// Gave up; see `error`.
    Failed,
}

/// A query execution run.
#[derive(ToSchema)]
pub struct RunDto {
    /// Id.
    pub run_id: i64,
    /// The task.
    pub task_id: i64,
    /// Status.
    pub status: RunStatus,
    /// Leads of the task.
    pub total: i64,
    /// Results pulled so far.
    pub processed: i64,
    /// processed / total × 100, one decimal (100 when succeeded).
    #[schema(minimum = 0, maximum = 100)]
    pub progress: f64,
    /// When a worker started it.
    #[schema(required = true)]
    pub started_at: Option<String>,
    /// When it finished.
    #[schema(required = true)]
    pub finished_at: Option<String>,
    /// Why it failed.
    #[schema(required = true)]
    pub error: Option<String>,
}

/// `data` of `POST /api/auto-task`: the monitor of this instance.
#[derive(ToSchema)]
pub struct MonitorDto {
    /// Whether it ticks.
    pub running: bool,
    /// Tick interval.
    pub interval_seconds: u64,
    /// Last tick, `YYYY-MM-DD HH:MM:SS`.
    #[schema(required = true)]
    pub last_tick_at: Option<String>,
    /// Error of the last tick.
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// Tasks the last tick looked at.
    pub tasks_watched: u64,
}

/// `ok`, `warn` or `fail`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Fine.
    Ok,
    /// Works, but look at it.
    Warn,
    /// Broken.
    Fail,
}

/// One configuration check.
#[derive(ToSchema)]
pub struct CheckDto {
    /// What was checked (`database`, `migrations`, `platform_configured`, `platform_reachable`,
    /// `token_secret`, `monitor`).
    pub name: String,
    /// Result.
    pub status: CheckStatus,
    /// For people.
    pub detail: String,
}

/// `data` of `GET /api/config-check`.
#[derive(ToSchema)]
pub struct ConfigCheckDto {
    /// The checks.
    pub checks: Vec<CheckDto>,
}

// ----------------------------------------------------------------------------------------------
// Request-only shapes
//
// A request schema says what the service accepts, so that data generated from it (schemathesis)
// is really accepted: lengths, patterns and enums mirror the handlers' and the domain's
// validation. No text may contain U+0000 (PostgreSQL cannot store it; 400). Values are trimmed
// before lengths are checked, so a value that is blank is refused where one is required.

/// Pattern of a time the API accepts: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` (the service's time
/// zone) or ISO-8601 with `T` and an offset. Years are four digits (0000..=9999).
pub const TIME_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]|T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$";
/// Pattern of required text: not blank, no U+0000.
pub const NOT_BLANK_PATTERN: &str = r"^[^\u0000]*[^\s\u0000][^\u0000]*$";
/// Pattern of optional text: no U+0000.
pub const NO_NUL_PATTERN: &str = r"^[^\u0000]*$";
/// Pattern of a mainland mobile number: 11 digits starting with 1.
pub const PHONE_PATTERN: &str = r"^1[0-9]{10}$";

/// Longest list a filter field accepts (the `leads` crate's `MAX_LIST`).
pub const FILTER_MAX_LIST: usize = 200;

fn nullable(t: Type) -> SchemaType {
    SchemaType::from_iter([t, Type::Null])
}

fn time_schema(description: &str, example: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(nullable(Type::String))
        .pattern(Some(TIME_PATTERN))
        .description(Some(description))
        .examples([json!(example)])
        .build()
}

fn text_list_schema(max_chars: usize, description: &str, example: serde_json::Value) -> Array {
    ArrayBuilder::new()
        .schema_type(nullable(Type::Array))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(max_chars))
                .pattern(Some(NOT_BLANK_PATTERN)),
        )
        .max_items(Some(FILTER_MAX_LIST))
        .description(Some(description))
        .examples([example])
        .build()
}

fn filter_sources() -> Array {
    text_list_schema(64, "Sources (each 1..=64 characters).", json!(["汽车之家"]))
}

fn filter_statuses() -> Array {
    text_list_schema(
        32,
        "Follow-up statuses (each 1..=32 characters).",
        json!(["未跟进"]),
    )
}

fn filter_vehicle_models() -> Array {
    text_list_schema(
        64,
        "Vehicle models (each 1..=64 characters).",
        json!(["凯美瑞"]),
    )
}

fn filter_created_from() -> Object {
    time_schema("Created at or after (inclusive).", "2025-11-01")
}

fn filter_created_to() -> Object {
    time_schema(
        "Created at or before (inclusive; a bare date means the whole day). Not before `created_from`.",
        "2025-11-30",
    )
}

fn filter_not_called_since() -> Object {
    time_schema(
        "Not called since (never called counts as not called).",
        "2025-11-01 00:00:00",
    )
}

fn row_create_time() -> Object {
    time_schema("Creation time (default: now).", "2025-11-10 10:00:00")
}

/// An intent level: `H`, `A`, `B`, `C`, or `N` for none.
#[derive(ToSchema, serde::Deserialize)]
pub enum LevelDto {
    /// High.
    H,
    /// A.
    A,
    /// B.
    B,
    /// C.
    C,
    /// None.
    N,
}

/// The lead filter of a request. All optional; parts combine with AND, the values of one list
/// with OR. Unknown fields are 400. `do_not_call` leads are never selected.
#[derive(ToSchema, serde::Deserialize)]
#[schema(as = LeadFilter)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LeadFilterDto {
    /// Organisations (each must be in the caller's subtree, else 404).
    #[schema(max_items = 200, example = json!([1]))]
    pub org_ids: Option<Vec<i64>>,
    /// Intent levels.
    #[schema(max_items = 200, example = json!(["H", "A"]))]
    pub levels: Option<Vec<LevelDto>>,
    /// Sources.
    #[schema(schema_with = filter_sources)]
    pub sources: Option<Vec<String>>,
    /// Follow-up statuses.
    #[schema(schema_with = filter_statuses)]
    pub statuses: Option<Vec<String>>,
    /// Vehicle models.
    #[schema(schema_with = filter_vehicle_models)]
    pub vehicle_models: Option<Vec<String>>,
    /// Created at or after.
    #[schema(schema_with = filter_created_from)]
    pub created_from: Option<String>,
    /// Created at or before.
    #[schema(schema_with = filter_created_to)]
    pub created_to: Option<String>,
    /// Not called since.
    #[schema(schema_with = filter_not_called_since)]
    pub not_called_since: Option<String>,
    /// At most this many calls so far.
    #[schema(minimum = 0, maximum = 2147483647, example = 3)]
    pub max_call_count: Option<i64>,
    /// Literal substring of the customer name or the phone (`%` and `_` are plain characters),
    /// up to 64 characters.
    #[schema(max_length = 64, pattern = r"^[^\u0000]*$", example = "张")]
    pub keyword: Option<String>,
    /// Leave out leads whose phone is in a task in state 1, 2 or 4 of the same organisation
    /// (default true).
    pub exclude_in_active_tasks: Option<bool>,
}

/// A row of `POST /api/leads/import`. A row that breaks these rules (or has an unknown field) is
/// reported in `rejected`; the other rows are imported.
#[derive(ToSchema, serde::Deserialize)]
#[schema(as = LeadImportRow)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LeadImportRowDto {
    /// Id in the source system (identity when given), up to 64 characters.
    #[schema(max_length = 64, pattern = r"^[^\u0000]*$")]
    pub external_id: Option<String>,
    /// Customer name, 1..=64 characters.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$",
        example = "张三"
    )]
    pub customer_name: String,
    /// Mainland mobile number: 11 digits starting with 1 (spaces, dashes and a `+86` prefix are
    /// removed first).
    #[schema(pattern = r"^1[0-9]{10}$", example = "13812345678")]
    pub phone: String,
    /// Intent level.
    pub level: Option<LevelDto>,
    /// Source, up to 64 characters.
    #[schema(max_length = 64, pattern = r"^[^\u0000]*$", example = "汽车之家")]
    pub source: Option<String>,
    /// Vehicle model, up to 64 characters.
    #[schema(max_length = 64, pattern = r"^[^\u0000]*$")]
    pub vehicle_model: Option<String>,
    /// Follow-up status (free text), up to 32 characters.
    #[schema(max_length = 32, pattern = r"^[^\u0000]*$", example = "未跟进")]
    pub status: Option<String>,
    /// Sales owner, up to 64 characters.
    #[schema(max_length = 64, pattern = r"^[^\u0000]*$")]
    pub owner_name: Option<String>,
    /// Creation time.
    #[schema(schema_with = row_create_time)]
    pub create_time: Option<String>,
    /// Never call.
    pub do_not_call: Option<bool>,
}

/// `suspend` or `resume`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum SuspendAction {
    /// 2 → 4.
    Suspend,
    /// 4 → 2.
    Resume,
}

/// `start`, `stop` or `check`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum AutoTaskAction {
    /// Start the monitor (admin).
    Start,
    /// Stop the monitor (admin).
    Stop,
    /// Report its status.
    Check,
}

// ----------------------------------------------------------------------------------------------
// Checking JSON against the document (used by the drift tests, here and end to end)

/// The JSON schema of the `application/json` body of the `status` response of `method path`
/// (`method` lowercase, `path` as in the document, e.g. `/api/task_list`), with a response
/// `$ref` resolved. `None` when the document has no such response.
pub fn response_schema(
    doc: &serde_json::Value,
    method: &str,
    path: &str,
    status: u16,
) -> Option<serde_json::Value> {
    let mut response = doc
        .get("paths")?
        .get(path)?
        .get(method)?
        .get("responses")?
        .get(status.to_string())?;
    if let Some(r) = response.get("$ref").and_then(|r| r.as_str()) {
        response = resolve(doc, r)?;
    }
    response
        .get("content")?
        .get("application/json")?
        .get("schema")
        .cloned()
}

fn resolve<'d>(doc: &'d serde_json::Value, reference: &str) -> Option<&'d serde_json::Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// Check `value` against `schema` of `doc`: the subset of JSON Schema the document uses (`$ref`,
/// `allOf`, `oneOf`, `anyOf`, `type`, `enum`, `const`, `required`, `properties`,
/// `additionalProperties`, `items`, `minimum`, `maximum`, `minLength`, `maxLength`). Objects are
/// closed: a property the schema does not name is an error unless `additionalProperties` allows
/// it, so a field a handler adds without documenting it is caught. Returns the problems found,
/// each with its JSON path.
pub fn validate(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
) -> Vec<String> {
    let mut errors = Vec::new();
    check(doc, schema, value, "$", true, &mut errors);
    errors
}

fn known_properties(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    out: &mut Vec<String>,
    open: &mut bool,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    if let Some(target) = schema
        .get("$ref")
        .and_then(|r| r.as_str())
        .and_then(|r| resolve(doc, r))
    {
        known_properties(doc, target, out, open, depth + 1);
    }
    if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
        out.extend(props.keys().cloned());
    }
    match schema.get("additionalProperties") {
        None | Some(serde_json::Value::Bool(false)) => {}
        Some(_) => *open = true,
    }
    for branch in schema
        .get("allOf")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
    {
        known_properties(doc, branch, out, open, depth + 1);
    }
}

fn type_matches(name: &str, value: &serde_json::Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn check(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
    closed: bool,
    errors: &mut Vec<String>,
) {
    if let Some(r) = schema.get("$ref").and_then(|r| r.as_str()) {
        match resolve(doc, r) {
            Some(target) => check(doc, target, value, at, closed, errors),
            None => errors.push(format!("{at}: unresolved $ref {r}")),
        }
    }
    if let Some(branches) = schema.get("allOf").and_then(|a| a.as_array()) {
        for b in branches {
            check(doc, b, value, at, false, errors);
        }
    }
    for (key, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(branches) = schema.get(key).and_then(|a| a.as_array()) {
            let passing = branches
                .iter()
                .filter(|b| {
                    let mut e = Vec::new();
                    check(doc, b, value, at, closed, &mut e);
                    e.is_empty()
                })
                .count();
            if passing == 0 || (exactly_one && passing > 1) {
                errors.push(format!(
                    "{at}: {value} matches {passing} of the {key} branches"
                ));
            }
        }
    }
    match schema.get("type") {
        Some(serde_json::Value::String(t)) if !type_matches(t, value) => {
            errors.push(format!("{at}: expected {t}, got {value}"));
            return;
        }
        Some(serde_json::Value::Array(ts))
            if !ts
                .iter()
                .filter_map(|t| t.as_str())
                .any(|t| type_matches(t, value)) =>
        {
            errors.push(format!(
                "{at}: expected one of {}, got {value}",
                serde_json::Value::Array(ts.clone())
            ));
            return;
        }
        _ => {}
    }
    if let Some(allowed) = schema.get("enum").and_then(|e| e.as_array())
        && !allowed.contains(value)
    {
        errors.push(format!(
            "{at}: {value} is not one of {}",
            serde_json::Value::Array(allowed.clone())
        ));
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        errors.push(format!("{at}: {value} is not {c}"));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(|m| m.as_f64())
            && n < min
        {
            errors.push(format!("{at}: {n} is below the minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(|m| m.as_f64())
            && n > max
        {
            errors.push(format!("{at}: {n} is above the maximum {max}"));
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(|m| m.as_u64())
            .is_some_and(|m| len < m)
        {
            errors.push(format!("{at}: {value} is too short"));
        }
        if schema
            .get("maxLength")
            .and_then(|m| m.as_u64())
            .is_some_and(|m| len > m)
        {
            errors.push(format!("{at}: {value} is too long"));
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"), true, errors);
        }
    }
    let Some(object) = value.as_object() else {
        return;
    };
    if let Some(required) = schema.get("required").and_then(|r| r.as_array()) {
        for name in required.iter().filter_map(|r| r.as_str()) {
            if !object.contains_key(name) {
                errors.push(format!("{at}: missing required property `{name}`"));
            }
        }
    }
    let props = schema.get("properties").and_then(|p| p.as_object());
    for (name, v) in object {
        match props.and_then(|p| p.get(name)) {
            Some(s) => check(doc, s, v, &format!("{at}.{name}"), true, errors),
            None => {
                if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                    check(doc, extra, v, &format!("{at}.{name}"), true, errors);
                }
            }
        }
    }
    // closedness is judged once, on the whole schema (its `$ref` and `allOf` parts together)
    if closed && (schema.get("properties").is_some() || schema.get("allOf").is_some()) {
        let mut known = Vec::new();
        let mut open = false;
        known_properties(doc, schema, &mut known, &mut open, 0);
        if !open {
            for name in object.keys().filter(|k| !known.contains(k)) {
                errors.push(format!("{at}: property `{name}` is not in the schema"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> serde_json::Value {
        serde_json::to_value(document()).expect("document serialises")
    }

    /// The field names serde accepts for `T` (from its `unknown field` error).
    fn accepted_fields<T: serde::de::DeserializeOwned>() -> Vec<String> {
        let err = serde_json::from_value::<T>(json!({"__unknown__": 1}))
            .err()
            .expect("unknown field refused")
            .to_string();
        let list = err.split_once("expected").expect("field list").1;
        let mut names: Vec<String> = list
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    }

    fn properties(doc: &serde_json::Value, schema: &str) -> Vec<String> {
        let mut names: Vec<String> = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("schema {schema} has properties"))
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    #[test]
    fn request_schemas_name_exactly_the_fields_the_domain_types_accept() {
        let doc = doc();
        assert_eq!(
            properties(&doc, "LeadFilter"),
            accepted_fields::<leads::LeadFilterInput>()
        );
        assert_eq!(
            properties(&doc, "LeadImportRow"),
            accepted_fields::<leads::LeadInput>()
        );
        for schema in ["LeadFilter", "LeadImportRow"] {
            assert_eq!(
                doc["components"]["schemas"][schema]["additionalProperties"],
                json!(false),
                "{schema}"
            );
        }
    }

    #[test]
    fn request_patterns_are_the_documented_constants() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["LeadFilter"]["properties"]["created_from"]["pattern"],
            TIME_PATTERN
        );
        assert_eq!(
            schemas["LeadImportRow"]["properties"]["create_time"]["pattern"],
            TIME_PATTERN
        );
        assert_eq!(
            schemas["LeadImportRow"]["properties"]["phone"]["pattern"],
            PHONE_PATTERN
        );
        assert_eq!(
            schemas["LeadImportRow"]["properties"]["customer_name"]["pattern"],
            NOT_BLANK_PATTERN
        );
        assert_eq!(
            schemas["LeadFilter"]["properties"]["keyword"]["pattern"],
            NO_NUL_PATTERN
        );
        assert_eq!(
            schemas["LeadFilter"]["properties"]["sources"]["items"]["pattern"],
            NOT_BLANK_PATTERN
        );
        let params = doc["paths"]["/api/leads"]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        for name in ["created_from", "created_to", "not_called_since"] {
            let p = params.iter().find(|p| p["name"] == name).expect(name);
            assert_eq!(p["schema"]["pattern"], TIME_PATTERN, "{name}");
        }
        assert_eq!(
            schemas["CreateBody"]["properties"]["task_name"]["pattern"],
            NOT_BLANK_PATTERN
        );
    }

    /// Times that match [`TIME_PATTERN`] are accepted by the service's parser, and the forms it
    /// refuses do not match.
    #[test]
    fn time_pattern_agrees_with_the_parser() {
        let tz = chrono_tz::Asia::Shanghai;
        let valid = [
            "2025-11-01",
            "2025-11-01 08:30:00",
            "2025-11-01T08:30:00+08:00",
            "2025-11-01T08:30:00.123Z",
            "0000-01-01",
            "9999-12-31 23:59:59",
        ];
        for t in valid {
            assert!(kernel::parse_time(t, tz).is_some(), "{t}");
        }
        // the shapes of the pattern, spelled out (no regex engine in the dependencies)
        assert!(TIME_PATTERN.starts_with("^[0-9]{4}-") && TIME_PATTERN.ends_with(")?$"));
        // out-of-range years are refused by the parser itself (so validation answers 400)
        assert!(kernel::parse_time("-200000-01-01", tz).is_none());
    }

    #[test]
    fn links_use_the_specification_field_names_and_resolve() {
        let doc = doc();
        let mut operation_ids = Vec::new();
        for item in doc["paths"].as_object().expect("paths").values() {
            for op in item.as_object().expect("path item").values() {
                if let Some(id) = op["operationId"].as_str() {
                    operation_ids.push(id.to_owned());
                }
            }
        }
        let mut links = 0;
        for item in doc["paths"].as_object().expect("paths").values() {
            for op in item.as_object().expect("path item").values() {
                let Some(responses) = op["responses"].as_object() else {
                    continue;
                };
                for response in responses.values() {
                    let Some(map) = response["links"].as_object() else {
                        continue;
                    };
                    for (name, link) in map {
                        links += 1;
                        for snake in ["operation_id", "operation_ref", "request_body"] {
                            assert!(link.get(snake).is_none(), "{name}: {link}");
                        }
                        let target = link["operationId"].as_str().expect("operationId");
                        assert!(
                            operation_ids.iter().any(|o| o == target),
                            "{name} → {target}"
                        );
                    }
                }
            }
        }
        assert!(links > 10, "{links} links");
    }
}
