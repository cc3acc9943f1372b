//! The one config file: every part's table, read from TOML, overlaid with
//! `PASSERELLE__<table>__<key>` environment variables, checked at start.
//! A bad setting stops the process with its path (`hub.standard.services[0].scopes`).

use std::collections::BTreeMap;
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
    /// `[data_provider]`: the tax data provider (FranceConnect's
    /// « fournisseur de données »), over the population.
    #[serde(default)]
    pub data_provider: Option<data_provider::Config>,
    /// `[hub.<id>]`: the hub instances, by id (the demo runs `standard` and
    /// `plus`, as FranceConnect runs FC and FC+). Each is the part `hub_<id>`.
    #[serde(default)]
    pub hub: BTreeMap<String, hub::Config>,
    /// `[[idp_password]]`: password identity providers.
    #[serde(default)]
    pub idp_password: Vec<idp_password::Config>,
    /// `[idp_wallet]`: the wallet identity provider (card + code, QR login).
    #[serde(default)]
    pub idp_wallet: Option<idp_wallet::Config>,
    /// `[traces]`: the citizens' trails the hubs write and the dashboard
    /// shows (none without it).
    #[serde(default)]
    pub traces: Option<hub::TrailConfig>,
    /// `[dashboard]`: the citizen dashboard.
    #[serde(default)]
    pub dashboard: Option<dashboard::Config>,
    /// `[mail]`: how the hubs' emails leave (none without it).
    #[serde(default)]
    pub mail: Option<mail::Config>,
    /// `[sms]`: text messages of the password providers.
    #[serde(default)]
    pub sms: Option<idp_password::sms::Config>,
    /// `[demo_sp]`: the demo service.
    #[serde(default)]
    pub demo_sp: Option<demo_sp::Config>,
    /// `[web]`: the pages' theme.
    #[serde(default)]
    pub web: web::ThemeConfig,
    /// `[listen]`: where to bind, when not the public URL's host and port
    /// (behind a reverse proxy).
    #[serde(default)]
    pub listen: ListenConfig,
    /// `[store]`: where the data goes (default: SQLite files in the data
    /// folder).
    #[serde(default)]
    pub store: StoreConfig,
    /// `[metrics]`: where Prometheus reads the process's metrics (none
    /// without it).
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
}

/// `[metrics]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// The address `GET /metrics` listens on: a private one, apart from
    /// the parts' public addresses.
    pub listen: SocketAddr,
}

/// `[store]`: PostgreSQL for what lasts, Redis (optional) for what expires.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://user@host:port/database`: every part in a schema of its
    /// own, migrated by `passerelle migrate`. Default: one SQLite file per
    /// part in the data folder (memory without one).
    #[serde(default)]
    pub url: Option<String>,
    /// `redis://host:port/db`: sessions, codes, tokens, rate limits and
    /// open sessions, each key with its expiry. Or `memory:`, without
    /// `url`: they stay in the process (one process per part; a restart
    /// ends them), as `passerelle demo` runs. Default: in `url`'s store.
    #[serde(default)]
    pub ephemeral_url: Option<String>,
    /// Every Redis key starts with it, then the part's name (default
    /// `passerelle:`): federations sharing one Redis keep apart.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
}

fn default_key_prefix() -> String {
    "passerelle:".into()
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: None,
            ephemeral_url: None,
            key_prefix: default_key_prefix(),
        }
    }
}

impl StoreConfig {
    /// `ephemeral_url`'s value for what expires kept in the process.
    pub const MEMORY: &str = "memory:";

    /// Checks the URLs' schemes, so that a typo stops `passerelle check`.
    pub fn check(&self) -> Result<(), ConfigError> {
        let scheme_of = |url: &str| url::Url::parse(url).map(|url| url.scheme().to_owned());
        if let Some(url) = &self.url {
            match scheme_of(url) {
                Ok(scheme) if scheme == "postgres" || scheme == "postgresql" => {}
                _ => {
                    return Err(ConfigError {
                        path: "store.url".into(),
                        message: "must be a postgres:// URL".into(),
                    });
                }
            }
        }
        if self.ephemeral_url.as_deref() == Some(Self::MEMORY) {
            if self.url.is_some() {
                return Err(ConfigError {
                    path: "store.ephemeral_url".into(),
                    message: "memory: keeps sessions in one process; with store.url, use Redis"
                        .into(),
                });
            }
        } else if let Some(url) = &self.ephemeral_url {
            match scheme_of(url) {
                Ok(scheme) if scheme == "redis" || scheme == "rediss" => {}
                _ => {
                    return Err(ConfigError {
                        path: "store.ephemeral_url".into(),
                        message: "must be a redis:// URL or memory:".into(),
                    });
                }
            }
            if self.url.is_none() {
                return Err(ConfigError {
                    path: "store.ephemeral_url".into(),
                    message: "needs store.url: Redis holds only what expires".into(),
                });
            }
        }
        if self.key_prefix.is_empty() || self.key_prefix.chars().any(char::is_whitespace) {
            return Err(ConfigError {
                path: "store.key_prefix".into(),
                message: "must be non-empty, without spaces".into(),
            });
        }
        Ok(())
    }
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
    /// A CSV of the citizens to use instead (`passerelle population`
    /// writes one to start from); `seed` and `size` are then unused.
    #[serde(default)]
    pub csv: Option<std::path::PathBuf>,
}

