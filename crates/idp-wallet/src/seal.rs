//! Visible digital seals: what a QR code carries when it must be checked
//! offline, such as the certification request the town hall scans or the
//! seal of an identity proof.
//!
//! The real seals (2D-Doc / CEV, AFNOR XP Z42-105) are a compact binary
//! format signed under the country's CSCA. Ours keep the trust model and
//! change the encoding (docs/wallet.md): a compact JWS (ES256) whose
//! `x5c` header carries the `DS-CEV-TEST` certificate, checked against the
//! same trust store as the cards' document signers, and only accepted when
//! the certificate's common name is that of a seal signer.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use card::pki::Authority;
use der::Decode as _;
use p256::ecdsa::Signature;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use x509_cert::Certificate;

use crate::verify::TrustStore;

/// The common name every seal signer's certificate starts with.
pub const SEAL_SIGNER_PREFIX: &str = "DS-CEV";

/// Why a seal is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("ce n'est pas un cachet électronique lisible")]
    Malformed,
    #[error("ce cachet n'est pas du type attendu")]
    WrongType,
    #[error("le certificat du cachet n'est pas celui d'un signataire de cachets")]
    NotASealSigner,
    #[error("le signataire du cachet n'est pas reconnu : {0}")]
    Signer(String),
    #[error("la signature du cachet est invalide")]
    Signature,
}

/// Signs `claims` as a seal of type `typ` with the seal signer.
pub fn sign<T: Serialize>(signer: &Authority, typ: &str, claims: &T) -> Result<String, SealError> {
    let certificate = signer.certificate_der().map_err(|_| SealError::Malformed)?;
    let header = json!({ "alg": "ES256", "typ": typ, "x5c": [STANDARD.encode(certificate)] });
    let payload = serde_json::to_vec(claims).map_err(|_| SealError::Malformed)?;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature: Signature = signer.key().sign(input.as_bytes());
    Ok(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}

/// Verifies a seal of type `typ` against the trust store at `now` and
/// returns its claims. The expiry written in the claims is the caller's
/// to check: it is the document's, not the signature's.
pub fn verify<T: DeserializeOwned>(
    seal: &str,
    typ: &str,
    trust: &TrustStore,
    now: u64,
) -> Result<T, SealError> {
    let mut parts = seal.trim().split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SealError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| SealError::Malformed)
    };
    let header: Value =
        serde_json::from_slice(&decode(header_b64)?).map_err(|_| SealError::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(SealError::Malformed);
    }
    if header.get("typ").and_then(Value::as_str) != Some(typ) {
        return Err(SealError::WrongType);
    }
    let certificate = header
        .get("x5c")
        .and_then(Value::as_array)
        .and_then(|chain| chain.first())
        .and_then(Value::as_str)
        .and_then(|der| STANDARD.decode(der).ok())
        .and_then(|der| Certificate::from_der(&der).ok())
        .ok_or(SealError::Malformed)?;
    let name = certificate.tbs_certificate.subject.to_string();
    let is_seal_signer = name
        .split(',')
        .any(|part| part.trim().starts_with(&format!("CN={SEAL_SIGNER_PREFIX}")));
    if !is_seal_signer {
        return Err(SealError::NotASealSigner);
    }
    let key = trust
        .check_signer(&certificate, now)
        .map_err(|check| SealError::Signer(check.to_string()))?;
    let signature =
        Signature::from_slice(&decode(signature_b64)?).map_err(|_| SealError::Signature)?;
    key.verify(format!("{header_b64}.{payload_b64}").as_bytes(), &signature)
        .map_err(|_| SealError::Signature)?;
    serde_json::from_slice(&decode(payload_b64)?).map_err(|_| SealError::Malformed)
}

#[cfg(test)]
mod tests {
    use card::pki::TestPki;
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn setup() -> (TestPki, TrustStore) {
        let pki = TestPki::generate(NOW).unwrap();
        let trust = TrustStore::new(&[pki.csca.certificate_der().unwrap()], &[]).unwrap();
        (pki, trust)
    }

    #[test]
    fn a_seal_verifies_and_gives_back_its_claims() {
        let (pki, trust) = setup();
        let seal = sign(&pki.seal_signer, "test+jws", &json!({ "a": 1 })).unwrap();
        let claims: Value = verify(&seal, "test+jws", &trust, NOW).unwrap();
        assert_eq!(claims, json!({ "a": 1 }));
    }

    #[test]
    fn a_changed_seal_another_type_or_a_document_signer_are_refused() {
        let (pki, trust) = setup();
        let seal = sign(&pki.seal_signer, "test+jws", &json!({ "a": 1 })).unwrap();
        let parts: Vec<&str> = seal.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(br#"{"a":2}"#),
            parts[2]
        );
        assert_eq!(
            verify::<Value>(&forged, "test+jws", &trust, NOW),
            Err(SealError::Signature)
        );
        assert_eq!(
            verify::<Value>(&seal, "other+jws", &trust, NOW),
            Err(SealError::WrongType)
        );
        let by_card_signer = sign(&pki.document_signer, "test+jws", &json!({})).unwrap();
        assert_eq!(
            verify::<Value>(&by_card_signer, "test+jws", &trust, NOW),
            Err(SealError::NotASealSigner)
        );
        for garbage in ["", "a.b", "a.b.c.d", "é.é.é", "e30.e30.AAAA"] {
            assert!(verify::<Value>(garbage, "test+jws", &trust, NOW).is_err());
        }
    }

    #[test]
    fn a_seal_of_another_country_signing_ca_is_refused() {
        let (_, trust) = setup();
        let (other, _) = setup();
        let seal = sign(&other.seal_signer, "test+jws", &json!({})).unwrap();
        assert!(matches!(
            verify::<Value>(&seal, "test+jws", &trust, NOW),
            Err(SealError::Signer(_))
        ));
    }
}
