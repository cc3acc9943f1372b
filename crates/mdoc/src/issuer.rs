//! Issuing (§9.1.2): salted, digested data elements, and the mobile
//! security object over their digests, signed by the document signer.

use std::collections::BTreeMap;

use card::pki::Authority;
use coset::CoseSign1;
use der::Encode as _;
use p256::ecdsa::VerifyingKey;
use rand::seq::SliceRandom as _;

use crate::MdocError;
use crate::cbor::{self, Encoded, Fields, Value, text_map};
use crate::cose;
use crate::mso::{DigestAlgorithm, MobileSecurityObject, ValidityInfo, ValueDigests};

/// Data elements to issue, by namespace, each namespace's in the order
/// the standard lists them (§7.2.1 for the mDL).
pub type Elements = BTreeMap<String, Vec<(String, Value)>>;

/// The salt of each element: 32 random bytes (§9.1.2.5 asks for at least
/// 16).
const SALT_LEN: usize = 32;

/// IssuerSignedItem (§8.3.2.1.2.2): one data element, its digest ID and
/// its salt.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerSignedItem {
    pub digest_id: u64,
    pub random: Vec<u8>,
    pub element_identifier: String,
    pub element_value: Value,
}

impl IssuerSignedItem {
    pub fn to_value(&self) -> Value {
        text_map([
            ("digestID", Value::from(self.digest_id)),
            ("random", Value::Bytes(self.random.clone())),
            (
                "elementIdentifier",
                Value::Text(self.element_identifier.clone()),
            ),
            ("elementValue", self.element_value.clone()),
        ])
    }

    pub fn from_value(value: &Value) -> Result<Self, MdocError> {
        const WHAT: &str = "IssuerSignedItem";
        let fields = Fields::of(value, WHAT)?;
        Ok(Self {
            digest_id: fields.uint("digestID")?,
            random: cbor::bytes(fields.required("random")?, WHAT)?.to_vec(),
            element_identifier: fields.text("elementIdentifier")?.to_string(),
            element_value: fields.required("elementValue")?.clone(),
        })
    }
}

/// IssuerSigned (§8.3.2.1.2.2): the IssuerSignedItemBytes by namespace,
/// as issued, and issuerAuth, the COSE_Sign1 over the mobile security
/// object. The holder keeps it whole and discloses a part.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerSigned {
    pub name_spaces: BTreeMap<String, Vec<Encoded>>,
    pub issuer_auth: CoseSign1,
}

impl IssuerSigned {
    pub fn to_value(&self) -> Result<Value, MdocError> {
        let name_spaces = self
            .name_spaces
            .iter()
            .map(|(namespace, items)| {
                (
                    Value::Text(namespace.clone()),
                    Value::Array(items.iter().map(Encoded::to_value).collect()),
                )
            })
            .collect();
        Ok(text_map([
            ("nameSpaces", Value::Map(name_spaces)),
            ("issuerAuth", cose::sign1_to_value(&self.issuer_auth)?),
        ]))
    }

