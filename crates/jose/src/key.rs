//! Keys: private signing keys, public keys and their JSON Web Key Sets.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwe::JweEncrypter;
use josekit::jwk::Jwk;
use josekit::jwk::alg::ec::EcCurve;
use josekit::jws::{JwsSigner, JwsVerifier};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::built::Built;
use crate::{Alg, JoseError, KeyAlg};

/// A private key that signs tokens, with its algorithm and key id.
#[derive(Clone)]
pub struct SigningKey {
    alg: Alg,
    kid: String,
    jwk: Jwk,
    signer: Built<Alg, dyn JwsSigner>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private parts.
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key pair: P-256 for ES256, RSA 2048 for RS256.
    pub fn generate(alg: Alg) -> Result<Self, JoseError> {
        let jwk = match alg {
            Alg::ES256 => Jwk::generate_ec_key(EcCurve::P256)?,
            Alg::RS256 => Jwk::generate_rsa_key(2048)?,
            Alg::HS256 => return Err(JoseError::Key("HS256 has no key pair".into())),
        };
        Self::from_jwk(alg, jwk)
    }

    fn from_jwk(alg: Alg, mut jwk: Jwk) -> Result<Self, JoseError> {
        let kid = thumbprint(&jwk)?;
        jwk.set_key_id(kid.clone());
        jwk.set_algorithm(alg.as_str());
        jwk.set_key_use("sig");
        Ok(Self {
            alg,
            kid,
            jwk,
            signer: Built::default(),
        })
    }

    /// Reads a private JWK as written by [`SigningKey::to_private_json`].
    pub fn from_private_json(text: &str) -> Result<Self, JoseError> {
        let jwk = Jwk::from_bytes(text.as_bytes())?;
        let alg = Alg::parse(jwk.algorithm().unwrap_or_default())?;
        let has_private = match alg {
            Alg::ES256 | Alg::RS256 => jwk.parameter("d").is_some(),
            Alg::HS256 => false,
        };
        if !has_private || (alg == Alg::ES256 && jwk.curve() != Some("P-256")) {
            return Err(JoseError::Key("not a private ES256 or RS256 key".into()));
        }
        Self::from_jwk(alg, jwk)
    }

    /// The private JWK as JSON, to be kept on disk by its owner (mode 0600).
    pub fn to_private_json(&self) -> String {
        self.jwk.to_string()
    }

    /// The key's algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key id (RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, as published in a JWKS.
    pub fn public_key(&self) -> Result<PublicKey, JoseError> {
        let mut jwk = self.jwk.to_public_key()?;
        jwk.set_key_id(self.kid.clone());
        jwk.set_algorithm(self.alg.as_str());
        jwk.set_key_use("sig");
        Ok(PublicKey::from_parts(
            Some(self.alg.as_str().to_owned()),
            self.kid.clone(),
            jwk,
        ))
    }

    /// Runs `sign` with this key's signer, decoded at its first use.
    pub(crate) fn with_signer<R>(
        &self,
        sign: impl FnOnce(&dyn JwsSigner) -> R,
    ) -> Result<R, JoseError> {
        let build = || -> Result<Box<dyn JwsSigner>, JoseError> {
            Ok(match self.alg {
                Alg::ES256 => Box::new(crate::es256::Es256Signer::from_jwk(&self.jwk)?),
                Alg::RS256 => Box::new(josekit::jws::RS256.signer_from_jwk(&self.jwk)?),
                Alg::HS256 => return Err(JoseError::Key("HS256 signs with a secret".into())),
            })
        };
        self.signer.with(self.alg, build, |signer| sign(signer))
    }
}

/// A public key from a JWKS, for verifying signatures or, with `use` =
/// `enc`, for encrypting to its owner.
#[derive(Clone, Debug)]
pub struct PublicKey {
    /// The key's own `alg`, when it states one (a signature or a key
    /// management algorithm).
    alg: Option<String>,
    kid: String,
    jwk: Jwk,
    verifier: Built<Alg, dyn JwsVerifier>,
    encrypter: Built<KeyAlg, dyn JweEncrypter>,
}

