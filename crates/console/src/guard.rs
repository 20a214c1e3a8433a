//! What every console answer carries, and the check of every state-changing request.
//!
//! CSRF: a state-changing request (any method but GET and HEAD) must come from a page of the
//! console itself: it carries htmx's `HX-Request` header (a header a cross-site form cannot
//! send, and one the API's CORS settings never allow) and, where the browser says where it comes
//! from, `Origin` is this host and `Sec-Fetch-Site` is `same-origin`. Anything else is 403 and
//! changes nothing.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;

/// The Content-Security-Policy of every page: nothing but this origin, no inline script, no
/// framing.
pub const CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; \
                       frame-ancestors 'none'; object-src 'none'";

/// Why a state-changing request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfRefusal {
    /// It was not sent by the console's pages (no `HX-Request` header).
    NotFromConsole,
    /// `Origin` names another site.
    CrossOrigin,
    /// `Sec-Fetch-Site` says it came from another site.
    CrossSite,
    /// Neither `Origin` nor `Sec-Fetch-Site` says where it came from.
    UnknownOrigin,
}

fn header<'a>(req: &'a ServiceRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The CSRF rule for one request; `None` when it may go on.
pub fn csrf_refusal(req: &ServiceRequest) -> Option<CsrfRefusal> {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    if header(req, "hx-request") != Some("true") {
        return Some(CsrfRefusal::NotFromConsole);
    }
    let origin = header(req, "origin");
    let site = header(req, "sec-fetch-site");
    if let Some(origin) = origin {
        let host = req.connection_info().host().to_owned();
        let authority = origin
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        if !authority.eq_ignore_ascii_case(&host) {
            return Some(CsrfRefusal::CrossOrigin);
        }
    }
    match site {
        Some("same-origin") => None,
        Some(_) => Some(CsrfRefusal::CrossSite),
        None if origin.is_some() => None,
        None => Some(CsrfRefusal::UnknownOrigin),
    }
}

/// Refuse state-changing requests that fail [`csrf_refusal`] with a 403 page.
pub async fn csrf(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(why) = csrf_refusal(&req) {
        tracing::warn!(path = %req.path(), ?why, "console request refused (CSRF)");
        let res = crate::error::ConsoleError::CrossSite.page(req.request());
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Security and caching headers on every console answer.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    let set =
        |h: &mut actix_web::http::header::HeaderMap, name: &'static str, value: &'static str| {
            h.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        };
    set(h, "content-security-policy", CSP);
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    // a page and its fragment share a URL
    h.insert(
        header::VARY,
        HeaderValue::from_static("HX-Request, HX-Target"),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn post(headers: &[(&'static str, &'static str)]) -> ServiceRequest {
        let mut r = TestRequest::post()
            .uri("/tasks/1/stop")
            .insert_header(("host", "console.example:8080"));
        for h in headers {
            r = r.insert_header(*h);
        }
        r.to_srv_request()
    }

    #[test]
    fn reads_pass_and_writes_need_the_console_header_and_this_origin() {
        let get = TestRequest::get().uri("/").to_srv_request();
        assert_eq!(csrf_refusal(&get), None);
        assert_eq!(
            csrf_refusal(&post(&[("origin", "http://console.example:8080")])),
            Some(CsrfRefusal::NotFromConsole)
        );
        assert_eq!(
            csrf_refusal(&post(&[
                ("hx-request", "true"),
                ("origin", "http://console.example:8080"),
                ("sec-fetch-site", "same-origin"),
            ])),
            None
        );
        assert_eq!(
            csrf_refusal(&post(&[
                ("hx-request", "true"),
                ("origin", "http://console.example:8080")
            ])),
            None
        );
    }

    #[test]
    fn a_write_from_another_site_or_from_nowhere_is_refused() {
        assert_eq!(
            csrf_refusal(&post(&[
                ("hx-request", "true"),
                ("origin", "https://evil.example")
            ])),
            Some(CsrfRefusal::CrossOrigin)
        );
        assert_eq!(
            csrf_refusal(&post(&[
                ("hx-request", "true"),
                ("origin", "http://console.example:8080.evil.example"),
            ])),
            Some(CsrfRefusal::CrossOrigin)
        );
        assert_eq!(
            csrf_refusal(&post(&[
                ("hx-request", "true"),
                ("sec-fetch-site", "cross-site")
            ])),
            Some(CsrfRefusal::CrossSite)
        );
        assert_eq!(
            csrf_refusal(&post(&[("hx-request", "true")])),
            Some(CsrfRefusal::UnknownOrigin)
        );
    }
}
