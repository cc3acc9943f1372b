//! The mobile security object (§9.1.2.4): what the issuer signs, the
//! digests of every data element, the holder's device key and the
//! validity.

use std::collections::BTreeMap;

use p256::ecdsa::VerifyingKey;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use crate::MdocError;
use crate::cbor::{self, Fields, TDate, Value, text_map};
use crate::cose;

/// The digest algorithms of §9.1.2.5; this crate issues with SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    pub fn parse(name: &str) -> Result<Self, MdocError> {
        [Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| MdocError::Algorithm(format!("digest {name}")))
    }

    pub fn digest(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(bytes).to_vec(),
            Self::Sha384 => Sha384::digest(bytes).to_vec(),
            Self::Sha512 => Sha512::digest(bytes).to_vec(),
        }
    }
}

/// ValidityInfo (§9.1.2.4): when the object was signed and the period it
/// is valid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidityInfo {
    pub signed: TDate,
    pub valid_from: TDate,
    pub valid_until: TDate,
    pub expected_update: Option<TDate>,
}

impl ValidityInfo {
    fn to_value(self) -> Value {
        let mut map = vec![
            ("signed", self.signed.to_value()),
            ("validFrom", self.valid_from.to_value()),
            ("validUntil", self.valid_until.to_value()),
        ];
        if let Some(update) = self.expected_update {
            map.push(("expectedUpdate", update.to_value()));
        }
        text_map(map)
    }

    fn from_value(value: &Value) -> Result<Self, MdocError> {
        const WHAT: &str = "validityInfo";
        let fields = Fields::of(value, WHAT)?;
        Ok(Self {
            signed: TDate::from_value(fields.required("signed")?, WHAT)?,
            valid_from: TDate::from_value(fields.required("validFrom")?, WHAT)?,
            valid_until: TDate::from_value(fields.required("validUntil")?, WHAT)?,
            expected_update: fields
                .get("expectedUpdate")
                .map(|v| TDate::from_value(v, WHAT))
                .transpose()?,
        })
    }

    /// §9.3.1 step 8: `validFrom ≤ now ≤ validUntil`, and not signed in
    /// the future.
    pub fn check(&self, now: u64) -> Result<(), MdocError> {
        if now < self.valid_from.0 || now < self.signed.0 {
            return Err(MdocError::MsoNotYetValid);
        }
        if now > self.valid_until.0 {
            return Err(MdocError::MsoExpired);
        }
        Ok(())
    }
}

/// Digests by namespace, then by digest ID (ValueDigests, §9.1.2.4).
pub type ValueDigests = BTreeMap<String, BTreeMap<u64, Vec<u8>>>;

/// MobileSecurityObject (§9.1.2.4), version "1.0".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobileSecurityObject {
    pub digest_algorithm: DigestAlgorithm,
    pub value_digests: ValueDigests,
    /// deviceKeyInfo.deviceKey: the holder's key, which signs
    /// presentations (§9.1.3).
    pub device_key: VerifyingKey,
    pub doc_type: String,
    pub validity_info: ValidityInfo,
}

impl MobileSecurityObject {
    pub fn to_value(&self) -> Result<Value, MdocError> {
        let digests = self
            .value_digests
            .iter()
            .map(|(namespace, digests)| {
                let digests = digests
                    .iter()
                    .map(|(id, digest)| (Value::from(*id), Value::Bytes(digest.clone())))
                    .collect();
                (Value::Text(namespace.clone()), Value::Map(digests))
            })
            .collect();
        Ok(text_map([
            ("version", Value::Text("1.0".into())),
            (
                "digestAlgorithm",
                Value::Text(self.digest_algorithm.name().into()),
            ),
            ("valueDigests", Value::Map(digests)),
            (
                "deviceKeyInfo",
                text_map([("deviceKey", cose::key_to_value(&self.device_key)?)]),
            ),
            ("docType", Value::Text(self.doc_type.clone())),
            ("validityInfo", self.validity_info.to_value()),
        ]))
    }

    pub fn from_value(value: &Value) -> Result<Self, MdocError> {
        const WHAT: &str = "MobileSecurityObject";
        let fields = Fields::of(value, WHAT)?;
        if fields.text("version")? != "1.0" {
            return Err(MdocError::Malformed("MobileSecurityObject version"));
        }
        let mut value_digests = ValueDigests::new();
        for (namespace, digests) in Fields::of(fields.required("valueDigests")?, WHAT)?.entries() {
            let mut ids = BTreeMap::new();
            for (id, digest) in Fields::of(digests, WHAT)?.entries() {
                let id = cbor::uint(id, "digestID")?;
                let digest = cbor::bytes(digest, WHAT)?.to_vec();
                if ids.insert(id, digest).is_some() {
                    return Err(MdocError::Malformed("valueDigests (a digest ID twice)"));
                }
            }
            let namespace = cbor::text(namespace, WHAT)?.to_string();
            if value_digests.insert(namespace, ids).is_some() {
                return Err(MdocError::Malformed("valueDigests (a namespace twice)"));
            }
        }
        let device_key_info = Fields::of(fields.required("deviceKeyInfo")?, WHAT)?;
        Ok(Self {
            digest_algorithm: DigestAlgorithm::parse(fields.text("digestAlgorithm")?)?,
            value_digests,
            device_key: cose::key_from_value(device_key_info.required("deviceKey")?, "deviceKey")?,
            doc_type: fields.text("docType")?.to_string(),
            validity_info: ValidityInfo::from_value(fields.required("validityInfo")?)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use card::pki::random_key;

    use super::*;

    fn validity() -> ValidityInfo {
        ValidityInfo {
            signed: TDate(1000),
            valid_from: TDate(1000),
            valid_until: TDate(2000),
            expected_update: None,
        }
    }

    #[test]
    fn the_mso_round_trips_in_the_order_the_standard_lists() {
        let mso = MobileSecurityObject {
            digest_algorithm: DigestAlgorithm::Sha256,
            value_digests: BTreeMap::from([(
                "org.iso.18013.5.1".to_string(),
                BTreeMap::from([(7, vec![1; 32]), (3, vec![2; 32])]),
            )]),
            device_key: *random_key().verifying_key(),
            doc_type: "org.iso.18013.5.1.mDL".into(),
            validity_info: validity(),
        };
        let value = mso.to_value().unwrap();
        let keys: Vec<_> = Fields::of(&value, "mso")
            .unwrap()
            .entries()
            .iter()
            .map(|(k, _)| k.as_text().unwrap().to_string())
            .collect();
        assert_eq!(
            keys,
            [
                "version",
                "digestAlgorithm",
                "valueDigests",
                "deviceKeyInfo",
                "docType",
                "validityInfo"
            ]
        );
        let bytes = cbor::encode(&value).unwrap();
        assert_eq!(
            MobileSecurityObject::from_value(&cbor::decode(&bytes).unwrap()).unwrap(),
            mso
        );
    }

    #[test]
    fn validity_is_checked_at_both_ends() {
        assert_eq!(validity().check(999), Err(MdocError::MsoNotYetValid));
        assert_eq!(validity().check(1000), Ok(()));
        assert_eq!(validity().check(2000), Ok(()));
        assert_eq!(validity().check(2001), Err(MdocError::MsoExpired));
    }

    #[test]
    fn an_unknown_digest_algorithm_is_refused() {
        assert_eq!(
            DigestAlgorithm::parse("MD5"),
            Err(MdocError::Algorithm("digest MD5".into()))
        );
    }
}
