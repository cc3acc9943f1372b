//! The hub's settings, as written in the `[hub]` table of the TOML config.

use jose::{Alg, KeyAlg, PublicKeySet};
use oidc::{Acr, Client, ClientAuth, ClientKeys, ClientSecret, RedirectUri, Scopes, Secret};
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
    pub sub_secret: oidc::Secret,
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
    /// When citizens get an email: `every_connection` (default, as the
    /// seeds promise), `new_device` (as FranceConnect does), `never`.
    #[serde(default)]
    pub notify: crate::notify::NotifyPolicy,
    /// The citizen dashboard, linked from the emails.
    #[serde(default)]
    pub dashboard_url: Option<String>,
    /// Providers every service may name in `idp_hint` (FranceConnect
    /// `Core_ALLOWED_IDP_HINTS`); a service's own `idp_hints` replace them.
    #[serde(default)]
    pub idp_hints: Vec<String>,
    /// Registered services.
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    /// Identity providers.
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    /// Data providers (FranceConnect's « fournisseurs de données »), which
    /// read at `/api/v2/checktoken` the access tokens carrying their scopes.
    #[serde(default)]
    pub data_providers: Vec<DataProviderConfig>,
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
    /// Whether the platform has this scope of the claims table: the
    /// `rnipp_*` ones are FranceConnect+'s, `idp_birthdate` FranceConnect's.
    pub fn offers_scope(self, scope: &str) -> bool {
        match self {
            Platform::Standard => !oidc::claims::RNIPP_SCOPES.contains(&scope),
            Platform::Plus => !oidc::claims::STANDARD_ONLY_SCOPES.contains(&scope),
        }
    }

    /// The highest level a single sign-on may serve: FranceConnect+ reuses
    /// a session only for eidas2 requests (franceconnect.md §5).
    pub fn sso_ceiling(self) -> Acr {
        match self {
            Platform::Standard => Acr::Eidas3,
            Platform::Plus => Acr::Eidas2,
        }
    }

    /// The level asked when `acr_values` names none the platform knows, or
    /// is absent: eidas1 on FranceConnect, eidas3 on FranceConnect+
    /// (`config/oidc-acr.ts`, franceconnect.md §2.1). Within what the hub
    /// offers: the nearest offered level at or below, else the lowest.
    pub fn default_acr(self, offered: &[Acr]) -> Acr {
        let wanted = match self {
            Platform::Standard => Acr::Eidas1,
            Platform::Plus => Acr::Eidas3,
        };
        offered
            .iter()
            .copied()
            .filter(|acr| *acr <= wanted)
            .max()
            .or_else(|| offered.iter().copied().min())
            .unwrap_or(wanted)
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
    pub client_secret: Option<oidc::Secret>,
    /// The secret's keyed hash (`hmac-sha256:…`, from `passerelle
    /// hash-secret`), or an Argon2id PHC string (older configs: accepted,
    /// slower until its first success; `passerelle check` names them).
    #[serde(default)]
    pub client_secret_hash: Option<String>,
    /// `client_secret_post` or `private_key_jwt`; default: the first when a
    /// secret is set, else the second.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// The service's public keys (JWKS, JSON text): signing keys for
    /// `private_key_jwt`, encryption keys for `encryption_alg`.
    #[serde(default)]
    pub jwks: Option<String>,
    /// Or where the service publishes them; fetched when needed, kept five
    /// minutes, refetched at once (at most once a minute) on an unknown key.
    #[serde(default)]
    pub jwks_uri: Option<String>,
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
    /// Whether PKCE is required. Optional by default, as on FranceConnect
    /// (its integrations send none); a service registered with it must
    /// send it, and a wrong verifier is always refused.
    #[serde(default)]
    pub require_pkce: bool,
    /// Encrypt ID tokens and userinfo to the service (FranceConnect+):
    /// `ECDH-ES`, `RSA-OAEP-256` or `RSA-OAEP`, content A256GCM.
    #[serde(default)]
    pub encryption_alg: Option<KeyAlg>,
    /// Where the service takes OpenID back-channel logout tokens, sent when
    /// the citizen logs out of the federation from another service.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Providers (ids) the service accepts; the others are not shown.
    /// Default: all.
    #[serde(default)]
    pub providers: Option<Vec<String>>,
    /// Providers the service refuses: shown as unavailable for it.
    #[serde(default)]
    pub blocked_providers: Vec<String>,
    /// Providers the service may name in `idp_hint` to skip the choice page
    /// (FranceConnect `allowedIdpHints`). Default: the platform's
    /// `idp_hints`; a list here replaces them.
    #[serde(default)]
    pub idp_hints: Vec<String>,
    /// Whether `prompt=login` alone (without `consent`) skips the
    /// confirmation page, the person having just logged in at the provider
    /// for this very request (FranceConnect `allowedPrompts`, its
    /// `/auto-login`). Default: false, the page is always shown.
    #[serde(default)]
    pub skip_consent_on_prompt_login: bool,
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

    /// Whether the service may name this provider in `idp_hint`: its own
    /// list when it has one, else the platform's (`global`), as
    /// FranceConnect's `allowedIdpHints` replace `Core_ALLOWED_IDP_HINTS`.
    pub fn may_hint(&self, id: &str, global: &[String]) -> bool {
        let allowed = if self.idp_hints.is_empty() {
            global
        } else {
            &self.idp_hints
        };
        self.accepts_provider(id) && allowed.iter().any(|hint| hint == id)
    }
}

