//! OpenID Connect for Passerelle: the protocol types that parse, the
//! provider engine ([`op`]) and the relying party ([`rp`]).
//!
//! One engine serves the hub, the identity providers and the demo services
//! (STYLE.md habit 2); apps add pages and policy, never protocol.

pub mod answer;
pub mod claims;
pub mod client;
pub mod clock;
pub mod config_error;
pub mod error;
pub mod hash_pool;
pub mod jwks;
pub mod op;
pub mod request_id;
pub mod rp;
pub mod secret;
pub mod types;

pub use claims::Identity;
pub use client::{
    Client, ClientAuth, ClientKeys, ClientSecret, HMAC_PREFIX, Secret, client_secret_key,
};
pub use clock::{Clock, FakeClock, SystemClock, UnixSeconds};
pub use config_error::ConfigError;
pub use error::{ErrorCode, OAuthError};
pub use hash_pool::{Busy, HashPool};
pub use types::{Acr, PkceChallenge, RedirectUri, Scopes, Sub};
