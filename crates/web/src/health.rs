//! `GET /healthz` (the process answers) and `GET /readyz` (its stores
//! answer too), served by every part, for load balancers and
//! orchestrators: HAProxy takes a process out of rotation while `/readyz`
//! fails (docs/deploy.md).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use store::Stores;

/// How long `/readyz` waits for a store: past it, the store is down.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The two routes, over the part's stores.
pub fn health_routes(stores: Vec<Stores>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Arc::new(stores))
}

async fn healthz() -> Response {
    plain(StatusCode::OK, "ok")
}

async fn readyz(State(stores): State<Arc<Vec<Stores>>>) -> Response {
    for bundle in stores.iter() {
        match tokio::time::timeout(PING_TIMEOUT, bundle.ping()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "not ready: a store fails");
                return plain(StatusCode::SERVICE_UNAVAILABLE, "stores unavailable");
            }
            Err(_) => {
                tracing::warn!("not ready: a store does not answer");
                return plain(StatusCode::SERVICE_UNAVAILABLE, "stores unavailable");
            }
        }
    }
    plain(StatusCode::OK, "ready")
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}
