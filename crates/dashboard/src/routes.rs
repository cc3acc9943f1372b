//! The dashboard's routes.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::history::{home, set_providers};
use crate::report::{report, report_form};
use crate::state::Dashboard;
use crate::verification::{verification, verification_with_receipt};

/// The dashboard's routes: the one table.
pub fn router(dashboard: Arc<Dashboard>) -> Router {
    let login = web::rp::routes(&dashboard);
    let routes = Router::new()
        .route("/", get(home))
        .route(web::STYLESHEET_PATH, get(web::stylesheet))
        .route("/favicon.ico", get(web::no_favicon))
        .route("/langue/{code}", get(web::switch_language))
        .route(
            "/verification",
            get(verification).post(verification_with_receipt),
        )
        .route("/fournisseurs", post(set_providers))
        .route("/signalement", get(report_form).post(report))
        .with_state(dashboard)
        .merge(login);
    web::guarded(routes, 16 * 1024)
}
