//! The wallet identity provider, after France Identité: a digital identity
//! is an electronic ID card plus a 6-digit code, not a phone. The provider
//! verifies every card read itself ([`verify`]: Passive then Active
//! Authentication against a challenge it issued), logs citizens in to the
//! hub by QR code and the app ([`login`], [`api`]), at `eidas2`, or
//! `eidas3` while a town-hall certification is valid.
//!
//! It keeps no name or birth date: those are read from the card at each
//! login; an identity is a pseudonymous id, hashes of its card, a contact
//! email, the code's epoch and the certification.

pub mod api;
pub mod certification;
pub mod config;
pub mod console;
pub mod errors;
pub mod flow;
pub mod identity;
pub mod login;
pub mod lost;
pub mod pdf;
pub mod proof;
pub mod seal;
pub mod totp;
pub mod verify;

use oidc::ConfigError;
use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use jose::KeySet;
use oidc::op::{Provider, ProviderSettings};
use oidc::{Acr, Client, Clock};
use store::Stores;

pub use config::Config;

/// A running wallet provider.
pub struct WalletProvider {
    pub config: Config,
    pub provider: Arc<Provider>,
    pub stores: Stores,
    pub clock: Arc<dyn Clock>,
    pub trust: verify::TrustStore,
    pub transactions: flow::Transactions,
    /// The seal signer (`DS-CEV-TEST`) of certification requests and
    /// identity proofs; without it, neither is offered.
    pub seal_signer: Option<card::pki::Authority>,
    pub mailer: Option<Arc<mail::Mailer>>,
    /// The town-hall console's sessions.
    pub console_sessions: web::SessionManager,
    /// The process's Argon2id pool (the agents' passwords).
    pub hash_pool: oidc::HashPool,
}

impl fmt::Debug for WalletParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WalletParts")
            .field("id", &self.config.id)
            .finish_non_exhaustive()
    }
}

/// What a wallet provider is made of.
pub struct WalletParts {
    pub config: Config,
    pub keys: KeySet,
    pub stores: Stores,
    pub clock: Arc<dyn Clock>,
    pub trust: verify::TrustStore,
    pub seal_signer: Option<card::pki::Authority>,
    pub mailer: Option<Arc<mail::Mailer>>,
    pub hash_pool: oidc::HashPool,
}

impl fmt::Debug for WalletProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WalletProvider")
            .field("id", &self.config.id)
            .finish_non_exhaustive()
    }
}

impl WalletProvider {
    /// A provider over its parts; the error names the setting at fault.
    pub fn new(parts: WalletParts) -> Result<Arc<Self>, ConfigError> {
        let WalletParts {
            config,
            keys,
            stores,
            clock,
            trust,
            seal_signer,
            mailer,
            hash_pool,
        } = parts;
        config::check(&config)?;
        let clients = config
            .clients
            .iter()
            .map(|client| {
                Client::hub_at_provider(
                    &client.client_id,
                    &client.name,
                    &client.client_secret,
                    &client.redirect_uris,
                    &client.post_logout_redirect_uris,
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| ConfigError::new("scopes", error))?;
        let settings = ProviderSettings::franceconnect(
            config.public_url.clone(),
            vec![Acr::Eidas2, Acr::Eidas3],
        );
        let provider = Provider::new(
            settings,
            clients,
            keys,
            clock.clone(),
            stores.codes.clone(),
            stores.tokens.clone(),
        )
        .map_err(|error| ConfigError::new("idp_wallet.clients", error))?;
        let console_sessions = web::SessionManager::new(
            stores.sessions.clone(),
            clock.clone(),
            format!("passerelle_mairie_{}", config.id),
            config.public_url.starts_with("https://"),
            config::CONSOLE_SESSION_SECS,
        );
        Ok(Arc::new(Self {
            transactions: flow::Transactions::new(stores.clone()),
            seal_signer,
            mailer,
            console_sessions,
            hash_pool,
            config,
            provider: Arc::new(provider),
            stores,
            clock,
            trust,
        }))
    }
}

/// A page of the provider: `body`, an askama template, rendered into the
/// frame. A template that does not render is a technical error, never a
/// blank page.
pub(crate) fn render_page(
    site: &str,
    title: &str,
    lang: web::Lang,
    body: &impl askama::Template,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match body.render() {
        Ok(body) => web::Page {
            title,
            site,
            body,
            lang,
            here: None,
        }
        .into_response(),
        Err(error) => {
            tracing::error!(%error, "page not rendered");
            errors::WalletError::Storage.into_response()
        }
    }
}

/// The provider's routes: the one table.
pub fn router(idp: Arc<WalletProvider>) -> Router {
    Router::new()
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
        .merge(web::op_routes(idp.provider.clone()))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn(web::security_headers))
}

/// A value as the JSON the stores keep. A value that cannot be encoded is
/// a storage error, never empty bytes written in its place.
pub(crate) fn stored_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, store::StoreError> {
    serde_json::to_vec(value).map_err(|error| store::StoreError::Backend(Box::new(error)))
}
