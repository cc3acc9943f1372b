//! Reference password identity providers: impots.gouv-like (tax number and
//! password), ameli- and MSA-like (social security number and secret code),
//! La Poste- and Yris-like (email and password), ANTS-like (an assigned
//! identifier and password): one code base, one config each. Each is an
//! OpenID Provider for the hub, on the same engine as the hub itself, and
//! has its own pages: login, account creation, activation, password reset,
//! unlock, and an account page to change one's email address.
//!
//! Accounts belong to citizens of the seeded population, or are created
//! online after a check against the administration's records
//! ([`registry`]); the provider holds the identity as its administration
//! knows it (the ameli-like one writes given names in capitals, as the
//! national register then corrects).

mod account;
pub mod captcha;
pub mod config;
pub mod errors;
mod form;
mod login;
mod mails;
pub mod one_time;
pub mod password;
pub mod profile;
pub mod registry;
mod routes;
mod seed;
mod session;
mod signup;
pub mod sms;
mod state;
pub mod throttle;

pub use config::{Config, LoginKind, SignupKind};
pub use routes::router;
pub use seed::{SeededAccount, identity_of, login_of, seed_accounts};
pub use state::{IdpParts, PasswordProvider};
