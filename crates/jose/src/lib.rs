//! JOSE for Passerelle: JSON Web Signatures and Encryption, keys and key
//! sets, behind algorithm allow-lists.
//!
//! Everything that signs or verifies a token in the project goes through this
//! crate, so the rules live in one place:
//! - only the algorithms of [`Alg`] exist; `none` cannot even be named
//!   (RFC 8725 §3.1, RFC 9700 §2.1);
//! - a verifier states which algorithms it accepts, and the header's `alg` is
//!   checked against that list *before* any key is selected;
//! - keys are identified by their RFC 7638 thumbprint.
//!
//! The cryptography itself is OpenSSL's, through `josekit`; this crate never
//! does I/O. A key is decoded once, at its first use, and kept decoded with
//! the key (see `built.rs`).

mod built;
mod es256;
mod jwe;
mod key;
mod token;

pub use jwe::{
    CONTENT_ENCRYPTION, DecryptionKey, JweHeaderInfo, KeyAlg, decrypt, encrypt, peek_jwe_header,
};
pub use key::{KeySet, PublicKey, PublicKeySet, SigningKey};
pub use token::{Header, peek_header, sign, sign_hmac, sign_with_header, verify, verify_hmac};

use std::fmt;

/// A signature algorithm we accept. FranceConnect v2 uses ES256, RS256 and,
/// for its legacy services, HS256 keyed by the client secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Alg {
    /// ECDSA on P-256 with SHA-256: the default and FranceConnect+'s only one.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// HMAC-SHA-256 with a shared secret (the client secret).
    HS256,
}

impl Alg {
    /// Every algorithm, in preference order.
    pub const ALL: [Alg; 3] = [Alg::ES256, Alg::RS256, Alg::HS256];

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::RS256 => "RS256",
            Alg::HS256 => "HS256",
        }
    }

    /// Parses an `alg` value; `none` and anything unknown are refused.
    pub fn parse(text: &str) -> Result<Self, JoseError> {
        Alg::ALL
            .into_iter()
            .find(|alg| alg.as_str() == text)
            .ok_or_else(|| JoseError::AlgNotAllowed(text.chars().take(16).collect()))
    }

    /// Whether the algorithm uses a key pair (and so a published key).
    pub fn is_asymmetric(self) -> bool {
        !matches!(self, Alg::HS256)
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can go wrong with a token or a key. The texts are safe to log: they
/// never contain key material or token contents.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoseError {
    /// The token is not three base64url parts with JSON header and payload.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm outside the verifier's allow-list.
    #[error("algorithm {0:?} is not allowed")]
    AlgNotAllowed(String),
    /// No key of the set has the header's `kid` (or none fits the algorithm).
    #[error("no key with id {0:?}")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// A key could not be generated, parsed or used.
    #[error("key error: {0}")]
    Key(String),
}

impl From<josekit::JoseError> for JoseError {
    fn from(error: josekit::JoseError) -> Self {
        // josekit's messages may quote input; keep only the kind.
        let kind = match error {
            josekit::JoseError::UnsupportedSignatureAlgorithm(_) => "unsupported algorithm",
            josekit::JoseError::InvalidKeyFormat(_) => "invalid key format",
            josekit::JoseError::InvalidJwkFormat(_) => "invalid JWK",
            josekit::JoseError::InvalidSignature(_) => return JoseError::BadSignature,
            _ => "cryptographic failure",
        };
        JoseError::Key(kind.to_owned())
    }
}
