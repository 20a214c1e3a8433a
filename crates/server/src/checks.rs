//! `GET /api/config-check`: database, migrations, platform, token secret, monitor.

use std::time::Duration;

use serde::Serialize;

use crate::state::AppState;

/// One check.
#[derive(Debug, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// ok, warn or fail.
    pub status: &'static str,
    /// For people.
    pub detail: String,
}

fn check(name: &'static str, status: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
    }
}

/// Run every check.
pub async fn run(state: &AppState) -> Vec<Check> {
    let mut out = Vec::new();
    let db = tokio::time::timeout(Duration::from_secs(3), adapters::db::ping(&state.pool)).await;
    out.push(match db {
        Ok(Ok(())) => check("database", "ok", "数据库可连接"),
        _ => check("database", "fail", "数据库不可连接"),
    });
    out.push(
        match tokio::time::timeout(
            Duration::from_secs(5),
            adapters::db::pending_migrations(&state.info.database_url),
        )
        .await
        {
            Ok(Ok(0)) => check("migrations", "ok", "数据库迁移已是最新"),
            Ok(Ok(n)) => check("migrations", "fail", format!("有 {n} 个待执行的迁移")),
            _ => check("migrations", "fail", "无法读取迁移状态"),
        },
    );
    out.push(if state.info.platform_simulated {
        check(
            "platform_configured",
            "warn",
            "未设置 PLATFORM_URL：使用内置外呼平台模拟器",
        )
    } else {
        check("platform_configured", "ok", "已配置外呼平台地址与凭据")
    });
    let probe = tokio::time::timeout(
        Duration::from_secs(10),
        state
            .exec
            .platform()
            .describe_job_group("config-check-probe"),
    )
    .await;
    out.push(match probe {
        Ok(Ok(_)) | Ok(Err(tasks::PlatformError::NotFound)) => {
            check("platform_reachable", "ok", "外呼平台可访问，签名有效")
        }
        Ok(Err(tasks::PlatformError::Rejected { code, .. })) => check(
            "platform_reachable",
            "fail",
            format!("外呼平台拒绝请求（{code}），请检查凭据"),
        ),
        Ok(Err(_)) | Err(_) => check("platform_reachable", "fail", "外呼平台不可访问"),
    });
    out.push(match state.info.jwt_secret_len {
        n if n >= 64 => check("token_secret", "ok", "令牌密钥强度足够"),
        n if n >= 32 => check("token_secret", "warn", "令牌密钥不足 64 字节，建议加长"),
        _ => check("token_secret", "fail", "令牌密钥过短"),
    });
    let m = &state.workers.monitor;
    out.push(if !m.is_running() {
        check("monitor", "warn", "自动任务监控已停止")
    } else {
        match m.last_tick_at() {
            Some(t)
                if chrono::Utc::now() - t
                    < chrono::Duration::seconds((m.interval().as_secs() * 3 + 5) as i64) =>
            {
                check("monitor", "ok", "自动任务监控运行中")
            }
            Some(_) => check("monitor", "warn", "自动任务监控最近未运行"),
            None => check("monitor", "warn", "自动任务监控尚未运行"),
        }
    });
    out
}
