//! Domain errors in words: every domain error becomes an [`ApiError`] with its code and a
//! message for people, in Chinese like the rest of the contract. The domain keeps its errors
//! typed ([`kernel::Invalid`], [`kernel::Entity`], ...); the wording is this module's alone.

use auth::{AccountError, AuthError, CreateUserError, LoginError, PasswordChangeError};
use kernel::{Entity, Invalid, PageError, RepoError};
use leads::LeadError;
use org::CreateOrgError;
use tasks::call_status::CallStatus;
use tasks::execution::{ExecError, RunStatus};
use tasks::{PlatformError, TaskError, TaskState};
use webhooks::WebhookError;

use crate::error::{ApiError, ErrorCode};

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

/// Chinese name of a lead's call status.
pub fn call_status_name(s: CallStatus) -> &'static str {
    match s {
        CallStatus::Pending => "待外呼",
        CallStatus::Assigning => "推送中",
        CallStatus::Dispatched => "已推送",
        CallStatus::Calling => "呼叫中",
        CallStatus::Connected => "已接通",
        CallStatus::NoAnswer => "未接听",
        CallStatus::Busy => "忙线",
        CallStatus::Unreachable => "无法接通",
        CallStatus::Rejected => "平台拒绝",
        CallStatus::Failed => "呼叫失败",
        CallStatus::Cancelled => "已取消",
    }
}

/// Chinese name of a query execution run's status.
pub fn run_status_name(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Pending => "排队中",
        RunStatus::Running => "运行中",
        RunStatus::Succeeded => "已完成",
        RunStatus::Failed => "失败",
    }
}

/// Chinese name of a kind of thing.
pub fn entity_name(e: Entity) -> &'static str {
    match e {
        Entity::Organisation => "组织",
        Entity::User => "用户",
        Entity::Lead => "线索",
        Entity::Task => "任务",
        Entity::Scene => "场景",
        Entity::Run => "执行查询",
        Entity::Webhook => "Webhook",
        Entity::Delivery => "投递记录",
    }
}

/// A refused value, for people.
pub fn invalid(i: &Invalid) -> String {
    let what = match i {
        Invalid::TooMany { field, max } => format!("{field} 最多只能包含 {max} 个值"),
        Invalid::Length { field, min: 0, max } => format!("{field} 最多 {max} 个字符"),
        Invalid::Length { field, min, max } => format!("{field} 须为 {min} 到 {max} 个字符"),
        Invalid::NotOneOf {
            field,
            value,
            allowed,
        } => format!("{field} 的取值 `{value}` 无效（可选: {allowed}）"),
        Invalid::Time { field } => format!(
            "{field} 的时间格式无效（应为 YYYY-MM-DD HH:MM:SS、YYYY-MM-DD 或带时区的 ISO-8601）"
        ),
        Invalid::Reversed { from, to } => format!("{from} 不能晚于 {to}"),
        Invalid::TooSmall { field, min } => format!("{field} 不能小于 {min}"),
        Invalid::TooManyRows { max } => format!("每次最多 {max} 条"),
        Invalid::Username => {
            "username 须为 3 到 64 个字符，只能包含字母、数字和 . _ - @".to_owned()
        }
    };
    format!("请求参数无效: {what}")
}

/// 404 for a kind of thing.
pub fn not_found(e: Entity) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("{}不存在", entity_name(e)))
}

/// 409 `invalid_task_state`.
pub fn invalid_state(state: TaskState) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidTaskState,
        format!("任务当前状态（{}）不允许此操作", state_name(state)),
    )
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::bad_request(invalid(&e))
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
        ApiError::bad_request(match e {
            PageError::Page => "分页参数无效: page 须为 1 到 1000000",
            PageError::PageSize => "分页参数无效: page_size 须为 1 到 100",
        })
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => {
                ApiError::new(ErrorCode::InvalidCredentials, "用户名或密码错误")
            }
            LoginError::Disabled => ApiError::new(ErrorCode::AccountDisabled, "账号已停用"),
            LoginError::TooManyAttempts { retry_after } => {
                too_many_attempts("登录失败次数过多，请稍后再试", retry_after)
            }
            LoginError::Repo(r) => r.into(),
            LoginError::Unknown(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthenticated => ApiError::unauthorized(),
            AuthError::PasswordChangeRequired => ApiError::new(
                ErrorCode::PasswordChangeRequired,
                "密码已被管理员重置，请先修改密码",
            ),
            AuthError::Repo(r) => r.into(),
        }
    }
}

/// 429 after too many wrong passwords (login and password change share the throttle), with
/// the seconds to wait for `Retry-After`.
fn too_many_attempts(message: &'static str, retry_after: i64) -> ApiError {
    ApiError {
        retry_after: Some(retry_after),
        ..ApiError::new(ErrorCode::TooManyAttempts, message)
    }
}

