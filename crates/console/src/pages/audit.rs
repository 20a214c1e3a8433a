//! `/audit` (admins): the audit trail of the organisation and its descendants, newest first,
//! filtered by action, actor or task: the API's audit service, with the session's caller.

use actix_web::web;
use api::ApiState;
use askama::Template;
use askama_web::WebTemplate;
use audit::{Action, AuditQuery};
use kernel::{PageRequest, TaskId};
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::session::Session;
use crate::views::{Layout, time};

/// An entry as the page shows it.
struct Row {
    time: String,
    actor: String,
    action: &'static str,
    action_name: String,
    target: String,
    ok: bool,
    outcome: String,
    client: String,
    details: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
pub struct AuditPage {
    layout: Layout,
    rows: Vec<Row>,
    actions: Vec<(&'static str, &'static str)>,
    action: String,
    actor: String,
    task: String,
    page: u32,
    pages: i64,
    total: i64,
}

/// The actions with their Chinese names (one home: the trail's action names).
fn action_name(a: Action) -> &'static str {
    match a {
        Action::Login => "登录",
        Action::Logout => "退出登录",
        Action::PasswordChange => "修改密码",
        Action::LeadImport => "导入线索",
        Action::TaskCreate => "创建任务",
        Action::TaskScript => "设置脚本",
        Action::TaskStart => "开始外呼",
        Action::TaskSuspend => "暂停任务",
        Action::TaskResume => "恢复任务",
        Action::TaskStop => "停止任务",
        Action::Export => "导出结果",
        Action::MonitorStart => "启动监控",
        Action::MonitorStop => "停止监控",
        Action::WebhookCreate => "添加 Webhook",
        Action::WebhookUpdate => "修改 Webhook",
        Action::WebhookDelete => "删除 Webhook",
        Action::WebhookRotateSecret => "更换 Webhook 密钥",
        Action::WebhookTest => "测试 Webhook",
        Action::DeliveryRetry => "重新投递",
        Action::OrgCreate => "创建组织",
        Action::UserCreate => "创建用户",
        Action::UserUpdate => "修改用户",
        Action::UserDisable => "停用用户",
        Action::UserEnable => "启用用户",
        Action::UserResetPassword => "重置密码",
    }
}

#[derive(Deserialize, Default)]
pub struct AuditFilter {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    task: String,
    #[serde(default)]
    page: Option<i64>,
}

/// The page.
pub async fn page(
    state: web::Data<ApiState>,
    session: Session,
    q: web::Query<AuditFilter>,
) -> Result<AuditPage, ConsoleError> {
    session.require_admin()?;
    let f = q.into_inner();
    let task = match f.task.trim() {
        "" => None,
        t => Some(TaskId(
            t.parse()
                .map_err(|_| ConsoleError::bad_input("任务编号须为数字"))?,
        )),
    };
    let query = AuditQuery {
        action: Some(f.action.clone()).filter(|a| !a.is_empty()),
        actor: Some(f.actor.trim().to_owned()).filter(|a| !a.is_empty()),
        task_id: task,
        from: None,
        to: None,
    };
    let page = PageRequest::new(Some(f.page.unwrap_or(1)), Some(50))?;
    let entries = state
        .audit
        .list(&session.caller, &query, page)
        .await
        .map_err(api::ApiError::from)?;
    let tz = state.tz;
    let rows = entries
        .items
        .into_iter()
        .map(|e| {
            let action = Action::parse(&e.action);
            Row {
                time: time(e.time, tz),
                actor: e.actor_name,
                action: action.map_or("", Action::as_str),
                action_name: action.map_or(e.action.clone(), |a| action_name(a).to_owned()),
                target: e
                    .target
                    .map(|(kind, id)| format!("{kind} #{id}"))
                    .unwrap_or_default(),
                ok: e.outcome == "ok",
                outcome: e.outcome,
                client: e.client_addr.unwrap_or_default(),
                details: if e.details.as_object().is_none_or(|d| d.is_empty()) {
                    String::new()
                } else {
                    e.details.to_string()
                },
            }
        })
        .collect();
    let p = entries.pagination;
    Ok(AuditPage {
        layout: Layout::of(&session, "audit"),
        rows,
        actions: Action::ALL
            .iter()
            .map(|a| (a.as_str(), action_name(*a)))
            .collect(),
        action: f.action,
        actor: f.actor,
        task: f.task,
        page: p.page,
        pages: p.total_pages,
        total: p.total,
    })
}
