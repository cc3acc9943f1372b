//! The federation hub: an OpenID Provider for services (FranceConnect v2
//! wire-compatible, under `/api/v2`) and an OpenID relying party of the
//! identity providers, with the provider choice page, the consent page, the
//! check against the national register and the pairwise `sub`.
//!
//! The login, as the routes see it, is drawn in [`flow`].

mod authorize;
pub mod backchannel;
mod callback;
pub mod config;
mod consent;
pub mod errors;
pub mod flow;
pub mod level;
mod logout;
pub mod notify;
mod pages;
pub mod policy;
mod register;
pub mod revoke;
mod routes;
mod state;
pub mod sub;
pub mod trail;

pub use config::{Config, Platform, ServiceConfig};
pub use notify::NotifyPolicy;
pub use routes::router;
pub use state::{Hub, HubParts};
pub use trail::{Trail, TrailConfig};
