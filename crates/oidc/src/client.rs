//! A service registered at a provider: who it is, where it may be sent back,
//! how it authenticates, how its tokens are signed.

use std::fmt;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use jose::{Alg, KeyAlg, PublicKeySet};

use crate::types::{RedirectUri, Scopes, constant_time_eq};

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the few places that must use it (HMAC keys, forms).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// What the client secret is checked against.
#[derive(Clone, Debug)]
pub enum ClientSecret {
    /// Kept in clear: needed when tokens are HS256-signed with it, as for
    /// FranceConnect's legacy services.
    Plain(Secret),
    /// An Argon2id PHC string; the secret itself is not kept.
    Argon2(String),
}

impl ClientSecret {
    /// An Argon2id PHC string, checked to be one.
    pub fn argon2(phc: &str) -> Result<Self, String> {
        match PasswordHash::new(phc) {
            Ok(hash) if hash.algorithm.as_str() == "argon2id" => Ok(Self::Argon2(phc.to_owned())),
            _ => Err("is not an Argon2id PHC string ($argon2id$v=19$…)".to_owned()),
        }
    }

    /// Hashes a secret with Argon2id (OWASP parameters, random salt), for
    /// `client_secret_hash` in the config.
    pub fn hash(secret: &str) -> Result<String, String> {
        use argon2::PasswordHasher as _;
        let salt = argon2::password_hash::SaltString::generate(
            &mut argon2::password_hash::rand_core::OsRng,
        );
        Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| error.to_string())
    }

    /// Whether `candidate` is the secret.
    pub fn matches(&self, candidate: &str) -> bool {
        match self {
            ClientSecret::Plain(secret) => {
                constant_time_eq(secret.expose().as_bytes(), candidate.as_bytes())
            }
            ClientSecret::Argon2(phc) => PasswordHash::new(phc).is_ok_and(|hash| {
                Argon2::default()
                    .verify_password(candidate.as_bytes(), &hash)
                    .is_ok()
            }),
        }
    }
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
    fn a_hashed_secret_matches_only_itself() {
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = Argon2::default()
            .hash_password(b"s3cret", &salt)
            .unwrap()
            .to_string();
        let secret = ClientSecret::Argon2(phc);
        assert!(secret.matches("s3cret"));
        assert!(!secret.matches("s3creT"));
        assert!(!ClientSecret::Argon2("garbage".into()).matches("s3cret"));
    }

    #[test]
    fn a_hash_made_for_the_config_is_accepted_by_it() {
        let phc = ClientSecret::hash("s3cret").unwrap();
        assert!(ClientSecret::argon2(&phc).unwrap().matches("s3cret"));
        assert!(ClientSecret::argon2("$pbkdf2$x").is_err());
    }

    #[test]
    fn a_secret_does_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(…)");
    }
}