    pub fn from_value(value: &Value) -> Result<Self, MdocError> {
        const WHAT: &str = "IssuerSigned";
        let fields = Fields::of(value, WHAT)?;
        let mut name_spaces = BTreeMap::new();
        if let Some(spaces) = fields.get("nameSpaces") {
            for (namespace, items) in Fields::of(spaces, WHAT)?.entries() {
                let items = cbor::array(items, WHAT)?
                    .iter()
                    .map(|item| Encoded::from_value(item, "IssuerSignedItemBytes"))
                    .collect::<Result<Vec<_>, _>>()?;
                if name_spaces
                    .insert(cbor::text(namespace, WHAT)?.to_string(), items)
                    .is_some()
                {
                    return Err(MdocError::Malformed("IssuerSigned (a namespace twice)"));
                }
            }
        }
        Ok(Self {
            name_spaces,
            issuer_auth: cose::sign1_from_value(fields.required("issuerAuth")?, "issuerAuth")?,
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, MdocError> {
        cbor::encode(&self.to_value()?)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MdocError> {
        Self::from_value(&cbor::decode(bytes)?)
    }

    /// The mobile security object issuerAuth carries, NOT verified: its
    /// payload is MobileSecurityObjectBytes, `#6.24(bstr .cbor MSO)`.
    pub fn mso(&self) -> Result<MobileSecurityObject, MdocError> {
        const WHAT: &str = "MobileSecurityObjectBytes";
        let payload = self
            .issuer_auth
            .payload
            .as_deref()
            .ok_or(MdocError::Malformed(WHAT))?;
        let encoded = Encoded::from_value(&cbor::decode(payload)?, WHAT)?;
        MobileSecurityObject::from_value(&encoded.decode()?)
    }

    /// Every item with its namespace and the bytes it came in.
    pub fn items(&self) -> Result<Vec<(&str, &Encoded, IssuerSignedItem)>, MdocError> {
        self.name_spaces
            .iter()
            .flat_map(|(namespace, items)| items.iter().map(move |item| (namespace, item)))
            .map(|(namespace, item)| {
                Ok((
                    namespace.as_str(),
                    item,
                    IssuerSignedItem::from_value(&item.decode()?)?,
                ))
            })
            .collect()
    }
}

/// Issues a document of `doc_type` holding `elements`, bound to the
/// holder's `device_key`, signed by `signer` (the document signer, its
/// certificate as x5chain) (§9.1.2). Each element gets a fresh salt and a
/// digest ID drawn from a shuffled range, so IDs do not reveal the order
/// or which elements exist (§9.1.2.5).
pub fn issue(
    doc_type: &str,
    elements: &Elements,
    device_key: &VerifyingKey,
    signer: &Authority,
    validity_info: ValidityInfo,
) -> Result<IssuerSigned, MdocError> {
    let algorithm = DigestAlgorithm::Sha256;
    let mut name_spaces = BTreeMap::new();
    let mut value_digests = ValueDigests::new();
    let mut rng = rand::rng();
    for (namespace, elements) in elements {
        let mut ids: Vec<u64> = (0..elements.len() as u64).collect();
        ids.shuffle(&mut rng);
        let mut items = Vec::new();
        let mut digests = BTreeMap::new();
        for ((identifier, value), digest_id) in elements.iter().zip(ids) {
            let item = IssuerSignedItem {
                digest_id,
                random: rand::random::<[u8; SALT_LEN]>().to_vec(),
                element_identifier: identifier.clone(),
                element_value: value.clone(),
            };
            let encoded = Encoded::of(&item.to_value())?;
            digests.insert(digest_id, algorithm.digest(&encoded.tagged_bytes()?));
            items.push(encoded);
        }
        name_spaces.insert(namespace.clone(), items);
        value_digests.insert(namespace.clone(), digests);
    }
    let mso = MobileSecurityObject {
        digest_algorithm: algorithm,
        value_digests,
        device_key: *device_key,
        doc_type: doc_type.to_string(),
        validity_info,
    };
    let payload = Encoded::of(&mso.to_value()?)?.tagged_bytes()?;
    let certificate = signer
        .certificate
        .to_der()
        .map_err(|e| MdocError::Crypto(e.to_string()))?;
    Ok(IssuerSigned {
        name_spaces,
        issuer_auth: cose::sign_attached(signer.key(), payload, certificate),
    })
}

#[cfg(test)]
mod tests {
    use card::pki::random_key;

    use super::*;
    use crate::cbor::TDate;
    use crate::pki::LicencePki;

    const NOW: u64 = 1_750_000_000;

    fn issued() -> (LicencePki, IssuerSigned) {
        let pki = LicencePki::generate(NOW).unwrap();
        let elements = Elements::from([(
            "org.iso.18013.5.1".to_string(),
            (0..20)
                .map(|i| (format!("element_{i}"), Value::from(i)))
                .collect(),
        )]);
        let validity = ValidityInfo {
            signed: TDate(NOW),
            valid_from: TDate(NOW),
            valid_until: TDate(NOW + 1000),
            expected_update: None,
        };
        let issued = issue(
            "org.iso.18013.5.1.mDL",
            &elements,
            random_key().verifying_key(),
            &pki.document_signer,
            validity,
        )
        .unwrap();
        (pki, issued)
    }

    #[test]
    fn every_item_is_salted_and_digested_as_issued() {
        let (pki, issued) = issued();
        let mso = issued.mso().unwrap();
        let digests = &mso.value_digests["org.iso.18013.5.1"];
        let items = issued.items().unwrap();
        assert_eq!(items.len(), 20);
        for (_, bytes, item) in &items {
            assert!(item.random.len() >= 16);
            assert_eq!(
                digests[&item.digest_id],
                DigestAlgorithm::Sha256.digest(&bytes.tagged_bytes().unwrap())
            );
        }
        let key = pki.document_signer.key().verifying_key();
        assert_eq!(cose::verify(&issued.issuer_auth, key, None), Ok(true));
    }

    #[test]
    fn digest_ids_do_not_follow_the_element_order() {
        // 20 elements: the chance of the identity permutation is 1/20!.
        let (_, issued) = issued();
        let ids: Vec<u64> = issued
            .items()
            .unwrap()
            .iter()
            .map(|(_, _, item)| item.digest_id)
            .collect();
        assert_ne!(ids, (0..20).collect::<Vec<u64>>());
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..20).collect::<Vec<u64>>());
    }

    #[test]
    fn issuer_signed_round_trips_byte_for_byte() {
        let (_, issued) = issued();
        let bytes = issued.to_bytes().unwrap();
        let again = IssuerSigned::from_bytes(&bytes).unwrap();
        assert_eq!(again.to_bytes().unwrap(), bytes);
    }
}
