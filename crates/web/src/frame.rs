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
use axum::http::{HeaderMap, HeaderValue};
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
    let lang = Lang::of(request.headers(), None);
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
    let mut response = error_page::in_language(response, lang);
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
