//! The hub's routes: the one table.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::state::Hub;
use crate::{authorize, callback, consent, logout};

/// The hub's HTTP interface.
pub fn router(hub: Arc<Hub>) -> Router {
    let protocol = web::op_routes(hub.provider.clone());
    let routes = Router::new()
        .route("/", get(consent::home))
        .route(web::STYLESHEET_PATH, get(web::stylesheet))
        .route("/favicon.ico", get(web::no_favicon))
        .route("/langue/{code}", get(web::switch_language))
        .route(
            "/api/v2/authorize",
            get(authorize::get).post(authorize::post),
        )
        .route(
            "/api/v2/oidc-callback/{provider}",
            get(callback::provider_callback),
        )
        .route(
            "/api/v2/session/end",
            get(logout::end_session_get).post(logout::end_session_post),
        )
        .route(
            "/api/v2/client/logout-callback",
            get(logout::provider_logged_out),
        )
        .route("/interaction", get(authorize::choice_page))
        .route("/interaction/choose", post(authorize::choose))
        .route(
            "/interaction/consent",
            get(consent::page).post(consent::accept),
        )
        .route("/interaction/abort", post(consent::abort))
        .with_state(hub)
        .nest("/api/v2", protocol);
    web::guarded(routes, 64 * 1024)
}
