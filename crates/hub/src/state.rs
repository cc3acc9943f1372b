//! What the hub is made of, built once at start and shared by every request.

use std::fmt;
use std::sync::Arc;

use jose::KeySet;
use oidc::op::{Provider, ProviderSettings};
use oidc::rp::{RelyingParty, RpSettings};
use oidc::{Clock, RedirectUri};
use store::Stores;
use web::SessionManager;

use crate::config::{Config, ConfigError, ProviderConfig};
use crate::register::Register;

/// An identity provider as the hub sees it.
#[derive(Debug)]
pub struct IdentityProvider {
    /// Its settings.
    pub config: ProviderConfig,
    /// The relying party talking to it.
    pub rp: RelyingParty,
}

/// The hub.
pub struct Hub {
    /// The instance's id (`standard`, `plus`).
    pub id: String,
    /// Settings.
    pub config: Config,
    /// The provider engine facing services.
    pub provider: Arc<Provider>,
    /// Identity providers, in display order.
    pub providers: Vec<IdentityProvider>,
    /// Browser sessions.
    pub sessions: SessionManager,
    /// The national register.
    pub register: Register,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Storage.
    pub stores: Stores,
    /// HTTP client for back-channel calls to services.
    pub http: reqwest::Client,
    /// Where connection notices go, when mail is configured.
    pub mailer: Option<Arc<mail::Mailer>>,
    /// The citizens' trails, when configured.
    pub trail: Option<crate::trail::Trail>,
    /// Wakes the back-channel logout worker when a delivery is queued.
    pub backchannel_wake: tokio::sync::Notify,
    /// Where logins are counted.
    pub metrics: Option<web::Metrics>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("issuer", &self.config.issuer())
            .finish_non_exhaustive()
    }
}

/// What the binary hands the hub: built once, passed in (nothing global).
#[derive(Debug)]
pub struct HubParts {
    /// The instance's id in the federation (`standard`, `plus`): names its
    /// session cookie, so that hubs on one host keep apart.
    pub id: String,
    /// Checked settings.
    pub config: Config,
    /// Signing keys.
    pub keys: KeySet,
    /// Storage.
    pub stores: Stores,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// HTTP client for providers and the register.
    pub http: reqwest::Client,
    /// Where connection notices go; none without mail settings.
    pub mailer: Option<Arc<mail::Mailer>>,
    /// The citizens' trails; none without trail settings.
    pub trail: Option<crate::trail::Trail>,
    /// Where the Argon2id client secrets of older configs are verified;
    /// inline without one (tests).
    pub hash_pool: Option<oidc::HashPool>,
    /// Where logins are counted; none in tests that do not read them.
    pub metrics: Option<web::Metrics>,
}

impl Hub {
    /// Builds the hub. Settings are checked again here, so that a hub built
    /// by a test is held to the same rules as one built from a file.
    pub fn new(parts: HubParts) -> Result<Arc<Self>, ConfigError> {
        let HubParts {
            id,
            config,
            keys,
            stores,
            clock,
            http,
            mailer,
            trail,
            hash_pool,
            metrics,
        } = parts;
        let path = format!("hub.{id}");
        config.check(&path)?;
        let clients = config
            .services
            .iter()
            .enumerate()
            .map(|(index, service)| {
                service.client(
                    &format!("{path}.services[{index}]"),
                    config.client_secret_key(),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut settings = ProviderSettings::franceconnect(config.issuer(), config.acr_offered());
        settings.default_acr = config.platform.default_acr(&config.acr_offered());
        settings.scopes = config.scopes();
        let data_providers = config
            .data_providers
            .iter()
            .enumerate()
            .map(|(index, provider)| {
                provider.client(
                    &format!("{path}.data_providers[{index}]"),
                    config.client_secret_key(),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let provider = Provider::new(
            settings,
            clients,
            keys,
            clock.clone(),
            stores.codes.clone(),
            stores.tokens.clone(),
        )
        .and_then(|provider| provider.with_data_providers(data_providers))
        .map_err(|message| ConfigError {
            path: format!("{path}.services"),
            message,
        })?;
        let provider = match hash_pool {
            Some(pool) => provider.with_hash_pool(pool),
            None => provider,
        };
        let providers = config
            .providers
            .iter()
            .enumerate()
            .map(|(index, idp)| {
                let callback = format!("{}/api/v2/oidc-callback/{}", config.public_url, idp.id);
                let redirect_uri =
                    RedirectUri::parse(&callback).map_err(|message| ConfigError {
                        path: format!("{path}.providers[{index}].id"),
                        message,
                    })?;
                let settings = RpSettings {
                    issuer: idp.issuer.clone(),
                    client_id: idp.client_id.clone(),
                    client_secret: idp.client_secret.clone(),
                    redirect_uri,
                    scopes: "openid profile birth email".into(),
                    algs: idp.algs.clone(),
                    use_pkce: true,
                    decryption_keys: Vec::new(),
                };
                Ok(IdentityProvider {
                    config: idp.clone(),
                    rp: RelyingParty::new(settings, http.clone(), clock.clone()),
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let secure = config.public_url.starts_with("https://");
        let sessions = SessionManager::new(
            stores.sessions.clone(),
            clock.clone(),
            format!("passerelle_hub_{id}"),
            secure,
            config.session_ttl_secs(),
        );
        let register = Register::new(&config.register_url, http.clone());
        Ok(Arc::new(Self {
            id,
            config,
            provider: Arc::new(provider),
            providers,
            sessions,
            register,
            clock,
            stores,
            http,
            mailer,
            trail,
            backchannel_wake: tokio::sync::Notify::new(),
            metrics,
        }))
    }

    /// A key of the hub's own for `context` and `fields` (each after a 0
    /// byte): HMAC-SHA-256 under the platform secret, as a capability that
    /// files and seals what the hub finds again without a client.
    pub fn derived_capability(
        &self,
        context: &[u8],
        fields: &[&str],
    ) -> Option<store::sealed::Capability> {
        use hmac::{Hmac, Mac};
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(self.config.sub_secret.as_bytes()).ok()?;
        mac.update(context);
        for field in fields {
            mac.update(b"\0");
            mac.update(field.as_bytes());
        }
        Some(store::sealed::Capability::from_secret(
            mac.finalize().into_bytes().into(),
        ))
    }

    /// Counts a login's end: `outcome` is `success` or why it stopped.
    pub fn count_login(&self, provider: &str, acr: &str, outcome: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.count(
                "passerelle_logins_total",
                &[
                    ("platform", &self.id),
                    ("provider", provider),
                    ("acr", acr),
                    ("outcome", outcome),
                ],
            );
        }
    }

    /// A service's registration.
    pub fn service(&self, client_id: &str) -> Option<&crate::config::ServiceConfig> {
        self.config
            .services
            .iter()
            .find(|service| service.client_id == client_id)
    }

    /// An identity provider by id.
    pub fn identity_provider(&self, id: &str) -> Option<&IdentityProvider> {
        self.providers.iter().find(|idp| idp.config.id == id)
    }
}
