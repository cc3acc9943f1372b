//! The portal's routes.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::pages::{home, jwks, me};
use crate::state::DemoService;
use crate::{demarche, rental};

/// The service's routes: the one table.
pub fn router(service: Arc<DemoService>) -> Router {
    let demarches = service.demarches.clone();
    let rental = service.rental.clone();
    let portal = Router::new()
        .route("/", get(home))
        .route(web::STYLESHEET_PATH, get(web::stylesheet))
        .route("/favicon.ico", get(web::no_favicon))
        .route("/langue/{code}", get(web::switch_language))
        .route("/jwks", get(jwks))
        .route("/me", get(me))
        .with_state(service.clone())
        .merge(web::rp::routes(&service))
        .layer(DefaultBodyLimit::max(16 * 1024));
    let portal = match rental {
        Some(rental) => {
            portal.merge(rental::router(rental).layer(DefaultBodyLimit::max(64 * 1024)))
        }
        None => portal,
    };
    demarches
        .into_iter()
        .fold(portal, |portal, demarche| {
            portal.merge(demarche::router(demarche))
        })
        .layer(axum::middleware::map_response(web::security_headers))
}
