//! Compact JWE: encrypting tokens to a service's key, and decrypting those
//! sent to us, as FranceConnect+ does for ID tokens and userinfo.
//!
//! Key management is `ECDH-ES`, `RSA-OAEP-256` or `RSA-OAEP`, chosen by the
//! recipient's registration; content encryption is always `A256GCM`. The
//! header's `alg` and `enc` are checked against the allow-list before any key
//! is used, as for signatures.

use std::fmt;

use josekit::jwe::{self, JweDecrypter, JweHeader};
use josekit::jwk::Jwk;
use josekit::jwk::alg::ec::EcCurve;
use serde_json::{Map, Value};

use crate::key::thumbprint;
use crate::{JoseError, PublicKey};

/// The only content encryption we produce or accept.
pub const CONTENT_ENCRYPTION: &str = "A256GCM";

/// A key management algorithm we accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum KeyAlg {
    /// Elliptic-curve Diffie-Hellman (P-256), direct key agreement.
    #[serde(rename = "ECDH-ES")]
    EcdhEs,
    /// RSAES-OAEP with SHA-256.
    #[serde(rename = "RSA-OAEP-256")]
    RsaOaep256,
    /// RSAES-OAEP with SHA-1 (FranceConnect still accepts it).
    #[serde(rename = "RSA-OAEP")]
    RsaOaep,
}

impl KeyAlg {
    /// Every algorithm, in preference order.
    pub const ALL: [KeyAlg; 3] = [KeyAlg::EcdhEs, KeyAlg::RsaOaep256, KeyAlg::RsaOaep];

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlg::EcdhEs => "ECDH-ES",
            KeyAlg::RsaOaep256 => "RSA-OAEP-256",
            KeyAlg::RsaOaep => "RSA-OAEP",
        }
    }

    /// Parses an `alg` value; anything else is refused.
    pub fn parse(text: &str) -> Result<Self, JoseError> {
        KeyAlg::ALL
            .into_iter()
            .find(|alg| alg.as_str() == text)
            .ok_or_else(|| JoseError::AlgNotAllowed(text.chars().take(16).collect()))
    }

    fn is_rsa(self) -> bool {
        !matches!(self, KeyAlg::EcdhEs)
    }
}

impl fmt::Display for KeyAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A private key that decrypts tokens sent to its owner.
#[derive(Clone)]
pub struct DecryptionKey {
    alg: KeyAlg,
    kid: String,
    jwk: Jwk,
    decrypter: crate::built::Built<KeyAlg, dyn JweDecrypter>,
}

impl fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl DecryptionKey {
    /// Generates a key pair: P-256 for ECDH-ES, RSA 2048 for RSA-OAEP.
    pub fn generate(alg: KeyAlg) -> Result<Self, JoseError> {
        let jwk = if alg.is_rsa() {
            Jwk::generate_rsa_key(2048)?
        } else {
            Jwk::generate_ec_key(EcCurve::P256)?
        };
        Self::from_jwk(alg, jwk)
    }

    fn from_jwk(alg: KeyAlg, mut jwk: Jwk) -> Result<Self, JoseError> {
        let kid = thumbprint(&jwk)?;
        jwk.set_key_id(kid.clone());
        jwk.set_algorithm(alg.as_str());
        jwk.set_key_use("enc");
        Ok(Self {
            alg,
            kid,
            jwk,
            decrypter: crate::built::Built::default(),
        })
    }

    /// Reads a private JWK as written by [`DecryptionKey::to_private_json`].
    pub fn from_private_json(text: &str) -> Result<Self, JoseError> {
        let jwk = Jwk::from_bytes(text.as_bytes())?;
        let alg = KeyAlg::parse(jwk.algorithm().unwrap_or_default())?;
        let type_fits = if alg.is_rsa() {
            jwk.key_type() == "RSA"
        } else {
            jwk.curve() == Some("P-256")
        };
        if !type_fits || jwk.parameter("d").is_none() {
            return Err(JoseError::Key("not a private key for its algorithm".into()));
        }
        Self::from_jwk(alg, jwk)
    }

