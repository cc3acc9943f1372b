//! COSE (RFC 9052) as ISO 18013-5 uses it: COSE_Key for P-256 keys
//! (§9.1.5.2), and COSE_Sign1 with ES256 only, attached for the issuer's
//! signature (§9.1.2.4) and detached for the device's (§9.1.3.6).

use coset::iana::{self, EnumI64 as _};
use coset::{
    AsCborValue as _, CoseKey, CoseKeyBuilder, CoseSign1, CoseSign1Builder, HeaderBuilder, KeyType,
    Label, RegisteredLabelWithPrivate, SignatureContext, sig_structure_data,
};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

use crate::MdocError;
use crate::cbor::{self, Value};

/// The COSE header label of an X.509 chain, leaf first (RFC 9360).
pub const X5CHAIN: i64 = 33;
/// COSE_Sign1's tag, which some implementations add (RFC 9052 §4.2).
const COSE_SIGN1_TAG: u64 = 18;

/// A P-256 public key as a COSE_Key: kty EC2, crv P-256, x, y
/// (§9.1.5.2 for the ephemeral keys, §9.1.2.4 for deviceKey).
pub fn key_to_value(key: &VerifyingKey) -> Result<Value, MdocError> {
    let point = key.to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(MdocError::Crypto("the key is the identity point".into()));
    };
    CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x.to_vec(), y.to_vec())
        .build()
        .to_cbor_value()
        .map_err(|e| MdocError::Crypto(e.to_string()))
}

/// The P-256 public key of a received COSE_Key.
pub fn key_from_value(value: &Value, what: &'static str) -> Result<VerifyingKey, MdocError> {
    let key = CoseKey::from_cbor_value(value.clone()).map_err(|_| MdocError::Malformed(what))?;
    if key.kty != KeyType::Assigned(iana::KeyType::EC2) {
        return Err(MdocError::Algorithm(format!("{what}: not an EC2 key")));
    }
    let param = |label: iana::Ec2KeyParameter| {
        key.params
            .iter()
            .find(|(l, _)| *l == Label::Int(label.to_i64()))
            .map(|(_, v)| v)
    };
    let curve = param(iana::Ec2KeyParameter::Crv);
    if !matches!(curve, Some(Value::Integer(c)) if i128::from(*c) == i128::from(iana::EllipticCurve::P_256.to_i64()))
    {
        return Err(MdocError::Algorithm(format!("{what}: not a P-256 key")));
    }
    let (Some(Value::Bytes(x)), Some(Value::Bytes(y))) = (
        param(iana::Ec2KeyParameter::X),
        param(iana::Ec2KeyParameter::Y),
    ) else {
        return Err(MdocError::Malformed(what));
    };
    if x.len() != 32 || y.len() != 32 {
        return Err(MdocError::Malformed(what));
    }
    let sec1 = [&[0x04], x.as_slice(), y.as_slice()].concat();
    VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| MdocError::Malformed(what))
}

fn es256(key: &SigningKey, data: &[u8]) -> Vec<u8> {
    let signature: Signature = key.sign(data);
    signature.to_bytes().to_vec()
}

/// COSE_Sign1, ES256 in the protected header, the payload attached, and
/// the signer's certificate (DER) as x5chain in the unprotected header:
/// the issuer's signature of §9.1.2.4.
pub fn sign_attached(key: &SigningKey, payload: Vec<u8>, certificate: Vec<u8>) -> CoseSign1 {
    CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::ES256)
                .build(),
        )
        .unprotected(
            HeaderBuilder::new()
                .value(X5CHAIN, Value::Bytes(certificate))
                .build(),
        )
        .payload(payload)
        .create_signature(&[], |data| es256(key, data))
        .build()
}

/// COSE_Sign1, ES256, payload nil: the signature is over `payload` given
/// apart (the device signature of §9.1.3.6, over
/// DeviceAuthenticationBytes).
pub fn sign_detached(key: &SigningKey, payload: &[u8]) -> CoseSign1 {
    CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::ES256)
                .build(),
        )
        .create_detached_signature(payload, &[], |data| es256(key, data))
        .build()
}