impl PublicKey {
    /// The key id (`kid`); empty when the key has none.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Whether this key may verify a signature made with `alg`: the key type
    /// must fit, and so must the key's own `alg` when it states one.
    pub fn fits(&self, alg: Alg) -> bool {
        let type_fits = match alg {
            Alg::ES256 => self.jwk.key_type() == "EC" && self.jwk.curve() == Some("P-256"),
            Alg::RS256 => self.jwk.key_type() == "RSA",
            Alg::HS256 => false,
        };
        type_fits
            && self.alg.as_deref().is_none_or(|own| own == alg.as_str())
            && self.jwk.key_use() != Some("enc")
    }

    /// The JWK as JSON.
    pub fn to_json(&self) -> Value {
        Value::Object(self.jwk.as_ref().clone())
    }

    /// The key's own `alg`, when it states one.
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    pub(crate) fn from_parts(alg: Option<String>, kid: String, jwk: Jwk) -> Self {
        Self {
            alg,
            kid,
            jwk,
            verifier: Built::default(),
            encrypter: Built::default(),
        }
    }

    /// Runs `verify` with this key's verifier for `alg`, decoded at its
    /// first use.
    pub(crate) fn with_verifier<R>(
        &self,
        alg: Alg,
        verify: impl FnOnce(&dyn JwsVerifier) -> R,
    ) -> Result<R, JoseError> {
        let build = || -> Result<Box<dyn JwsVerifier>, JoseError> {
            Ok(match alg {
                Alg::ES256 => Box::new(crate::es256::Es256Verifier::from_jwk(&self.jwk)?),
                Alg::RS256 => Box::new(josekit::jws::RS256.verifier_from_jwk(&self.jwk)?),
                Alg::HS256 => return Err(JoseError::AlgNotAllowed(alg.as_str().to_owned())),
            })
        };
        self.verifier.with(alg, build, |verifier| verify(verifier))
    }

    /// Runs `encrypt` with an encrypter to this key for `alg`, decoded at
    /// its first use.
    pub(crate) fn with_encrypter<R>(
        &self,
        alg: KeyAlg,
        encrypt: impl FnOnce(&dyn JweEncrypter) -> R,
    ) -> Result<R, JoseError> {
        use josekit::jwe;
        let build = || -> Result<Box<dyn JweEncrypter>, JoseError> {
            Ok(match alg {
                KeyAlg::EcdhEs => Box::new(jwe::ECDH_ES.encrypter_from_jwk(&self.jwk)?),
                KeyAlg::RsaOaep256 => Box::new(jwe::RSA_OAEP_256.encrypter_from_jwk(&self.jwk)?),
                KeyAlg::RsaOaep => Box::new(jwe::RSA_OAEP.encrypter_from_jwk(&self.jwk)?),
            })
        };
        self.encrypter
            .with(alg, build, |encrypter| encrypt(encrypter))
    }

    pub(crate) fn jwk(&self) -> &Jwk {
        &self.jwk
    }
}

/// The signing keys of one issuer: the first is current and signs, the others
/// stay published so that tokens they signed still verify.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

impl KeySet {
    /// A key set from keys, the current one first. Empty sets are refused.
    pub fn new(keys: Vec<SigningKey>) -> Result<Self, JoseError> {
        if keys.is_empty() {
            return Err(JoseError::Key("a key set needs at least one key".into()));
        }
        Ok(Self { keys })
    }

    /// The current key for `alg`, if the set has one.
    pub fn current(&self, alg: Alg) -> Option<&SigningKey> {
        self.keys.iter().find(|key| key.alg == alg)
    }

    /// Every key, current first.
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The public keys, for the issuer's `jwks_uri`.
    pub fn public(&self) -> Result<PublicKeySet, JoseError> {
        let keys = self
            .keys
            .iter()
            .map(SigningKey::public_key)
            .collect::<Result<_, _>>()?;
        Ok(PublicKeySet { keys })
    }
}

/// A JSON Web Key Set of public keys, as fetched from a `jwks_uri`.
#[derive(Clone, Debug, Default)]
pub struct PublicKeySet {
    keys: Vec<PublicKey>,
}

impl PublicKeySet {
    /// Parses a JWKS document. Keys that cannot be read (unknown type,
    /// private parts, bad encoding) are skipped rather than failing the set,
    /// as a provider may publish keys for other uses.
    pub fn from_json(text: &str) -> Result<Self, JoseError> {
        let document: Value =
            serde_json::from_str(text).map_err(|_| JoseError::Malformed("JWKS is not JSON"))?;
        let Some(entries) = document.get("keys").and_then(Value::as_array) else {
            return Err(JoseError::Malformed("JWKS has no keys array"));
        };
        let keys = entries.iter().filter_map(parse_public_key).collect();
        Ok(Self { keys })
    }