    /// The private JWK as JSON.
    pub fn to_private_json(&self) -> String {
        self.jwk.to_string()
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key management algorithm.
    pub fn alg(&self) -> KeyAlg {
        self.alg
    }

    /// The public half, to publish (`use` = `enc`).
    pub fn public_key(&self) -> Result<PublicKey, JoseError> {
        let mut jwk = self.jwk.to_public_key()?;
        jwk.set_key_id(self.kid.clone());
        jwk.set_algorithm(self.alg.as_str());
        jwk.set_key_use("enc");
        Ok(PublicKey::from_parts(
            Some(self.alg.as_str().to_owned()),
            self.kid.clone(),
            jwk,
        ))
    }
}

impl PublicKey {
    /// Whether this key may receive tokens encrypted with `alg`: its type
    /// fits, its `use` is not `sig` and its own `alg`, when stated, is `alg`.
    pub fn fits_encryption(&self, alg: KeyAlg) -> bool {
        let jwk = self.jwk();
        let type_fits = if alg.is_rsa() {
            jwk.key_type() == "RSA"
        } else {
            jwk.curve() == Some("P-256")
        };
        type_fits
            && jwk.key_use() != Some("sig")
            && self.alg().is_none_or(|own| own == alg.as_str())
    }
}

/// The parts of a JWE header we act on, read before decrypting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JweHeaderInfo {
    /// Key management, already checked against the allow-list.
    pub alg: KeyAlg,
    /// The recipient key's id, when named.
    pub kid: Option<String>,
    /// The content type (`JWT` for a nested signed token).
    pub cty: Option<String>,
    /// The sender's "agreement PartyUInfo" (base64url), which ECDH-ES
    /// mixes into the key; OpenID4VP's mdoc profile carries the wallet's
    /// nonce in it.
    pub apu: Option<String>,
}

/// Reads a compact JWE header; `alg` must be one of ours and `enc` A256GCM.
pub fn peek_jwe_header(token: &str) -> Result<JweHeaderInfo, JoseError> {
    let map = crate::token::protected_header(token, 5)?;
    let text = |name: &str| map.get(name).and_then(Value::as_str).map(str::to_owned);
    let alg = KeyAlg::parse(text("alg").as_deref().unwrap_or_default())?;
    let enc = text("enc").unwrap_or_default();
    if enc != CONTENT_ENCRYPTION {
        return Err(JoseError::AlgNotAllowed(enc.chars().take(16).collect()));
    }
    Ok(JweHeaderInfo {
        alg,
        kid: text("kid"),
        cty: text("cty"),
        apu: text("apu"),
    })
}

/// Encrypts `payload` to `recipient` with `alg` and A256GCM. `cty` names
/// the payload's type (`JWT` for a signed token); `copied` claims (`iss`,
/// `aud`) are copied into the header, as FranceConnect+ does, so that a
/// recipient can route a token before decrypting it.
pub fn encrypt(
    payload: &[u8],
    recipient: &PublicKey,
    alg: KeyAlg,
    cty: &str,
    copied: &Map<String, Value>,
) -> Result<String, JoseError> {
    if !recipient.fits_encryption(alg) {
        return Err(JoseError::Key(format!(
            "the recipient's key does not fit {alg}"
        )));
    }
    let mut header = JweHeader::new();
    header.set_content_encryption(CONTENT_ENCRYPTION);
    header.set_content_type(cty);
    if !recipient.kid().is_empty() {
        header.set_key_id(recipient.kid());
    }
    for (name, value) in copied {
        header.set_claim(name, Some(value.clone()))?;
    }
    Ok(recipient.with_encrypter(alg, |encrypter| {
        jwe::serialize_compact(payload, &header, encrypter)
    })??)
}

