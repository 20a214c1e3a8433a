//! The one error answer of the API: [`ApiError`], written as the contract's error envelope
//! (`{status: "error", code, message, error, data: null}`), with a typed [`ErrorCode`].

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// Every `error` code the service answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed request, unknown field or parameter, value out of range.
    InvalidRequest,
    /// 401: missing, malformed, expired or revoked token.
    Unauthorized,
    /// 401: wrong username or password.
    InvalidCredentials,
    /// 403: authenticated but not allowed (role).
    Forbidden,
    /// 403: the user must change a password an admin reset (`POST /api/me/password`) first.
    PasswordChangeRequired,
    /// 403: the right password of a disabled account.
    AccountDisabled,
    /// 400: the current password given to change it is wrong.
    WrongPassword,
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
    /// 409: the change would leave an organisation without an enabled admin.
    LastAdmin,
    /// 409: an admin cannot disable, demote or move their own account.
    OwnAccount,
    /// 409: a sibling organisation has that name.
    OrgNameTaken,
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
    /// 503: this instance should not be sent requests (`GET /api/health/ready`).
    NotReady,
    /// 500: a bug.
    InternalError,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 24] = [
        ErrorCode::InvalidRequest,
        ErrorCode::Unauthorized,
        ErrorCode::InvalidCredentials,
        ErrorCode::Forbidden,
        ErrorCode::PasswordChangeRequired,
        ErrorCode::AccountDisabled,
        ErrorCode::WrongPassword,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::InvalidTaskState,
        ErrorCode::TaskNotStartable,
        ErrorCode::UsernameTaken,
        ErrorCode::LastAdmin,
        ErrorCode::OwnAccount,
        ErrorCode::OrgNameTaken,
        ErrorCode::PayloadTooLarge,
        ErrorCode::NoMatchingLeads,
        ErrorCode::ScriptNotSet,
        ErrorCode::TooManyAttempts,
        ErrorCode::PlatformError,
        ErrorCode::PlatformUnavailable,
        ErrorCode::DatabaseUnavailable,
        ErrorCode::NotReady,
        ErrorCode::InternalError,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::PasswordChangeRequired => "password_change_required",
            ErrorCode::AccountDisabled => "account_disabled",
            ErrorCode::WrongPassword => "wrong_password",
            ErrorCode::LastAdmin => "last_admin",
            ErrorCode::OwnAccount => "own_account",
            ErrorCode::OrgNameTaken => "org_name_taken",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::InvalidTaskState => "invalid_task_state",
            ErrorCode::TaskNotStartable => "task_not_startable",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::NoMatchingLeads => "no_matching_leads",
            ErrorCode::ScriptNotSet => "script_not_set",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::PlatformError => "platform_error",
            ErrorCode::PlatformUnavailable => "platform_unavailable",
            ErrorCode::DatabaseUnavailable => "database_unavailable",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::InternalError => "internal_error",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidRequest | ErrorCode::WrongPassword => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized | ErrorCode::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden
            | ErrorCode::PasswordChangeRequired
            | ErrorCode::AccountDisabled => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::InvalidTaskState
            | ErrorCode::TaskNotStartable
            | ErrorCode::UsernameTaken
            | ErrorCode::LastAdmin
            | ErrorCode::OwnAccount
            | ErrorCode::OrgNameTaken => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::NoMatchingLeads | ErrorCode::ScriptNotSet => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ErrorCode::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::PlatformError => StatusCode::BAD_GATEWAY,
            ErrorCode::PlatformUnavailable
            | ErrorCode::DatabaseUnavailable
            | ErrorCode::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `"error"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErrorStatus {
    /// Always `error`.
    Error,
}

fn null_schema() -> Object {
    ObjectBuilder::new().schema_type(Type::Null).build()
}

/// The error envelope: `{status: "error", code, message, error, data: null}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope<'a> {
    /// Always `error`.
    pub status: ErrorStatus,
    /// The HTTP status.
    #[schema(minimum = 400, maximum = 599, example = 409)]
    pub code: u16,
    /// For people (Chinese); never a stack trace, SQL or secret.
    #[schema(example = "任务当前状态不允许开始外呼")]
    pub message: &'a str,
    /// Stable machine code.
    pub error: ErrorCode,
    /// `null`, but for the 503s of health (`HealthUnavailable`) and readiness (`NotReady`).
    #[schema(schema_with = null_schema, required = true)]
    pub data: Option<&'a Value>,
}

/// An error answer: a machine code (which fixes the HTTP status) and a message for people.
#[derive(Debug)]
pub struct ApiError {
    /// Stable machine code (`error`).
    pub code: ErrorCode,
    /// Message for people (Chinese).
    pub message: String,
    /// Seconds for `Retry-After` (429).
    pub retry_after: Option<i64>,
    /// `data` of the envelope: `null` but for the 503s of health and readiness (see [`ApiError::with_data`]).
    pub data: Option<Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status().as_u16(),
            self.code.as_str(),
            self.message
        )
    }
}

impl ApiError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
            data: None,
        }
    }

    /// The HTTP status (also the envelope's `code`).
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The same error with `data` (a typed DTO; health's 503 carries its report).
    pub fn with_data(self, data: impl Serialize) -> Self {
        match serde_json::to_value(data) {
            Ok(data) => Self {
                data: Some(data),
                ..self
            },
            Err(e) => ApiError::internal(e),
        }
    }

    /// 400 `invalid_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "未登录或登录已过期")
    }

    /// 403 `forbidden`.
    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "没有权限执行此操作")
    }

    /// 404 `not_found` of an unknown path.
    pub fn no_such_path() -> Self {
        Self::new(ErrorCode::NotFound, "接口不存在")
    }

    /// 503 `database_unavailable`.
    pub fn db_unavailable() -> Self {
        Self::new(
            ErrorCode::DatabaseUnavailable,
            "数据库暂时不可用，请稍后重试",
        )
    }

    /// 500: logs the cause (inside the request's span, so with its id), answers without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        Self::new(ErrorCode::InternalError, "服务器内部错误")
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut b = HttpResponse::build(self.status());
        if let Some(s) = self.retry_after {
            b.insert_header(("Retry-After", s.to_string()));
        }
        b.json(ErrorEnvelope {
            status: ErrorStatus::Error,
            code: self.status().as_u16(),
            message: &self.message,
            error: self.code,
            data: self.data.as_ref(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_has_its_wire_name_and_an_error_status() {
        for code in ErrorCode::ALL {
            let wire = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(wire.as_str(), Some(code.as_str()));
            assert!(code.status().as_u16() >= 400, "{code:?}");
        }
    }
}
