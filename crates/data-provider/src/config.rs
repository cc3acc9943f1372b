//! `[data_provider]`: its address, the hub's issuer, its credentials there.

use oidc::ConfigError;
use serde::Deserialize;

/// `[data_provider]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where services reach it.
    pub public_url: String,
    /// The hub's issuer: checktoken and the keys are under it.
    pub hub_issuer: String,
    /// Its client id at the hub (a `[[hub.*.data_providers]]` entry).
    pub client_id: String,
    /// Its secret there.
    pub client_secret: oidc::Secret,
}

impl Config {
    /// Checks the URLs; the error names the bad path.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        oidc::RedirectUri::parse(&self.public_url)
            .map_err(|error| ConfigError::new(format!("{path}.public_url"), error))?;
        oidc::RedirectUri::parse(&self.hub_issuer)
            .map_err(|error| ConfigError::new(format!("{path}.hub_issuer"), error))?;
        if self.client_id.is_empty() || self.client_secret.len() < 32 {
            return Err(ConfigError::new(
                format!("{path}.client_secret"),
                "a client_id, and a secret of at least 32 characters",
            ));
        }
        Ok(())
    }
}
