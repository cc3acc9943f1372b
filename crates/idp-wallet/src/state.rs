//! The running provider: its config, its OpenID engine, stores, trust
//! store, QR logins, seal signer, mail and the console's sessions.

use std::fmt;
use std::sync::Arc;

use jose::KeySet;
use oidc::client::HubRegistration;
use oidc::op::{Provider, ProviderSettings};
use oidc::{Acr, Clock, ConfigError};
use store::Stores;

use crate::config::Config;
use crate::licence::LicenceIssuer;
use crate::{config, flow, verify};

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
    /// The driving licence's issuer, when a register is configured.
    pub licence: Option<LicenceIssuer>,
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
    /// The licence's test PKI (`IACA-TEST-FR`, `DS-mDL-TEST`).
    pub licence_pki: Option<mdoc::LicencePki>,
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
            licence_pki,
            mailer,
            hash_pool,
        } = parts;
        config::check(&config)?;
        let clients = HubRegistration::clients(&config.clients, "idp_wallet.clients")?;
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
            licence: config
                .licence_register
                .as_deref()
                .zip(licence_pki)
                .map(|(url, pki)| LicenceIssuer::new(url, pki)),
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
