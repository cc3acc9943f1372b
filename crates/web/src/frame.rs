//! What every request of a part goes through, in one layer: its id
//! (`oidc::request_id`) and span in the logs, its error page in the reader's
//! language, its latency and status counted, its `X-Request-Id` in the
//! answer. An answer kept by [`crate::serve`] ([`crate::Constant`]) gets its
//! id and its count here too when given again.
//!
//! One layer and not four: axum boxes each layer of a router around each of
//! its routes and clones the boxes at every request, and each middleware
//! made with `from_fn` boxes the rest of the stack again.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use oidc::request_id::{self, HEADER};
use tracing::Instrument as _;

use crate::{Constant, Lang, Metrics, error_page};

/// The frame of one part's requests.
#[derive(Clone, Debug)]
pub struct Frame {
    part: Arc<str>,
    metrics: Metrics,
}

impl Frame {
    /// The frame of `part`'s requests, counted in `metrics`.
    pub fn new(part: &str, metrics: Metrics) -> Self {
        Self {
            part: Arc::from(part),
            metrics,
        }
    }

    /// `router` with each of its requests framed.
    pub fn around(self, router: Router) -> Router {
        router.layer(axum::middleware::from_fn_with_state(self, framed))
    }

    /// Frames a kept answer given again without the router: the id of the
    /// request that came with `headers`, and the count.
    pub(crate) fn answered(&self, headers: &HeaderMap, response: &mut Response, started: Instant) {
        let id = id_of(headers);
        self.finish(response, HeaderValue::from_str(&id).ok(), started);
    }

    fn finish(&self, response: &mut Response, id: Option<HeaderValue>, started: Instant) {
        self.metrics
            .observe_response(&self.part, response, started.elapsed());
        if let Some(value) = id {
            response.headers_mut().insert(HEADER, value);
        }
    }
}

/// Runs the request in a `request` span with the part serving it, its id,
/// its method and its route: the route's pattern
/// (`/location/resultat/{state}`), never the path or the query, which may
/// hold codes, tokens and states. Ends with a `served` event at debug
/// level, with the status.
async fn framed(State(frame): State<Frame>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // The reader's language, read from its cookie only for an error page:
    // the `Cookie` header kept (its bytes shared, not copied), not parsed
    // at every request.
    let mut cookies = HeaderMap::new();
    for value in request.headers().get_all(header::COOKIE) {
        cookies.append(header::COOKIE, value.clone());
    }
    let id = id_of(request.headers());
    let echoed = HeaderValue::from_str(&id).ok();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("-", MatchedPath::as_str);
    let span = tracing::info_span!(
        "request",
        part = %frame.part,
        id = %id,
        method = %request.method(),
        route = %route,
    );
    let served = async {
        let response = next.run(request).await;
        tracing::debug!(status = response.status().as_u16(), "served");
        response
    };
    let response = request_id::scope(id, served).instrument(span).await;
    let mut response = error_page::in_language(response, || Lang::of(&cookies, None));
    if let Some(constant) = response.extensions_mut().get_mut::<Constant>() {
        constant.frame = Some(frame.clone());
    }
    frame.finish(&mut response, echoed, started);
    response
}

/// The id of the request that came with `headers`: a proxy's, or a new one.
fn id_of(headers: &HeaderMap) -> String {
    request_id::accept(headers.get(HEADER).and_then(|value| value.to_str().ok()))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower_service::Service as _;

    use super::*;
    use crate::{ErrorPage, LANG_COOKIE};

    /// The status and page of an app's error, answered in French, read
    /// through the frame with these `Cookie` headers.
    async fn error_page_read_with(cookies: &[&str]) -> (StatusCode, String) {
        let app = Router::new().route(
            "/",
            get(|| async { ErrorPage::technical("Le site").respond(Lang::Fr) }),
        );
        let mut framed = Frame::new("test", Metrics::default()).around(app);
        let mut request = Request::get("/");
        for cookie in cookies {
            request = request.header(header::COOKIE, *cookie);
        }
        let response = framed
            .call(request.body(Body::empty()).expect("request"))
            .await
            .expect("answered");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn an_error_page_is_given_again_in_the_language_of_the_reader_s_cookie() {
        let (status, page) = error_page_read_with(&[]).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(page.contains("Erreur technique"), "{page}");
        let english = format!("{LANG_COOKIE}=en");
        let beside = format!("theme=dark; {english}");
        for cookies in [vec![beside.as_str()], vec!["theme=dark", english.as_str()]] {
            let (status, page) = error_page_read_with(&cookies).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            assert!(page.contains("Technical error"), "{cookies:?}: {page}");
            assert!(!page.contains("Erreur technique"), "{cookies:?}: {page}");
        }
        let (_, page) = error_page_read_with(&[&format!("{LANG_COOKIE}=fr")]).await;
        assert!(page.contains("Erreur technique"), "{page}");
    }
}
