//! Request extractors: the authenticated caller, and JSON bodies, query strings and paths with
//! the contract's 400s, all mapped to errors by one function ([`input_error`]).

use std::future::Future;
use std::pin::Pin;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use auth::{Claims, User};
use kernel::{Caller, Origin, Role};

use crate::client::{ClientAddr, RequestId};
use crate::error::{ApiError, ErrorCode};
use crate::state::ApiState;

/// Which part of a request was malformed.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// The JSON body.
    Body,
    /// The query string.
    Query,
    /// The path.
    Path,
}

/// The one mapping of a malformed body, query string or path to its answer: 413 for a body
/// over the limit, else 400 `invalid_request` naming what was wrong.
pub fn input_error(part: Part, detail: impl std::fmt::Display) -> ApiError {
    let what = match part {
        Part::Body => "请求参数无效",
        Part::Query => "查询参数无效",
        Part::Path => "路径参数无效",
    };
    ApiError::bad_request(format!("{what}: {detail}"))
}

/// actix's error of a JSON body, answered by [`input_error`].
pub fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(ErrorCode::PayloadTooLarge, "请求体过大")
        }
        JsonPayloadError::ContentType => input_error(
            Part::Body,
            "请求体必须是 JSON（Content-Type: application/json）",
        ),
        JsonPayloadError::Deserialize(e) => input_error(Part::Body, e),
        other => input_error(Part::Body, other),
    }
}

/// actix's error of a query string, answered by [`input_error`].
pub fn query_error(err: QueryPayloadError) -> ApiError {
    match err {
        QueryPayloadError::Deserialize(e) => input_error(Part::Query, e),
        other => input_error(Part::Query, other),
    }
}

/// actix's error of a path, answered by [`input_error`].
pub fn path_error(err: PathError) -> ApiError {
    match err {
        PathError::Deserialize(e) => input_error(Part::Path, e),
        other => input_error(Part::Path, other),
    }
}

/// The authenticated caller with their user record and organisation scope.
pub struct Auth {
    /// Who, and what they may see.
    pub caller: Caller,
    /// Their user record.
    pub user: User,
    /// The token's claims (its expiry; its id, what logout revokes).
    pub claims: Claims,
}

impl Auth {
    /// The caller behind a token (the API's headers, the console's cookie): 401 when the token
    /// is not valid or its user is gone, 403 `password_change_required` when they must change a
    /// reset password first.
    pub async fn of_token(state: &ApiState, token: &str, origin: Origin) -> Result<Auth, ApiError> {
        let (claims, user) = state.auth.authenticate(token).await?;
        Self::of(state, claims, user, origin).await
    }

    /// As [`Auth::of_token`], but a user who must change their password passes: for changing
    /// it, logging out, and seeing who they are.
    pub async fn of_token_pending(
        state: &ApiState,
        token: &str,
        origin: Origin,
    ) -> Result<Auth, ApiError> {
        let (claims, user) = state.auth.authenticate_pending(token).await?;
        Self::of(state, claims, user, origin).await
    }

    async fn of(
        state: &ApiState,
        claims: Claims,
        user: User,
        origin: Origin,
    ) -> Result<Auth, ApiError> {
        let scope = state.orgs.scope_of(user.org_id).await?;
        Ok(Auth {
            caller: Caller {
                user_id: user.id,
                username: user.username.clone(),
                org_id: user.org_id,
                role: user.role,
                scope,
                origin,
            },
            claims,
            user,
        })
    }

    /// 403 unless the caller is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.caller.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

/// Where a request came from: its id (set by the HTTP layer) and the client's address.
pub fn origin_of(req: &HttpRequest) -> Origin {
    Origin {
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        client_addr: Some(client_addr(req)),
    }
}

/// The client's address, for the login throttle and logs: as the HTTP layer resolved it
/// ([`crate::client`]: `X-Forwarded-For` from trusted proxies only), else the peer's.
pub fn client_addr(req: &HttpRequest) -> String {
    if let Some(ClientAddr(addr)) = req.extensions().get::<ClientAddr>() {
        return addr.to_string();
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
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

/// The caller of a request's token (with or without a password change `pending` allowed).
fn from_headers(
    req: &HttpRequest,
    pending: bool,
) -> Pin<Box<dyn Future<Output = Result<Auth, ApiError>>>> {
    let state = req.app_data::<web::Data<ApiState>>().cloned();
    let token = token_of(req);
    let origin = origin_of(req);
    Box::pin(async move {
        let state = state.ok_or_else(|| ApiError::internal("app state missing"))?;
        let token = token.ok_or_else(ApiError::unauthorized)?;
        if pending {
            Auth::of_token_pending(&state, &token, origin).await
        } else {
            Auth::of_token(&state, &token, origin).await
        }
    })
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        from_headers(req, false)
    }
}

/// The authenticated caller, who may have a password change pending ([`Auth::of_token_pending`]).
pub struct PendingAuth(pub Auth);

impl FromRequest for PendingAuth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let auth = from_headers(req, true);
        Box::pin(async move { auth.await.map(PendingAuth) })
    }
}

/// The text of a request may not contain U+0000: PostgreSQL `text` cannot store it, so such a
/// value is malformed input (400), never a database error (500).
pub const NUL_TEXT: &str = "文本不能包含 NUL 字符 (\\u0000)";

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

/// A JSON body, like [`web::Json`] (the API's [`web::JsonConfig`]: size limit, content type,
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
                return Err(input_error(Part::Body, NUL_TEXT).into());
            }
            serde_json::from_value(value)
                .map(Json)
                .map_err(|e| input_error(Part::Body, e).into())
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
    let pairs = web::Query::<Vec<(String, String)>>::from_query(qs).map_err(query_error)?;
    if pairs
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(input_error(Part::Query, NUL_TEXT));
    }
    web::Query::<T>::from_query(qs)
        .map(web::Query::into_inner)
        .map_err(query_error)
}

/// The query of an endpoint that takes no parameters: any parameter is 400 (an unknown query
/// parameter is refused, as the contract says, not ignored).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoQuery {}

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
        let keyword = |qs: &str| parse_query::<Q>(qs).ok().and_then(|q| q.keyword);
        assert_eq!(keyword("keyword=a%20b").as_deref(), Some("a b"));
        // `%2500` is the text `%00`, not a NUL
        assert_eq!(keyword("keyword=%2500").as_deref(), Some("%00"));
        for bad in ["keyword=a%00", "other=1"] {
            let e = parse_query::<Q>(bad).err().map(|e| e.code);
            assert_eq!(e, Some(ErrorCode::InvalidRequest), "{bad}");
        }
    }
}
