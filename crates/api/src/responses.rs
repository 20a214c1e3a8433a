//! The reusable error responses of the document: one per status and `error` code, each the
//! error envelope with `code` and `error` pinned.

use serde_json::json;
use utoipa::ToResponse;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use crate::error::ErrorCode;

/// An error response component: `ErrorEnvelope` with `code` fixed to `status` and `error` one
/// of `codes`.
fn error_response(description: &str, codes: &[ErrorCode], message: &str) -> Response {
    // the codes of one response share their status
    let status = codes.first().map_or(500, |c| c.status().as_u16());
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
                        .enum_values(Some(codes.iter().map(|c| c.as_str()))),
                ),
        )
        .build();
    let first = codes.first().map(|c| c.as_str());
    let example = json!({ "status": "error", "code": status, "message": message, "error": first, "data": null });
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
    ($($(#[$doc:meta])* $name:ident = [$($code:ident),+], $message:literal, $description:literal;)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), error_response($description, &[$(ErrorCode::$code),+], $message).into())
                }
            }
        )+
    };
}

error_responses! {
    /// 400 `invalid_request`.
    BadRequest = [InvalidRequest], "分页参数无效: page_size 须为 1 到 100",
        "Malformed request: invalid JSON or wrong content type, unknown or missing field or query parameter, value out of range.";
    /// 401 `unauthorized`.
    Unauthorized = [Unauthorized], "未登录或登录已过期",
        "Missing, malformed, expired or revoked token.";
    /// 401 `invalid_credentials` (login).
    InvalidCredentials = [InvalidCredentials], "用户名或密码错误",
        "Wrong username or password (the same answer, and the same work, for both).";
    /// 403 `forbidden` or `password_change_required`.
    Forbidden = [Forbidden, PasswordChangeRequired], "没有权限执行此操作",
        "Authenticated, but the role does not allow this (admin only), or the user must change a reset password first (`password_change_required`).";
    /// 403 `password_change_required`.
    PasswordChangeRequired = [PasswordChangeRequired], "请先修改密码",
        "The user must change the password an admin reset (`POST /api/me/password`) before anything else.";
    /// 403 `account_disabled` (login).
    AccountDisabled = [AccountDisabled], "账号已停用",
        "The right password of a disabled account.";
    /// 400 `invalid_request` or `wrong_password`.
    BadPasswordChange = [InvalidRequest, WrongPassword], "当前密码错误",
        "Malformed request, a new password outside 8..=256 characters or equal to the current one (`invalid_request`), or a wrong current password (`wrong_password`).";
    /// 409 `username_taken`.
    UsernameTaken = [UsernameTaken], "用户名已存在",
        "Another user has that username.";
    /// 409 `last_admin` or `own_account`.
    AccountConflict = [LastAdmin, OwnAccount], "该组织至少需要保留一名启用的管理员",
        "The change would leave an organisation without an enabled admin (`last_admin`), or an admin tried to disable, demote or move their own account (`own_account`); nothing changed.";
    /// 409 `org_name_taken`.
    OrgNameTaken = [OrgNameTaken], "同级组织中已有同名组织",
        "A sibling organisation has that name.";
    /// 404 `not_found`.
    NotFound = [NotFound], "任务不存在",
        "Unknown id, or an id owned by another organisation (its existence is never revealed).";
    /// 409 `invalid_task_state`.
    InvalidTaskState = [InvalidTaskState], "任务当前状态（已停止）不允许此操作",
        "The task's state does not allow this transition.";
    /// 409 `task_not_startable`.
    TaskNotStartable = [TaskNotStartable], "任务当前状态（进行中）不允许开始外呼",
        "Only a task in state 1 (created) can be started.";
    /// 413 `payload_too_large`.
    PayloadTooLarge = [PayloadTooLarge], "请求体过大",
        "Request body too large.";
    /// 422 `no_matching_leads`.
    NoMatchingLeads = [NoMatchingLeads], "没有符合筛选条件的线索，任务未创建",
        "No lead matches the filter; no task was created.";
    /// 422 `script_not_set`.
    ScriptNotSet = [ScriptNotSet], "任务尚未设置外呼脚本",
        "The task has no script yet (`POST /api/update-script-id`).";
    /// 429 `too_many_attempts`.
    TooManyAttempts = [TooManyAttempts], "登录失败次数过多，请稍后再试",
        "Too many failed logins for this username (5 in 15 minutes) or client address (50); see `Retry-After`.";
    /// 502 `platform_error`.
    PlatformFailed = [PlatformError], "外呼平台拒绝了请求，请检查脚本与平台配置",
        "The outbound-call platform refused the request; the local state is unchanged and the call can be retried.";
    /// 503 `database_unavailable`.
    DatabaseUnavailable = [DatabaseUnavailable], "数据库暂时不可用，请稍后重试",
        "The database cannot be reached.";
    /// 503 `database_unavailable` or `platform_unavailable`.
    Unavailable = [PlatformUnavailable, DatabaseUnavailable], "外呼平台暂时不可用，请稍后重试",
        "The outbound-call platform (`platform_unavailable`) or the database (`database_unavailable`) cannot be reached; the local state is unchanged and the call can be retried.";
}
