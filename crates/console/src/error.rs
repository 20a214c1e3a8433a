//! What a console request that fails shows: a page of its own for a page request, a message in
//! the page's message area for an htmx request, and for a request without a valid session the
//! way to `/login` and back. Domain errors are worded by [`api::words`], as in the API.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use api::ApiError;
use askama::Template;

use crate::Console;
use crate::session::{removal, return_path};
use crate::views::Layout;

/// Why a console request failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No valid session: log in (again).
    #[error("not logged in")]
    LoggedOut,
    /// A session of a user who must change a reset password first: to `/account`.
    #[error("password change required")]
    PasswordChange,
    /// A state-changing request that did not come from the console's pages.
    #[error("cross-site request refused")]
    CrossSite,
    /// Only admins may do this.
    #[error("admins only")]
    AdminsOnly,
    /// No such page, or not one of the caller's organisations.
    #[error("not found")]
    NotFound,
    /// A domain or input error, worded as the API words it.
    #[error("{0}")]
    Api(ApiError),
    /// A bug (logged where it happened).
    #[error("internal error")]
    Internal,
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        match e.status() {
            StatusCode::NOT_FOUND => ConsoleError::NotFound,
            StatusCode::UNAUTHORIZED if e.code == api::ErrorCode::Unauthorized => {
                ConsoleError::LoggedOut
            }
            _ if e.code == api::ErrorCode::PasswordChangeRequired => ConsoleError::PasswordChange,
            _ => ConsoleError::Api(e),
        }
    }
}

/// Domain errors reach a console error through the API's words.
macro_rules! worded_by_the_api {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for ConsoleError {
            fn from(e: $t) -> Self {
                ApiError::from(e).into()
            }
        }
    )*};
}

worded_by_the_api!(
    tasks::TaskError,
    tasks::execution::ExecError,
    leads::LeadError,
    kernel::RepoError,
    kernel::PageError,
    kernel::Invalid,
    auth::LoginError,
    auth::AccountError,
    auth::PasswordChangeError,
    org::CreateOrgError,
    webhooks::WebhookError,
);

impl ConsoleError {
    /// A refused input, in the API's words.
    pub fn bad_input(message: impl Into<String>) -> Self {
        ConsoleError::Api(ApiError::bad_request(message))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::LoggedOut => StatusCode::UNAUTHORIZED,
            ConsoleError::PasswordChange => StatusCode::FORBIDDEN,
            ConsoleError::CrossSite | ConsoleError::AdminsOnly => StatusCode::FORBIDDEN,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::Api(e) => e.status(),
            ConsoleError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message for people.
    pub fn message(&self) -> String {
        match self {
            ConsoleError::LoggedOut => "请先登录".to_owned(),
            ConsoleError::PasswordChange => "密码已被管理员重置，请先修改密码".to_owned(),
            ConsoleError::CrossSite => {
                "请求被拒绝：只接受来自本控制台页面的操作（CSRF 防护）".to_owned()
            }
            ConsoleError::AdminsOnly => "只有管理员可以执行此操作".to_owned(),
            ConsoleError::NotFound => "页面不存在，或不属于您的组织".to_owned(),
            ConsoleError::Api(e) => e.message.clone(),
            ConsoleError::Internal => "服务器内部错误".to_owned(),
        }
    }

    /// The answer to `req`: see the module's description.
    pub fn page(&self, req: &HttpRequest) -> HttpResponse {
        let htmx = is_htmx(req);
        if let ConsoleError::LoggedOut = self {
            let to = format!(
                "/login?next={}",
                percent_encoding::utf8_percent_encode(&return_path(req), QUERY)
            );
            let mut res = if htmx {
                // htmx follows HX-Redirect with a full navigation
                HttpResponse::Ok()
                    .insert_header(("HX-Redirect", to.as_str()))
                    .finish()
            } else {
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, to.as_str()))
                    .finish()
            };
            if let Some(console) = req.app_data::<web::Data<Console>>() {
                let _ = res.add_cookie(&removal(console));
            }
            return res;
        }
        if let ConsoleError::PasswordChange = self {
            return redirect(htmx, "/account");
        }
        let mut b = HttpResponse::build(self.status());
        if let ConsoleError::Api(ApiError {
            retry_after: Some(s),
            ..
        }) = self
        {
            b.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        let html = if htmx {
            b.insert_header(("HX-Retarget", "#flash"));
            b.insert_header(("HX-Reswap", "innerHTML"));
            Flash {
                error: true,
                message: self.message(),
            }
            .render()
        } else {
            ErrorPage {
                layout: Layout::anonymous(),
                status: self.status().as_u16(),
                message: self.message(),
            }
            .render()
        };
        match html {
            Ok(html) => b.content_type("text/html; charset=utf-8").body(html),
            Err(e) => {
                tracing::error!(error = %e, "error page did not render");
                HttpResponse::InternalServerError().finish()
            }
        }
    }
}

/// An API error's message for people, with the wait when it is a throttle's (login, login
/// check, password change).
pub fn message_with_wait(e: &ApiError) -> String {
    match e.retry_after {
        Some(s) => format!("{}（{} 秒后可再试）", e.message, s),
        None => e.message.clone(),
    }
}

/// Send the browser to `to`: htmx follows `HX-Redirect` with a full navigation; a page request
/// gets 303.
pub fn redirect(htmx: bool, to: &str) -> HttpResponse {
    if htmx {
        HttpResponse::Ok()
            .insert_header(("HX-Redirect", to))
            .finish()
    } else {
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, to))
            .finish()
    }
}

/// Characters escaped in a query value.
pub const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

/// Whether the request was made by htmx (and is not a history restore, which wants a page).
pub fn is_htmx(req: &HttpRequest) -> bool {
    let h = |n: &str| req.headers().get(n) == Some(&HeaderValue::from_static("true"));
    h("hx-request") && !h("hx-history-restore-request")
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }
    // the page itself is made by [`render`], which sees the request
}

/// A message in the page's message area.
#[derive(Template)]
#[template(path = "flash.html")]
pub struct Flash {
    /// Whether it reports a failure.
    pub error: bool,
    /// The message.
    pub message: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: String,
}

/// Turn every [`ConsoleError`] a handler or extractor returned into its page.
pub async fn render(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let page = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ConsoleError>())
        .map(|e| e.page(res.request()));
    Ok(match page {
        Some(page) => res.into_response(page),
        None => res.map_into_boxed_body(),
    })
}
