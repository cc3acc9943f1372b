//! What the holder sends back (§8.3.2.1.2.2), and the bytes the device
//! signs (§9.1.3.4).

use coset::CoseSign1;

use crate::MdocError;
use crate::cbor::{self, Encoded, Fields, Value, text_map};
use crate::cose;
use crate::issuer::IssuerSigned;
use crate::transcript::SessionTranscript;

/// Status 0 of a DeviceResponse: OK (§8.3.2.1.2.3).
pub const STATUS_OK: u64 = 0;

/// DeviceSigned (§8.3.2.1.2.2): device-signed elements (this crate
/// sends none, an empty map) and deviceAuth, here always a
/// deviceSignature (MAC authentication is not implemented).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSigned {
    /// DeviceNameSpacesBytes, as sent.
    pub name_spaces: Encoded,
    pub device_signature: CoseSign1,
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
                let device_auth = text_map([(
                    "deviceSignature",
                    cose::sign1_to_value(&document.device_signed.device_signature)?,
                )]);
                Ok(text_map([
                    ("docType", Value::Text(document.doc_type.clone())),
                    ("issuerSigned", document.issuer_signed.to_value()?),
                    (
                        "deviceSigned",
                        text_map([
                            ("nameSpaces", document.device_signed.name_spaces.to_value()),
                            ("deviceAuth", device_auth),
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
    let device_auth = Fields::of(device_signed.required("deviceAuth")?, "DeviceAuth")?;
    let device_signature = device_auth
        .get("deviceSignature")
        .ok_or(MdocError::Algorithm(
            "deviceAuth without deviceSignature (deviceMac is not supported)".into(),
        ))?;
    Ok(Document {
        doc_type: fields.text("docType")?.to_string(),
        issuer_signed: IssuerSigned::from_value(fields.required("issuerSigned")?)?,
        device_signed: DeviceSigned {
            name_spaces: Encoded::from_value(
                device_signed.required("nameSpaces")?,
                "DeviceNameSpacesBytes",
            )?,
            device_signature: cose::sign1_from_value(device_signature, "deviceSignature")?,
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
