//! The hub's settings, as written in the `[hub]` table of the TOML config.

use jose::{Alg, KeyAlg, PublicKeySet};
use oidc::{Acr, Client, ClientAuth, ClientSecret, RedirectUri, Scopes, Secret};
use serde::Deserialize;

/// `[hub]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The URL citizens and services reach the hub at, without trailing slash;
    /// the issuer is `{public_url}/api/v2`.
    pub public_url: String,
    /// Name shown on pages and in emails.
    #[serde(default = "default_name")]
    pub name: String,
    /// Secret of the pairwise `sub` derivation (at least 32 characters).
    /// Changing it changes every `sub`: keep it for the platform's life.
    pub sub_secret: String,
    /// `standard` (FranceConnect: eidas1) or `plus` (FranceConnect+:
    /// eidas2 and eidas3, single sign-on only at eidas2).
    #[serde(default)]
    pub platform: Platform,
    /// Browser session lifetime, sliding; default 1800 s on the standard
    /// platform, 600 s on the plus one (FranceConnect's).
    #[serde(default)]
    pub session_ttl_secs: Option<i64>,
    /// Base URL of the national register service.
    pub register_url: String,
    /// Levels this platform offers; default by platform (standard: eidas1;
    /// plus: eidas2, eidas3).
    #[serde(default)]
    pub acr_offered: Option<Vec<Acr>>,
    /// Registered services.
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    /// Identity providers.
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
}

fn default_name() -> String {
    "Passerelle".into()
}

/// The two platforms one code base runs, as FranceConnect runs FC and FC+.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// FranceConnect: eidas1.
    #[default]
    Standard,
    /// FranceConnect+: eidas2 and eidas3.
    Plus,
}

impl Platform {
    /// The highest level a single sign-on may serve: FranceConnect+ reuses
    /// a session only for eidas2 requests (franceconnect.md §5).
    pub fn sso_ceiling(self) -> Acr {
        match self {
            Platform::Standard => Acr::Eidas3,
            Platform::Plus => Acr::Eidas2,
        }
    }
}

/// `[[hub.services]]`: a service provider (FS).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// `client_id`.
    pub client_id: String,
    /// The secret in clear (needed for HS256 services; else prefer the hash).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// An Argon2id PHC string of the secret.
    #[serde(default)]
    pub client_secret_hash: Option<String>,
    /// A JWKS (JSON text) for `private_key_jwt`.
    #[serde(default)]
    pub jwks: Option<String>,
    /// Entity sharing the pairwise `sub`; defaults to the client id.
    #[serde(default)]
    pub entity_id: Option<String>,
    /// Name shown to citizens.
    pub name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes the service may ask for.
    pub scopes: Vec<String>,
    /// `ES256` (default), `RS256` or `HS256` (legacy, keyed by the secret).
    #[serde(default = "default_alg")]
    pub signing_alg: Alg,
    /// Whether PKCE is required (default; FranceConnect-compatible services
    /// set `false`).
    #[serde(default = "yes")]
    pub require_pkce: bool,
    /// Encrypt ID tokens and userinfo to the service (FranceConnect+):
    /// `ECDH-ES`, `RSA-OAEP-256` or `RSA-OAEP`, content A256GCM.
    #[serde(default)]
    pub encryption_alg: Option<KeyAlg>,
    /// The service's public keys (JWKS, JSON text) holding one encryption
    /// key that fits `encryption_alg`.
    #[serde(default)]
    pub encryption_jwks: Option<String>,
    /// Providers (ids) the service accepts; the others are not shown.
    /// Default: all.
    #[serde(default)]
    pub providers: Option<Vec<String>>,
    /// Providers the service refuses: shown as unavailable for it.
    #[serde(default)]
    pub blocked_providers: Vec<String>,
    /// Providers the service may name in `idp_hint` to skip the choice page
    /// (FranceConnect `allowedIdpHints`). Default: none.
    #[serde(default)]
    pub idp_hints: Vec<String>,
}