/// Whether `sign1` is an ES256 signature by `key` over its attached
/// payload or, when it has none, over `detached`. The signed bytes are
/// built from the protected header as received (RFC 9052 §4.4).
pub fn verify(
    sign1: &CoseSign1,
    key: &VerifyingKey,
    detached: Option<&[u8]>,
) -> Result<bool, MdocError> {
    let es256 = RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256);
    if sign1.protected.header.alg != Some(es256) {
        return Err(MdocError::Algorithm(format!(
            "{:?} (only ES256)",
            sign1.protected.header.alg
        )));
    }
    let payload = match (&sign1.payload, detached) {
        (Some(payload), None) => payload.as_slice(),
        (None, Some(payload)) => payload,
        _ => return Err(MdocError::Malformed("COSE_Sign1 payload")),
    };
    let data = sig_structure_data(
        SignatureContext::CoseSign1,
        sign1.protected.clone(),
        None,
        &[],
        payload,
    );
    let Ok(signature) = Signature::from_slice(&sign1.signature) else {
        return Ok(false);
    };
    Ok(key.verify(&data, &signature).is_ok())
}

/// The x5chain certificates (DER, leaf first): one byte string or an
/// array of them, in the unprotected header (§9.1.2.4) or, as some
/// issuers do, the protected one.
pub fn x5chain(sign1: &CoseSign1) -> Result<Vec<Vec<u8>>, MdocError> {
    let found = [&sign1.unprotected, &sign1.protected.header]
        .into_iter()
        .flat_map(|header| header.rest.iter())
        .find(|(label, _)| *label == Label::Int(X5CHAIN))
        .map(|(_, value)| value);
    match found {
        None => Err(MdocError::X5ChainMissing),
        Some(Value::Bytes(der)) => Ok(vec![der.clone()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| cbor::bytes(item, "x5chain").map(<[u8]>::to_vec))
            .collect(),
        Some(_) => Err(MdocError::Malformed("x5chain")),
    }
}

pub fn sign1_to_value(sign1: &CoseSign1) -> Result<Value, MdocError> {
    sign1
        .clone()
        .to_cbor_value()
        .map_err(|e| MdocError::Crypto(e.to_string()))
}

/// A received COSE_Sign1 (untagged as §9.1.2.4 has it, or tagged 18).
pub fn sign1_from_value(value: &Value, what: &'static str) -> Result<CoseSign1, MdocError> {
    let value = match value {
        Value::Tag(COSE_SIGN1_TAG, inner) => inner.as_ref(),
        other => other,
    };
    CoseSign1::from_cbor_value(value.clone()).map_err(|_| MdocError::Malformed(what))
}

#[cfg(test)]
mod tests {
    use card::pki::random_key;

    use super::*;

    #[test]
    fn a_cose_key_round_trips_a_p256_key() {
        let key = *random_key().verifying_key();
        let value = key_to_value(&key).unwrap();
        assert_eq!(key_from_value(&value, "key").unwrap(), key);
        let bytes = cbor::encode(&value).unwrap();
        // {1: 2, -1: 1, -2: x, -3: y}
        assert_eq!(bytes[..7], [0xa4, 0x01, 0x02, 0x20, 0x01, 0x21, 0x58]);
    }

    #[test]
    fn a_cose_key_on_another_curve_is_refused() {
        let key =
            CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_384, vec![1; 48], vec![2; 48])
                .build()
                .to_cbor_value()
                .unwrap();
        assert!(matches!(
            key_from_value(&key, "key"),
            Err(MdocError::Algorithm(_))
        ));
    }

    #[test]
    fn an_attached_signature_verifies_and_a_changed_payload_does_not() {
        let key = random_key();
        let mut sign1 = sign_attached(&key, b"payload".to_vec(), vec![0x30]);
        assert_eq!(verify(&sign1, key.verifying_key(), None), Ok(true));
        assert_eq!(x5chain(&sign1).unwrap(), vec![vec![0x30]]);
        sign1.payload = Some(b"Payload".to_vec());
        assert_eq!(verify(&sign1, key.verifying_key(), None), Ok(false));
    }

    #[test]
    fn a_detached_signature_verifies_only_over_its_payload() {
        let key = random_key();
        let sign1 = sign_detached(&key, b"transcript");
        assert_eq!(sign1.payload, None);
        assert_eq!(
            verify(&sign1, key.verifying_key(), Some(b"transcript")),
            Ok(true)
        );
        assert_eq!(
            verify(&sign1, key.verifying_key(), Some(b"another")),
            Ok(false)
        );
        assert_eq!(
            verify(&sign1, key.verifying_key(), None),
            Err(MdocError::Malformed("COSE_Sign1 payload"))
        );
        assert_eq!(x5chain(&sign1), Err(MdocError::X5ChainMissing));
    }
}
