//! Compact JWS tokens: signing, reading the header, verifying.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jws::{self, JwsHeader, JwsSigner, JwsVerifier};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Alg, JoseError, PublicKeySet, SigningKey};

/// The parts of a JWS header we act on, read before anything is verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The signature algorithm, already checked against the allow-list.
    pub alg: Alg,
    /// The key id, when the signer named one.
    pub kid: Option<String>,
    /// The media type (`JWT`, `logout+jwt`…), when present.
    pub typ: Option<String>,
}

/// Longest token we even look at: ID tokens and userinfo are a few KiB.
const MAX_TOKEN_LEN: usize = 64 * 1024;

/// Reads the header of a compact JWS without verifying anything. The `alg`
/// must be one of ours, so `none` and unknown algorithms fail here.
pub fn peek_header(token: &str) -> Result<Header, JoseError> {
    let map = protected_header(token, 3)?;
    let alg = map
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JoseError::Malformed("no alg"))?;
    let text = |name: &str| map.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(Header {
        alg: Alg::parse(alg)?,
        kid: text("kid"),
        typ: text("typ"),
    })
}

/// The protected header of a compact serialization of `parts` parts (3 for
/// a JWS, 5 for a JWE), as a JSON object; nothing is verified.
pub(crate) fn protected_header(token: &str, parts: usize) -> Result<Map<String, Value>, JoseError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JoseError::Malformed("token too long"));
    }
    if token.split('.').count() != parts {
        return Err(JoseError::Malformed(if parts == 3 {
            "not three parts"
        } else {
            "not five parts"
        }));
    }
    let header = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JoseError::Malformed("header not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| JoseError::Malformed("header not JSON"))
}

/// Signs `claims` (a map, or a struct: anything serialized as a JSON
/// object) with `key`; the header carries `alg`, `kid` and `typ`.
pub fn sign<C: Serialize + ?Sized>(
    claims: &C,
    key: &SigningKey,
    typ: &str,
) -> Result<String, JoseError> {
    sign_with_header(claims, key, typ, &Map::new())
}

/// Signs as [`sign`] does, with `extra` parameters in the header. Nothing
/// here needs one; the tests' rogue provider puts a `jku` and an `x5u`
/// there, to check that no verifier of the federation follows them.
pub fn sign_with_header<C: Serialize + ?Sized>(
    claims: &C,
    key: &SigningKey,
    typ: &str,
    extra: &Map<String, Value>,
) -> Result<String, JoseError> {
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    header.set_key_id(key.kid());
    for (name, value) in extra {
        header.set_claim(name, Some(value.clone()))?;
    }
    key.with_signer(|signer| serialize(claims, &header, signer))?
}

/// Signs `claims` with HS256 under a shared secret of at least 32 bytes, as
/// FranceConnect does for its legacy services (keyed by the client secret).
pub fn sign_hmac<C: Serialize + ?Sized>(
    claims: &C,
    secret: &[u8],
    typ: &str,
) -> Result<String, JoseError> {
    let signer = jws::HS256.signer_from_bytes(secret)?;
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    serialize(claims, &header, &signer)
}

fn serialize<C: Serialize + ?Sized>(
    claims: &C,
    header: &JwsHeader,
    signer: &dyn JwsSigner,
) -> Result<String, JoseError> {
    // Room for an ID token's or a userinfo's claims: written once, not grown.
    let mut payload = Vec::with_capacity(512);
    serde_json::to_writer(&mut payload, claims).map_err(|_| JoseError::Malformed("claims"))?;
    Ok(jws::serialize_compact(&payload, header, signer)?)
}

/// Verifies a compact JWS against a key set and returns its claims.
///
/// The header's `alg` must be in `allowed`; the key is the one named by `kid`
/// (any fitting key is tried when there is no `kid`). An unknown `kid` is
/// reported as [`JoseError::UnknownKey`] so that a relying party can refetch
/// the provider's key set once.
pub fn verify(
    token: &str,
    keys: &PublicKeySet,
    allowed: &[Alg],
) -> Result<Map<String, Value>, JoseError> {
    let header = peek_header(token)?;
    if !allowed.contains(&header.alg) || !header.alg.is_asymmetric() {
        return Err(JoseError::AlgNotAllowed(header.alg.as_str().to_owned()));
    }
    let candidates = keys.candidates(header.kid.as_deref(), header.alg);
    if candidates.is_empty() {
        return Err(JoseError::UnknownKey(header.kid.unwrap_or_default()));
    }
    for key in candidates {
        if let Ok(claims) =
            key.with_verifier(header.alg, |verifier| deserialize(token, verifier))?
        {
            return Ok(claims);
        }
    }
    Err(JoseError::BadSignature)
}

