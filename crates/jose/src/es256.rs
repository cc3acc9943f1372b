//! ES256 straight on OpenSSL's ECDSA: signing, for the keys we sign with
//! most (every ID token, userinfo and trail receipt), and verifying (the
//! providers' ID tokens, services' client assertions, receipts).
//!
//! josekit's signer sets up an OpenSSL 3 digest-and-sign context at each
//! signature (an algorithm fetch through the provider tables) and reads its
//! DER output back; here the SHA-256 is ours and the signature is
//! `ECDSA_do_sign` on the decoded key, kept with the key (BENCHMARKS.md:
//! 52.8 µs a signature before, 31 after). What comes out is an ordinary
//! JWS signature: `R || S`, 32 bytes each (RFC 7518 §3.4), verified by any
//! library, josekit's verifier included (tested).

use josekit::jwk::Jwk;
use josekit::jws::{ES256, JwsAlgorithm, JwsSigner, JwsVerifier};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{Private, Public};
use sha2::{Digest as _, Sha256};

use crate::JoseError;

/// Bytes of each of `R` and `S`.
const HALF: usize = 32;

/// An ES256 signer over a decoded P-256 private key.
#[derive(Clone)]
pub(crate) struct Es256Signer {
    key: EcKey<Private>,
    kid: Option<String>,
}

impl std::fmt::Debug for Es256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private part.
        f.debug_struct("Es256Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Es256Signer {
    /// Decodes a P-256 private JWK (`crv`, `d`, `x`, `y`) and checks that
    /// its public point is on the curve and is `d`'s.
    pub(crate) fn from_jwk(jwk: &Jwk) -> Result<Self, JoseError> {
        let (group, public) = public_key(jwk)?;
        let d = number(jwk, "d")?;
        let key = EcKey::from_private_components(&group, &d, public.public_key())
            .map_err(|_| bad("d"))?;
        // On the curve, of the right order, and d·G (OpenSSL's check).
        key.check_key()
            .map_err(|_| bad("d does not match x and y"))?;
        Ok(Self {
            key,
            kid: jwk.key_id().map(str::to_owned),
        })
    }
}

/// A key that cannot serve ES256, and why.
fn bad(what: impl std::fmt::Display) -> JoseError {
    JoseError::Key(format!("ES256 key: {what}"))
}

/// The curve and the public point of a P-256 JWK (`kty`, `crv`, `x`, `y`),
/// the point checked to be on the curve.
fn public_key(jwk: &Jwk) -> Result<(EcGroup, EcKey<Public>), JoseError> {
    if jwk.key_type() != "EC" || jwk.curve() != Some("P-256") {
        return Err(bad("not a P-256 key"));
    }
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(|_| bad("curve"))?;
    let (x, y) = (number(jwk, "x")?, number(jwk, "y")?);
    let key = EcKey::from_public_key_affine_coordinates(&group, &x, &y)
        .map_err(|_| bad("the public point is not on the curve"))?;
    Ok((group, key))
}

/// A base64url member of a P-256 JWK, as a big number.
fn number(jwk: &Jwk, name: &str) -> Result<BigNum, JoseError> {
    let text = jwk
        .parameter(name)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| bad(format_args!("no {name}")))?;
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, text)
        .map_err(|_| bad(format_args!("{name} is not base64url")))?;
    BigNum::from_slice(&bytes).map_err(|_| bad(name))
}

/// An ES256 verifier over a decoded P-256 public key.
#[derive(Clone)]
pub(crate) struct Es256Verifier {
    key: EcKey<Public>,
    kid: Option<String>,
}

impl std::fmt::Debug for Es256Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Es256Verifier")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Es256Verifier {
    /// Decodes a P-256 JWK (`crv`, `x`, `y`; a private one's `d` is
    /// ignored) and checks that its point is on the curve.
    pub(crate) fn from_jwk(jwk: &Jwk) -> Result<Self, JoseError> {
        let (_, key) = public_key(jwk)?;
        key.check_key()
            .map_err(|_| bad("the public point is not on the curve"))?;
        Ok(Self {
            key,
            kid: jwk.key_id().map(str::to_owned),
        })
    }
}

