//! `[dashboard]`: the dashboard's settings.

use oidc::{ConfigError, RedirectUri};
use serde::Deserialize;

/// `[dashboard]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the dashboard is reached.
    pub public_url: String,
    /// The standard hub's name, as citizens know it.
    #[serde(default = "default_hub_name")]
    pub hub_name: String,
    /// The standard hub's issuer.
    pub hub_issuer: String,
    /// The dashboard's client id at the hub.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: oidc::Secret,
    /// The other hubs whose trail receipts are accepted (their issuers),
    /// besides `hub_issuer`: every hub that writes trails signs receipts.
    #[serde(default)]
    pub trail_issuers: Vec<String>,
}

fn default_hub_name() -> String {
    "Passerelle".into()
}

impl Config {
    /// Checks the settings; the error names the bad path.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        for (field, value) in [
            ("public_url", &self.public_url),
            ("hub_issuer", &self.hub_issuer),
        ] {
            RedirectUri::parse(value)
                .map_err(|error| ConfigError::new(format!("{path}.{field}"), error))?;
        }
        for (index, issuer) in self.trail_issuers.iter().enumerate() {
            RedirectUri::parse(issuer).map_err(|error| {
                ConfigError::new(format!("{path}.trail_issuers[{index}]"), error)
            })?;
        }
        Ok(())
    }
}