/// Verifies an HS256 token under a shared secret and returns its claims.
pub fn verify_hmac(token: &str, secret: &[u8]) -> Result<Map<String, Value>, JoseError> {
    let header = peek_header(token)?;
    if header.alg != Alg::HS256 {
        return Err(JoseError::AlgNotAllowed(header.alg.as_str().to_owned()));
    }
    let verifier = jws::HS256.verifier_from_bytes(secret)?;
    deserialize(token, &verifier)
}

fn deserialize(token: &str, verifier: &dyn JwsVerifier) -> Result<Map<String, Value>, JoseError> {
    let (payload, _) = jws::deserialize_compact(token, verifier).map_err(|error| match error {
        josekit::JoseError::InvalidSignature(_) => JoseError::BadSignature,
        _ => JoseError::Malformed("cannot be verified"),
    })?;
    serde_json::from_slice(&payload).map_err(|_| JoseError::Malformed("payload not a JSON object"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::KeySet;

    fn claims() -> Map<String, Value> {
        json!({"iss": "https://hub.test", "sub": "abc", "n": 1})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn a_token_signed_with_each_key_type_verifies_with_the_published_set() {
        for alg in [Alg::ES256, Alg::RS256] {
            let keys = KeySet::new(vec![SigningKey::generate(alg).unwrap()]).unwrap();
            let token = sign(&claims(), keys.current(alg).unwrap(), "JWT").unwrap();
            let header = peek_header(&token).unwrap();
            assert_eq!(header.alg, alg);
            assert_eq!(header.typ.as_deref(), Some("JWT"));
            assert_eq!(
                verify(&token, &keys.public().unwrap(), &[alg]).unwrap(),
                claims()
            );
        }
    }

    #[test]
    fn a_tampered_payload_is_a_bad_signature() {
        let key = SigningKey::generate(Alg::ES256).unwrap();
        let keys = KeySet::new(vec![key.clone()]).unwrap().public().unwrap();
        let token = sign(&claims(), &key, "JWT").unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://hub.test","sub":"other","n":1}"#);
        parts[1] = &forged;
        assert_eq!(
            verify(&parts.join("."), &keys, &[Alg::ES256]),
            Err(JoseError::BadSignature)
        );
    }

    #[test]
    fn an_algorithm_outside_the_allow_list_is_refused_before_any_key() {
        let key = SigningKey::generate(Alg::RS256).unwrap();
        let keys = KeySet::new(vec![key.clone()]).unwrap().public().unwrap();
        let token = sign(&claims(), &key, "JWT").unwrap();
        assert!(matches!(
            verify(&token, &keys, &[Alg::ES256]),
            Err(JoseError::AlgNotAllowed(_))
        ));
    }

    #[test]
    fn alg_none_cannot_be_read() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let body = URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#);
        let token = format!("{header}.{body}.");
        assert!(matches!(
            peek_header(&token),
            Err(JoseError::AlgNotAllowed(_))
        ));
    }

    #[test]
    fn an_unknown_kid_is_reported_as_such() {
        let signer = SigningKey::generate(Alg::ES256).unwrap();
        let other = KeySet::new(vec![SigningKey::generate(Alg::ES256).unwrap()]).unwrap();
        let token = sign(&claims(), &signer, "JWT").unwrap();
        assert_eq!(
            verify(&token, &other.public().unwrap(), &[Alg::ES256]),
            Err(JoseError::UnknownKey(signer.kid().to_owned()))
        );
    }

    #[test]
    fn an_hmac_token_verifies_only_with_its_secret() {
        let secret = [7u8; 32];
        let token = sign_hmac(&claims(), &secret, "JWT").unwrap();
        assert_eq!(verify_hmac(&token, &secret).unwrap(), claims());
        assert_eq!(
            verify_hmac(&token, &[8u8; 32]),
            Err(JoseError::BadSignature)
        );
        // and an HS256 token is never accepted by the key-set verifier
        let keys = KeySet::new(vec![SigningKey::generate(Alg::ES256).unwrap()]).unwrap();
        assert!(verify(&token, &keys.public().unwrap(), &Alg::ALL).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        for input in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            "e30.e30.e30",
            "\u{00e9}.\u{00e9}.x",
        ] {
            assert!(peek_header(input).is_err());
            assert!(verify(input, &PublicKeySet::default(), &Alg::ALL).is_err());
        }
    }
}
