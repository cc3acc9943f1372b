//! The running provider: its config, its OpenID engine, stores, keys,
//! sessions and mail.

use axum::http::HeaderMap;
use jose::KeySet;
use oidc::Clock;
use oidc::ConfigError;
use oidc::client::HubRegistration;
use oidc::op::{Provider, ProviderSettings};
use population::Citizen;
use std::fmt;
use std::sync::Arc;
use store::Stores;
use web::SessionManager;

use crate::config::Config;
use crate::{password, registry, session, sms, throttle};

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
    pub(crate) dummy_hash: String,
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
        let clients = HubRegistration::clients(&config.clients, "idp_password.clients")?;
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
    pub(crate) fn link(&self, path: &str, token: &str) -> String {
        format!("{}{path}?jeton={token}", self.config.public_url)
    }
}