/// `[[hub.data_providers]]`: a data provider (FD). It authenticates at
/// `/api/v2/checktoken` as a service does at the token endpoint.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataProviderConfig {
    /// Its `client_id` (distinct from every service's).
    pub client_id: String,
    /// Its name, shown on the confirmation page beside its data.
    pub name: String,
    /// The secret in clear.
    #[serde(default)]
    pub client_secret: Option<oidc::Secret>,
    /// Or the secret's keyed hash (`passerelle hash-secret`).
    #[serde(default)]
    pub client_secret_hash: Option<String>,
    /// `client_secret_post` or `private_key_jwt`.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// Its public keys (JWKS, JSON text).
    #[serde(default)]
    pub jwks: Option<String>,
    /// Or where it publishes them.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// `ES256` (default) or `RS256`: how checktoken answers are signed.
    #[serde(default = "default_alg")]
    pub signing_alg: Alg,
    /// Encrypt checktoken answers to it, content A256GCM (FranceConnect+
    /// encrypts them: set it there).
    #[serde(default)]
    pub encryption_alg: Option<KeyAlg>,
    /// The scopes it serves, one per datum (FranceConnect's
    /// `dgfip_rfr`, `dgfip_nbpart`…): services ask for them like any scope.
    pub scopes: Vec<DataScope>,
}

/// One data provider scope and how the confirmation page names it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataScope {
    /// The scope: lowercase letters, digits and `_`.
    pub name: String,
    /// What it gives, in French (« Revenu fiscal de référence »).
    pub label: String,
    /// The same in English; the French one when absent.
    #[serde(default)]
    pub label_en: Option<String>,
}

impl DataProviderConfig {
    /// The data provider as the engine holds it: a client without redirect
    /// URIs whose scopes are the ones it serves.
    pub fn client(&self, path: &str, secret_key: [u8; 32]) -> Result<Client, ConfigError> {
        let keys = client_keys(path, self.jwks.as_deref(), self.jwks_uri.as_deref())?;
        let secret = Credentials {
            secret: self.client_secret.as_deref(),
            hash: self.client_secret_hash.as_deref(),
            method: self.token_endpoint_auth_method,
        };
        let auth = secret.auth(path, !matches!(keys, ClientKeys::None), secret_key)?;
        if self.signing_alg == Alg::HS256 {
            return Err(bad(format!("{path}.signing_alg"), "must be ES256 or RS256"));
        }
        let names: Vec<&str> = self
            .scopes
            .iter()
            .map(|scope| scope.name.as_str())
            .collect();
        let scopes = Scopes::parse(&names.join(" "))
            .map_err(|error| bad(format!("{path}.scopes"), error))?;
        let client = Client {
            client_id: self.client_id.clone(),
            entity_id: self.client_id.clone(),
            name: self.name.clone(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            auth,
            signing_alg: self.signing_alg,
            scopes,
            require_pkce: false,
            keys,
            backchannel_logout_uri: None,
            encryption: self.encryption_alg,
        };
        client.check_keys().map_err(|error| bad(path, error))?;
        Ok(client)
    }
}

/// Token endpoint authentication methods a service may register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// The secret in the form body.
    ClientSecretPost,
    /// A JWT signed with one of the service's keys.
    PrivateKeyJwt,
}

