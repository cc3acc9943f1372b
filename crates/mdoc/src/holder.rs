//! The holder's side (the citizen's wallet): the issued document and the
//! device key, and presenting a part of it (§8.3.2.1.2.2, §9.1.3).

use std::collections::BTreeMap;

use card::b64;
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use serde::{Deserialize, Serialize};

use crate::MdocError;
use crate::cbor::{Encoded, Value};
use crate::cose;
use crate::issuer::IssuerSigned;
use crate::request::{DeviceRequest, ItemsRequest};
use crate::response::{
    DeviceAuth, DeviceResponse, DeviceSigned, Document, STATUS_OK, device_authentication_bytes,
};
use crate::transcript::SessionTranscript;

/// An issued mdoc and the private key of the device it is bound to.
#[derive(Clone)]
pub struct Mdoc {
    issuer_signed: IssuerSigned,
    device_key: SigningKey,
    doc_type: String,
}

impl std::fmt::Debug for Mdoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mdoc")
            .field("doc_type", &self.doc_type)
            .finish_non_exhaustive()
    }
}

impl Mdoc {
    /// Holds `issuer_signed`, refusing it unless its mobile security
    /// object names `device_key`'s public key.
    pub fn new(issuer_signed: IssuerSigned, device_key: SigningKey) -> Result<Self, MdocError> {
        let mso = issuer_signed.mso()?;
        if mso.device_key != *device_key.verifying_key() {
            return Err(MdocError::DeviceKeyMismatch);
        }
        Ok(Self {
            issuer_signed,
            device_key,
            doc_type: mso.doc_type,
        })
    }

    /// The stored form: IssuerSigned as issued and the PKCS#8 device
    /// key, base64 (the wallet's secret).
    pub fn to_stored(&self) -> Result<StoredMdoc, MdocError> {
        let key = self
            .device_key
            .to_pkcs8_der()
            .map_err(|e| MdocError::Crypto(e.to_string()))?;
        Ok(StoredMdoc {
            issuer_signed: b64::encode(&self.issuer_signed.to_bytes()?),
            device_key: b64::encode(key.as_bytes()),
        })
    }

    pub fn from_stored(stored: &StoredMdoc) -> Result<Self, MdocError> {
        let issuer_signed = IssuerSigned::from_bytes(&b64::decode(&stored.issuer_signed)?)?;
        let device_key = SigningKey::from_pkcs8_der(&b64::decode(&stored.device_key)?)
            .map_err(|e| MdocError::Crypto(e.to_string()))?;
        Self::new(issuer_signed, device_key)
    }

    pub fn doc_type(&self) -> &str {
        &self.doc_type
    }

    pub fn issuer_signed(&self) -> &IssuerSigned {
        &self.issuer_signed
    }

    /// The document for `request`: only the items asked for (selective
    /// disclosure, as issued, byte for byte), device-signed over
    /// DeviceAuthenticationBytes for `transcript` (§9.1.3.4).
    pub fn document(
        &self,
        request: &ItemsRequest,
        transcript: &SessionTranscript,
    ) -> Result<Document, MdocError> {
        if request.doc_type != self.doc_type {
            return Err(MdocError::WrongDocType {
                expected: request.doc_type.clone(),
                found: self.doc_type.clone(),
            });
        }
        let mut name_spaces: BTreeMap<String, Vec<Encoded>> = BTreeMap::new();
        for (namespace, bytes, item) in self.issuer_signed.items()? {
            if request.asks_for(namespace, &item.element_identifier) {
                name_spaces
                    .entry(namespace.to_string())
                    .or_default()
                    .push(bytes.clone());
            }
        }
        let device_name_spaces = Encoded::of(&Value::Map(Vec::new()))?;
        let signed = device_authentication_bytes(transcript, &self.doc_type, &device_name_spaces)?;
        Ok(Document {
            doc_type: self.doc_type.clone(),
            issuer_signed: IssuerSigned {
                name_spaces,
                issuer_auth: self.issuer_signed.issuer_auth.clone(),
            },
            device_signed: DeviceSigned {
                name_spaces: device_name_spaces,
                device_auth: DeviceAuth::Signature(cose::sign_detached(&self.device_key, &signed)),
            },
        })
    }

