//! `/account`: everyone changes their own password here, and a user whose password an admin
//! reset is sent here until they do. The API's password-change service (its throttle, its
//! messages); the fresh token replaces the session cookie.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use api::{ApiError, ApiState};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::Console;
use crate::error::{ConsoleError, message_with_wait};
use crate::pages::html;
use crate::session::{PendingSession, cookie};
use crate::views::Layout;

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
pub struct AccountPage {
    layout: Layout,
    username: String,
    org: String,
    forced: bool,
    error: Option<String>,
    done: bool,
}

#[derive(Template)]
#[template(path = "password_form.html")]
struct PasswordForm {
    error: Option<String>,
    done: bool,
}

/// The account page.
pub async fn page(PendingSession(auth): PendingSession) -> AccountPage {
    AccountPage {
        layout: Layout::of(&auth, "account"),
        username: auth.user.username.clone(),
        org: auth.user.org_name.clone(),
        forced: auth.user.password_change_required,
        error: None,
        done: false,
    }
}

#[derive(Deserialize)]
pub struct PasswordInput {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

/// Change the password. On success the new session's cookie replaces the old (whose token no
/// longer works); after a forced change the browser goes on to the home page.
pub async fn change(
    state: web::Data<ApiState>,
    console: web::Data<Console>,
    PendingSession(auth): PendingSession,
    form: web::Form<PasswordInput>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    let refused = |status: StatusCode, message: String| {
        html(
            status,
            PasswordForm {
                error: Some(message),
                done: false,
            },
        )
    };
    if f.new_password != f.confirm_password {
        return refused(StatusCode::BAD_REQUEST, "两次输入的新密码不一致".to_owned());
    }
    if !(1..=1024).contains(&f.current_password.chars().count()) {
        return refused(StatusCode::BAD_REQUEST, "请输入当前密码".to_owned());
    }
    let changed = state
        .auth
        .change_password(
            &auth.user,
            &f.current_password,
            &f.new_password,
            &auth.caller.origin,
        )
        .await;
    let session = match changed {
        Ok(session) => session,
        Err(e) => {
            let e = ApiError::from(e);
            let what = (
                audit::Action::PasswordChange,
                Some(audit::Target::User(auth.user.id)),
            );
            api::audit::record::refused(&state, &auth.caller, what, &e).await;
            return refused(e.status(), message_with_wait(&e));
        }
    };
    let mut res = if auth.user.password_change_required {
        HttpResponse::Ok()
            .insert_header(("HX-Redirect", "/"))
            .finish()
    } else {
        html(
            StatusCode::OK,
            PasswordForm {
                error: None,
                done: true,
            },
        )?
    };
    res.add_cookie(&cookie(&console, session.access_token, session.expires_in))
        .map_err(|_| ConsoleError::Internal)?;
    Ok(res)
}
