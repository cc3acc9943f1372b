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
mod floor;
mod instant;
pub mod load;
mod publisher;
mod rogue;
pub mod services;
pub mod smtp;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use citizen::{Citizen, Response, absolute};
pub use floor::serve_floor;
pub use instant::{INSTANT_ID, InstantProvider};
use oidc::FakeClock;
use passerelle::config::StoreConfig;
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
    /// made a plus one ([`Builder::plus`]).
    pub sandbox_key: jose::DecryptionKey,
    /// The rogue provider.
    pub rogue: RogueProvider,
    /// The config it runs.
    pub config: Config,
    /// Where its data is, when on disk.
    pub data_dir: Option<std::path::PathBuf>,
    /// Its database, when on PostgreSQL.
    pub database: Option<String>,
}

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

/// Where a federation keeps its data.
#[derive(Debug, Default)]
enum Storage {
    /// In memory (the default).
    #[default]
    Memory,
    /// SQLite files and keys in a folder, as the demo runs.
    Disk(std::path::PathBuf),
    /// A database of its own on the test PostgreSQL, what expires in Redis.
    Postgres {
        /// The Redis URL.
        redis: String,
    },
}

/// A change to the federation's config, made on the parsed config: typed,
/// and checked again after.
type Edit = Box<dyn FnOnce(&mut Config) + Send>;

/// How to start a federation: the demo config (200 citizens, 6 accounts per
/// provider, mail in memory) on free ports of 127.0.0.1 and a fake clock,
/// plus the rogue provider, unless told otherwise.
#[must_use]
pub struct Builder {
    toml: String,
    rogue: bool,
    plus: bool,
    edits: Vec<Edit>,
    storage: Storage,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("rogue", &self.rogue)
            .field("plus", &self.plus)
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// More config, appended to the demo's (extra `[[hub.services]]`…).
    pub fn toml(mut self, extra: &str) -> Self {
        self.toml.push_str(extra);
        self
    }

    /// Without the rogue provider: the federation as `passerelle demo` runs
    /// it (the browser tests' screenshots).
    pub fn without_rogue(mut self) -> Self {
        self.rogue = false;
        self
    }

    /// The standard hub made a FranceConnect+ platform (eidas2 and eidas3):
    /// the impots provider proving eidas3 and ameli only eidas1, its
    /// services' tokens encrypted (the sandbox's and the dashboard's to
    /// [`Federation::sandbox_key`], the portal's to the portal's key).
    pub fn plus(mut self) -> Self {
        self.plus = true;
        self
    }

    /// A change to the parsed config (its URLs already the test's).
    pub fn edit(mut self, edit: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.edits.push(Box::new(edit));
        self
    }

    /// A change to the standard hub's config.
    pub fn hub(self, edit: impl FnOnce(&mut hub::Config) + Send + 'static) -> Self {
        self.edit(|config| {
            if let Some(hub) = config.hub.get_mut("standard") {
                edit(hub);
            }
        })
    }

    /// The pages in the DSFR theme, from the npm package installed in
    /// `themes/` (`./scripts/test` runs `npm ci` there).
    pub fn dsfr(self) -> Self {
        let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../themes/node_modules/@gouvfr/dsfr/dist");
        self.edit(move |config| {
            config.web.theme = web::ThemeKind::Dsfr;
            config.web.dsfr_dir = dist;
        })
    }

    /// Its data (SQLite files, keys) in `dir`, as the demo runs.
    pub fn on_disk(mut self, dir: &std::path::Path) -> Self {
        self.storage = Storage::Disk(dir.to_path_buf());
        self
    }

    /// [`Builder::on_disk`], what expires included (the demo keeps it in
    /// memory): processes sharing the folder share everything.
    pub fn all_on_disk(self, dir: &std::path::Path) -> Self {
        self.on_disk(dir)
            .edit(|config| config.store.ephemeral_url = None)
    }

    /// On PostgreSQL and Redis, as a production federation runs: a database
    /// of its own on the test server (`PASSERELLE_TEST_POSTGRES`, else
    /// 127.0.0.1:5432), every part in its schema, migrated first, and what
    /// expires in the test Redis (`PASSERELLE_TEST_REDIS`, else
    /// 127.0.0.1:6379) under a prefix of its own. [`Federation::drop_postgres`]
    /// drops the database.
    pub fn on_postgres(self) -> Self {
        let redis = std::env::var("PASSERELLE_TEST_REDIS")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        self.on_postgres_and(&redis)
    }

    /// [`Builder::on_postgres`] with the Redis at `redis`.
    pub fn on_postgres_and(mut self, redis: &str) -> Self {
        self.storage = Storage::Postgres {
            redis: redis.to_owned(),
        };
        self
    }

