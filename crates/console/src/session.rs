//! The console's session: the API's own token (the same login service, the same lifetime) kept
//! in an HttpOnly, SameSite=Strict cookie. The cookie is read by the console only; the API reads
//! tokens from its headers and never from a cookie.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{FromRequest, HttpRequest, web};
use api::ApiState;
use api::extract::Auth;
use kernel::Role;

use crate::Console;
use crate::error::ConsoleError;

/// Name of the session cookie.
pub const COOKIE: &str = "outbound_session";

/// The signed-in operator of a console request. Extracting it from a request without a valid
/// session fails with [`ConsoleError::LoggedOut`], which leads to `/login` and back.
pub struct Session(pub Auth);

impl Session {
    /// Whether the operator is an admin.
    pub fn is_admin(&self) -> bool {
        self.0.caller.role == Role::Admin
    }

    /// The 403 page unless the operator is an admin.
    pub fn require_admin(&self) -> Result<(), ConsoleError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ConsoleError::AdminsOnly)
        }
    }
}

impl std::ops::Deref for Session {
    type Target = Auth;
    fn deref(&self) -> &Auth {
        &self.0
    }
}

/// The session of a request, with (`pending`) or without a password change pending.
fn extract(
    req: &HttpRequest,
    pending: bool,
) -> Pin<Box<dyn Future<Output = Result<Auth, ConsoleError>>>> {
    let state = req.app_data::<web::Data<ApiState>>().cloned();
    let token = req.cookie(COOKIE).map(|c| c.value().to_owned());
    let origin = api::extract::origin_of(req);
    Box::pin(async move {
        let state = state.ok_or(ConsoleError::Internal)?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(ConsoleError::LoggedOut)?;
        let auth = if pending {
            Auth::of_token_pending(&state, &token, origin).await
        } else {
            Auth::of_token(&state, &token, origin).await
        };
        match auth {
            Ok(auth) => Ok(auth),
            Err(e) if e.status() == actix_web::http::StatusCode::UNAUTHORIZED => {
                Err(ConsoleError::LoggedOut)
            }
            Err(e) => Err(e.into()),
        }
    })
}

impl FromRequest for Session {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let auth = extract(req, false);
        Box::pin(async move { auth.await.map(Session) })
    }
}

/// A session that may have a password change pending: for the account page (where it is
/// changed) and logging out.
pub struct PendingSession(pub Auth);

impl FromRequest for PendingSession {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let auth = extract(req, true);
        Box::pin(async move { auth.await.map(PendingSession) })
    }
}

/// The cookie that holds a new session's token for `max_age_secs`.
pub fn cookie(console: &Console, token: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(console.settings.cookie_secure)
        .max_age(CookieDuration::seconds(max_age_secs))
        .finish()
}

/// The cookie that ends a session.
pub fn removal(console: &Console) -> Cookie<'static> {
    let mut c = cookie(console, String::new(), 0);
    c.make_removal();
    c
}

/// Where to come back to after logging in: a path of this site, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.starts_with("/login")
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The page a request was made from (for htmx requests, the page the browser shows), to come
/// back to after logging in.
pub fn return_path(req: &HttpRequest) -> String {
    let current = req
        .headers()
        .get("hx-current-url")
        .and_then(|v| v.to_str().ok())
        .and_then(|url| url.split_once("://"))
        .and_then(|(_, rest)| rest.find('/').and_then(|i| rest.get(i..)));
    match current {
        Some(path) => safe_next(Some(path)),
        None => {
            let pq = req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str())
                .unwrap_or("/");
            safe_next(Some(pq))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(secure: bool) -> Console {
        Console {
            settings: crate::ConsoleSettings {
                cookie_secure: secure,
                upload_limit: 1,
            },
            live: Default::default(),
        }
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_when_configured() {
        let c = cookie(&console(true), "t".into(), 60).to_string();
        for flag in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(c.contains(flag), "{flag} missing: {c}");
        }
        let plain = cookie(&console(false), "t".into(), 60).to_string();
        assert!(!plain.contains("Secure"), "{plain}");
        assert!(removal(&console(true)).to_string().contains("Max-Age=0"));
    }

    #[test]
    fn only_paths_of_this_site_are_returned_to() {
        assert_eq!(
            safe_next(Some("/tasks/5?status=connected")),
            "/tasks/5?status=connected"
        );
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "tasks",
            "/login?next=/",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
