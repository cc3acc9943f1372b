//! The provider's routes.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::{PasswordProvider, account, login, signup};

/// The provider's routes: the one table.
pub fn router(idp: Arc<PasswordProvider>) -> Router {
    let routes = Router::new()
        .route("/", get(login::home))
        .route("/langue/{code}", get(web::switch_language))
        .route(web::STYLESHEET_PATH, get(web::stylesheet))
        .route("/favicon.ico", get(web::no_favicon))
        .route("/authorize", get(login::authorize))
        .route("/login", get(login::page).post(login::submit))
        .route("/session/end", get(login::end_session))
        .route("/inscription", get(signup::start).post(signup::identify))
        .route(
            "/inscription/informations",
            get(signup::details_page).post(signup::details),
        )
        .route(
            "/inscription/preferences",
            get(signup::preferences_page).post(signup::preferences),
        )
        .route(
            "/inscription/code",
            get(signup::code_page).post(signup::code),
        )
        .route("/inscription/envoyee", get(signup::sent))
        .route("/captcha.svg", get(signup::captcha_image))
        .route(
            "/activation",
            get(signup::activation_page).post(signup::activate),
        )
        .route("/compte", get(account::page))
        .route("/compte/deconnexion", post(account::logout))
        .route(
            "/compte/courriel",
            get(account::email_page).post(account::change_email),
        )
        .route(
            "/courriel/confirmation",
            get(account::confirm_email_page).post(account::confirm_email),
        )
        .route(
            "/mot-de-passe-oublie",
            get(account::forgot_page).post(account::forgot),
        )
        .route(
            "/mot-de-passe/nouveau",
            get(account::reset_page).post(account::reset),
        )
        .route(
            "/deverrouillage",
            get(account::unlock_page).post(account::unlock),
        )
        .with_state(idp.clone())
        .merge(web::op_routes(idp.provider.clone()));
    web::guarded(routes, 64 * 1024)
}