impl JwsVerifier for Es256Verifier {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        &ES256
    }

    fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), josekit::JoseError> {
        let refused = |why: &str| josekit::JoseError::InvalidSignature(anyhow::anyhow!("{why}"));
        let (Some(r), Some(s)) = (signature.get(..HALF), signature.get(HALF..)) else {
            return Err(refused("an ES256 signature is 64 bytes"));
        };
        if s.len() != HALF {
            return Err(refused("an ES256 signature is 64 bytes"));
        }
        let (Ok(r), Ok(s)) = (BigNum::from_slice(r), BigNum::from_slice(s)) else {
            return Err(refused("unreadable signature"));
        };
        let signature =
            EcdsaSig::from_private_components(r, s).map_err(|_| refused("unreadable signature"))?;
        match signature.verify(&Sha256::digest(message), &self.key) {
            Ok(true) => Ok(()),
            _ => Err(refused("the signature does not match")),
        }
    }

    fn box_clone(&self) -> Box<dyn JwsVerifier> {
        Box::new(self.clone())
    }
}

impl JwsSigner for Es256Signer {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        &ES256
    }

    fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn signature_len(&self) -> usize {
        2 * HALF
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, josekit::JoseError> {
        let failed = |error: openssl::error::ErrorStack| {
            josekit::JoseError::InvalidSignature(anyhow::Error::new(error))
        };
        let signature = EcdsaSig::sign(&Sha256::digest(message), &self.key).map_err(failed)?;
        let mut out = signature.r().to_vec_padded(HALF as i32).map_err(failed)?;
        out.extend(signature.s().to_vec_padded(HALF as i32).map_err(failed)?);
        Ok(out)
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use josekit::jws::JwsVerifier as _;
    use serde_json::json;

    use super::*;

    fn jwk_of(value: serde_json::Value) -> Jwk {
        Jwk::from_map(value.as_object().cloned().unwrap_or_default()).unwrap()
    }

    #[test]
    fn the_verifier_takes_josekits_signatures_and_refuses_anything_else() {
        let jwk = Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
        let public = jwk.to_public_key().unwrap();
        let ours = Es256Verifier::from_jwk(&public).unwrap();
        let theirs = ES256.signer_from_jwk(&jwk).unwrap();
        let message = b"header.payload";
        let signature = theirs.sign(message).unwrap();
        ours.verify(message, &signature).unwrap();
        ours.verify(
            message,
            &Es256Signer::from_jwk(&jwk).unwrap().sign(message).unwrap(),
        )
        .unwrap();
        assert!(ours.verify(b"header.other", &signature).is_err());
        let mut flipped = signature.clone();
        flipped[10] ^= 1;
        assert!(ours.verify(message, &flipped).is_err());
        for bad in [&signature[..63], &[0u8; 64][..], &[0u8; 65][..], &[][..]] {
            assert!(ours.verify(message, bad).is_err(), "{} bytes", bad.len());
        }
        let other = Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
        let stranger = Es256Verifier::from_jwk(&other.to_public_key().unwrap()).unwrap();
        assert!(stranger.verify(message, &signature).is_err());
        // A point off the curve is refused when the key is read.
        let mut off = public.as_ref().clone();
        off.insert("y".into(), other.parameter("y").unwrap().clone());
        assert!(Es256Verifier::from_jwk(&jwk_of(json!(off))).is_err());
    }

    #[test]
    fn its_signatures_verify_with_josekit_and_a_mismatched_key_is_refused() {
        let jwk = Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
        let signer = Es256Signer::from_jwk(&jwk).unwrap();
        let verifier = ES256
            .verifier_from_jwk(&jwk.to_public_key().unwrap())
            .unwrap();
        let message = b"header.payload";
        let (one, two) = (signer.sign(message).unwrap(), signer.sign(message).unwrap());
        assert_eq!(one.len(), 64);
        assert_ne!(one, two, "ECDSA draws a new nonce each time");
        verifier.verify(message, &one).unwrap();
        verifier.verify(message, &two).unwrap();
        assert!(verifier.verify(b"header.other", &one).is_err());

        let other = Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
        let mut mixed = jwk.as_ref().clone();
        mixed.insert("d".into(), other.parameter("d").unwrap().clone());
        let refused = Es256Signer::from_jwk(&jwk_of(json!(mixed))).unwrap_err();
        assert!(
            refused.to_string().contains("d does not match"),
            "{refused}"
        );
        let public = jwk.to_public_key().unwrap();
        assert!(Es256Signer::from_jwk(&public).is_err(), "no d");
        let rsa = Jwk::generate_rsa_key(2048).unwrap();
        assert!(Es256Signer::from_jwk(&rsa).is_err());
    }
}
