//! The one table of the register's routes.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::identity_match::{BODY_LIMIT_BYTES, lookup_licence, match_identity, match_licence};
use crate::index::Index;

/// Every route of the register, with the shared index as state.
pub(crate) fn routes(index: Arc<Index>) -> Router {
    Router::new()
        .route("/api/v1/identities/match", post(match_identity))
        .route("/api/v1/driving-licences/match", post(match_licence))
        .route("/api/v1/driving-licences/lookup", post(lookup_licence))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .with_state(index)
}

/// `GET /health`: the process is up and serving.
async fn health() -> &'static str {
    "ok"
}
