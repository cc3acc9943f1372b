//! The whole federation in one process, for scenario tests: the real apps,
//! built from the real demo config, on 127.0.0.1 port 0, with memory
//! storage and a fake clock; a [`Citizen`] driving a browser-like HTTP
//! client with a cookie jar; and a [`RogueProvider`] that answers the hub
//! with tokens broken on purpose.
#![expect(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test support: a broken invariant is a failed test"
)]

mod citizen;
pub mod cluster;
pub mod load;
mod publisher;
mod rogue;
pub mod services;
pub mod smtp;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use citizen::{Citizen, Response, absolute};
use oidc::FakeClock;
use passerelle::{Config, Options, Running};
pub use publisher::KeyPublisher;
pub use rogue::{RogueMode, RogueProvider, presumed_citizen};
use tokio::net::TcpListener;

/// The demo password of every seeded account.
pub const PASSWORD: &str = "Passerelle-demo-2026";
/// The sandbox service's credentials (config/demo.toml).
pub const SANDBOX_ID: &str = "sandbox";
/// The sandbox secret.
pub const SANDBOX_SECRET: &str = "sandbox-secret-0123456789abcdef0123456789";
/// A registered sandbox redirect URI (never served: tests read the redirect).
pub const SANDBOX_CALLBACK: &str = "http://localhost:8000/callback";
/// The demo service's client id and secret.
pub const DEMO_SP_ID: &str = "demo-sp";
/// The demo service's secret.
pub const DEMO_SP_SECRET: &str = "demo-sp-secret-0123456789abcdef0123456789";

/// A running federation.
#[derive(Debug)]
pub struct Federation {
    /// The parts, their stores, the population.
    pub running: Running,
    /// The clock every part reads.
    pub clock: FakeClock,
    /// The standard hub's base URL.
    pub hub: String,
    /// The standard hub's issuer.
    pub issuer: String,
    /// The plus hub's base URL.
    pub hub_plus: String,
    /// Base URLs by part name (`hub_standard`, `hub_plus`, `impots`, `ameli`,
    /// `laposte`, `register`, `demo_sp`, `rogue`).
    pub urls: BTreeMap<String, String>,
    /// The sandbox's decryption key, registered when the standard hub is
    /// made a plus one ([`Federation::start_plus`]).
    pub sandbox_key: jose::DecryptionKey,
    /// The rogue provider.
    pub rogue: RogueProvider,
    /// The config it runs.
    pub config: Config,
    /// Where its data is, when on disk.
    pub data_dir: Option<std::path::PathBuf>,
}

/// A config line that keeps the rogue provider off the hub.
const NO_ROGUE: &str = "# testkit: no rogue provider";

const DEMO_PORTS: [(&str, &str); 13] = [
    ("hub_standard", "7080"),
    ("impots", "7081"),
    ("ameli", "7082"),
    ("register", "7083"),
    ("demo_sp", "7084"),
    ("hub_plus", "7085"),
    ("laposte", "7086"),
    ("dashboard", "7087"),
    ("ants", "7088"),
    ("msa", "7089"),
    ("yris", "7090"),
    ("wallet", "7091"),
    ("data_provider", "7092"),
];