    /// Starts it.
    pub async fn start(self) -> anyhow::Result<Federation> {
        let mut listeners = BTreeMap::new();
        let mut text = passerelle::DEMO_CONFIG
            .replace("size = 1000", "size = 200")
            .replace("transport = \"folder\"", "transport = \"memory\"")
            .replace("seed_accounts = 20", "seed_accounts = 6");
        let mut urls = BTreeMap::new();
        for (name, port) in DEMO_PORTS {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
            text = text.replace(&format!("http://127.0.0.1:{port}"), &url);
            urls.insert(name.to_owned(), url);
            listeners.insert(name.to_owned(), listener);
        }
        // The metrics' own address, when the config has [metrics].
        if text.contains("\n[metrics]") || self.toml.contains("\n[metrics]") {
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
        if self.rogue {
            text.push_str(&format!(
                "\n[[hub.standard.providers]]\nid = \"rogue\"\nname = \"Fournisseur piégé\"\nissuer = \"{}\"\nclient_id = \"passerelle-hub\"\nclient_secret = \"rogue-secret-0123456789abcdef0123456789\"\nacr = [\"eidas1\", \"eidas2\"]\n",
                rogue.url()
            ));
        }
        urls.insert("rogue".into(), rogue.url().to_owned());
        text.push_str(&self.toml);
        let mut config = Config::parse(&text, [])?;
        let database = match &self.storage {
            Storage::Postgres { redis } => {
                let name = create_database().await?;
                config.store = StoreConfig {
                    url: Some(format!("{}/{name}", postgres_server())),
                    ephemeral_url: Some(redis.clone()),
                    key_prefix: format!("{name}:"),
                };
                Some(name)
            }
            Storage::Memory | Storage::Disk(_) => None,
        };
        let sandbox_key = jose::DecryptionKey::generate(jose::KeyAlg::EcdhEs)?;
        if self.plus {
            make_plus(&mut config, &urls, &sandbox_key)?;
        }
        for edit in self.edits {
            edit(&mut config);
        }
        config.check()?;
        if config.store.url.is_some() {
            passerelle::federation::migrate(&config).await?;
        }
        let data_dir = match self.storage {
            Storage::Disk(dir) => Some(dir),
            Storage::Memory | Storage::Postgres { .. } => None,
        };
        let options = Options {
            data_dir: data_dir.clone(),
            clock: Arc::new(clock.clone()),
            listeners,
        };
        let running = passerelle::start(&config, options).await?;
        Ok(Federation {
            running,
            clock,
            issuer: format!("{hub}/api/v2"),
            hub,
            hub_plus,
            urls,
            sandbox_key,
            rogue,
            config,
            data_dir,
            database,
        })
    }
}

/// The test PostgreSQL server.
fn postgres_server() -> String {
    std::env::var("PASSERELLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A database of its own on the test server; its name.
async fn create_database() -> anyhow::Result<String> {
    let token = oidc::types::random_token(8);
    let name = format!(
        "passerelle_test_{}",
        base16ct::lower::encode_string(token.as_bytes())
    );
    let admin = sqlx::PgPool::connect(&format!("{}/postgres", postgres_server())).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(name)
}

/// The standard hub made a plus platform ([`Builder::plus`]).
fn make_plus(
    config: &mut Config,
    urls: &BTreeMap<String, String>,
    sandbox_key: &jose::DecryptionKey,
) -> anyhow::Result<()> {
    use oidc::Acr;
    let jwks = serde_json::json!({ "keys": [sandbox_key.public_key()?.to_json()] }).to_string();
    let portal_keys = format!("{}/jwks", urls.get("demo_sp").map_or("", String::as_str));
    let hub = config
        .hub
        .get_mut("standard")
        .ok_or_else(|| anyhow::anyhow!("no standard hub"))?;
    hub.platform = hub::Platform::Plus;
    hub.acr_offered = None;
    for provider in &mut hub.providers {
        if provider.id == "impots" {
            provider.acr = vec![Acr::Eidas2, Acr::Eidas3];
        }
    }
    for service in &mut hub.services {
        service.scopes.retain(|scope| scope != "idp_birthdate");
        let keys = match service.client_id.as_str() {
            "sandbox" | "dashboard" => (Some(jwks.clone()), None),
            "demo-sp" | "demarche-ants" | "demarche-impots" => (None, Some(portal_keys.clone())),
            _ => continue,
        };
        service.encryption_alg = Some(jose::KeyAlg::EcdhEs);
        (service.jwks, service.jwks_uri) = keys;
    }
    for idp in &mut config.idp_password {
        if idp.id == "impots" {
            idp.acr = Acr::Eidas3;
        }
    }
    Ok(())
}

impl Federation {
    /// How to start one; [`Builder::start`] starts it.
    pub fn builder() -> Builder {
        Builder {
            toml: String::new(),
            rogue: true,
            plus: false,
            edits: Vec::new(),
            storage: Storage::Memory,
        }
    }

    /// Starts the demo federation (a smaller one: 200 citizens, 6 accounts
    /// per provider) plus the rogue provider, known to the standard hub as
    /// `rogue`, configured for eidas1 and eidas2 (it always proves eidas1).
    pub async fn start() -> anyhow::Result<Self> {
        Self::builder().start().await
    }

    /// Stops the federation and drops the database [`Builder::on_postgres`]
    /// made for it.
    pub async fn drop_postgres(self) -> anyhow::Result<()> {
        let Some(database) = self.database.clone() else {
            return Ok(());
        };
        drop(self);
        let admin = sqlx::PgPool::connect(&format!("{}/postgres", postgres_server())).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(())
    }

    /// Starts a second hub process-alike: the same config, its own store
    /// handle on the same SQLite file and the same keys read from disk, on
    /// another port (a load balancer would send both the same traffic).
    /// Returns its base URL. Needs a federation started [`Builder::on_disk`]
    /// with what expires in the file too ([`Builder::all_on_disk`]).
    pub async fn second_hub(&self) -> anyhow::Result<String> {
        let dir = self
            .data_dir
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("start it on disk (Builder::on_disk) first"))?;
        if self.config.store.ephemeral_url.is_some() {
            anyhow::bail!("what expires is not in the file: start it with Builder::all_on_disk");
        }
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

    /// The sandbox service's login, in `citizen`'s browser, followed
    /// through the hub's choice of `provider` to its login page.
    pub async fn provider_login_page(&self, citizen: &Citizen, provider: &str) -> Response {
        citizen
            .provider_login_page(
                &self.authorize_url(&[]),
                &self.hub,
                provider,
                SANDBOX_CALLBACK,
            )
            .await
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
