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

/// The text of a request may not contain U+0000: PostgreSQL `text` cannot store it, so such a
/// value is malformed input (400), never a database error (500).
const NUL_MESSAGE: &str = "请求参数无效: 文本不能包含 NUL 字符 (\\u0000)";

/// Whether a string anywhere in `v` (a value or an object key) contains U+0000.
pub fn contains_nul(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(contains_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The message of a row refused for a U+0000 in its text (import).
pub fn nul_row_error() -> String {
    "文本不能包含 NUL 字符 (\\u0000)".to_owned()
}

/// A JSON body, like [`web::Json`] (the app's [`web::JsonConfig`]: size limit, content type,
/// contract errors), and in addition refused with 400 when any string in it contains U+0000.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            if contains_nul(&value) {
                return Err(ApiError::bad_request(NUL_MESSAGE).into());
            }
            serde_json::from_value(value)
                .map(Json)
                .map_err(|e| ApiError::bad_request(format!("请求参数无效: {e}")).into())
        })
    }
}

/// A query string, like [`web::Query`] with the contract's 400, and in addition refused with 400
/// when a decoded name or value contains U+0000 (`%00`).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    /// The parameters.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

fn parse_query<T: serde::de::DeserializeOwned>(qs: &str) -> Result<T, ApiError> {
    let bad = |e: actix_web::error::QueryPayloadError| {
        ApiError::bad_request(format!("查询参数无效: {e}"))
    };
    let pairs = web::Query::<Vec<(String, String)>>::from_query(qs).map_err(bad)?;
    if pairs
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(ApiError::bad_request(NUL_MESSAGE));
    }
    web::Query::<T>::from_query(qs)
        .map(web::Query::into_inner)
        .map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_found_in_values_and_keys() {
        assert!(!contains_nul(&json!({"a": ["b", 1, null, {"c": "d"}]})));
        assert!(contains_nul(&json!({"a": ["b", "x\u{0}y"]})));
        assert!(contains_nul(&json!({"a\u{0}": 1})));
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Q {
        keyword: Option<String>,
    }

    #[test]
    fn query_with_nul_is_400() {
        assert_eq!(
            parse_query::<Q>("keyword=a%20b")
                .unwrap()
                .keyword
                .as_deref(),
            Some("a b")
        );
        // `%2500` is the text `%00`, not a NUL
        assert_eq!(
            parse_query::<Q>("keyword=%2500")
                .unwrap()
                .keyword
                .as_deref(),
            Some("%00")
        );
        assert_eq!(parse_query::<Q>("keyword=a%00").unwrap_err().status, 400);
        assert_eq!(parse_query::<Q>("other=1").unwrap_err().status, 400);
    }
}

/// The query of an endpoint that takes no parameters: any parameter is 400 (an unknown query
/// parameter is refused, as the contract says, not ignored).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoQuery {}
