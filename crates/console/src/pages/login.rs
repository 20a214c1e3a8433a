//! `/login` and logging out: the API's login service (its throttle, its messages), the token
//! kept in the session cookie.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use api::extract::client_addr;
use api::{ApiError, ApiState};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::Console;
use crate::error::{ConsoleError, message_with_wait};
use crate::pages::html;
use crate::session::{PendingSession, cookie, removal, safe_next};
use crate::views::Layout;

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    layout: Layout,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "login_form.html")]
struct LoginForm {
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The login page.
pub async fn page(q: web::Query<NextQuery>) -> LoginPage {
    LoginPage {
        layout: Layout::anonymous(),
        next: safe_next(q.next.as_deref()),
        username: String::new(),
        error: None,
    }
}

#[derive(Deserialize)]
pub struct LoginInput {
    username: String,
    password: String,
    next: Option<String>,
}

/// Log in: on success the cookie is set and the browser goes to the page it came for; on
/// failure the form shows why (and, when throttled, for how long).
pub async fn login(
    state: web::Data<ApiState>,
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<LoginInput>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    let next = safe_next(f.next.as_deref());
    let refused = |status: StatusCode, message: String, retry_after: Option<i64>| {
        let mut res = html(
            status,
            LoginForm {
                next: next.clone(),
                username: f.username.clone(),
                error: Some(message),
            },
        )?;
        if let Some(s) = retry_after
            && let Ok(v) = s.to_string().parse()
        {
            res.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, v);
        }
        Ok::<_, ConsoleError>(res)
    };
    let (ulen, plen) = (f.username.chars().count(), f.password.chars().count());
    if !(1..=128).contains(&ulen) || !(1..=1024).contains(&plen) {
        return refused(
            StatusCode::BAD_REQUEST,
            "用户名须为 1 到 128 个字符，密码须为 1 到 1024 个字符".to_owned(),
            None,
        );
    }
    let result = state
        .auth
        .login(&f.username, &f.password, &client_addr(&req))
        .await
        .map_err(ApiError::from);
    api::audit::record::login(&state, &api::extract::origin_of(&req), &f.username, &result).await;
    match result {
        Ok(session) => {
            // a reset password is changed first
            let to = if session.user.password_change_required {
                "/account"
            } else {
                next.as_str()
            };
            let mut res = HttpResponse::Ok()
                .insert_header(("HX-Redirect", to))
                .finish();
            res.add_cookie(&cookie(&console, session.access_token, session.expires_in))
                .map_err(|_| ConsoleError::Internal)?;
            Ok(res)
        }
        Err(e) => refused(e.status(), message_with_wait(&e), e.retry_after),
    }
}

/// Log out: the session's token is refused from then on (the API's logout), the cookie goes,
/// the browser goes to `/login`.
pub async fn logout(
    state: web::Data<ApiState>,
    console: web::Data<Console>,
    session: Option<PendingSession>,
) -> Result<HttpResponse, ConsoleError> {
    if let Some(PendingSession(auth)) = session {
        state.auth.logout(&auth.claims).await?;
        api::audit::record::logged_out(&state, &auth.caller).await;
    }
    let mut res = HttpResponse::Ok()
        .insert_header(("HX-Redirect", "/login"))
        .finish();
    res.add_cookie(&removal(&console))
        .map_err(|_| ConsoleError::Internal)?;
    Ok(res)
}
