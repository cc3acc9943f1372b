//! `[demo_sp]`: the portal's settings, its hubs and its démarches.

use oidc::{Acr, ConfigError, RedirectUri};
use serde::Deserialize;

use crate::{demarche, service};

/// `[demo_sp]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name shown on pages.
    #[serde(default = "default_name")]
    pub name: String,
    /// Where the service is reached.
    pub public_url: String,
    /// The hubs it logs in through, one button each.
    pub hubs: Vec<HubLogin>,
    /// The démarches, each its own service provider.
    #[serde(default)]
    pub demarches: Vec<demarche::Settings>,
    /// The car rental, which checks the right to drive with the wallet's
    /// driving licence (OpenID4VP); none without it.
    #[serde(default)]
    pub rental: Option<crate::rental::RentalConfig>,
}

/// `[[demo_sp.hubs]]`: the service's registration at one hub.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubLogin {
    /// Short id, in the paths `/login/{id}` and `/callback/{id}`.
    pub id: String,
    /// The button's name (`Passerelle`, `Passerelle+`).
    pub label: String,
    /// The hub's issuer.
    pub issuer: String,
    /// Our client id at the hub.
    pub client_id: String,
    /// Our client secret at the hub.
    pub client_secret: oidc::Secret,
    /// Scopes asked.
    #[serde(default = "default_scopes")]
    pub scopes: String,
    /// Level asked.
    #[serde(default = "default_acr")]
    pub acr: Acr,
}

pub(crate) fn default_name() -> String {
    "Service de démonstration".into()
}

pub(crate) fn default_scopes() -> String {
    "openid identite_pivot email preferred_username".into()
}

pub(crate) fn default_acr() -> Acr {
    Acr::Eidas1
}

impl HubLogin {
    pub(crate) fn registration(&self) -> demarche::Registration<'_> {
        demarche::Registration {
            issuer: &self.issuer,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            scopes: &self.scopes,
        }
    }
}

impl Config {
    /// Checks the settings; the error names the bad path.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        RedirectUri::parse(&self.public_url)
            .map_err(|error| ConfigError::new(format!("{path}.public_url"), error))?;
        if let Some(rental) = &self.rental {
            rental.check(&format!("{path}.rental"))?;
        }
        if self.hubs.is_empty() {
            return Err(ConfigError::new(
                format!("{path}.hubs"),
                "must list at least one hub",
            ));
        }
        let mut ids = std::collections::HashSet::new();
        for (index, hub) in self.hubs.iter().enumerate() {
            let at = format!("{path}.hubs[{index}]");
            if hub.id.is_empty()
                || !hub
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ConfigError::new(
                    format!("{at}.id"),
                    "must be letters, digits, - or _",
                ));
            }
            if !ids.insert(hub.id.as_str()) {
                return Err(ConfigError::new(format!("{at}.id"), "is used twice"));
            }
            hub.registration().check(&at)?;
        }
        let mut services = std::collections::HashSet::new();
        for (index, demarche) in self.demarches.iter().enumerate() {
            let at = format!("{path}.demarches[{index}]");
            demarche.check(&at)?;
            if !services.insert(service(demarche.service).path) {
                return Err(ConfigError::new(format!("{at}.service"), "is used twice"));
            }
        }
        Ok(())
    }
}
