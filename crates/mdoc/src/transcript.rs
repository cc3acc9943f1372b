//! The session transcript (§9.1.5.1): what binds a presentation to one
//! session, so a response made for one cannot be replayed in another.
//! The QR proximity session and the OpenID4VP handover are two values
//! of one type and go through the same code.

use sha2::{Digest as _, Sha256};

use crate::MdocError;
use crate::cbor::{self, Encoded, Value};

/// OID4VPHandover of ISO/IEC TS 18013-7:2024 Annex B.4.4:
/// `[clientIdHash, responseUriHash, nonce]`, with
/// `clientIdHash = SHA-256(CBOR [client_id, mdocGeneratedNonce])` and
/// `responseUriHash = SHA-256(CBOR [response_uri, mdocGeneratedNonce])`,
/// all four text strings. The shape was checked against public wallet
/// code (walt.id's `isooid4vp.OID4VPHandover`, which cites B.4.4;
/// A-SIT Plus's `OID4VPHandover`; Sphereon's `clientIdToHash`); the
/// OpenID4VP 1.0 final handover (`"OpenID4VPHandover"`, one hash) is a
/// later, different shape and is not this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenId4VpHandover {
    pub client_id_hash: [u8; 32],
    pub response_uri_hash: [u8; 32],
    /// The authorization request's `nonce` (the verifier's).
    pub nonce: String,
}

impl OpenId4VpHandover {
    /// The handover for an authorization request with `client_id`,
    /// `response_uri` and `nonce`, answered with the wallet's
    /// `mdoc_generated_nonce` (sent back as the JWE's `apu`).
    pub fn new(
        client_id: &str,
        response_uri: &str,
        nonce: &str,
        mdoc_generated_nonce: &str,
    ) -> Result<Self, MdocError> {
        let hash = |first: &str| -> Result<[u8; 32], MdocError> {
            let pair = Value::Array(vec![
                Value::Text(first.to_string()),
                Value::Text(mdoc_generated_nonce.to_string()),
            ]);
            Ok(Sha256::digest(cbor::encode(&pair)?).into())
        };
        Ok(Self {
            client_id_hash: hash(client_id)?,
            response_uri_hash: hash(response_uri)?,
            nonce: nonce.to_string(),
        })
    }

    fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::Bytes(self.client_id_hash.to_vec()),
            Value::Bytes(self.response_uri_hash.to_vec()),
            Value::Text(self.nonce.clone()),
        ])
    }
}

/// How the session was handed over (§9.1.5.1 Handover).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handover {
    /// QR code device engagement: the handover is null, the engagement
    /// and the reader's key are in the transcript.
    Qr {
        device_engagement: Encoded,
        e_reader_key: Encoded,
    },
    /// OpenID4VP (18013-7 Annex B): no engagement, no reader key.
    OpenId4Vp(OpenId4VpHandover),
}

/// SessionTranscript (§9.1.5.1):
/// `[DeviceEngagementBytes, EReaderKeyBytes, Handover]`, the first two
/// null for OpenID4VP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTranscript {
    pub handover: Handover,
}

impl SessionTranscript {
    pub fn qr(device_engagement: Encoded, e_reader_key: Encoded) -> Self {
        Self {
            handover: Handover::Qr {
                device_engagement,
                e_reader_key,
            },
        }
    }

    pub fn openid4vp(handover: OpenId4VpHandover) -> Self {
        Self {
            handover: Handover::OpenId4Vp(handover),
        }
    }

    pub fn to_value(&self) -> Value {
        match &self.handover {
            Handover::Qr {
                device_engagement,
                e_reader_key,
            } => Value::Array(vec![
                device_engagement.to_value(),
                e_reader_key.to_value(),
                Value::Null,
            ]),
            Handover::OpenId4Vp(handover) => {
                Value::Array(vec![Value::Null, Value::Null, handover.to_value()])
            }
        }
    }

    /// SessionTranscriptBytes: `#6.24(bstr .cbor SessionTranscript)`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, MdocError> {
        Encoded::of(&self.to_value())?.tagged_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openid4vp_handover_hashes_each_uri_with_the_wallet_nonce() {
        let handover =
            OpenId4VpHandover::new("client", "https://rp/response", "n-1", "m-1").unwrap();
        // CBOR ["client", "m-1"] = 82 66 "client" 63 "m-1"
        let expected: [u8; 32] =
            Sha256::digest([&[0x82, 0x66][..], b"client", &[0x63], b"m-1"].concat()).into();
        assert_eq!(handover.client_id_hash, expected);
        let other = OpenId4VpHandover::new("client", "https://rp/response", "n-1", "m-2").unwrap();
        assert_ne!(other.client_id_hash, handover.client_id_hash);
        let bytes = SessionTranscript::openid4vp(handover).to_bytes().unwrap();
        // 24(<< [null, null, [h, h, "n-1"]] >>)
        assert_eq!(bytes[..5], [0xd8, 0x18, 0x58, 0x4c, 0x83]);
        assert_eq!(bytes[5..8], [0xf6, 0xf6, 0x83]);
    }
}
