//! The mobile driving licence of ISO/IEC 18013-5:2021 (mDL, an "mdoc"):
//! its CBOR structures and its cryptography, with no I/O, like the
//! software eID card of `card`.
//!
//! Four parties use it: the wallet identity provider issues
//! ([`issuer::issue`], §9.1.2), the citizen's wallet presents
//! ([`holder::Mdoc::present`], §8.3.2.1.2.2 and §9.1.3), and a roadside
//! reader or a car-rental service verifies ([`verifier::verify`], §9.3).
//! What is signed is always the bytes as issued: every tag-24 item keeps
//! the bytes it was received with ([`cbor::Encoded`]).
//!
//! Two ways to bind a presentation to its session, one code path
//! ([`transcript::SessionTranscript`]): the proximity session of §9.1.1
//! started from a QR code ([`session`], device engagement, ECDH, HKDF and
//! AES-256-GCM both ways), and the OpenID4VP handover of ISO/IEC
//! 18013-7 Annex B.
//!
//! Simulated: there is no BLE, NFC or Wi-Fi Aware here. The device
//! engagement names a private retrieval method that carries an HTTP URL
//! ([`session::HTTP_RETRIEVAL`]); the session messages go over local
//! HTTP or files, as the caller chooses. Not implemented: reader
//! authentication (§9.1.4), MAC device authentication (§9.1.3.5),
//! server retrieval (§8.3.3.2), revocation.
//!
//! Clauses: §7.2 (mDL data model), §8.2.1 (device engagement), §8.2.2.3
//! (QR code), §8.3.2.1.2 (device request and response), §9.1.1
//! (session encryption), §9.1.2 (issuer data authentication), §9.1.3
//! (device authentication), §9.1.5 (session transcript), §9.3 (the
//! verifier's checks), Annex B in part (the IACA a CA, the document
//! signer's keyUsage digitalSignature; not its extended key usage, CRL
//! distribution points or issuer alternative name).

pub mod cbor;
pub mod cose;
pub mod holder;
pub mod issuer;
pub mod mdl;
pub mod mso;
pub mod oid4vp;
pub mod pki;
pub mod request;
pub mod response;
pub mod session;
pub mod transcript;
pub mod verifier;

pub use cbor::{Encoded, FullDate, TDate, Value};
pub use holder::{Mdoc, StoredMdoc};
pub use issuer::{IssuerSigned, IssuerSignedItem, issue};
pub use mdl::{Licence, MDL_DOCTYPE, MDL_NAMESPACE};
pub use mso::{MobileSecurityObject, ValidityInfo};
pub use pki::{LicencePki, TrustedIacas};
pub use request::{DeviceRequest, ItemsRequest};
pub use response::DeviceResponse;
pub use transcript::{Handover, OpenId4VpHandover, SessionTranscript};
pub use verifier::{Verified, verify};

/// Everything that can go wrong, one variant per failure so that a
/// verifier names each one (the §9.3 checks in the order
/// [`verifier::verify`] runs them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MdocError {
    #[error("not CBOR: {0}")]
    Cbor(String),
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("the response's status is {0}, not 0 (OK)")]
    Status(u64),
    #[error("the response carries no document")]
    NoDocument,
    #[error("the document is a {found}, not the {expected} requested")]
    WrongDocType { expected: String, found: String },
    #[error("the issuer's signature carries no x5chain")]
    X5ChainMissing,
    #[error("the document signer was issued by no trusted IACA")]
    UnknownIssuer,
    #[error("the document signer's certificate is not signed by the IACA it names")]
    SignerForged,
    #[error("the document signer's or its IACA's certificate is not valid now")]
    SignerExpired,
    #[error("the document signer's certificate is not for digital signatures")]
    SignerUsage,
    #[error("the document signer's key is not a P-256 key")]
    SignerKey,
    #[error("the algorithm is not allowed: {0}")]
    Algorithm(String),
    #[error("the issuer's signature over the mobile security object does not verify")]
    IssuerSignature,
    #[error("the mobile security object is for a {found}, not a {expected}")]
    MsoDocType { expected: String, found: String },
    #[error("the mobile security object is not valid yet")]
    MsoNotYetValid,
    #[error("the mobile security object expired")]
    MsoExpired,
    #[error("{namespace}/{identifier} has no digest in the mobile security object")]
    DigestMissing {
        namespace: String,
        identifier: String,
    },
    #[error("{namespace}/{identifier} does not match its digest (tampered)")]
    ElementTampered {
        namespace: String,
        identifier: String,
    },
    #[error("{namespace}/{identifier} was returned but not requested")]
    NotRequested {
        namespace: String,
        identifier: String,
    },
    #[error("the device signature does not verify with the device key the issuer signed")]
    DeviceSignature,
    #[error("the document is bound to another device key")]
    DeviceKeyMismatch,
    #[error("the trusted IACA list is invalid: {0}")]
    TrustList(String),
    #[error(
        "a session message does not decrypt under the next expected counter (tampered, replayed or out of order)"
    )]
    SessionDecryption,
    #[error("the session ended with status {0}")]
    SessionStatus(u64),
    #[error("the session is not established yet")]
    SessionNotEstablished,
    #[error("the session's message counter is exhausted")]
    SessionCounterExhausted,
    #[error("{0}")]
    Crypto(String),
}

impl From<card::CardError> for MdocError {
    fn from(e: card::CardError) -> Self {
        MdocError::Crypto(e.to_string())
    }
}