fn default_alg() -> Alg {
    Alg::ES256
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
    pub client_secret: oidc::Secret,
    /// Levels the provider can prove.
    pub acr: Vec<Acr>,
    /// Signature algorithms accepted from it.
    #[serde(default = "default_provider_algs")]
    pub algs: Vec<Alg>,
}

fn default_provider_algs() -> Vec<Alg> {
    vec![Alg::ES256, Alg::RS256]
}

pub use oidc::ConfigError;

fn bad(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::new(path, message)
}

impl Config {
    /// The server key of the services' keyed `client_secret_hash`.
    pub fn client_secret_key(&self) -> [u8; 32] {
        oidc::client_secret_key(&self.sub_secret)
    }

    /// The issuer: the public URL and FranceConnect's `/api/v2`.
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

    /// The scopes this hub offers: the claims table's the platform has,
    /// then its data providers'.
    pub fn scopes(&self) -> Vec<String> {
        oidc::claims::known_scopes()
            .into_iter()
            .filter(|scope| self.platform.offers_scope(scope))
            .map(str::to_owned)
            .chain(
                self.data_providers
                    .iter()
                    .flat_map(|provider| provider.scopes.iter().map(|scope| scope.name.clone())),
            )
            .collect()
    }

    /// The data provider serving a scope, and the scope's entry.
    pub fn data_scope(&self, name: &str) -> Option<(&DataProviderConfig, &DataScope)> {
        self.data_providers.iter().find_map(|provider| {
            provider
                .scopes
                .iter()
                .find(|scope| scope.name == name)
                .map(|scope| (provider, scope))
        })
    }

