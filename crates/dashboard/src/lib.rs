//! The citizen dashboard: a service of the standard platform, as
//! FranceConnect's is. The citizen logs in through the hub and sees the
//! connections of the last six months, checks that the trail is intact,
//! blocks or unblocks identity providers for their own identity, and
//! reports a connection that was not theirs.
//!
//! It finds the person's trail under the `sub` the hub gives it: the hub
//! writes each connection under the person's pairwise `sub` for the
//! dashboard's entity, so the dashboard never needs the identity (it asks
//! only the first and last names, to greet). The JSON it reads and writes is
//! described in docs/dashboard.md.

mod config;
pub mod errors;
mod history;
pub mod integrity;
mod pages;
mod report;
mod routes;
mod state;
mod verification;

pub use config::Config;
pub use routes::router;
pub use state::{Dashboard, DashboardParts};