impl From<PasswordChangeError> for ApiError {
    fn from(e: PasswordChangeError) -> Self {
        match e {
            PasswordChangeError::WrongPassword => {
                ApiError::new(ErrorCode::WrongPassword, "当前密码错误")
            }
            PasswordChangeError::Invalid(i) => i.into(),
            PasswordChangeError::Unchanged => {
                ApiError::bad_request("请求参数无效: 新密码不能与当前密码相同")
            }
            PasswordChangeError::TooManyAttempts { retry_after } => {
                too_many_attempts("密码错误次数过多，请稍后再试", retry_after)
            }
            PasswordChangeError::Unauthenticated => ApiError::unauthorized(),
            PasswordChangeError::Repo(r) => r.into(),
            PasswordChangeError::Unknown(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Forbidden => ApiError::forbidden(),
            WebhookError::Invalid(i) => i.into(),
            WebhookError::Target(why) => {
                ApiError::bad_request(format!("请求参数无效: url 不可用（{why}）"))
            }
            WebhookError::NotFound(what) => not_found(what),
            WebhookError::Repo(r) => r.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Forbidden => ApiError::forbidden(),
            AccountError::Invalid(i) => i.into(),
            AccountError::NotFound(what) => not_found(what),
            AccountError::UsernameTaken => ApiError::new(ErrorCode::UsernameTaken, "用户名已存在"),
            AccountError::OwnAccount => ApiError::new(
                ErrorCode::OwnAccount,
                "不能停用、降级、移动自己的账号或重置自己的密码（修改自己的密码请到账号设置）",
            ),
            AccountError::LastAdmin => {
                ApiError::new(ErrorCode::LastAdmin, "该组织至少需要保留一名启用的管理员")
            }
            AccountError::Repo(r) => r.into(),
            AccountError::Unknown(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

impl From<LeadError> for ApiError {
    fn from(e: LeadError) -> Self {
        match e {
            LeadError::Invalid(i) => i.into(),
            LeadError::OrgNotFound => not_found(Entity::Organisation),
            LeadError::Repo(r) => r.into(),
        }
    }
}

impl From<TaskError> for ApiError {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::Invalid(i) => i.into(),
            TaskError::NotFound(what) => not_found(what),
            TaskError::NoMatchingLeads => ApiError::new(
                ErrorCode::NoMatchingLeads,
                "没有符合筛选条件的线索，任务未创建",
            ),
            TaskError::InvalidState(s) => invalid_state(s),
            TaskError::Repo(r) => r.into(),
        }
    }
}

impl From<CreateOrgError> for ApiError {
    fn from(e: CreateOrgError) -> Self {
        match e {
            CreateOrgError::InvalidName => ApiError::bad_request("组织名称须为 1 到 100 个字符"),
            CreateOrgError::ParentNotFound => ApiError::new(ErrorCode::NotFound, "上级组织不存在"),
            CreateOrgError::NameTaken => {
                ApiError::new(ErrorCode::OrgNameTaken, "同级组织中已有同名组织")
            }
            CreateOrgError::Forbidden => ApiError::forbidden(),
            CreateOrgError::Repo(r) => r.into(),
        }
    }
}

impl From<CreateUserError> for ApiError {
    fn from(e: CreateUserError) -> Self {
        match e {
            CreateUserError::UsernameTaken => {
                ApiError::new(ErrorCode::UsernameTaken, "用户名已存在")
            }
            CreateUserError::OrgNotFound => not_found(Entity::Organisation),
            CreateUserError::Repo(r) => r.into(),
        }
    }
}

impl From<PlatformError> for ApiError {
    fn from(p: PlatformError) -> Self {
        tracing::warn!(error = %p, "platform call failed");
        match p {
            PlatformError::Unavailable(_)
            | PlatformError::Busy(_)
            | PlatformError::Ambiguous(_)
            | PlatformError::Unclear(_) => ApiError::new(
                ErrorCode::PlatformUnavailable,
                "外呼平台暂时不可用，请稍后重试",
            ),
            PlatformError::Rejected { .. } | PlatformError::NotFound => ApiError::new(
                ErrorCode::PlatformError,
                "外呼平台拒绝了请求，请检查脚本与平台配置",
            ),
        }
    }
}

impl From<ExecError> for ApiError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::NotFound(what) => not_found(what),
            ExecError::NotStartable(s) => ApiError::new(
                ErrorCode::TaskNotStartable,
                format!("任务当前状态（{}）不允许开始外呼", state_name(s)),
            ),
            ExecError::InvalidState(s) => invalid_state(s),
            ExecError::ScriptNotSet => {
                ApiError::new(ErrorCode::ScriptNotSet, "任务尚未设置外呼脚本")
            }
            ExecError::UnknownCallStatus(s) => ApiError::bad_request(format!(
                "请求参数无效: call_status `{s}` 不是已知的外呼状态"
            )),
            ExecError::Platform(p) => p.into(),
            ExecError::Repo(r) => r.into(),
            // only background workers hold leases; should one ever reach a request, it is
            // "try again"
            ExecError::LeaseLost(_) => RepoError::Unavailable.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_values_are_worded_in_chinese_with_the_field() {
        let m = invalid(&Invalid::Length {
            field: "task_name",
            min: 1,
            max: 100,
        });
        assert_eq!(m, "请求参数无效: task_name 须为 1 到 100 个字符");
        let e = ApiError::from(TaskError::NotFound(Entity::Scene));
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::NotFound, "场景不存在")
        );
    }
}
