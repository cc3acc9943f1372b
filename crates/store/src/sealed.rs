//! Values only the client can unlock.
//!
//! The hub keeps no personal data readable at rest. Whatever it stores for
//! a client (session, authorization code, access token) is encrypted under
//! a key derived from the secret handed to that client, and filed under a
//! different hash of it: the database holds neither the secret nor anything
//! readable without it.

use std::fmt;

use aes_gcm::aead::{Aead, AeadInPlace, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// Domain separation: the lookup key and the sealing key are both hashes of
/// the same secret, and must never be equal or derivable from each other.
const LOOKUP_CONTEXT: &[u8] = b"passerelle/lookup/v1";
const SEAL_CONTEXT: &[u8] = b"passerelle/seal/v1";

/// First byte of a sealed value, so a later format can coexist with this
/// one. Also authenticated, so it cannot be flipped.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A secret handed to a client (cookie value, code, token): 32 random
/// bytes, shown as 43 characters of unpadded base64url.
#[derive(Clone)]
pub struct Capability {
    secret: [u8; 32],
    text: String,
}

impl Capability {
    /// A new capability from the operating system's randomness (through
    /// rand's thread RNG, seeded from the OS and reseeded).
    pub fn generate() -> Self {
        let mut secret = [0; 32];
        rand::rng().fill_bytes(&mut secret);
        Self {
            secret,
            text: URL_SAFE_NO_PAD.encode(secret),
        }
    }

    /// A capability over a secret the caller derived (an HMAC of its own
    /// key), to file and seal values it can find again without a client.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Self {
            secret,
            text: URL_SAFE_NO_PAD.encode(secret),
        }
    }

    /// Reads a capability presented by a client: exactly 43 base64url
    /// characters decoding to 32 bytes, in the one canonical spelling
    /// `generate` produces. Anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 43 {
            return None;
        }
        let secret = URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()?;
        Some(Self {
            secret,
            text: text.to_owned(),
        })
    }

    /// The text handed to the client.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Where the value is stored: hex SHA-256 of the secret under its own
    /// context, so the store never sees the secret itself.
    pub fn lookup_key(&self) -> String {
        let digest = Sha256::new()
            .chain_update(LOOKUP_CONTEXT)
            .chain_update(self.secret)
            .finalize();
        base16ct::lower::encode_string(&digest)
    }

    /// Encrypts `plaintext` with AES-256-GCM under this capability's key:
    /// version byte, random 96-bit nonce, then ciphertext and tag.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        // A random nonce is safe here: each key seals few values (one
        // client's), far below GCM's 2^32 random-nonce bound.
        // Encrypted where it lies, in the one buffer that is returned.
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let encrypted = sealed
            .split_at_mut_checked(1 + NONCE_LEN)
            .and_then(|(_, body)| {
                self.cipher()
                    .encrypt_in_place_detached(&Nonce::from(nonce), &[VERSION], body)
                    .ok()
            });
        match encrypted {
            Some(tag) => sealed.extend_from_slice(&tag),
            // Encryption fails only for plaintexts over 64 GiB: the
            // plaintext is cut off, and the empty body fails to open,
            // which callers already handle.
            None => sealed.truncate(1 + NONCE_LEN),
        }
        sealed
    }

    /// Decrypts what [`Self::seal`] produced. [`StoreError::Corrupt`] for
    /// anything else: truncated, tampered, another version, or sealed by
    /// another capability.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let (&version, rest) = sealed.split_first().ok_or(StoreError::Corrupt)?;
        if version != VERSION {
            return Err(StoreError::Corrupt);
        }
        let (nonce, ciphertext) = rest
            .split_at_checked(NONCE_LEN)
            .ok_or(StoreError::Corrupt)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| StoreError::Corrupt)?;
        let payload = Payload {
            msg: ciphertext,
            aad: &[VERSION],
        };
        self.cipher()
            .decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| StoreError::Corrupt)
    }

    fn cipher(&self) -> Aes256Gcm {
        let key = Sha256::new()
            .chain_update(SEAL_CONTEXT)
            .chain_update(self.secret)
            .finalize();
        Aes256Gcm::new(&key)
    }
}

