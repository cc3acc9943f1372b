//! The wallet identity provider.

pub mod verify;
