//! Reference password identity providers: impots.gouv-like (tax number and
//! password) and ameli-like (social security number and secret code), one
//! code base, one config each. Each is an OpenID Provider for the hub, on the
//! same engine as the hub itself.
//!
//! Accounts belong to citizens of the seeded population; the provider holds
//! their identity as its administration knows it (the ameli-like one writes
//! given names in capitals, as the national register then corrects).

pub mod config;
pub mod errors;
mod login;
pub mod registry;
mod seed;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use jose::{Alg, KeySet};
use oidc::op::{Provider, ProviderSettings};
use oidc::{Client, ClientAuth, ClientSecret, Clock, RedirectUri, Scopes, Secret};
use store::Stores;
use web::SessionManager;

pub use config::{Config, LoginKind};
pub use seed::{SeededAccount, seed_accounts};

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
    /// A hash of a random password, checked when an identifier is unknown.
    dummy_hash: String,
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
    pub fn new(
        config: Config,
        keys: KeySet,
        stores: Stores,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, (String, String)> {
        config.check("idp_password")?;
        let scopes = Scopes::parse(&oidc::claims::known_scopes().join(" "))
            .map_err(|error| ("scopes".to_owned(), error))?;
        let clients = config
            .clients
            .iter()
            .map(|client| {
                let uris = |list: &[String]| {
                    list.iter()
                        .filter_map(|uri| RedirectUri::parse(uri).ok())
                        .collect()
                };
                Client {
                    client_id: client.client_id.clone(),
                    entity_id: client.client_id.clone(),
                    name: client.client_id.clone(),
                    redirect_uris: uris(&client.redirect_uris),
                    post_logout_redirect_uris: uris(&client.post_logout_redirect_uris),
                    auth: ClientAuth::SecretPost(ClientSecret::Plain(Secret::new(
                        client.client_secret.clone(),
                    ))),
                    signing_alg: Alg::ES256,
                    scopes: scopes.clone(),
                    require_pkce: true,
                    keys: oidc::ClientKeys::None,
                    backchannel_logout_uri: None,
                    encryption: None,
                }
            })
            .collect();
        let settings = ProviderSettings::franceconnect(config.public_url.clone(), vec![config.acr]);
        let provider = Provider::new(
            settings,
            clients,
            keys,
            clock.clone(),
            stores.codes.clone(),
            stores.tokens.clone(),
        )
        .map_err(|error| ("idp_password.clients".to_owned(), error))?;
        let secure = config.public_url.starts_with("https://");
        let cookie = format!("passerelle_idp_{}", config.id);
        let sessions =
            SessionManager::new(stores.sessions.clone(), clock.clone(), cookie, secure, 900);
        let dummy_hash = seed::hash_password(&oidc::types::random_token(16))
            .ok_or_else(|| ("argon2".to_owned(), "cannot hash".to_owned()))?;
        Ok(Arc::new(Self {
            config,
            provider: Arc::new(provider),
            sessions,
            stores,
            clock,
            dummy_hash,
        }))
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
        .with_state(idp.clone())
        .merge(web::op_routes(idp.provider.clone()))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn(web::security_headers))
}
