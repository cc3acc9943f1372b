//! A service registered at a provider: who it is, where it may be sent back,
//! how it authenticates, how its tokens are signed.

use std::fmt;
use std::sync::{Arc, OnceLock};

use argon2::PasswordHash;
use jose::{Alg, KeyAlg, PublicKeySet};

use crate::config_error::ConfigError;
use crate::hash_pool::{Busy, HashPool};
pub use crate::secret::Secret;
use crate::types::{RedirectUri, Scopes, constant_time_eq};

/// The prefix of the fast keyed form of `client_secret_hash`.
pub const HMAC_PREFIX: &str = "hmac-sha256:";

/// The server key of the keyed form, derived from a platform secret (the
/// hub's `sub_secret`): never in the config's hashes, never in a store.
pub fn client_secret_key(platform_secret: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(platform_secret.as_bytes()) else {
        return [0; 32];
    };
    mac.update(b"passerelle/client-secret/v1");
    mac.finalize().into_bytes().into()
}

fn keyed(key: &[u8; 32], secret: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(secret.as_bytes());
    mac.finalize().into_bytes().into()
}

/// What the client secret is checked against.
///
/// Client secrets are long random strings, not passwords a person chooses:
/// a keyed hash (HMAC-SHA-256 under the server key) is as safe as Argon2id
/// for them and costs a microsecond, where Argon2id costs 19 MiB and tens
/// of milliseconds at every token request, to anyone who knows a public
/// `client_id`. The Argon2id form of older configs is still accepted: its
/// first good verification (on the bounded pool) is kept in memory as the
/// keyed form, so later requests are fast; `passerelle check` says which to
/// re-hash.
#[derive(Clone)]
pub enum ClientSecret {
    /// Kept in clear: needed when tokens are HS256-signed with it, as for
    /// FranceConnect's legacy services.
    Plain(Secret),
    /// `hmac-sha256:…`: the keyed hash.
    Keyed {
        /// The server key.
        key: Arc<[u8; 32]>,
        /// HMAC-SHA-256 of the secret under it.
        mac: [u8; 32],
    },
    /// An Argon2id PHC string (older configs).
    Argon2 {
        /// The PHC string.
        phc: String,
        /// The server key, to keep the verified secret's keyed hash.
        key: Arc<[u8; 32]>,
        /// The keyed hash, once a verification succeeded.
        verified: Arc<OnceLock<[u8; 32]>>,
    },
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientSecret::Plain(_) => "ClientSecret::Plain(…)",
            ClientSecret::Keyed { .. } => "ClientSecret::Keyed(…)",
            ClientSecret::Argon2 { .. } => "ClientSecret::Argon2(…)",
        })
    }
}

impl ClientSecret {
    /// A `client_secret_hash` from the config: the keyed form
    /// (`hmac-sha256:` and 43 base64url characters) or an Argon2id PHC
    /// string, checked to be one.
    pub fn parse_hash(text: &str, key: [u8; 32]) -> Result<Self, String> {
        use base64::Engine as _;
        if let Some(encoded) = text.strip_prefix(HMAC_PREFIX) {
            let mac = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or("is not hmac-sha256: and 43 base64url characters")?;
            return Ok(Self::Keyed {
                key: Arc::new(key),
                mac,
            });
        }
        match PasswordHash::new(text) {
            Ok(hash) if hash.algorithm.as_str() == "argon2id" => Ok(Self::Argon2 {
                phc: text.to_owned(),
                key: Arc::new(key),
                verified: Arc::default(),
            }),
            _ => Err(
                "is neither hmac-sha256:… (passerelle hash-secret) nor an Argon2id PHC string"
                    .to_owned(),
            ),
        }
    }

    /// The keyed form of a secret, for `client_secret_hash` in the config.
    pub fn hash(secret: &str, key: &[u8; 32]) -> String {
        use base64::Engine as _;
        format!(
            "{HMAC_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(keyed(key, secret))
        )
    }

    /// Whether the config should re-hash this secret in the keyed form.
    pub fn is_slow(&self) -> bool {
        matches!(self, ClientSecret::Argon2 { .. })
    }