    /// The DeviceResponse to `request`: one document per request for
    /// this document type, status 0.
    pub fn present(
        &self,
        request: &DeviceRequest,
        transcript: &SessionTranscript,
    ) -> Result<DeviceResponse, MdocError> {
        let documents = request
            .doc_requests
            .iter()
            .filter(|items| items.doc_type == self.doc_type)
            .map(|items| self.document(items, transcript))
            .collect::<Result<_, _>>()?;
        Ok(DeviceResponse {
            documents,
            status: STATUS_OK,
        })
    }
}

/// [`Mdoc`] as the wallet's file holds it; its Debug shows no key.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredMdoc {
    pub issuer_signed: String,
    pub device_key: String,
}

impl std::fmt::Debug for StoredMdoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredMdoc").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use card::Date;
    use card::pki::random_key;

    use super::*;
    use crate::cbor::TDate;
    use crate::issuer::issue;
    use crate::mdl::{Licence, MDL_DOCTYPE, MDL_NAMESPACE};
    use crate::mso::ValidityInfo;
    use crate::pki::LicencePki;
    use crate::transcript::OpenId4VpHandover;

    const NOW: u64 = 1_750_000_000;

    fn licence() -> Licence {
        Licence {
            family_name: "Martin".into(),
            given_name: "Camille".into(),
            birth_date: Date::new(1990, 1, 1).unwrap(),
            issue_date: Date::new(2024, 1, 1).unwrap(),
            expiry_date: Date::new(2039, 1, 1).unwrap(),
            issuing_country: "FR".into(),
            issuing_authority: "TEST".into(),
            document_number: "X1".into(),
            portrait: None,
            driving_privileges: Vec::new(),
            un_distinguishing_sign: "F".into(),
        }
    }

    fn issued(device_key: &SigningKey) -> IssuerSigned {
        let pki = LicencePki::generate(NOW).unwrap();
        let validity = ValidityInfo {
            signed: TDate(NOW),
            valid_from: TDate(NOW),
            valid_until: TDate(NOW + 1000),
            expected_update: None,
        };
        let elements = licence().elements(Date::from_unix(NOW));
        issue(
            MDL_DOCTYPE,
            &elements,
            device_key.verifying_key(),
            &pki.document_signer,
            validity,
        )
        .unwrap()
    }

    #[test]
    fn a_wallet_refuses_a_document_bound_to_another_key() {
        let issued = issued(&random_key());
        assert_eq!(
            Mdoc::new(issued, random_key()).unwrap_err(),
            MdocError::DeviceKeyMismatch
        );
    }

    #[test]
    fn a_document_keeps_only_the_requested_items_as_issued() {
        let key = random_key();
        let mdoc = Mdoc::new(issued(&key), key).unwrap();
        let transcript = SessionTranscript::openid4vp(
            OpenId4VpHandover::new("client", "https://rp/cb", "n", "m").unwrap(),
        );
        let request = ItemsRequest::mdl(&["given_name", "age_over_18", "not_issued"]);
        let document = mdoc.document(&request, &transcript).unwrap();
        let kept = &document.issuer_signed.name_spaces[MDL_NAMESPACE];
        assert_eq!(kept.len(), 2);
        let all = &mdoc.issuer_signed().name_spaces[MDL_NAMESPACE];
        assert!(kept.iter().all(|item| all.contains(item)));
        let mut other = request.clone();
        other.doc_type = "org.example".into();
        assert!(matches!(
            mdoc.document(&other, &transcript),
            Err(MdocError::WrongDocType { .. })
        ));
    }

    #[test]
    fn the_stored_form_round_trips_and_never_shows_the_key() {
        let key = random_key();
        let mdoc = Mdoc::new(issued(&key), key).unwrap();
        let stored = mdoc.to_stored().unwrap();
        let again = Mdoc::from_stored(&stored).unwrap();
        assert_eq!(
            again.issuer_signed().to_bytes().unwrap(),
            mdoc.issuer_signed().to_bytes().unwrap()
        );
        assert!(!format!("{stored:?}").contains(&stored.device_key));
        assert!(!format!("{mdoc:?}").contains("device_key"));
    }
}
