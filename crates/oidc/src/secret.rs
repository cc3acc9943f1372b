//! A secret from a config file (a client secret, the pairwise `sub` secret,
//! a pepper, a TOTP seed): read like a string, never printed.
//!
//! `Debug` shows `Secret(…)` whatever it holds, and there is no `Display`,
//! so a secret cannot reach a log line, an error message or a `{:?}` of
//! its config by accident; the code that needs its value asks for it with
//! [`Secret::expose`] (or reads it as `&str` through `Deref`, to hash or
//! compare it).

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer};

/// A secret value: a string that never prints.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the code that must use it (hash, sign, send it to
    /// whom it belongs).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Deref for Secret {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Config {
        name: String,
        secret: Secret,
        optional: Option<Secret>,
    }

    #[test]
    fn a_secret_reads_from_a_config_and_never_prints() {
        let config: Config = serde_json::from_str(
            r#"{"name": "hub", "secret": "very-secret-value", "optional": "other-secret"}"#,
        )
        .unwrap();
        assert_eq!(config.name, "hub");
        assert_eq!(config.secret.expose(), "very-secret-value");
        assert_eq!(config.optional.as_deref(), Some("other-secret"));
        assert_eq!(config.secret.len(), 17);
        assert_eq!(config.secret.as_bytes(), b"very-secret-value");
        let printed = format!("{config:?} {config:#?}");
        assert!(!printed.contains("very-secret"), "{printed}");
        assert!(!printed.contains("other-secret"), "{printed}");
        assert!(printed.contains("Secret(…)"));
        assert_eq!(Secret::from("a"), Secret::new(String::from("a")));
    }
}