impl Federation {
    /// Starts the demo federation (a smaller one: 200 citizens, 6 accounts
    /// per provider) plus the rogue provider, known to the standard hub as
    /// `rogue`, configured for eidas1 and eidas2 (it always proves eidas1).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with("").await
    }

    /// Starts it with more config appended (extra `[[hub.services]]`…).
    pub async fn start_with(extra_toml: &str) -> anyhow::Result<Self> {
        Self::start_in(extra_toml, None).await
    }

    /// Starts the demo federation as `passerelle demo` runs it: without the
    /// rogue provider on the choice page (the browser tests' screenshots).
    pub async fn start_as_demo(extra_toml: &str) -> anyhow::Result<Self> {
        Self::start_from(|text| format!("{text}\n{NO_ROGUE}\n"), extra_toml, None).await
    }

    /// Starts it with the demo config changed by `edit` first.
    pub async fn start_editing(edit: impl FnOnce(String) -> String) -> anyhow::Result<Self> {
        Self::start_from(edit, "", None).await
    }

    /// Starts it with the standard hub made a FranceConnect+ platform
    /// (`platform = "plus"`: eidas2 and eidas3), the impots provider proving
    /// eidas3 and ameli only eidas1, its services' tokens encrypted (the
    /// sandbox's to [`Federation::sandbox_key`]).
    pub async fn start_plus() -> anyhow::Result<Self> {
        let sandbox_key = jose::DecryptionKey::generate(jose::KeyAlg::EcdhEs)?;
        let jwks = serde_json::json!({ "keys": [sandbox_key.public_key()?.to_json()] });
        let federation = Self::start_from(
            |text| {
                let mut text = text.replace("platform = \"standard\"", "platform = \"plus\"")
                    .replace(", \"idp_birthdate\"", "")
                    .replace("acr_offered = [\"eidas1\"]\n", "")
                    .replacen("acr = [\"eidas1\"]", "acr = [\"eidas2\", \"eidas3\"]", 1)
                    .replacen("acr = \"eidas1\"", "acr = \"eidas3\"", 1)
                    .replace(
                        "require_pkce = false\n",
                        &format!("require_pkce = false\nencryption_alg = \"ECDH-ES\"\njwks = '{jwks}'\n"),
                    )
                    .replace(
                        "scopes = [\"openid\", \"given_name\", \"family_name\"]\n",
                        &format!("scopes = [\"openid\", \"given_name\", \"family_name\"]\nencryption_alg = \"ECDH-ES\"\njwks = '{jwks}'\n"),
                    );
                // The portal's services publish their key at its /jwks.
                for callback in [
                    "/callback/standard\"]\n",
                    "/ants/callback/passerelle\"]\n",
                    "/impots/callback/passerelle\"]\n",
                ] {
                    text = text.replace(
                        callback,
                        &format!("{callback}encryption_alg = \"ECDH-ES\"\njwks_uri = \"http://127.0.0.1:7084/jwks\"\n"),
                    );
                }
                text
            },
            "",
            None,
        )
        .await?;
        Ok(Self {
            sandbox_key,
            ..federation
        })
    }

    /// Starts it on PostgreSQL and Redis, as a production federation runs:
    /// a database of its own on the test server (`PASSERELLE_TEST_POSTGRES`,
    /// else 127.0.0.1:5432), every part in its schema, migrated first, and
    /// what expires in the test Redis (`PASSERELLE_TEST_REDIS`, else
    /// 127.0.0.1:6379) under a prefix of its own. Returns the database's
    /// name too.
    pub async fn start_on_postgres(extra_toml: &str) -> anyhow::Result<(Self, String)> {
        let redis = std::env::var("PASSERELLE_TEST_REDIS")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        Self::start_on_postgres_and(extra_toml, &redis).await
    }

    /// [`Federation::start_on_postgres`] with the Redis at `redis`.
    pub async fn start_on_postgres_and(
        extra_toml: &str,
        redis: &str,
    ) -> anyhow::Result<(Self, String)> {
        let server = std::env::var("PASSERELLE_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
        let token = oidc::types::random_token(8);
        let name = format!(
            "passerelle_test_{}",
            token
                .bytes()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        );
        let admin = sqlx::PgPool::connect(&format!("{server}/postgres")).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await?;
        admin.close().await;
        let url = format!("{server}/{name}");
        let store = format!(
            "\n[store]\nurl = \"{url}\"\nephemeral_url = \"{redis}\"\nkey_prefix = \"{name}:\"\n"
        );
        let federation =
            Self::start_from(|text| text, &format!("{extra_toml}{store}"), None).await?;
        Ok((federation, name))
    }

    /// Stops the federation and drops the database
    /// [`Federation::start_on_postgres`] made for it.
    pub async fn drop_postgres(self, database: &str) -> anyhow::Result<()> {
        drop(self);
        let server = std::env::var("PASSERELLE_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
        let admin = sqlx::PgPool::connect(&format!("{server}/postgres")).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(())
    }

    /// Starts it with its data (SQLite files, keys) in `dir`, as the demo runs.
    pub async fn start_on_disk(dir: &std::path::Path) -> anyhow::Result<Self> {
        Self::start_in("", Some(dir.to_path_buf())).await
    }

    async fn start_in(
        extra_toml: &str,
        data_dir: Option<std::path::PathBuf>,
    ) -> anyhow::Result<Self> {
        Self::start_from(|text| text, extra_toml, data_dir).await
    }

    async fn start_from(
        edit: impl FnOnce(String) -> String,
        extra_toml: &str,
        data_dir: Option<std::path::PathBuf>,
    ) -> anyhow::Result<Self> {
        let mut listeners = BTreeMap::new();
        let mut text = edit(
            passerelle::DEMO_CONFIG
                .replace("size = 1000", "size = 200")
                .replace("transport = \"folder\"", "transport = \"memory\"")
                .replace("seed_accounts = 20", "seed_accounts = 6"),
        );
        let mut urls = BTreeMap::new();
        for (name, port) in DEMO_PORTS {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
            text = text.replace(&format!("http://127.0.0.1:{port}"), &url);
            urls.insert(name.to_owned(), url);
            listeners.insert(name.to_owned(), listener);
        }
        // The metrics' own address, when the config has [metrics].
        if text.contains("\n[metrics]") || extra_toml.contains("\n[metrics]") {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            urls.insert(
                "metrics".to_owned(),
                format!("http://127.0.0.1:{}", listener.local_addr()?.port()),
            );
            listeners.insert("metrics".to_owned(), listener);
        }
        let clock = FakeClock::at(1_800_000_000);
        let rogue = RogueProvider::start(Arc::new(clock.clone())).await?;
        let hub = urls.get("hub_standard").cloned().unwrap_or_default();
        let hub_plus = urls.get("hub_plus").cloned().unwrap_or_default();
        if !text.contains(NO_ROGUE) {
            text.push_str(&format!(
            "\n[[hub.standard.providers]]\nid = \"rogue\"\nname = \"Fournisseur piégé\"\nissuer = \"{}\"\nclient_id = \"passerelle-hub\"\nclient_secret = \"rogue-secret-0123456789abcdef0123456789\"\nacr = [\"eidas1\", \"eidas2\"]\n",
            rogue.url()
        ));
        }
        urls.insert("rogue".into(), rogue.url().to_owned());
        text.push_str(extra_toml);
        let config = Config::parse(&text, [])?;
        if config.store.url.is_some() {
            passerelle::federation::migrate(&config).await?;
        }
        let options = Options {
            data_dir: data_dir.clone(),
            clock: Arc::new(clock.clone()),
            listeners,
        };
        let running = passerelle::start(&config, options).await?;
        Ok(Self {
            running,
            clock,
            issuer: format!("{hub}/api/v2"),
            hub,
            hub_plus,
            urls,
            sandbox_key: jose::DecryptionKey::generate(jose::KeyAlg::EcdhEs)?,
            rogue,
            config,
            data_dir,
        })
    }

    /// Starts a second hub process-alike: the same config, its own store
    /// handle on the same SQLite file and the same keys read from disk, on
    /// another port (a load balancer would send both the same traffic).
    /// Returns its base URL. Needs a federation started on disk.
    pub async fn second_hub(&self) -> anyhow::Result<String> {
        let dir = self
            .data_dir
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("start_on_disk first"))?;
        let config = self
            .config
            .hub
            .get("standard")
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no standard hub"))?;
        let parts = hub::HubParts {
            id: "standard".into(),
            config,
            keys: passerelle::keys::load_or_generate(
                Some(&dir.join("keys")),
                "hub_standard",
                oidc::Clock::now(&self.clock),
            )?,
            stores: store::Stores::sqlite(&dir.join("hub_standard.sqlite")).await?,
            clock: Arc::new(self.clock.clone()),
            http: oidc::rp::RelyingParty::http_client().map_err(anyhow::Error::msg)?,
            mailer: None,
            trail: None,
            hash_pool: None,
            metrics: None,
        };
        let hub = hub::Hub::new(parts).map_err(|error| anyhow::anyhow!("{error}"))?;
        tokio::spawn(hub::backchannel::work(hub.clone()));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        tokio::spawn(async move { axum::serve(listener, hub::router(hub)).await });
        Ok(url)
    }

    /// A part's base URL.
    pub fn url(&self, part: &str) -> &str {
        self.urls.get(part).map_or("", String::as_str)
    }

    /// The emails sent so far (the mail transport is memory).
    pub fn mails(&self) -> Vec<mail::Sent> {
        self.running
            .mailer
            .as_ref()
            .map(|mailer| mailer.sent())
            .unwrap_or_default()
    }

    /// Delivers what waits in the outbox now (without waiting for the
    /// worker), then returns every email sent so far.
    pub async fn delivered_mails(&self) -> Vec<mail::Sent> {
        let Some(mailer) = &self.running.mailer else {
            return Vec::new();
        };
        let outbox = self
            .running
            .stores
            .get("mail")
            .map(|stores| stores.outbox.clone());
        // The worker may hold a message it is sending: wait for it to go.
        for _ in 0..200 {
            let _ = mailer.deliver_due().await;
            let waiting = match &outbox {
                Some(outbox) => outbox.waiting().await.unwrap_or(0),
                None => 0,
            };
            if waiting == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.mails()
    }

    /// Storage writes done by the standard hub so far.
    pub fn hub_writes(&self) -> u64 {
        self.running
            .stores
            .get("hub_standard")
            .map_or(0, store::Stores::writes)
    }

    /// An authorize URL of the sandbox service, with these parameters
    /// replacing or removing (empty value) the defaults.
    pub fn authorize_url(&self, overrides: &[(&str, &str)]) -> String {
        let mut params: BTreeMap<&str, &str> = BTreeMap::from([
            ("response_type", "code"),
            ("client_id", SANDBOX_ID),
            ("redirect_uri", SANDBOX_CALLBACK),
            ("scope", "openid identite_pivot email preferred_username"),
            ("state", "state-of-the-service"),
            ("nonce", "nonce-of-the-service-0123456789"),
            ("acr_values", "eidas1"),
        ]);
        for (name, value) in overrides {
            if value.is_empty() {
                params.remove(name);
            } else {
                params.insert(name, value);
            }
        }
        let mut url =
            url::Url::parse(&format!("{}/authorize", self.issuer)).expect("the issuer is a URL");
        url.query_pairs_mut().extend_pairs(params);
        url.into()
    }

    /// The login of a seeded citizen at a provider (tax number, NIR, email).
    pub fn login_of(&self, provider: &str, citizen_id: u32) -> String {
        let citizen = self
            .running
            .citizens
            .iter()
            .find(|citizen| citizen.id == citizen_id);
        let kind = self
            .config
            .idp_password
            .iter()
            .find(|idp| idp.id == provider)
            .map(|idp| idp.login);
        match (kind, citizen) {
            (Some(kind), Some(citizen)) => idp_password::login_of(citizen, kind),
            _ => String::new(),
        }
    }

    /// Redeems a code of the sandbox service and reads the userinfo: the
    /// identity the service gets, signature checked.
    pub async fn sandbox_userinfo(
        &self,
        code: &str,
    ) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
        let http = reqwest::Client::new();
        let tokens: serde_json::Value = http
            .post(format!("{}/token", self.issuer))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", SANDBOX_CALLBACK),
                ("client_id", SANDBOX_ID),
                ("client_secret", SANDBOX_SECRET),
            ])
            .send()
            .await?
            .json()
            .await?;
        let access_token = tokens["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no access token: {tokens}"))?;
        let jwt = http
            .get(format!("{}/userinfo", self.issuer))
            .bearer_auth(access_token)
            .send()
            .await?
            .text()
            .await?;
        let keys = jose::PublicKeySet::from_json(
            &reqwest::get(format!("{}/jwks", self.issuer))
                .await?
                .text()
                .await?,
        )?;
        Ok(jose::verify(&jwt, &keys, &[jose::Alg::ES256])?)
    }

    /// A password provider of the federation.
    pub fn idp(&self, id: &str) -> Option<&Arc<idp_password::PasswordProvider>> {
        self.running.idps.get(id)
    }

    /// The text messages sent so far (the SMS transport is memory).
    pub fn texts(&self) -> Vec<idp_password::sms::Sms> {
        self.running
            .sms
            .as_ref()
            .map(idp_password::sms::SmsGateway::sent)
            .unwrap_or_default()
    }
}
