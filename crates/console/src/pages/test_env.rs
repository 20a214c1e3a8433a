//! `/test-env` (the seed's page): the service's health (database, platform, monitor), a login
//! check, and for admins every configuration check and the monitor's switch.

use actix_web::{HttpRequest, HttpResponse, web};
use api::execution::dto::MonitorDto;
use api::extract::client_addr;
use api::health::dto::CheckDto;
use api::{ApiError, ApiState};
use askama::Template;
use serde::Deserialize;

use crate::error::{ConsoleError, message_with_wait};
use crate::pages::ok;
use crate::session::Session;
use crate::views::Layout;

/// Checks every operator sees; admins see all of them.
const HEALTH: [&str; 3] = ["database", "platform_reachable", "monitor"];

struct CheckRow {
    name: &'static str,
    class: &'static str,
    result: &'static str,
    detail: String,
}

impl CheckRow {
    fn of(c: &ops::Check) -> Self {
        let (class, result) = match c.status() {
            ops::CheckStatus::Ok => ("check ok", "正常"),
            ops::CheckStatus::Warn => ("check warn", "注意"),
            ops::CheckStatus::Fail => ("check fail", "失败"),
        };
        CheckRow {
            name: c.name(),
            class,
            result,
            detail: CheckDto::from(c).detail,
        }
    }
}

#[derive(Template)]
#[template(path = "test_env.html")]
struct TestEnvPage {
    layout: Layout,
    checks: Vec<CheckRow>,
    monitor: String,
}

#[derive(Template)]
#[template(path = "monitor.html")]
struct Monitor {
    m: MonitorDto,
    admin: bool,
}

#[derive(Template)]
#[template(path = "login_check.html")]
struct LoginCheck {
    ok: bool,
    message: String,
}

fn monitor(state: &ApiState, admin: bool) -> Monitor {
    Monitor {
        m: MonitorDto::new(state.background.monitor_status(), state.tz),
        admin,
    }
}

/// The page.
pub async fn page(
    state: web::Data<ApiState>,
    session: Session,
) -> Result<HttpResponse, ConsoleError> {
    let admin = session.is_admin();
    let checks = state
        .ops
        .config_check()
        .await
        .iter()
        .filter(|c| admin || HEALTH.contains(&c.name()))
        .map(CheckRow::of)
        .collect();
    ok(TestEnvPage {
        layout: Layout::of(&session, "test-env"),
        checks,
        monitor: crate::pages::text(monitor(&state, admin))?,
    })
}

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

/// Check a username and password with the login service (its throttle counts this attempt);
/// the console's own session is not touched.
pub async fn login_check(
    state: web::Data<ApiState>,
    _: Session,
    req: HttpRequest,
    form: web::Form<Credentials>,
) -> Result<HttpResponse, ConsoleError> {
    let addr = client_addr(&req);
    let view = match state
        .auth
        .login(&form.username, &form.password, &addr)
        .await
    {
        Ok(s) => LoginCheck {
            ok: true,
            message: format!(
                "登录成功：{}（{}，{}），令牌 {} 秒后过期",
                s.user.display_name, s.user.org_name, s.user.role, s.expires_in
            ),
        },
        Err(e) => {
            let e = ApiError::from(e);
            LoginCheck {
                ok: false,
                message: message_with_wait(&e),
            }
        }
    };
    ok(view)
}

#[derive(Deserialize)]
pub struct Switch {
    action: String,
}

/// Start or stop this instance's monitor (admins).
pub async fn monitor_switch(
    state: web::Data<ApiState>,
    session: Session,
    form: web::Form<Switch>,
) -> Result<HttpResponse, ConsoleError> {
    session.require_admin()?;
    let on = match form.action.as_str() {
        "start" => true,
        "stop" => false,
        _ => return Err(ConsoleError::bad_input("操作无效")),
    };
    api::audit::record::switch_monitor(&state, &session.caller, on).await;
    ok(monitor(&state, true))
}