    /// Each data provider's registration, and scopes that are new, well
    /// formed and served once.
    fn check_data_providers(&self, path: &str) -> Result<(), ConfigError> {
        let mut served = std::collections::HashSet::new();
        for (index, provider) in self.data_providers.iter().enumerate() {
            let at = format!("{path}.data_providers[{index}]");
            provider.client(&at, self.client_secret_key())?;
            if self
                .services
                .iter()
                .any(|service| service.client_id == provider.client_id)
            {
                return Err(bad(
                    format!("{at}.client_id"),
                    "is a service's client_id too",
                ));
            }
            if provider.scopes.is_empty() {
                return Err(bad(format!("{at}.scopes"), "must list at least one scope"));
            }
            for (position, scope) in provider.scopes.iter().enumerate() {
                let name = &scope.name;
                let well_formed = !name.is_empty()
                    && name.len() <= 64
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !well_formed {
                    return Err(bad(
                        format!("{at}.scopes[{position}].name"),
                        "must be lowercase letters, digits or _",
                    ));
                }
                if oidc::claims::is_known_scope(name) || !served.insert(name.as_str()) {
                    return Err(bad(
                        format!("{at}.scopes[{position}].name"),
                        format!("{name} is already a scope"),
                    ));
                }
            }
        }
        Ok(())
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
        if let Some(dashboard) = &self.dashboard_url {
            RedirectUri::parse(dashboard)
                .map_err(|error| bad(format!("{path}.dashboard_url"), error))?;
        }
        if self.acr_offered.as_ref().is_some_and(Vec::is_empty) {
            return Err(bad(
                format!("{path}.acr_offered"),
                "must offer at least one level",
            ));
        }
        self.check_data_providers(path)?;
        let offered = self.scopes();
        for (index, service) in self.services.iter().enumerate() {
            let at = format!("{path}.services[{index}]");
            service.client(&at, self.client_secret_key())?;
            if let Some(unknown) = service.scopes.iter().find(|scope| !offered.contains(scope)) {
                return Err(bad(
                    format!("{at}.scopes"),
                    format!("unknown scope {unknown}"),
                ));
            }
            if self.platform == Platform::Plus {
                // FranceConnect+: every token is signed ES256, then encrypted.
                if service.encryption_alg.is_none() {
                    return Err(bad(
                        format!("{at}.encryption_alg"),
                        "the plus platform encrypts every token: set encryption_alg, and jwks or jwks_uri",
                    ));
                }
                if service.signing_alg != Alg::ES256 {
                    return Err(bad(
                        format!("{at}.signing_alg"),
                        "the plus platform signs with ES256",
                    ));
                }
            }
        }
        let known: std::collections::HashSet<&str> = self
            .providers
            .iter()
            .map(|provider| provider.id.as_str())
            .collect();
        if let Some(unknown) = self
            .idp_hints
            .iter()
            .find(|id| !known.contains(id.as_str()))
        {
            return Err(bad(
                format!("{path}.idp_hints"),
                format!("names no provider: {unknown}"),
            ));
        }
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

/// A caller's public keys, inline or published.
fn client_keys(
    path: &str,
    jwks: Option<&str>,
    jwks_uri: Option<&str>,
) -> Result<ClientKeys, ConfigError> {
    match (jwks, jwks_uri) {
        (None, None) => Ok(ClientKeys::None),
        (Some(jwks), None) => PublicKeySet::from_json(jwks)
            .map(ClientKeys::Inline)
            .map_err(|error| bad(format!("{path}.jwks"), error.to_string())),
        (None, Some(uri)) => RedirectUri::parse(uri)
            .map(ClientKeys::Remote)
            .map_err(|error| bad(format!("{path}.jwks_uri"), error)),
        (Some(_), Some(_)) => Err(bad(path, "set jwks or jwks_uri, not both")),
    }
}

/// How a service or a data provider registered to authenticate.
struct Credentials<'a> {
    secret: Option<&'a str>,
    hash: Option<&'a str>,
    method: Option<AuthMethod>,
}

impl Credentials<'_> {
    /// How the caller authenticates at the token or checktoken endpoint.
    fn auth(&self, path: &str, has_keys: bool, key: [u8; 32]) -> Result<ClientAuth, ConfigError> {
        let secret = match (self.secret, self.hash) {
            (Some(secret), None) => Some(ClientSecret::Plain(Secret::new(secret))),
            (None, Some(hash)) => Some(
                ClientSecret::parse_hash(hash, key)
                    .map_err(|error| bad(format!("{path}.client_secret_hash"), error))?,
            ),
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(bad(
                    path,
                    "set client_secret or client_secret_hash, not both",
                ));
            }
        };
        let method = self.method.unwrap_or(if secret.is_some() {
            AuthMethod::ClientSecretPost
        } else {
            AuthMethod::PrivateKeyJwt
        });
        match (method, secret) {
            (AuthMethod::ClientSecretPost, Some(secret)) => Ok(ClientAuth::SecretPost(secret)),
            (AuthMethod::ClientSecretPost, None) => Err(bad(
                path,
                "client_secret_post needs client_secret or client_secret_hash",
            )),
            (AuthMethod::PrivateKeyJwt, _) if !has_keys => Err(bad(
                path,
                "set client_secret, client_secret_hash, or jwks/jwks_uri for private_key_jwt",
            )),
            (AuthMethod::PrivateKeyJwt, _) => Ok(ClientAuth::PrivateKeyJwt),
        }
    }
}

