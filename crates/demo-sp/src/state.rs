//! The running portal: its hubs (one connection each), its démarches,
//! and what its developer's view keeps of a login.

use std::fmt;
use std::sync::Arc;

use oidc::rp::Login;
use oidc::{Clock, ConfigError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use web::SessionManager;
use web::rp::{Connection, Kept, RpApp, RpFailure, RpSide, SideSettings};

use crate::config::Config;
use crate::{demarche, service};

/// The demo service.
pub struct DemoService {
    pub(crate) config: Config,
    /// The hubs, one connection each.
    pub(crate) rp: RpSide,
    /// Its public encryption key, published at `/jwks` for the hubs that
    /// encrypt its tokens.
    pub(crate) jwks: Value,
    /// The démarches.
    pub(crate) demarches: Vec<Arc<demarche::Demarche>>,
    /// The car rental, when configured.
    pub(crate) rental: Option<Arc<crate::rental::Rental>>,
}

/// What the portal is built from.
#[derive(Clone)]
pub struct DemoParts {
    /// Opens the tokens a hub encrypts to the portal's services.
    pub decryption_key: jose::DecryptionKey,
    /// Its storage: sessions, back-channel logouts, dossiers.
    pub stores: store::Stores,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// For the hubs.
    pub http: reqwest::Client,
    /// Mail (the démarches' receipts and notices), when set up.
    pub mailer: Option<Arc<mail::Mailer>>,
}

impl fmt::Debug for DemoParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoParts").finish_non_exhaustive()
    }
}

impl fmt::Debug for DemoService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoService")
            .field("public_url", &self.config.public_url)
            .finish_non_exhaustive()
    }
}

impl DemoService {
    /// Builds the portal and its démarches.
    pub fn new(config: Config, parts: DemoParts) -> Result<Arc<Self>, ConfigError> {
        config.check("demo_sp")?;
        let DemoParts {
            decryption_key,
            stores,
            clock,
            http,
            mailer,
        } = parts;
        let demarche_parts = demarche::DemarcheParts {
            portal_url: config.public_url.trim_end_matches('/').to_owned(),
            decryption_key,
            sessions: stores.sessions.clone(),
            logouts: stores.tokens.clone(),
            dossiers: stores.dossiers.clone(),
            clock: clock.clone(),
            http: http.clone(),
            mailer,
        };
        let demarches = config
            .demarches
            .iter()
            .map(|settings| {
                demarche::Demarche::new(
                    service(settings.service),
                    settings.clone(),
                    &demarche_parts,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let public_key = demarche_parts
            .decryption_key
            .public_key()
            .map_err(|error| ConfigError::new("demo_sp", error.to_string()))?;
        let jwks = serde_json::json!({ "keys": [public_key.to_json()] });
        let connections = config
            .hubs
            .iter()
            .map(|hub| {
                let callback = format!("{}/callback/{}", config.public_url, hub.id);
                Ok(Connection {
                    name: hub.id.clone(),
                    label: hub.label.clone(),
                    rp: hub
                        .registration()
                        .relying_party(&callback, &demarche_parts)?,
                    acr: Some(hub.acr),
                    login_path: format!("/login/{}", hub.id),
                    backchannel_path: Some(format!("/backchannel-logout/{}", hub.id)),
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let rental = config.rental.clone().map(|rental| {
            Arc::new(crate::rental::Rental::new(
                rental,
                &config.name,
                &config.public_url,
                &stores,
                clock.clone(),
                http.clone(),
            ))
        });
        let sessions = SessionManager::new(
            stores.sessions,
            clock.clone(),
            "passerelle_demo_sp",
            config.public_url.starts_with("https://"),
            SESSION_SECS,
        );
        let side = SideSettings {
            site: config.name.clone(),
            public_url: config.public_url.clone(),
            home: "/".into(),
            landing: "/me".into(),
            logout_path: "/logout".into(),
            logged_out_path: "/logged-out".into(),
            connections,
        };
        Ok(Arc::new(Self {
            rp: RpSide::new(side, sessions, stores.tokens, clock)?,
            config,
            jwks,
            demarches,
            rental,
        }))
    }
}

/// What the developer's view keeps of a login besides the identity: the
/// tokens as received, to show them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Received {
    pub(crate) id_token: String,
    pub(crate) id_claims: Map<String, Value>,
    pub(crate) userinfo_raw: String,
}

impl RpApp for DemoService {
    type Extra = Received;

    fn rp(&self) -> &RpSide {
        &self.rp
    }

    async fn signed_in(&self, _: &Connection, login: Login) -> Result<Kept<Received>, RpFailure> {
        let received = Received {
            id_token: login.id_token,
            id_claims: login.id_claims,
            userinfo_raw: login.userinfo_raw,
        };
        Ok((login.userinfo, received))
    }
}

/// The browser's session: the developer signed in through a hub.
pub(crate) type SessionData = web::rp::Visit<Received>;

/// How long the service's sessions last, and so how long a back-channel
/// logout is remembered.
pub(crate) const SESSION_SECS: i64 = 3600;