impl Default for PopulationConfig {
    fn default() -> Self {
        Self {
            seed: default_seed(),
            size: default_size(),
            csv: None,
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

/// `[listen]`: bind addresses by part (`hub_<id>`, `register`, `demo_sp`,
/// or a password provider's id).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct ListenConfig {
    /// Part → address.
    pub parts: BTreeMap<String, SocketAddr>,
}

pub use oidc::ConfigError;

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

    /// Checks every part's settings (as [`Config::parse`] does); the error
    /// names the bad path.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (id, hub) in &self.hub {
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(ConfigError {
                    path: format!("hub.{id}"),
                    message: "a hub id is lowercase letters, digits or _".into(),
                });
            }
            hub.check(&format!("hub.{id}"))
                .map_err(|error| ConfigError {
                    path: error.path,
                    message: error.message,
                })?;
        }
        for (index, idp) in self.idp_password.iter().enumerate() {
            idp.check(&format!("idp_password[{index}]"))?;
        }
        if let Some(demo) = &self.demo_sp {
            demo.check("demo_sp")?;
        }
        if let Some(traces) = &self.traces {
            traces.check("traces")?;
            // The trail's pseudonym is the dashboard's sub: same secret as
            // the platform the dashboard is registered at.
            for (id, hub) in &self.hub {
                let registers_dashboard = hub.services.iter().any(|service| {
                    service.entity_id.as_deref().unwrap_or(&service.client_id) == traces.entity
                });
                if registers_dashboard && hub.sub_secret != traces.secret {
                    return Err(ConfigError {
                        path: "traces.secret".into(),
                        message: format!(
                            "must be hub.{id}.sub_secret, where the dashboard's entity {} is registered",
                            traces.entity
                        ),
                    });
                }
            }
        }
        if let Some(dashboard) = &self.dashboard {
            dashboard.check("dashboard")?;
            if self.traces.is_none() {
                return Err(ConfigError {
                    path: "traces".into(),
                    message: "the dashboard needs the [traces] settings".into(),
                });
            }
        }
        if let Some(mail) = &self.mail {
            mail.check("mail")?;
        }
        if let Some(sms) = &self.sms {
            sms.check("sms")?;
        }
        if let Some(register) = &self.register {
            oidc::RedirectUri::parse(&register.public_url).map_err(|message| ConfigError {
                path: "register.public_url".into(),
                message,
            })?;
        }
        if let Some(provider) = &self.data_provider {
            provider.check("data_provider")?;
        }
        let parts = self.part_names();
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = parts.iter().find(|name| !seen.insert(name.as_str())) {
            return Err(ConfigError {
                path: "idp_password".into(),
                message: format!("two parts are named {twice}"),
            });
        }
        for name in self.listen.parts.keys() {
            let known = parts.contains(name);
            if !known {
                return Err(ConfigError {
                    path: format!("listen.{name}"),
                    message: "is not a part of this config".into(),
                });
            }
        }
        self.store.check()?;
        if !(1..=1_000_000).contains(&self.population.size) {
            return Err(ConfigError {
                path: "population.size".into(),
                message: "must be between 1 and 1000000".into(),
            });
        }
        Ok(())
    }
}

impl Config {
    /// The part name of a hub instance: its data file, key file and
    /// `[listen]` key.
    pub fn hub_part(id: &str) -> String {
        format!("hub_{id}")
    }

    /// The hub instances, the standard platform first: the order people
    /// read them in (start, banner, the dashboard's providers).
    pub fn hubs_in_order(&self) -> Vec<(&String, &hub::Config)> {
        let mut hubs: Vec<_> = self.hub.iter().collect();
        hubs.sort_by_key(|(_, hub)| hub.platform == hub::Platform::Plus);
        hubs
    }

    /// Every part this config describes, by name.
    pub fn part_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.hub.keys().map(|id| Self::hub_part(id)).collect();
        names.extend(self.idp_password.iter().map(|idp| idp.id.clone()));
        names.extend(self.idp_wallet.iter().map(|idp| idp.id.clone()));
        if self.register.is_some() {
            names.push("register".into());
        }
        if self.data_provider.is_some() {
            names.push("data_provider".into());
        }
        if self.demo_sp.is_some() {
            names.push("demo_sp".into());
        }
        if self.dashboard.is_some() {
            names.push("dashboard".into());
        }
        names
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

