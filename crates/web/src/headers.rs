//! Security headers on every response.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

/// Content-Security-Policy of every page: our own resources only, no inline
/// script, no framing. `form-action` is left out on purpose: forms of the
/// federation post to us and are then redirected to services, which that
/// directive would block in browsers that apply it to redirects.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
                   connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// `router` as an app serves it: request bodies bounded to `body_limit`
/// bytes, and [`security_headers`] on every answer. One layer of the two:
/// axum wraps each layer around each route and clones it at every request.
pub fn guarded(router: Router, body_limit: usize) -> Router {
    router.layer((
        axum::middleware::map_response(security_headers),
        DefaultBodyLimit::max(body_limit),
    ))
}

/// Adds CSP, no-sniff, no-referrer (codes and tokens in URLs must not leak
/// through `Referer`) and frame denial to a response (for
/// `axum::middleware::map_response`).
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, for token responses
/// (RFC 6749 §5.1).
pub fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ]
}

/// A 303 redirect, with a cookie when given.
pub fn see_other(location: &str, cookie: Option<HeaderValue>) -> Response {
    with_cookie(Redirect::to(location).into_response(), cookie)
}

/// A response with a cookie set, when given.
pub fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
