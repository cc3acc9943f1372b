//! The one binary's library: configuration, keys and composition, so that
//! `testkit` runs exactly what `passerelle demo` runs.

pub mod cards;
pub mod config;
pub mod docs;
pub mod federation;
#[cfg(test)]
mod fuzz_seeds;
pub mod keys;
pub mod logs;

pub use config::{Config, ConfigError};
pub use federation::{Options, Running, start};

/// The demo configuration, embedded so that `passerelle demo` works from any
/// directory.
pub const DEMO_CONFIG: &str = include_str!("../../../config/demo.toml");
