//! DTOs of health and the configuration check.

use ops::{Check, CheckStatus as Status, MonitorState, PlatformReach};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ErrorCode, ErrorStatus};

/// `ok`, or `degraded` when the database cannot be reached.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Everything works.
    Ok,
    /// The database cannot be reached.
    Degraded,
}

/// `ok` or `unavailable`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseStatus {
    /// Reachable.
    Ok,
    /// Not reachable.
    Unavailable,
}

/// `data` of `GET /api/health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthData {
    /// Overall status.
    pub status: HealthStatus,
    /// Database status.
    pub database: DatabaseStatus,
    /// Service version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

impl HealthData {
    /// The report for a database that answers or not.
    pub fn of(database_ok: bool) -> Self {
        let version = env!("CARGO_PKG_VERSION");
        if database_ok {
            Self {
                status: HealthStatus::Ok,
                database: DatabaseStatus::Ok,
                version,
            }
        } else {
            Self {
                status: HealthStatus::Degraded,
                database: DatabaseStatus::Unavailable,
                version,
            }
        }
    }
}

/// The one error answer whose `data` is not null: health's 503 (written by `ApiError` with
/// the report as its data).
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

/// `data` of `GET /api/health/live`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LiveData {
    /// Always `live`.
    #[schema(example = "live")]
    pub status: &'static str,
    /// Service version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

impl LiveData {
    /// The process answers.
    pub fn now() -> Self {
        Self {
            status: "live",
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// `data` of `GET /api/health/ready`: whether to send this instance requests, and why not.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadinessData {
    /// The database answers, is migrated, and the instance is not draining.
    pub ready: bool,
    /// The database answers.
    pub database: bool,
    /// The database has every migration of this build.
    pub migrations: bool,
    /// The instance is shutting down (it still serves for `DRAIN_SECS`).
    pub draining: bool,
}

impl From<ops::Readiness> for ReadinessData {
    fn from(r: ops::Readiness) -> Self {
        Self {
            ready: r.ready(),
            database: r.database,
            migrations: r.migrations,
            draining: r.draining,
        }
    }
}

/// Readiness's 503: an error envelope (`not_ready`) whose `data` says why.
#[derive(ToSchema)]
pub struct NotReady {
    /// Always `error`.
    pub status: ErrorStatus,
    /// 503.
    #[schema(minimum = 503, maximum = 503, example = 503)]
    pub code: u16,
    /// For people.
    #[schema(example = "实例未就绪")]
    pub message: String,
    /// `not_ready`.
    pub error: ErrorCode,
    /// Why.
    pub data: ReadinessData,
}

/// `ok`, `warn` or `fail`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Fine.
    Ok,
    /// Works, but look at it.
    Warn,
    /// Broken.
    Fail,
}

impl From<Status> for CheckStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Ok => CheckStatus::Ok,
            Status::Warn => CheckStatus::Warn,
            Status::Fail => CheckStatus::Fail,
        }
    }
}

/// One configuration check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckDto {
    /// What was checked (`database`, `migrations`, `platform_configured`, `platform_reachable`,
    /// `token_secret`, `monitor`).
    pub name: &'static str,
    /// Result.
    pub status: CheckStatus,
    /// For people.
    pub detail: String,
}

/// What a check found, for people.
fn detail(c: &Check) -> String {
    match c {
        Check::Database(true) => "数据库可连接".into(),
        Check::Database(false) => "数据库不可连接".into(),
        Check::Migrations(Some(0)) => "数据库迁移已是最新".into(),
        Check::Migrations(Some(n)) => format!("有 {n} 个待执行的迁移"),
        Check::Migrations(None) => "无法读取迁移状态".into(),
        Check::PlatformConfigured(true) => "已配置外呼平台地址与凭据".into(),
        Check::PlatformConfigured(false) => "未设置 PLATFORM_URL：使用内置外呼平台模拟器".into(),
        Check::PlatformReachable(PlatformReach::Reachable) => "外呼平台可访问，签名有效".into(),
        Check::PlatformReachable(PlatformReach::Rejected(code)) => {
            format!("外呼平台拒绝请求（{code}），请检查凭据")
        }
        Check::PlatformReachable(PlatformReach::Unreachable) => "外呼平台不可访问".into(),
        Check::TokenSecret(_) => match c.status() {
            Status::Ok => "令牌密钥强度足够".into(),
            Status::Warn => "令牌密钥不足 64 字节，建议加长".into(),
            Status::Fail => "令牌密钥过短".into(),
        },
        Check::Monitor(MonitorState::Ticking) => "自动任务监控运行中".into(),
        Check::Monitor(MonitorState::Stopped) => "自动任务监控已停止".into(),
        Check::Monitor(MonitorState::Stale) => "自动任务监控最近未运行".into(),
        Check::Monitor(MonitorState::NeverTicked) => "自动任务监控尚未运行".into(),
    }
}

impl From<&Check> for CheckDto {
    fn from(c: &Check) -> Self {
        Self {
            name: c.name(),
            status: c.status().into(),
            detail: detail(c),
        }
    }
}

/// `data` of `GET /api/config-check`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfigCheckDto {
    /// The checks.
    pub checks: Vec<CheckDto>,
}