impl ServiceConfig {
    /// The registration as the provider engine holds it.
    pub fn client(&self, path: &str, secret_key: [u8; 32]) -> Result<Client, ConfigError> {
        let uris = |field: &str, list: &[String]| {
            list.iter()
                .enumerate()
                .map(|(index, uri)| {
                    RedirectUri::parse(uri)
                        .map_err(|error| bad(format!("{path}.{field}[{index}]"), error))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let keys = client_keys(path, self.jwks.as_deref(), self.jwks_uri.as_deref())?;
        let credentials = Credentials {
            secret: self.client_secret.as_deref(),
            hash: self.client_secret_hash.as_deref(),
            method: self.token_endpoint_auth_method,
        };
        let auth = credentials.auth(path, !matches!(keys, ClientKeys::None), secret_key)?;
        let scopes = Scopes::parse(&self.scopes.join(" "))
            .map_err(|error| bad(format!("{path}.scopes"), error))?;
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
            keys,
            backchannel_logout_uri: self
                .backchannel_logout_uri
                .as_deref()
                .map(RedirectUri::parse)
                .transpose()
                .map_err(|error| bad(format!("{path}.backchannel_logout_uri"), error))?,
            encryption: self.encryption_alg,
        };
        client.check().map_err(|error| bad(path, error))?;
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(extra: &str) -> Result<Client, ConfigError> {
        let text = format!(
            "client_id = \"s\"\nname = \"S\"\nredirect_uris = [\"https://s.example.fr/cb\"]\nscopes = [\"openid\"]\n{extra}"
        );
        let service: ServiceConfig = toml::from_str(&text).map_err(|error| ConfigError {
            path: "(toml)".into(),
            message: error.to_string(),
        })?;
        service.client(
            "hub.services[0]",
            oidc::client_secret_key("test-platform-secret"),
        )
    }

    #[test]
    fn a_service_authenticates_by_secret_or_by_its_keys() {
        let secret = "client_secret = \"a-secret-of-at-least-32-characters-000\"";
        let key = jose::SigningKey::generate(Alg::ES256).unwrap();
        let jwks = format!(
            "jwks = '{}'",
            serde_json::json!({"keys": [key.public_key().unwrap().to_json()]})
        );
        let uri = "jwks_uri = \"https://s.example.fr/jwks\"";
        let method = |client: Client| client.auth.method();
        assert_eq!(method(service(secret).unwrap()), "client_secret_post");
        assert_eq!(method(service(&jwks).unwrap()), "private_key_jwt");
        assert_eq!(method(service(uri).unwrap()), "private_key_jwt");
        assert_eq!(
            method(service(&format!("{secret}\n{jwks}")).unwrap()),
            "client_secret_post"
        );
        let explicit = "token_endpoint_auth_method = \"private_key_jwt\"";
        assert_eq!(
            method(service(&format!("{secret}\n{jwks}\n{explicit}")).unwrap()),
            "private_key_jwt"
        );
        for bad in [
            String::new(),
            explicit.to_owned(),
            format!("{jwks}\n{uri}"),
            format!("{uri}\ntoken_endpoint_auth_method = \"client_secret_post\""),
            "jwks_uri = \"not a url\"".to_owned(),
        ] {
            assert!(service(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn encryption_needs_a_fitting_key_of_the_service() {
        let secret = "client_secret = \"a-secret-of-at-least-32-characters-000\"";
        let ecdh = jose::DecryptionKey::generate(KeyAlg::EcdhEs).unwrap();
        let jwks = format!(
            "jwks = '{}'",
            serde_json::json!({"keys": [ecdh.public_key().unwrap().to_json()]})
        );
        let client = service(&format!("{secret}\n{jwks}\nencryption_alg = \"ECDH-ES\"")).unwrap();
        assert_eq!(client.encryption, Some(KeyAlg::EcdhEs));
        let error = service(&format!(
            "{secret}\n{jwks}\nencryption_alg = \"RSA-OAEP-256\""
        ))
        .unwrap_err();
        assert!(error.message.contains("no encryption key"), "{error}");
        assert!(service(&format!("{secret}\nencryption_alg = \"ECDH-ES\"")).is_err());
    }
}
