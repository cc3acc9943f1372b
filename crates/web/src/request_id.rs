//! Each request's id (`oidc::request_id`): its span in the logs, its
//! `X-Request-Id` in the response.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use oidc::request_id::{self, HEADER};
use tracing::Instrument as _;

/// Runs the request in a `request` span with the part serving it (`part`,
/// the state), its id, its method and its route: the route's pattern
/// (`/location/resultat/{state}`), never the path or the query, which may
/// hold codes, tokens and states. Ends with a `served` event at debug
/// level, with the status.
pub async fn request_ids(State(part): State<Arc<str>>, request: Request, next: Next) -> Response {
    let incoming = request
        .headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok());
    let id = request_id::accept(incoming);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("-", MatchedPath::as_str);
    let span = tracing::info_span!(
        "request",
        part = %part,
        id = %id,
        method = %request.method(),
        route = %route,
    );
    let served = async {
        let response = next.run(request).await;
        tracing::debug!(status = response.status().as_u16(), "served");
        response
    };
    let echoed = HeaderValue::from_str(&id).ok();
    let mut response = request_id::scope(id, served).instrument(span).await;
    if let Some(value) = echoed {
        response.headers_mut().insert(HEADER, value);
    }
    response
}