/// Decrypts a compact JWE with one of `keys` (the one its `kid` names, or
/// each that fits when it names none), if its `alg` is `allowed`.
pub fn decrypt(
    token: &str,
    keys: &[DecryptionKey],
    allowed: &[KeyAlg],
) -> Result<Vec<u8>, JoseError> {
    let header = peek_jwe_header(token)?;
    if !allowed.contains(&header.alg) {
        return Err(JoseError::AlgNotAllowed(header.alg.as_str().to_owned()));
    }
    let candidates: Vec<&DecryptionKey> = keys
        .iter()
        .filter(|key| {
            key.alg == header.alg && header.kid.as_deref().is_none_or(|kid| kid == key.kid)
        })
        .collect();
    if candidates.is_empty() {
        return Err(JoseError::UnknownKey(header.kid.unwrap_or_default()));
    }
    for key in candidates {
        let build = || -> Result<Box<dyn JweDecrypter>, JoseError> {
            Ok(match key.alg {
                KeyAlg::EcdhEs => Box::new(jwe::ECDH_ES.decrypter_from_jwk(&key.jwk)?),
                KeyAlg::RsaOaep256 => Box::new(jwe::RSA_OAEP_256.decrypter_from_jwk(&key.jwk)?),
                KeyAlg::RsaOaep => Box::new(jwe::RSA_OAEP.decrypter_from_jwk(&key.jwk)?),
            })
        };
        let opened = key.decrypter.with(key.alg, build, |decrypter| {
            jwe::deserialize_compact(token, decrypter)
        })?;
        if let Ok((payload, _)) = opened {
            return Ok(payload);
        }
    }
    Err(JoseError::Malformed("cannot be decrypted"))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use super::*;
    use crate::{Alg, KeySet, PublicKeySet, SigningKey};

    fn copied() -> Map<String, Value> {
        json!({"iss": "https://hub.test", "aud": "service"})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn a_signed_token_encrypted_with_each_algorithm_decrypts_and_verifies() {
        let signer = SigningKey::generate(Alg::ES256).unwrap();
        let claims = json!({"sub": "abc", "given_name": "Marie"})
            .as_object()
            .unwrap()
            .clone();
        let signed = crate::sign(&claims, &signer, "JWT").unwrap();
        for alg in KeyAlg::ALL {
            let key = DecryptionKey::generate(alg).unwrap();
            let token = encrypt(
                signed.as_bytes(),
                &key.public_key().unwrap(),
                alg,
                "JWT",
                &copied(),
            )
            .unwrap();
            let header = peek_jwe_header(&token).unwrap();
            assert_eq!(
                (header.alg, header.kid.as_deref(), header.cty.as_deref()),
                (alg, Some(key.kid()), Some("JWT"))
            );
            let inner = decrypt(&token, &[key], &KeyAlg::ALL).unwrap();
            let verified = crate::verify(
                std::str::from_utf8(&inner).unwrap(),
                &KeySet::new(vec![signer.clone()]).unwrap().public().unwrap(),
                &[Alg::ES256],
            )
            .unwrap();
            assert_eq!(verified, claims);
        }
    }

    #[test]
    fn the_header_carries_iss_and_aud_in_clear() {
        let key = DecryptionKey::generate(KeyAlg::EcdhEs).unwrap();
        let token = encrypt(
            b"x",
            &key.public_key().unwrap(),
            KeyAlg::EcdhEs,
            "JWT",
            &copied(),
        )
        .unwrap();
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        let header: Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(
            (
                header["iss"].as_str(),
                header["aud"].as_str(),
                header["enc"].as_str()
            ),
            (Some("https://hub.test"), Some("service"), Some("A256GCM"))
        );
    }

    #[test]
    fn another_key_an_unlisted_algorithm_or_a_changed_byte_is_refused() {
        let key = DecryptionKey::generate(KeyAlg::RsaOaep256).unwrap();
        let token = encrypt(
            b"secret",
            &key.public_key().unwrap(),
            KeyAlg::RsaOaep256,
            "JWT",
            &Map::new(),
        )
        .unwrap();
        let stranger = DecryptionKey::generate(KeyAlg::RsaOaep256).unwrap();
        assert!(matches!(
            decrypt(&token, &[stranger], &KeyAlg::ALL),
            Err(JoseError::UnknownKey(_))
        ));
        assert!(matches!(
            decrypt(&token, std::slice::from_ref(&key), &[KeyAlg::EcdhEs]),
            Err(JoseError::AlgNotAllowed(_))
        ));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut ciphertext = URL_SAFE_NO_PAD.decode(&parts[3]).unwrap();
        ciphertext[0] ^= 1;
        parts[3] = URL_SAFE_NO_PAD.encode(ciphertext);
        assert!(decrypt(&parts.join("."), &[key], &KeyAlg::ALL).is_err());
    }

    #[test]
    fn an_encryption_key_is_published_for_encryption_only() {
        let key = DecryptionKey::generate(KeyAlg::EcdhEs).unwrap();
        let text = json!({"keys": [key.public_key().unwrap().to_json()]}).to_string();
        let set = PublicKeySet::from_json(&text).unwrap();
        let published = &set.keys()[0];
        assert!(published.fits_encryption(KeyAlg::EcdhEs));
        assert!(!published.fits_encryption(KeyAlg::RsaOaep256));
        assert!(
            !published.fits(Alg::ES256),
            "an enc key never verifies signatures"
        );
        assert!(!text.contains("\"d\""));
        let again = DecryptionKey::from_private_json(&key.to_private_json()).unwrap();
        assert_eq!(again.kid(), key.kid());
    }

    #[test]
    fn garbage_is_not_a_jwe() {
        for input in [
            "",
            "a.b.c",
            "a.b.c.d.e",
            "e30.a.b.c.d",
            "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0.a.b.c.d",
        ] {
            assert!(decrypt(input, &[], &KeyAlg::ALL).is_err(), "{input}");
        }
    }
}