    /// Whether `candidate` is the secret. Only the Argon2id form, before its
    /// first success, costs a hash: on `pool` when given ([`Busy`] when it
    /// is full), else here.
    pub async fn check(&self, candidate: &str, pool: Option<&HashPool>) -> Result<bool, Busy> {
        match self {
            ClientSecret::Plain(secret) => Ok(constant_time_eq(
                secret.expose().as_bytes(),
                candidate.as_bytes(),
            )),
            ClientSecret::Keyed { key, mac } => Ok(constant_time_eq(&keyed(key, candidate), mac)),
            ClientSecret::Argon2 { phc, key, verified } => {
                let candidate_mac = keyed(key, candidate);
                if let Some(known) = verified.get() {
                    return Ok(constant_time_eq(&candidate_mac, known));
                }
                let (phc, candidate) = (phc.clone(), candidate.to_owned());
                let verify = move || argon2_matches(&phc, &candidate);
                let good = match pool {
                    Some(pool) => pool.run(verify).await?,
                    None => verify(),
                };
                if good {
                    let _ = verified.set(candidate_mac);
                }
                Ok(good)
            }
        }
    }
}

fn argon2_matches(phc: &str, candidate: &str) -> bool {
    crate::hash_pool::argon2id::verify(None, candidate, phc)
}

/// How a client authenticates at the token endpoint. FranceConnect offers
/// exactly these two; `client_secret_basic` is refused.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// `client_secret_post` (RFC 6749 §2.3.1).
    SecretPost(ClientSecret),
    /// `private_key_jwt` (OpenID Connect Core §9), verified with the
    /// client's registered keys.
    PrivateKeyJwt,
}

impl ClientAuth {
    /// The discovery name of the method.
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuth::SecretPost(_) => "client_secret_post",
            ClientAuth::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// A registered client.
#[derive(Clone, Debug)]
pub struct Client {
    /// `client_id`.
    pub client_id: String,
    /// The service's entity: clients of one entity share their pairwise `sub`.
    pub entity_id: String,
    /// Name shown to citizens.
    pub name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<RedirectUri>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// Token endpoint authentication.
    pub auth: ClientAuth,
    /// ID token and userinfo signature algorithm.
    pub signing_alg: Alg,
    /// Scopes the client may ask for.
    pub scopes: Scopes,
    /// Whether authorize requests must carry a PKCE challenge.
    pub require_pkce: bool,
    /// The client's public keys: to verify its `private_key_jwt`
    /// assertions, and to encrypt to.
    pub keys: ClientKeys,
    /// Where the client takes OpenID back-channel logout tokens.
    pub backchannel_logout_uri: Option<RedirectUri>,
    /// When set, ID tokens and userinfo are signed then encrypted to a key
    /// of the client fitting this algorithm, content A256GCM (FranceConnect+).
    pub encryption: Option<KeyAlg>,
}

/// `[[….clients]]` of an identity provider: the hub registered there.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubRegistration {
    /// Its `client_id`.
    pub client_id: String,
    /// Its name, shown to the person when it asks for a login (its id when
    /// not given).
    #[serde(default)]
    pub name: Option<String>,
    /// Its `client_secret` (`client_secret_post`).
    pub client_secret: Secret,
    /// Where codes may be sent, compared exactly.
    pub redirect_uris: Vec<String>,
    /// Where logouts may end, compared exactly.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
}

impl HubRegistration {
    /// The clients of a provider from its registrations, checked: at least
    /// one, secrets of 32 characters or more, every URI absolute. The error
    /// names the bad path under `path` (`idp_password.clients`).
    pub fn clients(registrations: &[Self], path: &str) -> Result<Vec<Client>, ConfigError> {
        if registrations.is_empty() {
            return Err(ConfigError::new(path, "must list the hub"));
        }
        let mut clients = Vec::with_capacity(registrations.len());
        for (index, hub) in registrations.iter().enumerate() {
            let at = |field: &str| format!("{path}[{index}].{field}");
            if hub.client_secret.len() < 32 {
                return Err(ConfigError::new(
                    at("client_secret"),
                    "must be at least 32 characters",
                ));
            }
            let uris = hub.redirect_uris.iter().map(|uri| ("redirect_uris", uri));
            let logouts = (hub.post_logout_redirect_uris.iter())
                .map(|uri| ("post_logout_redirect_uris", uri));
            for (field, uri) in uris.chain(logouts) {
                RedirectUri::parse(uri).map_err(|error| ConfigError::new(at(field), error))?;
            }
            let client = Client::hub_at_provider(
                &hub.client_id,
                hub.name.as_deref().unwrap_or(&hub.client_id),
                &hub.client_secret,
                &hub.redirect_uris,
                &hub.post_logout_redirect_uris,
            )
            .map_err(|error| ConfigError::new(at("client_id"), error))?;
            clients.push(client);
        }
        Ok(clients)
    }
}