impl ServiceConfig {
    /// Whether the service shows this provider at all.
    pub fn lists_provider(&self, id: &str) -> bool {
        self.providers
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|allowed| allowed == id))
    }

    /// Whether the service accepts a login through this provider.
    pub fn accepts_provider(&self, id: &str) -> bool {
        self.lists_provider(id) && !self.blocked_providers.iter().any(|blocked| blocked == id)
    }

    /// Whether the service may name this provider in `idp_hint`.
    pub fn may_hint(&self, id: &str) -> bool {
        self.accepts_provider(id) && self.idp_hints.iter().any(|hint| hint == id)
    }
}

fn default_alg() -> Alg {
    Alg::ES256
}

fn yes() -> bool {
    true
}

/// `[[hub.providers]]`: an identity provider (FI).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Short id, used in the callback path `/api/v2/oidc-callback/{id}`.
    pub id: String,
    /// Name shown on the choice page.
    pub name: String,
    /// The provider's issuer (discovery under it).
    pub issuer: String,
    /// The hub's client id there.
    pub client_id: String,
    /// The hub's client secret there.
    pub client_secret: String,
    /// Levels the provider can prove.
    pub acr: Vec<Acr>,
    /// Signature algorithms accepted from it.
    #[serde(default = "default_provider_algs")]
    pub algs: Vec<Alg>,
}

fn default_provider_algs() -> Vec<Alg> {
    vec![Alg::ES256, Alg::RS256]
}

/// A bad setting, with its path in the config.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// Path of the setting, e.g. `hub.services[0].redirect_uris[1]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn bad(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        message: message.into(),
    }
}

impl Config {
    /// The issuer of the hub's provider side.
    pub fn issuer(&self) -> String {
        format!("{}/api/v2", self.public_url)
    }

    /// The levels offered, lowest first.
    pub fn acr_offered(&self) -> Vec<Acr> {
        let mut offered = self
            .acr_offered
            .clone()
            .unwrap_or_else(|| match self.platform {
                Platform::Standard => vec![Acr::Eidas1],
                Platform::Plus => vec![Acr::Eidas2, Acr::Eidas3],
            });
        offered.sort();
        offered.dedup();
        offered
    }

    /// The session lifetime.
    pub fn session_ttl_secs(&self) -> i64 {
        self.session_ttl_secs.unwrap_or(match self.platform {
            Platform::Standard => 1800,
            Platform::Plus => 600,
        })
    }

    /// Checks every setting; the first bad one is named by its path.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        RedirectUri::parse(&self.public_url)
            .map_err(|error| bad(format!("{path}.public_url"), error))?;
        if self.public_url.ends_with('/') {
            return Err(bad(format!("{path}.public_url"), "must not end with /"));
        }
        if self.sub_secret.len() < 32 {
            return Err(bad(
                format!("{path}.sub_secret"),
                "must be at least 32 characters",
            ));
        }
        if !(60..=86_400).contains(&self.session_ttl_secs()) {
            return Err(bad(
                format!("{path}.session_ttl_secs"),
                "must be between 60 and 86400",
            ));
        }
        RedirectUri::parse(&self.register_url)
            .map_err(|error| bad(format!("{path}.register_url"), error))?;
        if self.acr_offered.as_ref().is_some_and(Vec::is_empty) {
            return Err(bad(
                format!("{path}.acr_offered"),
                "must offer at least one level",
            ));
        }
        for (index, service) in self.services.iter().enumerate() {
            service.client(&format!("{path}.services[{index}]"))?;
        }
        let known: std::collections::HashSet<&str> = self
            .providers
            .iter()
            .map(|provider| provider.id.as_str())
            .collect();
        for (index, service) in self.services.iter().enumerate() {
            let lists = [
                (
                    "providers",
                    service.providers.as_deref().unwrap_or_default(),
                ),
                ("blocked_providers", &service.blocked_providers),
                ("idp_hints", &service.idp_hints),
            ];
            for (field, ids) in lists {
                if let Some(unknown) = ids.iter().find(|id| !known.contains(id.as_str())) {
                    return Err(bad(
                        format!("{path}.services[{index}].{field}"),
                        format!("names no provider: {unknown}"),
                    ));
                }
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (index, provider) in self.providers.iter().enumerate() {
            let at = format!("{path}.providers[{index}]");
            if provider.id.is_empty()
                || !provider
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(bad(format!("{at}.id"), "must be letters, digits, - or _"));
            }
            if !ids.insert(provider.id.as_str()) {
                return Err(bad(format!("{at}.id"), "is used twice"));
            }
            RedirectUri::parse(&provider.issuer)
                .map_err(|error| bad(format!("{at}.issuer"), error))?;
            if provider.acr.is_empty() {
                return Err(bad(format!("{at}.acr"), "must list at least one level"));
            }
        }
        Ok(())
    }
}

