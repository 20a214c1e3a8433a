//! Request extractors: the authenticated caller, and JSON / query bodies with contract errors.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};
use auth::User;
use kernel::{Caller, Role};

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller with their user record and organisation scope.
pub struct Auth {
    /// Who, and what they may see.
    pub caller: Caller,
    /// Their user record.
    pub user: User,
    /// Token expiry (unix seconds).
    pub expires_at: i64,
}

impl Auth {
    /// 403 unless the caller is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.caller.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

/// The token of a request: `access-token`, else `Authorization: Bearer`.
pub fn token_of(req: &HttpRequest) -> Option<String> {
    if let Some(t) = req
        .headers()
        .get("access-token")
        .and_then(|v| v.to_str().ok())
    {
        let t = t.trim();
        if !t.is_empty() {
            return Some(t.to_owned());
        }
    }
    let h = req.headers().get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = token_of(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("app state missing"))?;
            let token = token.ok_or_else(ApiError::unauthorized)?;
            let (claims, user) = state.auth.authenticate(&token).await?;
            let scope = state.orgs.scope_of(user.org_id).await?;
            Ok(Auth {
                caller: Caller {
                    user_id: user.id,
                    org_id: user.org_id,
                    role: user.role,
                    scope,
                },
                expires_at: claims.expires_at,
                user,
            })
        })
    }
}