impl Client {
    /// The hub as registered at one of the federation's identity
    /// providers: `client_secret_post`, ES256 tokens, PKCE required, every
    /// known scope. Redirect URIs that do not parse are left out (the
    /// providers' config checks name them first).
    pub fn hub_at_provider(
        client_id: &str,
        name: &str,
        secret: &str,
        redirect_uris: &[String],
        post_logout_redirect_uris: &[String],
    ) -> Result<Self, String> {
        let uris = |list: &[String]| {
            list.iter()
                .filter_map(|uri| RedirectUri::parse(uri).ok())
                .collect()
        };
        Ok(Self {
            client_id: client_id.to_owned(),
            entity_id: client_id.to_owned(),
            name: name.to_owned(),
            redirect_uris: uris(redirect_uris),
            post_logout_redirect_uris: uris(post_logout_redirect_uris),
            auth: ClientAuth::SecretPost(ClientSecret::Plain(Secret::new(secret))),
            signing_alg: Alg::ES256,
            scopes: Scopes::parse(&crate::claims::known_scopes().join(" "))?,
            require_pkce: true,
            keys: ClientKeys::None,
            backchannel_logout_uri: None,
            encryption: None,
        })
    }
}

/// Where a client's public keys are.
#[derive(Clone, Debug, Default)]
pub enum ClientKeys {
    /// None registered.
    #[default]
    None,
    /// Registered with the client (`jwks`).
    Inline(PublicKeySet),
    /// Published by the client (`jwks_uri`), fetched when needed.
    Remote(RedirectUri),
}

impl Client {
    /// The HS256 key, when the client's tokens are HMAC-signed.
    pub fn hmac_key(&self) -> Option<&[u8]> {
        match (&self.auth, self.signing_alg) {
            (ClientAuth::SecretPost(ClientSecret::Plain(secret)), Alg::HS256) => {
                Some(secret.expose().as_bytes())
            }
            _ => None,
        }
    }

    /// Checks the registration itself, at start-up; the error names the field.
    pub fn check(&self) -> Result<(), String> {
        if self.client_id.is_empty() || self.entity_id.is_empty() {
            return Err("client_id and entity_id must not be empty".into());
        }
        if self.redirect_uris.is_empty() {
            return Err("redirect_uris must list at least one URI".into());
        }
        if !self.scopes.contains("openid") {
            return Err("scopes must include openid".into());
        }
        self.check_keys()
    }