    /// The keys that may verify `alg` under `kid` (any key fitting `alg` when
    /// the token names no `kid`).
    pub fn candidates(&self, kid: Option<&str>, alg: Alg) -> Vec<&PublicKey> {
        self.keys
            .iter()
            .filter(|key| key.fits(alg) && kid.is_none_or(|kid| key.kid == kid))
            .collect()
    }

    /// Whether a key has this id.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|key| key.kid == kid)
    }

    /// The set as a JWKS JSON document.
    pub fn to_json(&self) -> Value {
        json!({ "keys": self.keys.iter().map(PublicKey::to_json).collect::<Vec<_>>() })
    }

    /// The keys.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }
}

fn parse_public_key(entry: &Value) -> Option<PublicKey> {
    let map = entry.as_object()?;
    if map.contains_key("d") || map.contains_key("k") {
        return None; // a private or symmetric key has no place in a published set
    }
    let jwk = Jwk::from_map(map.clone()).ok()?;
    let alg = jwk.algorithm().map(str::to_owned);
    let kid = jwk.key_id().unwrap_or_default().to_owned();
    Some(PublicKey::from_parts(alg, kid, jwk))
}

/// The RFC 7638 thumbprint of a public key: SHA-256 over the required members
/// in lexicographic order, base64url.
pub(crate) fn thumbprint(jwk: &Jwk) -> Result<String, JoseError> {
    let member = |name: &str| {
        jwk.parameter(name)
            .and_then(Value::as_str)
            .ok_or_else(|| JoseError::Key(format!("JWK lacks {name}")))
    };
    let mut canonical = Map::new();
    match jwk.key_type() {
        "EC" => {
            canonical.insert("crv".into(), member("crv")?.into());
            canonical.insert("kty".into(), "EC".into());
            canonical.insert("x".into(), member("x")?.into());
            canonical.insert("y".into(), member("y")?.into());
        }
        "RSA" => {
            canonical.insert("e".into(), member("e")?.into());
            canonical.insert("kty".into(), "RSA".into());
            canonical.insert("n".into(), member("n")?.into());
        }
        _ => return Err(JoseError::Key("unsupported key type".into())),
    }
    // serde_json's Map keeps keys sorted, which is the canonical order.
    let text = Value::Object(canonical).to_string();
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_key_survives_a_trip_to_json_with_its_kid() {
        let key = SigningKey::generate(Alg::ES256).unwrap();
        let again = SigningKey::from_private_json(&key.to_private_json()).unwrap();
        assert_eq!(again.kid(), key.kid());
        assert_eq!(again.alg(), Alg::ES256);
    }

    #[test]
    fn the_published_set_holds_no_private_member() {
        let keys = KeySet::new(vec![
            SigningKey::generate(Alg::ES256).unwrap(),
            SigningKey::generate(Alg::RS256).unwrap(),
        ])
        .unwrap();
        let text = keys.public().unwrap().to_json().to_string();
        for private in ["\"d\"", "\"p\"", "\"q\"", "\"dp\""] {
            assert!(!text.contains(private), "{private} leaked");
        }
        let parsed = PublicKeySet::from_json(&text).unwrap();
        assert_eq!(parsed.keys().len(), 2);
        for (published, key) in parsed.keys().iter().zip(keys.keys()) {
            assert_eq!(published.kid(), key.kid(), "the kid is published");
            assert!(published.fits(key.alg()));
        }
    }

    #[test]
    fn a_published_private_key_is_skipped() {
        let key = SigningKey::generate(Alg::ES256).unwrap();
        let text = format!("{{\"keys\":[{}]}}", key.to_private_json());
        assert!(PublicKeySet::from_json(&text).unwrap().keys().is_empty());
    }

    #[test]
    fn a_public_key_only_fits_its_own_algorithm() {
        let key = SigningKey::generate(Alg::ES256)
            .unwrap()
            .public_key()
            .unwrap();
        assert!(key.fits(Alg::ES256));
        assert!(!key.fits(Alg::RS256));
        assert!(!key.fits(Alg::HS256));
    }

    #[test]
    fn garbage_is_not_a_key_set() {
        assert!(PublicKeySet::from_json("nope").is_err());
        assert!(PublicKeySet::from_json("{}").is_err());
        assert!(SigningKey::from_private_json("{\"kty\":\"EC\"}").is_err());
    }
}
