//! Reference password identity providers: impots.gouv-like (tax number and
//! password), ameli- and MSA-like (social security number and secret code),
//! La Poste- and Yris-like (email and password), ANTS-like (an assigned
//! identifier and password): one code base, one config each. Each is an
//! OpenID Provider for the hub, on the same engine as the hub itself, and
//! has its own pages: login, account creation, activation, password reset,
//! unlock, and an account page to change one's email address.
//!
//! Accounts belong to citizens of the seeded population, or are created
//! online after a check against the administration's records
//! ([`registry`]); the provider holds the identity as its administration
//! knows it (the ameli-like one writes given names in capitals, as the
//! national register then corrects).

mod account;
pub mod captcha;
pub mod config;
pub mod errors;
mod form;
mod login;
mod mails;
pub mod one_time;
pub mod password;
pub mod profile;
pub mod registry;
mod seed;
mod session;
mod signup;
pub mod sms;
pub mod throttle;

use oidc::ConfigError;
use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use jose::KeySet;
use oidc::op::{Provider, ProviderSettings};
use oidc::{Client, Clock};
use population::Citizen;
use store::Stores;
use web::SessionManager;

pub use config::{Config, LoginKind, SignupKind};
pub use seed::{SeededAccount, identity_of, login_of, seed_accounts};

/// What a provider is built from.
pub struct IdpParts {
    /// Settings.
    pub config: Config,
    /// Signing keys.
    pub keys: KeySet,
    /// Storage.
    pub stores: Stores,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The population, whose records new accounts are checked against.
    pub citizens: Arc<Vec<Citizen>>,
    /// Mail (activation, reset, unlock…); without it nothing is sent.
    pub mailer: Option<Arc<mail::Mailer>>,
    /// Text messages; without it no mobile number is asked.
    pub sms: Option<sms::SmsGateway>,
    /// The process's password hashing pool (shared by every provider).
    pub hash_pool: oidc::HashPool,
}

/// A running password provider.
pub struct PasswordProvider {
    /// Settings.
    pub config: Config,
    /// The provider engine.
    pub provider: Arc<Provider>,
    /// Browser sessions.
    pub sessions: SessionManager,
    /// Storage (accounts, rate limits, codes…).
    pub stores: Stores,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The administration's records.
    pub registry: registry::Registry,
    /// Mail.
    pub mailer: Option<Arc<mail::Mailer>>,
    /// Text messages.
    pub sms: Option<sms::SmsGateway>,
    /// Password hashes, under the pepper.
    pub hasher: password::Hasher,
    /// Failed-login waits and locks.
    pub throttle: throttle::Throttle,
    /// A hash no password matches, checked when an identifier is unknown.
    dummy_hash: String,
}

impl fmt::Debug for IdpParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdpParts")
            .field("id", &self.config.id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PasswordProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordProvider")
            .field("id", &self.config.id)
            .finish_non_exhaustive()
    }
}

impl PasswordProvider {
    /// Builds a provider from checked settings.
    pub fn new(parts: IdpParts) -> Result<Arc<Self>, ConfigError> {
        let IdpParts {
            config,
            keys,
            stores,
            clock,
            citizens,
            mailer,
            sms,
            hash_pool,
        } = parts;
        config.check("idp_password")?;
        let clients = config
            .clients
            .iter()
            .map(|client| {
                Client::hub_at_provider(
                    &client.client_id,
                    &client.client_id,
                    &client.client_secret,
                    &client.redirect_uris,
                    &client.post_logout_redirect_uris,
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| ConfigError::new("scopes", error))?;
        let settings = ProviderSettings::franceconnect(config.public_url.clone(), vec![config.acr]);
        let provider = Provider::new(
            settings,
            clients,
            keys,
            clock.clone(),
            stores.codes.clone(),
            stores.tokens.clone(),
        )
        .map_err(|error| ConfigError::new("idp_password.clients", error))?;
        let secure = config.public_url.starts_with("https://");
        let cookie = format!("passerelle_idp_{}", config.id);
        let sessions =
            SessionManager::new(stores.sessions.clone(), clock.clone(), cookie, secure, 900);
        let hasher = password::Hasher::new(&config.pepper, hash_pool);
        let dummy_hash = oidc::hash_pool::argon2id::decoy()
            .ok_or_else(|| ConfigError::new("argon2", "cannot make a decoy hash"))?;
        Ok(Arc::new(Self {
            config,
            provider: Arc::new(provider),
            sessions,
            throttle: throttle::Throttle::new(stores.clone()),
            stores,
            clock,
            registry: registry::Registry::new(citizens),
            mailer,
            sms,
            hasher,
            dummy_hash,
        }))
    }

    /// What the captcha shown to this browser reads, if one is shown. For
    /// an alternative to the image (to be read aloud), and for tests.
    pub async fn captcha_answer(&self, headers: &HeaderMap) -> Option<String> {
        let session = self
            .sessions
            .load::<session::IdpSession>(headers)
            .await
            .ok()??;
        session.data.captcha().map(|challenge| challenge.answer)
    }

    /// A link to one of the provider's pages.
    fn link(&self, path: &str, token: &str) -> String {
        format!("{}{path}?jeton={token}", self.config.public_url)
    }
}

/// The provider's routes: the one table.
pub fn router(idp: Arc<PasswordProvider>) -> Router {
    Router::new()
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
        .merge(web::op_routes(idp.provider.clone()))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn(web::security_headers))
}
