//! The démarches portal: demo services that use the federation as the
//! documents describe, each a relying party of a hub as a service
//! provider's developer would write one.
//!
//! - `/`: the portal, listing the démarches and the level each needs, and
//!   the developer's view: log in through a hub, see the identity and the
//!   raw tokens received, log out through the hub;
//! - `/ants`, `/impots`, `/lettre`, `/procuration`: one service provider
//!   per démarche ([`demarche`]), each registered at its hub with its own
//!   client, entity, scopes and level, keeping its dossiers under the `sub`
//!   it receives.

mod ants;
mod config;
pub mod demarche;
pub mod errors;
mod form;
mod impots;
mod lettre;
mod pages;
mod procuration;
pub mod rental;
mod routes;
mod state;
mod view;

pub use config::{Config, HubLogin};
pub use routes::router;
pub use state::{DemoParts, DemoService, Received};

/// Which démarche a `service` of the settings is: the one table.
pub fn service(kind: demarche::Kind) -> &'static demarche::Service {
    match kind {
        demarche::Kind::Ants => &ants::ANTS,
        demarche::Kind::Impots => &impots::IMPOTS,
        demarche::Kind::Lettre => &lettre::LETTRE,
        demarche::Kind::Procuration => &procuration::PROCURATION,
    }
}
