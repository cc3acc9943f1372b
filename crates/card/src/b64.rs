//! Base64 (standard alphabet, padded) for the stored forms, and the serde
//! adapter that uses it for byte fields.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::CardError;

pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn decode(text: &str) -> Result<Vec<u8>, CardError> {
    STANDARD
        .decode(text)
        .map_err(|_| CardError::Malformed("base64"))
}

/// `#[serde(with = "crate::b64::bytes")]`
pub mod bytes {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::decode(&text).map_err(serde::de::Error::custom)
    }
}

/// Bytes that serialise as base64.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bytes(#[serde(with = "bytes")] pub Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}
