//! The holder's side (the citizen's wallet): the issued document and the
//! device key, and presenting a part of it (§8.3.2.1.2.2, §9.1.3).

use std::collections::BTreeMap;

use p256::ecdsa::SigningKey;

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
            return Err(MdocError::DeviceSignature);
        }
        Ok(Self {
            issuer_signed,
            device_key,
            doc_type: mso.doc_type,
        })
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
