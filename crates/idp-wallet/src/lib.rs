//! The wallet identity provider, after France Identité: a digital identity
//! is an electronic ID card plus a 6-digit code, not a phone. The provider
//! verifies every card read itself ([`verify`]: Passive then Active
//! Authentication against a challenge it issued), logs citizens in to the
//! hub by QR code and the app ([`login`], [`api`]), at `eidas2`, or
//! `eidas3` while a town-hall certification is valid.
//!
//! It keeps no name or birth date: those are read from the card at each
//! login; an identity is a pseudonymous id, hashes of its card, a contact
//! email, the code's epoch and the certification.

pub mod api;
pub mod certification;
pub mod config;
pub mod console;
pub mod errors;
pub mod flow;
pub mod identity;
pub mod licence;
pub mod login;
pub mod lost;
mod pages;
pub mod pdf;
pub mod proof;
mod routes;
pub mod seal;
mod state;
pub mod totp;
pub mod verify;

pub use config::Config;
pub(crate) use pages::render_page;
pub use routes::router;
pub use state::{WalletParts, WalletProvider};

/// A value as the JSON the stores keep. A value that cannot be encoded is
/// a storage error, never empty bytes written in its place.
pub(crate) fn stored_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, store::StoreError> {
    serde_json::to_vec(value).map_err(|error| store::StoreError::Backend(Box::new(error)))
}