    /// Every secret of a config (its keys end in `secret`, `pepper` or
    /// `token`, or
    /// name a password that is not the demo's published one) is a
    /// `Secret`: printing the whole config shows none of them.
    #[test]
    fn printing_a_config_shows_none_of_its_secrets() {
        fn secrets(value: &toml::Value, key: &str, found: &mut Vec<String>) {
            match value {
                toml::Value::String(text)
                    if (key.ends_with("secret")
                        || key.ends_with("pepper")
                        || key.ends_with("password")
                        || key.ends_with("token"))
                        && key != "demo_password" =>
                {
                    found.push(text.clone());
                }
                toml::Value::Table(table) => {
                    for (key, value) in table {
                        secrets(value, key, found);
                    }
                }
                toml::Value::Array(items) => {
                    for item in items {
                        secrets(item, key, found);
                    }
                }
                _ => {}
            }
        }
        for text in [DEMO, EXAMPLE] {
            let mut found = Vec::new();
            secrets(
                &toml::Value::Table(toml::from_str(text).unwrap()),
                "",
                &mut found,
            );
            assert!(found.len() >= 5, "{found:?}");
            let printed = format!("{:?}", Config::parse(text, []).unwrap());
            for secret in found {
                assert!(!printed.contains(&secret), "{secret} is printed");
            }
        }
    }

    #[test]
    fn a_bad_setting_is_named_by_its_path() {
        let bad = DEMO.replacen("scopes = [", "scopes = [\"nope\", ", 1);
        let error = Config::parse(&bad, []).unwrap_err();
        assert_eq!(error.path, "hub.standard.services[0].scopes", "{error}");
        let error = Config::parse(&format!("{DEMO}\n[surprise]\nx = 1\n"), []).unwrap_err();
        assert!(error.message.contains("unknown field"), "{error}");
        let error = Config::parse(
            DEMO,
            [(
                "PASSERELLE__HUB__STANDARD__SESSION_TTL_SECS".into(),
                "\"long\"".into(),
            )],
        )
        .unwrap_err();
        assert_eq!(error.path, "hub.standard.session_ttl_secs", "{error}");
    }

    #[test]
    fn a_plus_service_must_have_its_tokens_encrypted_and_signed_es256() {
        let clear = DEMO.replacen("encryption_alg = \"ECDH-ES\"\n", "", 1);
        let error = Config::parse(&clear, []).unwrap_err();
        assert_eq!(error.path, "hub.plus.services[0].encryption_alg", "{error}");
        let rs256 = DEMO.replacen(
            "encryption_alg = \"ECDH-ES\"\n",
            "encryption_alg = \"ECDH-ES\"\nsigning_alg = \"RS256\"\n",
            1,
        );
        let error = Config::parse(&rs256, []).unwrap_err();
        assert_eq!(error.path, "hub.plus.services[0].signing_alg", "{error}");
        let error = Config::parse(&DEMO.replace("[hub.plus", "[hub.Plus"), []).unwrap_err();
        assert_eq!(error.path, "hub.Plus", "{error}");
    }

    /// The demo's config without its `[store]` (what expires in memory), to
    /// be given another.
    fn demo_without_store() -> String {
        let store = "[store]\nephemeral_url = \"memory:\"\n";
        assert!(DEMO.contains(store));
        DEMO.replacen(store, "", 1)
    }

    #[test]
    fn a_store_url_of_the_wrong_kind_is_refused_by_check() {
        for (store, path) in [
            ("url = \"mysql://db/p\"", "store.url"),
            ("url = \"not a url\"", "store.url"),
            (
                "url = \"postgres://db/p\"\nephemeral_url = \"http://cache\"",
                "store.ephemeral_url",
            ),
            ("ephemeral_url = \"redis://cache\"", "store.ephemeral_url"),
            (
                "url = \"postgres://db/p\"\nephemeral_url = \"memory:\"",
                "store.ephemeral_url",
            ),
            ("ephemeral_url = \"memory\"", "store.ephemeral_url"),
            (
                "url = \"postgres://db/p\"\nkey_prefix = \"\"",
                "store.key_prefix",
            ),
        ] {
            let text = format!("{}\n[store]\n{store}\n", demo_without_store());
            let error = Config::parse(&text, []).unwrap_err();
            assert_eq!(error.path, path, "{store}");
        }
        let fine = format!(
            "{}\n[store]\nurl = \"postgres://db/p\"\nephemeral_url = \"redis://cache:6379/0\"\n",
            demo_without_store()
        );
        assert!(Config::parse(&fine, []).is_ok());
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let config = Config::parse(
            DEMO,
            [(
                "PASSERELLE__HUB__PLUS__SESSION_TTL_SECS".into(),
                "300".into(),
            )],
        )
        .unwrap();
        assert_eq!(config.hub["plus"].session_ttl_secs(), 300);
        assert_eq!(config.hub["standard"].session_ttl_secs(), 1800);
        let config = Config::parse(
            DEMO,
            [(
                "PASSERELLE__LISTEN__HUB_STANDARD".into(),
                "127.0.0.1:9999".into(),
            )],
        )
        .unwrap();
        assert_eq!(config.listen.parts["hub_standard"].port(), 9999);
    }
}
