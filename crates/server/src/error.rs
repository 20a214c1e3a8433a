//! The one error type of the HTTP layer: maps every domain error to the contract's envelope.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use auth::{AuthError, CreateUserError, LoginError};
use kernel::{PageError, RepoError};
use leads::LeadError;
use org::CreateOrgError;
use serde_json::json;
use tasks::{TaskError, TaskState};

/// An error answer: HTTP status, stable machine code, message for people.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status (also the envelope's `code`).
    pub status: StatusCode,
    /// Stable snake_case code (`error`).
    pub code: &'static str,
    /// Message for people (Chinese).
    pub message: String,
    /// Seconds for `Retry-After` (429).
    pub retry_after: Option<i64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    /// 400 `invalid_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "未登录或登录已过期",
        )
    }
    /// 403.
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "没有权限执行此操作")
    }
    /// 404 for a named thing.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what}不存在"))
    }
    /// 503 database.
    pub fn db_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "数据库暂时不可用，请稍后重试",
        )
    }
    /// 500: logs the cause, answers without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "服务器内部错误",
        )
    }
    /// 409 `invalid_task_state`.
    pub fn invalid_state(state: TaskState) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "invalid_task_state",
            format!("任务当前状态（{}）不允许此操作", state_name(state)),
        )
    }
}

/// Chinese name of a task state.
pub fn state_name(s: TaskState) -> &'static str {
    match s {
        TaskState::Created => "已创建",
        TaskState::Running => "进行中",
        TaskState::Completed => "已完成",
        TaskState::Paused => "已暂停",
        TaskState::Stopped => "已停止",
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut b = HttpResponse::build(self.status);
        if let Some(s) = self.retry_after {
            b.insert_header(("Retry-After", s.to_string()));
        }
        b.json(json!({
            "status": "error",
            "code": self.status.as_u16(),
            "message": self.message,
            "error": self.code,
            "data": null,
        }))
    }
}

impl From<RepoError> for ApiError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Unavailable => ApiError::db_unavailable(),
            RepoError::Other(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

impl From<PageError> for ApiError {
    fn from(e: PageError) -> Self {
        ApiError::bad_request(format!("分页参数无效: {e}"))
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "用户名或密码错误",
            ),
            LoginError::TooManyAttempts { retry_after } => ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    "登录失败次数过多，请稍后再试",
                )
            },
            LoginError::Repo(r) => r.into(),
            LoginError::Unknown(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthenticated => ApiError::unauthorized(),
            AuthError::Repo(r) => r.into(),
        }
    }
}

impl From<LeadError> for ApiError {
    fn from(e: LeadError) -> Self {
        match e {
            LeadError::Invalid(m) => ApiError::bad_request(m),
            LeadError::OrgNotFound => ApiError::not_found("组织"),
            LeadError::Repo(r) => r.into(),
        }
    }
}

impl From<TaskError> for ApiError {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::Invalid(m) => ApiError::bad_request(m),
            TaskError::NotFound("scene") => ApiError::not_found("场景"),
            TaskError::NotFound("organisation") => ApiError::not_found("组织"),
            TaskError::NotFound(_) => ApiError::not_found("任务"),
            TaskError::NoMatchingLeads => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_matching_leads",
                "没有符合筛选条件的线索，任务未创建",
            ),
            TaskError::InvalidState(s) => ApiError::invalid_state(s),
            TaskError::Repo(r) => r.into(),
        }
    }
}

impl From<CreateOrgError> for ApiError {
    fn from(e: CreateOrgError) -> Self {
        match e {
            CreateOrgError::InvalidName => ApiError::bad_request("组织名称须为 1 到 100 个字符"),
            CreateOrgError::ParentNotFound => ApiError::not_found("上级组织"),
            CreateOrgError::Repo(r) => r.into(),
        }
    }
}

impl From<CreateUserError> for ApiError {
    fn from(e: CreateUserError) -> Self {
        match e {
            CreateUserError::UsernameTaken => {
                ApiError::new(StatusCode::CONFLICT, "username_taken", "用户名已存在")
            }
            CreateUserError::OrgNotFound => ApiError::not_found("组织"),
            CreateUserError::Repo(r) => r.into(),
        }
    }
}

impl From<tasks::execution::ExecError> for ApiError {
    fn from(e: tasks::execution::ExecError) -> Self {
        use tasks::PlatformError;
        use tasks::execution::ExecError;
        match e {
            ExecError::NotFound("run") => ApiError::not_found("执行查询"),
            ExecError::NotFound(_) => ApiError::not_found("任务"),
            ExecError::NotStartable(s) => ApiError::new(
                StatusCode::CONFLICT,
                "task_not_startable",
                format!("任务当前状态（{}）不允许开始外呼", state_name(s)),
            ),
            ExecError::InvalidState(s) => ApiError::invalid_state(s),
            ExecError::ScriptNotSet => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "script_not_set",
                "任务尚未设置外呼脚本",
            ),
            ExecError::Invalid(m) => ApiError::bad_request(m),
            ExecError::Platform(p) => {
                tracing::warn!(error = %p, "platform call failed");
                match p {
                    PlatformError::Unavailable(_) | PlatformError::Ambiguous(_) => ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "platform_unavailable",
                        "外呼平台暂时不可用，请稍后重试",
                    ),
                    PlatformError::Rejected { .. } | PlatformError::NotFound => ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "platform_error",
                        "外呼平台拒绝了请求，请检查脚本与平台配置",
                    ),
                }
            }
            ExecError::Repo(r) => r.into(),
        }
    }
}