    /// Checks how the client authenticates and what it is signed and
    /// encrypted with (all a data provider has to check).
    pub fn check_keys(&self) -> Result<(), String> {
        if self.client_id.is_empty() {
            return Err("client_id must not be empty".into());
        }
        let needs_keys =
            matches!(self.auth, ClientAuth::PrivateKeyJwt) || self.encryption.is_some();
        if needs_keys && matches!(self.keys, ClientKeys::None) {
            return Err("private_key_jwt and encryption need the client's jwks or jwks_uri".into());
        }
        if let ClientKeys::Inline(keys) = &self.keys {
            if let Some(alg) = self.encryption
                && !keys.keys().iter().any(|key| key.fits_encryption(alg))
            {
                return Err(format!("the jwks has no encryption key for {alg}"));
            }
            if matches!(self.auth, ClientAuth::PrivateKeyJwt)
                && !keys
                    .keys()
                    .iter()
                    .any(|key| key.fits(Alg::ES256) || key.fits(Alg::RS256))
            {
                return Err(
                    "the jwks has no ES256 or RS256 signing key for private_key_jwt".into(),
                );
            }
        }
        if self.signing_alg == Alg::HS256 {
            match &self.auth {
                ClientAuth::SecretPost(ClientSecret::Plain(secret))
                    if secret.expose().len() >= 32 => {}
                _ => {
                    return Err(
                        "signing_alg HS256 needs a client_secret of at least 32 bytes".into(),
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;

    use super::*;

    #[test]
    fn a_hub_registration_is_checked_and_each_refusal_names_its_path() {
        let hub = |secret: &str, uri: &str| HubRegistration {
            client_id: "passerelle-hub".into(),
            name: None,
            client_secret: Secret::new(secret),
            redirect_uris: vec![uri.into()],
            post_logout_redirect_uris: Vec::new(),
        };
        let good = hub(&"s".repeat(32), "https://hub.example/callback");
        let clients = HubRegistration::clients(std::slice::from_ref(&good), "idp.clients");
        let clients = clients.map_err(|error| error.to_string());
        assert_eq!(
            clients.map(|clients| clients.iter().map(|c| c.name.clone()).collect::<Vec<_>>()),
            Ok(vec!["passerelle-hub".to_owned()]),
            "the name defaults to the id"
        );
        let refused = |registrations: &[HubRegistration]| {
            HubRegistration::clients(registrations, "idp.clients")
                .err()
                .map(|error| error.path)
        };
        assert_eq!(refused(&[]), Some("idp.clients".into()));
        assert_eq!(
            refused(&[good.clone(), hub("short", "https://hub.example/callback")]),
            Some("idp.clients[1].client_secret".into())
        );
        assert_eq!(
            refused(&[hub(&"s".repeat(32), "/callback")]),
            Some("idp.clients[0].redirect_uris".into())
        );
    }

    fn argon2_of(secret: &str) -> String {
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        argon2::Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn a_keyed_hash_matches_only_its_secret_under_its_key() {
        let key = client_secret_key("platform-secret-0123456789abcdef0123");
        let hash = ClientSecret::hash("s3cret", &key);
        assert!(hash.starts_with("hmac-sha256:"));
        let secret = ClientSecret::parse_hash(&hash, key).unwrap();
        assert_eq!(secret.check("s3cret", None).await, Ok(true));
        assert_eq!(secret.check("s3creT", None).await, Ok(false));
        let other_key = client_secret_key("another-platform-secret-0123456789ab");
        let elsewhere = ClientSecret::parse_hash(&hash, other_key).unwrap();
        assert_eq!(elsewhere.check("s3cret", None).await, Ok(false));
        assert!(!secret.is_slow());
        for bad in ["hmac-sha256:short", "hmac-sha256:", "$pbkdf2$x", "garbage"] {
            assert!(ClientSecret::parse_hash(bad, key).is_err(), "{bad}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_argon2_secret_is_verified_on_the_pool_once_then_by_its_keyed_hash() {
        let key = client_secret_key("platform-secret-0123456789abcdef0123");
        let secret = ClientSecret::parse_hash(&argon2_of("s3cret"), key).unwrap();
        assert!(secret.is_slow());
        let pool = HashPool::new(1, 1).unwrap();
        assert_eq!(secret.check("wrong", Some(&pool)).await, Ok(false));
        let ClientSecret::Argon2 { verified, .. } = &secret else {
            unreachable!()
        };
        assert!(verified.get().is_none(), "a failure migrates nothing");
        assert_eq!(secret.check("s3cret", Some(&pool)).await, Ok(true));
        assert_eq!(verified.get(), Some(&keyed(&key, "s3cret")), "migrated");
        // From now on no Argon2: a full pool does not matter.
        let blocker = pool.clone();
        let _busy = tokio::spawn(async move {
            blocker
                .run(|| std::thread::sleep(std::time::Duration::from_millis(500)))
                .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(secret.check("s3cret", Some(&pool)).await, Ok(true));
        assert_eq!(secret.check("s3creT", Some(&pool)).await, Ok(false));
    }

    #[test]
    fn a_secret_does_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(…)");
        let key = client_secret_key("platform-secret-0123456789abcdef0123");
        let secret = ClientSecret::parse_hash(&ClientSecret::hash("s3cret", &key), key).unwrap();
        assert_eq!(format!("{secret:?}"), "ClientSecret::Keyed(…)");
    }
}
