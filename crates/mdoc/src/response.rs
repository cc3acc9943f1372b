//! What the holder sends back (§8.3.2.1.2.2), and the bytes the device
//! signs (§9.1.3.4).

use coset::{AsCborValue as _, CoseMac0, CoseSign1};

use crate::MdocError;
use crate::cbor::{self, Encoded, Fields, Value, text_map};
use crate::cose;
use crate::issuer::IssuerSigned;
use crate::transcript::SessionTranscript;

/// Status 0 of a DeviceResponse: OK (§8.3.2.1.2.3).
pub const STATUS_OK: u64 = 0;

/// DeviceAuth (§9.1.3): a signature by the device key, or a MAC with a
/// key agreed with the reader. This crate signs; it reads a MAC (the
/// example of Annex D has one) but does not verify it.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceAuth {
    Signature(CoseSign1),
    Mac(CoseMac0),
}

impl DeviceAuth {
    fn to_value(&self) -> Result<Value, MdocError> {
        Ok(match self {
            Self::Signature(sign1) => text_map([("deviceSignature", cose::sign1_to_value(sign1)?)]),
            Self::Mac(mac0) => text_map([(
                "deviceMac",
                mac0.clone()
                    .to_cbor_value()
                    .map_err(|e| MdocError::Crypto(e.to_string()))?,
            )]),
        })
    }

    fn from_value(value: &Value) -> Result<Self, MdocError> {
        const WHAT: &str = "DeviceAuth";
        let fields = Fields::of(value, WHAT)?;
        match (fields.get("deviceSignature"), fields.get("deviceMac")) {
            (Some(sign1), None) => Ok(Self::Signature(cose::sign1_from_value(
                sign1,
                "deviceSignature",
            )?)),
            (None, Some(mac0)) => Ok(Self::Mac(
                CoseMac0::from_cbor_value(mac0.clone())
                    .map_err(|_| MdocError::Malformed("deviceMac"))?,
            )),
            _ => Err(MdocError::Malformed(WHAT)),
        }
    }
}

/// DeviceSigned (§8.3.2.1.2.2): device-signed elements (this crate
/// sends none, an empty map) and deviceAuth.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSigned {
    /// DeviceNameSpacesBytes, as sent.
    pub name_spaces: Encoded,
    pub device_auth: DeviceAuth,
}

/// Document (§8.3.2.1.2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub doc_type: String,
    pub issuer_signed: IssuerSigned,
    pub device_signed: DeviceSigned,
}

/// DeviceResponse (§8.3.2.1.2.2), version "1.0".
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceResponse {
    pub documents: Vec<Document>,
    pub status: u64,
}

impl DeviceResponse {
    pub fn to_bytes(&self) -> Result<Vec<u8>, MdocError> {
        let documents = self
            .documents
            .iter()
            .map(|document| {
                Ok(text_map([
                    ("docType", Value::Text(document.doc_type.clone())),
                    ("issuerSigned", document.issuer_signed.to_value()?),
                    (
                        "deviceSigned",
                        text_map([
                            ("nameSpaces", document.device_signed.name_spaces.to_value()),
                            ("deviceAuth", document.device_signed.device_auth.to_value()?),
                        ]),
                    ),
                ]))
            })
            .collect::<Result<_, MdocError>>()?;
        cbor::encode(&text_map([
            ("version", Value::Text("1.0".into())),
            ("documents", Value::Array(documents)),
            ("status", Value::from(self.status)),
        ]))
    }

    /// Parses a received response. Nothing here is verified.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MdocError> {
        const WHAT: &str = "DeviceResponse";
        let value = cbor::decode(bytes)?;
        let fields = Fields::of(&value, WHAT)?;
        if fields.text("version")? != "1.0" {
            return Err(MdocError::Malformed("DeviceResponse version"));
        }
        let documents = match fields.get("documents") {
            None => Vec::new(),
            Some(documents) => cbor::array(documents, WHAT)?
                .iter()
                .map(document_from_value)
                .collect::<Result<_, _>>()?,
        };
        Ok(Self {
            documents,
            status: fields.uint("status")?,
        })
    }
}

fn document_from_value(value: &Value) -> Result<Document, MdocError> {
    const WHAT: &str = "Document";
    let fields = Fields::of(value, WHAT)?;
    let device_signed = Fields::of(fields.required("deviceSigned")?, "DeviceSigned")?;
    Ok(Document {
        doc_type: fields.text("docType")?.to_string(),
        issuer_signed: IssuerSigned::from_value(fields.required("issuerSigned")?)?,
        device_signed: DeviceSigned {
            name_spaces: Encoded::from_value(
                device_signed.required("nameSpaces")?,
                "DeviceNameSpacesBytes",
            )?,
            device_auth: DeviceAuth::from_value(device_signed.required("deviceAuth")?)?,
        },
    })
}

/// DeviceAuthenticationBytes (§9.1.3.4):
/// `#6.24(bstr .cbor ["DeviceAuthentication", SessionTranscript, DocType,
/// DeviceNameSpacesBytes])`, what the device signature covers.
pub fn device_authentication_bytes(
    transcript: &SessionTranscript,
    doc_type: &str,
    name_spaces: &Encoded,
) -> Result<Vec<u8>, MdocError> {
    let authentication = Value::Array(vec![
        Value::Text("DeviceAuthentication".into()),
        transcript.to_value(),
        Value::Text(doc_type.to_string()),
        name_spaces.to_value(),
    ]);
    Encoded::of(&authentication)?.tagged_bytes()
}
