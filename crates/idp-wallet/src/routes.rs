//! The provider's routes.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::{WalletProvider, api, certification, console, licence, login, lost, proof};

/// The provider's routes: the one table.
pub fn router(idp: Arc<WalletProvider>) -> Router {
    let routes = Router::new()
        .route("/langue/{code}", get(web::switch_language))
        .route(web::STYLESHEET_PATH, get(web::stylesheet))
        .route("/favicon.ico", get(web::no_favicon))
        .route("/authorize", get(login::authorize))
        .route("/login", get(login::page))
        .route("/login/etat", get(login::state))
        .route("/login/qr.svg", get(login::qr_image))
        .route("/login.js", get(login::script))
        .route("/session/end", get(login::end_session))
        .route("/q/{ref}/claim", post(api::claim))
        .route("/app/challenge", post(api::challenge))
        .route("/app/activate", post(api::activate))
        .route("/app/status", post(api::status))
        .route("/app/approve", post(api::approve))
        .route("/app/refuse", post(api::refuse))
        .route("/app/pin-changed", post(api::pin_changed))
        .route("/app/delete", post(api::delete))
        .route("/app/licence", post(licence::issue))
        .route("/app/licence/renew", post(licence::renew))
        .route("/mdl/iaca.der", get(licence::iaca))
        .route("/certification", get(certification::guide))
        .route("/app/certification/start", post(certification::start))
        .route("/app/certification/confirm", post(certification::confirm))
        .route("/app/proof", post(proof::issue))
        .route("/justificatif", get(proof::page).post(proof::check))
        .route("/justificatif.js", get(proof::script))
        .route("/api/justificatif/verifier", post(proof::api_verify))
        .route("/supprimer", get(lost::confirm).post(lost::delete))
        .route("/mairie", get(console::home))
        .route("/mairie/connexion", post(console::log_in))
        .route("/mairie/deconnexion", post(console::log_out))
        .route("/mairie/demande", post(console::check))
        .route("/mairie/carte", post(console::read_card))
        .route("/mairie/decision", post(console::decide))
        .with_state(idp.clone())
        .merge(web::op_routes(idp.provider.clone()));
    web::guarded(routes, 64 * 1024)
}
