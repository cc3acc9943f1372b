//! The one config file: every part's table, read from TOML, overlaid with
//! `PASSERELLE__<table>__<key>` environment variables, checked at start.
//! A bad setting stops the process with its path (`hub.services[0].scopes`).

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

/// The whole configuration (config/example.toml documents every setting).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[population]`: the seeded fictional citizens.
    #[serde(default)]
    pub population: PopulationConfig,
    /// `[register]`: the national register service.
    #[serde(default)]
    pub register: Option<RegisterConfig>,
    /// `[hub]`.
    #[serde(default)]
    pub hub: Option<hub::Config>,
    /// `[[idp_password]]`: password identity providers.
    #[serde(default)]
    pub idp_password: Vec<idp_password::Config>,
    /// `[demo_sp]`: the demo service.
    #[serde(default)]
    pub demo_sp: Option<demo_sp::Config>,
    /// `[listen]`: where to bind, when not the public URL's host and port
    /// (behind a reverse proxy).
    #[serde(default)]
    pub listen: ListenConfig,
}

/// `[population]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationConfig {
    /// Seed of the generator: the same seed gives the same people.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How many citizens.
    #[serde(default = "default_size")]
    pub size: usize,
}

impl Default for PopulationConfig {
    fn default() -> Self {
        Self {
            seed: default_seed(),
            size: default_size(),
        }
    }
}

fn default_seed() -> u64 {
    population::DEFAULT_SEED
}

fn default_size() -> usize {
    population::DEFAULT_SIZE
}

/// `[register]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterConfig {
    /// Where the register is reached.
    pub public_url: String,
}

/// `[listen]`: bind addresses by part (`hub`, `register`, `demo_sp`, or a
/// password provider's id).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct ListenConfig {
    /// Part → address.
    pub parts: std::collections::BTreeMap<String, SocketAddr>,
}

/// A setting that stops the process.
#[derive(Debug, thiserror::Error)]
#[error("bad setting {path}: {message}")]
pub struct ConfigError {
    /// Where, e.g. `hub.services[0].redirect_uris[1]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Config {
    /// Reads a file, overlays the environment, parses and checks.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            path: path.display().to_string(),
            message: error.to_string(),
        })?;
        Self::parse(&text, env)
    }

    /// Parses TOML text with the environment overlay, and checks.
    pub fn parse(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut value: toml::Table = toml::from_str(text).map_err(|error| ConfigError {
            path: "(file)".into(),
            message: error.message().to_owned(),
        })?;
        for (key, raw) in env {
            if let Some(path) = key.strip_prefix("PASSERELLE__") {
                overlay(&mut value, path, &raw)?;
            }
        }
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(value)).map_err(|error| {
                ConfigError {
                    path: error.path().to_string(),
                    message: error.inner().message().to_owned(),
                }
            })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if let Some(hub) = &self.hub {
            hub.check("hub").map_err(|error| ConfigError {
                path: error.path,
                message: error.message,
            })?;
        }
        for (index, idp) in self.idp_password.iter().enumerate() {
            idp.check(&format!("idp_password[{index}]"))
                .map_err(|(path, message)| ConfigError { path, message })?;
        }
        if let Some(demo) = &self.demo_sp {
            demo.check("demo_sp")
                .map_err(|(path, message)| ConfigError { path, message })?;
        }
        if let Some(register) = &self.register {
            oidc::RedirectUri::parse(&register.public_url).map_err(|message| ConfigError {
                path: "register.public_url".into(),
                message,
            })?;
        }
        for name in self.listen.parts.keys() {
            let known = matches!(name.as_str(), "hub" | "register" | "demo_sp")
                || self.idp_password.iter().any(|idp| &idp.id == name);
            if !known {
                return Err(ConfigError {
                    path: format!("listen.{name}"),
                    message: "is not a part of this config".into(),
                });
            }
        }
        if !(1..=1_000_000).contains(&self.population.size) {
            return Err(ConfigError {
                path: "population.size".into(),
                message: "must be between 1 and 1000000".into(),
            });
        }
        Ok(())
    }
}

/// Sets `a__b__c` = `raw` in the table: the value is read as TOML when it
/// parses (numbers, booleans, arrays), else taken as a string.
fn overlay(table: &mut toml::Table, path: &str, raw: &str) -> Result<(), ConfigError> {
    let keys: Vec<String> = path.split("__").map(str::to_lowercase).collect();
    let Some((last, parents)) = keys.split_last() else {
        return Ok(());
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| ConfigError {
            path: keys.join("."),
            message: format!("{key} is not a table and cannot be set from the environment"),
        })?;
    }
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut parsed| parsed.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../../../config/demo.toml");
    const EXAMPLE: &str = include_str!("../../../config/example.toml");

    #[test]
    fn the_demo_and_example_configs_are_valid() {
        Config::parse(DEMO, []).unwrap();
        Config::parse(EXAMPLE, []).unwrap();
    }

    #[test]
    fn a_bad_setting_is_named_by_its_path() {
        let bad = DEMO.replacen("scopes = [", "scopes = [\"nope\", ", 1);
        let error = Config::parse(&bad, []).unwrap_err();
        assert_eq!(error.path, "hub.services[0].scopes", "{error}");
        let error = Config::parse(&format!("{DEMO}\n[surprise]\nx = 1\n"), []).unwrap_err();
        assert!(error.message.contains("unknown field"), "{error}");
        let error = Config::parse(
            DEMO,
            [(
                "PASSERELLE__HUB__SESSION_TTL_SECS".into(),
                "\"long\"".into(),
            )],
        )
        .unwrap_err();
        assert_eq!(error.path, "hub.session_ttl_secs", "{error}");
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let config = Config::parse(
            DEMO,
            [("PASSERELLE__HUB__SESSION_TTL_SECS".into(), "600".into())],
        )
        .unwrap();
        assert_eq!(config.hub.unwrap().session_ttl_secs(), 600);
        let config = Config::parse(
            DEMO,
            [("PASSERELLE__LISTEN__HUB".into(), "127.0.0.1:9999".into())],
        )
        .unwrap();
        assert_eq!(config.listen.parts["hub"].port(), 9999);
    }
}