impl ServiceConfig {
    /// The encryption key, when the service asked for encrypted tokens.
    fn encryption(&self, path: &str) -> Result<Option<(KeyAlg, jose::PublicKey)>, ConfigError> {
        match (self.encryption_alg, &self.encryption_jwks) {
            (None, None) => Ok(None),
            (Some(alg), Some(jwks)) => {
                let keys = PublicKeySet::from_json(jwks)
                    .map_err(|error| bad(format!("{path}.encryption_jwks"), error.to_string()))?;
                let key = keys
                    .keys()
                    .iter()
                    .find(|key| key.fits_encryption(alg))
                    .ok_or_else(|| {
                        bad(
                            format!("{path}.encryption_jwks"),
                            format!("has no encryption key for {alg}"),
                        )
                    })?;
                Ok(Some((alg, key.clone())))
            }
            _ => Err(bad(
                path,
                "set both encryption_alg and encryption_jwks, or neither",
            )),
        }
    }

    /// The registration as the provider engine holds it.
    pub fn client(&self, path: &str) -> Result<Client, ConfigError> {
        let uris = |field: &str, list: &[String]| {
            list.iter()
                .enumerate()
                .map(|(index, uri)| {
                    RedirectUri::parse(uri)
                        .map_err(|error| bad(format!("{path}.{field}[{index}]"), error))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let auth = match (&self.client_secret, &self.client_secret_hash, &self.jwks) {
            (Some(secret), None, None) => {
                ClientAuth::SecretPost(ClientSecret::Plain(Secret::new(secret.clone())))
            }
            (None, Some(hash), None) => ClientAuth::SecretPost(
                ClientSecret::argon2(hash)
                    .map_err(|error| bad(format!("{path}.client_secret_hash"), error))?,
            ),
            (None, None, Some(jwks)) => ClientAuth::PrivateKeyJwt(
                PublicKeySet::from_json(jwks)
                    .map_err(|error| bad(format!("{path}.jwks"), error.to_string()))?,
            ),
            _ => {
                return Err(bad(
                    path,
                    "set exactly one of client_secret, client_secret_hash, jwks",
                ));
            }
        };
        let scopes = Scopes::parse(&self.scopes.join(" "))
            .map_err(|error| bad(format!("{path}.scopes"), error))?;
        if let Some(unknown) = scopes
            .iter()
            .find(|scope| !oidc::claims::is_known_scope(scope))
        {
            return Err(bad(
                format!("{path}.scopes"),
                format!("unknown scope {unknown}"),
            ));
        }
        let client = Client {
            client_id: self.client_id.clone(),
            entity_id: self
                .entity_id
                .clone()
                .unwrap_or_else(|| self.client_id.clone()),
            name: self.name.clone(),
            redirect_uris: uris("redirect_uris", &self.redirect_uris)?,
            post_logout_redirect_uris: uris(
                "post_logout_redirect_uris",
                &self.post_logout_redirect_uris,
            )?,
            auth,
            signing_alg: self.signing_alg,
            scopes,
            require_pkce: self.require_pkce,
            encryption: self.encryption(path)?,
        };
        client.check().map_err(|error| bad(path, error))?;
        Ok(client)
    }
}