/// Never prints the secret: capabilities end up in logged structs.
impl fmt::Debug for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Capability(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_capability() {
        let capability = Capability::generate();
        let sealed = capability.seal(b"identite pivot");
        assert_eq!(capability.open(&sealed).unwrap(), b"identite pivot");
        assert_eq!(capability.open(&capability.seal(b"")).unwrap(), b"");
    }

    /// The layout of what is stored: version, nonce, then the ciphertext
    /// and its tag as `Aead::encrypt` writes them, so that values sealed
    /// by earlier builds still open, and theirs ours.
    #[test]
    fn a_sealed_value_is_the_version_the_nonce_and_aes_gcm_s_output() {
        let capability = Capability::generate();
        let sealed = capability.seal(b"the grant");
        assert_eq!(sealed[0], VERSION);
        let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN].try_into().expect("nonce");
        let payload = Payload {
            msg: b"the grant",
            aad: &[VERSION],
        };
        let expected = capability
            .cipher()
            .encrypt(&Nonce::from(nonce), payload)
            .expect("encrypted");
        assert_eq!(&sealed[1 + NONCE_LEN..], &expected[..]);
        assert_eq!(capability.open(&sealed).expect("opens"), b"the grant");
    }

    #[test]
    fn sealing_twice_gives_different_bytes() {
        let capability = Capability::generate();
        assert_ne!(capability.seal(b"same"), capability.seal(b"same"));
    }

    #[test]
    fn another_capability_cannot_open_a_sealed_value() {
        let sealed = Capability::generate().seal(b"secret");
        assert!(matches!(
            Capability::generate().open(&sealed),
            Err(StoreError::Corrupt)
        ));
    }

    #[test]
    fn any_tampered_byte_makes_a_sealed_value_corrupt() {
        let capability = Capability::generate();
        let sealed = capability.seal(b"secret");
        for index in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[index] ^= 1;
            assert!(matches!(
                capability.open(&tampered),
                Err(StoreError::Corrupt)
            ));
        }
    }

    #[test]
    fn truncated_input_is_corrupt_not_a_panic() {
        let capability = Capability::generate();
        let sealed = capability.seal(b"secret");
        for len in 0..sealed.len() {
            assert!(matches!(
                capability.open(&sealed[..len]),
                Err(StoreError::Corrupt)
            ));
        }
    }

    #[test]
    fn a_capability_survives_its_text() {
        let capability = Capability::generate();
        assert_eq!(capability.as_str().len(), 43);
        let parsed = Capability::parse(capability.as_str()).unwrap();
        assert_eq!(parsed.as_str(), capability.as_str());
        assert_eq!(parsed.open(&capability.seal(b"x")).unwrap(), b"x");
    }

    #[test]
    fn parse_rejects_anything_but_43_base64url_characters() {
        let good = Capability::generate().as_str().to_owned();
        let bad = [
            String::new(),
            good[..42].to_owned(),
            format!("{good}A"),
            format!("{good}="),
            format!("{}+", &good[..42]),
            format!("{}/", &good[..42]),
            format!("{} ", &good[..42]),
            // 41 ASCII characters and a two-byte one: 43 bytes, not base64.
            format!("{}é", &good[..41]),
            "é".repeat(43),
            // Non-zero trailing bits: decodes, but not as `generate` spells it.
            format!("{}B", "A".repeat(42)),
        ];
        for text in bad {
            assert!(Capability::parse(&text).is_none(), "{text:?} was accepted");
        }
        assert!(Capability::parse(&"A".repeat(43)).is_some());
    }

    #[test]
    fn the_lookup_key_is_stable_and_is_not_the_secret() {
        let capability = Capability::generate();
        let key = capability.lookup_key();
        assert_eq!(
            key,
            Capability::parse(capability.as_str()).unwrap().lookup_key()
        );
        assert_eq!(key.len(), 64);
        assert!(
            key.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(!key.contains(capability.as_str()));
        let secret_hex = base16ct::lower::encode_string(&capability.secret);
        assert_ne!(key, secret_hex);
        assert_ne!(key, Capability::generate().lookup_key());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let capability = Capability::generate();
        let shown = format!("{capability:?}");
        assert_eq!(shown, "Capability(…)");
    }
}
