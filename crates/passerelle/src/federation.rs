//! Composition: builds each configured part and serves it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use oidc::Clock;
use oidc::rp::RelyingParty;
use population::Citizen;
use store::Stores;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{Config, StoreConfig};
use crate::keys;

/// How to run the parts.
#[derive(Debug)]
pub struct Options {
    /// Data folder (SQLite files, keys); `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Listeners already bound, by part (tests bind port 0 first).
    pub listeners: BTreeMap<String, TcpListener>,
}

/// A part being served.
#[derive(Clone, Debug)]
pub struct Part {
    /// Part name (`hub`, `register`, `demo_sp`, a provider's id).
    pub name: String,
    /// What it is, for people.
    pub label: String,
    /// Its public URL.
    pub url: String,
}

/// The running federation.
#[derive(Debug)]
pub struct Running {
    /// The parts, in start order.
    pub parts: Vec<Part>,
    /// Seeded accounts by provider name.
    pub accounts: Vec<(String, String, Vec<idp_password::SeededAccount>)>,
    /// Each part's storage, by part name (tests count writes).
    pub stores: BTreeMap<String, Stores>,
    /// The population.
    pub citizens: Arc<Vec<Citizen>>,
    /// The mailer, when mail is configured (tests read what it sent).
    pub mailer: Option<Arc<mail::Mailer>>,
    /// The text-message gateway, when `[sms]` is set (tests read it).
    pub sms: Option<idp_password::sms::SmsGateway>,
    /// The password providers, by id.
    pub idps: BTreeMap<String, Arc<idp_password::PasswordProvider>>,
    /// The wallet provider, when `[idp_wallet]` is set.
    pub wallet: Option<Arc<idp_wallet::WalletProvider>>,
    /// The test PKI's personalisation side (it issues cards), with the
    /// wallet provider.
    pub card_pki: Option<card::pki::TestPki>,
    /// The process's metrics.
    pub metrics: web::Metrics,
    /// The OpenID providers of the parts, by part name, whose signing keys
    /// are reread from their files ([`Running::reload_keys`]).
    key_holders: Vec<(String, Arc<oidc::op::Provider>)>,
    /// Where the key files are, when on disk.
    keys_dir: Option<PathBuf>,
    /// The trail's chain keys the hubs and the dashboard of this process
    /// share, reread with the signing keys.
    trail_keys: Option<Arc<store::TrailKeyRing>>,
    clock: Arc<dyn Clock>,
    /// The theme's routes, served by every part.
    theme: axum::Router,
    tasks: Vec<JoinHandle<()>>,
}

/// How often a running process rereads its key files: a rotation made on
/// one machine (`passerelle keys rotate` on the shared folder) is signed
/// with and served by every process within this time.
pub const KEY_RELOAD_EVERY: Duration = Duration::from_secs(60);

/// Rereads each part's key file and gives its provider the keys when they
/// changed (a rotation, or retired keys past their grace period); returns
/// the parts whose keys changed.
fn reload_keys(
    holders: &[(String, Arc<oidc::op::Provider>)],
    trail_keys: Option<&store::TrailKeyRing>,
    dir: &std::path::Path,
    now: oidc::UnixSeconds,
) -> Vec<String> {
    let mut changed = Vec::new();
    if let Some(ring) = trail_keys {
        match keys::load_or_generate_trail(Some(dir), now) {
            Ok(keys) => {
                if ring.replace(keys) {
                    tracing::info!(
                        current = ring.ids().first().map_or("", String::as_str),
                        "trail keys reloaded"
                    );
                    changed.push("trail".to_owned());
                }
            }
            Err(error) => tracing::warn!(%error, "trail key file unreadable: the keys in use stay"),
        }
    }
    for (part, provider) in holders {
        let keys = match keys::load_or_generate(Some(dir), part, now) {
            Ok(keys) => keys,
            Err(error) => {
                tracing::warn!(%part, %error, "key file unreadable: the keys in use stay");
                continue;
            }
        };
        let kids: Vec<String> = keys.keys().iter().map(|key| key.kid().to_owned()).collect();
        if kids == provider.key_ids() {
            continue;
        }
        match provider.replace_keys(keys) {
            Ok(()) => {
                tracing::info!(%part, current = kids.first().map_or("", String::as_str), "signing keys reloaded");
                changed.push(part.clone());
            }
            Err(error) => tracing::warn!(%part, %error, "reloaded keys refused"),
        }
    }
    changed
}

impl Running {
    /// Waits until a server stops (which normally never happens).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        for task in std::mem::take(&mut self.tasks) {
            task.await?;
        }
        Ok(())
    }

    /// Rereads the parts' key files now (the process does it every
    /// [`KEY_RELOAD_EVERY`]); returns the parts whose keys changed.
    pub fn reload_keys(&self) -> Vec<String> {
        match &self.keys_dir {
            Some(dir) => reload_keys(
                &self.key_holders,
                self.trail_keys.as_deref(),
                dir,
                self.clock.now(),
            ),
            None => Vec::new(),
        }
    }

    /// Stops every server.
    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts every part the config describes.
pub async fn start(config: &Config, mut options: Options) -> anyhow::Result<Running> {
    let http = RelyingParty::http_client().map_err(anyhow::Error::msg)?;
    // A theme that cannot be served stops the start, before anything listens.
    let theme = web::theme_routes(&config.web)
        .map_err(|message| anyhow::anyhow!("bad setting {message}"))?
        .layer(axum::middleware::map_response(web::security_headers));
    let keys_dir = options.data_dir.as_ref().map(|dir| dir.join("keys"));
    let mut running = Running {
        parts: Vec::new(),
        accounts: Vec::new(),
        stores: BTreeMap::new(),
        citizens: Arc::new(Vec::new()),
        mailer: None,
        sms: None,
        idps: BTreeMap::new(),
        wallet: None,
        card_pki: None,
        metrics: web::Metrics::default(),
        key_holders: Vec::new(),
        keys_dir: None,
        trail_keys: None,
        clock: options.clock.clone(),
        theme,
        tasks: Vec::new(),
    };
    if config.register.is_some()
        || config.data_provider.is_some()
        || !config.idp_password.is_empty()
    {
        running.citizens = Arc::new(match &config.population.csv {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading population.csv {}", path.display()))?;
                population::parse_csv(&text)
                    .with_context(|| format!("bad setting population.csv {}", path.display()))?
            }
            None => population::generate(config.population.seed, config.population.size),
        });
    }
    let now = options.clock.now();
    // One Argon2id pool for the whole process (passwords, agents, hashed
    // client secrets): its memory is bounded by its workers.
    let hash_pool = oidc::HashPool::per_core().context("starting the password hashing threads")?;

    if let Some(register) = &config.register {
        let router = register::router(running.citizens.to_vec());
        serve(
            &mut running,
            &mut options,
            config,
            "register",
            "Registre national (démo)",
            &register.public_url,
            router,
        )
        .await?;
    }
    if let Some(provider) = &config.data_provider {
        let router = data_provider::router(
            provider.clone(),
            running.citizens.clone(),
            http.clone(),
            options.clock.clone(),
        );
        serve(
            &mut running,
            &mut options,
            config,
            "data_provider",
            "Données fiscales (démo)",
            &provider.public_url,
            router,
        )
        .await?;
    }
    let demarches_mail = config
        .demo_sp
        .as_ref()
        .is_some_and(|demo| !demo.demarches.is_empty());
    if let Some(mail_config) = &config.mail
        && (!config.hub.is_empty()
            || !config.idp_password.is_empty()
            || config.idp_wallet.is_some()
            || demarches_mail)
    {
        let stores = open_stores(config, &options, "mail").await?;
        let transport = mail_config
            .transport(options.data_dir.as_deref())
            .map_err(|message| anyhow::anyhow!("bad setting mail: {message}"))?;
        let mailer = mail::Mailer::new(
            &mail_config.from,
            transport,
            stores.outbox.clone(),
            keys::load_or_generate_secret(keys_dir.as_deref(), "mail")?,
            options.clock.clone(),
        )
        .map_err(|message| anyhow::anyhow!("bad setting mail.from: {message}"))?;
        running.stores.insert("mail".into(), stores);
        running.tasks.push(tokio::spawn(mailer.clone().run()));
        running.mailer = Some(mailer);
    }
    let sms = config
        .sms
        .as_ref()
        .map(|settings| settings.gateway(options.data_dir.as_deref(), http.clone()));
    running.sms = sms.clone();
    for idp_config in &config.idp_password {
        let stores = open_stores(config, &options, &format!("idp-{}", idp_config.id)).await?;
        let keys =
            keys::load_or_generate(keys_dir.as_deref(), &format!("idp-{}", idp_config.id), now)?;
        let seeded =
            idp_password::seed_accounts(&stores, idp_config, &running.citizens, now, &hash_pool)
                .await
                .with_context(|| format!("seeding accounts of {}", idp_config.id))?;
        let idp = idp_password::PasswordProvider::new(idp_password::IdpParts {
            config: idp_config.clone(),
            keys,
            stores: stores.clone(),
            clock: options.clock.clone(),
            citizens: running.citizens.clone(),
            mailer: running.mailer.clone(),
            sms: sms.clone(),
            hash_pool: hash_pool.clone(),
        })?;
        running.idps.insert(idp_config.id.clone(), idp.clone());
        running
            .key_holders
            .push((format!("idp-{}", idp_config.id), idp.provider.clone()));
        running
            .accounts
            .push((idp_config.id.clone(), idp_config.name.clone(), seeded));
        running.stores.insert(idp_config.id.clone(), stores);
        let router = idp_password::router(idp);
        serve(
            &mut running,
            &mut options,
            config,
            &idp_config.id,
            &idp_config.name,
            &idp_config.public_url,
            router,
        )
        .await?;
    }
    if let Some(wallet_config) = &config.idp_wallet {
        let part = format!("idp-{}", wallet_config.id);
        let stores = open_stores(config, &options, &part).await?;
        let keys = keys::load_or_generate(keys_dir.as_deref(), &part, now)?;
        let (pki, trust) =
            crate::cards::load_or_create_pki(&wallet_config.pki, options.data_dir.as_deref(), now)?;
        let licence_pki = match wallet_config.licence_register {
            Some(_) => Some(crate::cards::load_or_create_licence_pki(
                &wallet_config.pki,
                options.data_dir.as_deref(),
                now,
            )?),
            None => None,
        };
        let idp = idp_wallet::WalletProvider::new(idp_wallet::WalletParts {
            config: wallet_config.clone(),
            keys,
            stores: stores.clone(),
            clock: options.clock.clone(),
            trust,
            seal_signer: pki.as_ref().map(|pki| pki.seal_signer.clone()),
            licence_pki,
            mailer: running.mailer.clone(),
            hash_pool: hash_pool.clone(),
        })?;
        running.tasks.push(tokio::spawn(idp.clone().run_jobs()));
        running
            .key_holders
            .push((part.clone(), idp.provider.clone()));
        running.wallet = Some(idp.clone());
        running.card_pki = pki;
        running.stores.insert(wallet_config.id.clone(), stores);
        serve(
            &mut running,
            &mut options,
            config,
            &wallet_config.id,
            &wallet_config.name,
            &wallet_config.public_url,
            idp_wallet::router(idp),
        )
        .await?;
    }
    let trail_stores = match &config.traces {
        Some(_) if !config.hub.is_empty() || config.dashboard.is_some() => {
            let stores = open_stores(config, &options, "traces").await?;
            running.stores.insert("traces".into(), stores.clone());
            Some(stores)
        }
        _ => None,
    };
    let trail_keys =
        store::TrailKeyRing::new(keys::load_or_generate_trail(keys_dir.as_deref(), now)?);
    running.trail_keys = Some(trail_keys.clone());
    let trail = config
        .traces
        .as_ref()
        .zip(trail_stores.as_ref())
        .map(|(settings, stores)| hub::Trail {
            config: settings.clone(),
            traces: stores.traces.clone(),
            preferences: stores.preferences.clone(),
            keys: trail_keys.clone(),
            revocations: stores.revocations.clone(),
        });
    for (id, hub_config) in config.hubs_in_order() {
        let part = Config::hub_part(id);
        let stores = open_stores(config, &options, &part).await?;
        let parts = hub::HubParts {
            id: id.clone(),
            config: hub_config.clone(),
            keys: keys::load_or_generate(keys_dir.as_deref(), &part, now)?,
            stores: stores.clone(),
            clock: options.clock.clone(),
            http: http.clone(),
            mailer: running.mailer.clone(),
            trail: trail.clone(),
            hash_pool: Some(hash_pool.clone()),
            metrics: Some(running.metrics.clone()),
        };
        let hub = hub::Hub::new(parts)?;
        running
            .key_holders
            .push((part.clone(), hub.provider.clone()));
        running
            .tasks
            .push(tokio::spawn(hub::revoke::watch(hub.clone())));
        running
            .tasks
            .push(tokio::spawn(hub::backchannel::work(hub.clone())));
        running.stores.insert(part.clone(), stores);
        serve(
            &mut running,
            &mut options,
            config,
            &part,
            &hub_config.name,
            &hub_config.public_url,
            hub::router(hub),
        )
        .await?;
    }
    if let Some(demo) = &config.demo_sp {
        let stores = open_stores(config, &options, "demo-sp").await?;
        let service = demo_sp::DemoService::new(
            demo.clone(),
            demo_sp::DemoParts {
                decryption_key: keys::load_or_generate_decryption(keys_dir.as_deref(), "demo-sp")?,
                stores: stores.clone(),
                clock: options.clock.clone(),
                http: http.clone(),
                mailer: running.mailer.clone(),
            },
        )?;
        running.stores.insert("demo_sp".into(), stores);
        serve(
            &mut running,
            &mut options,
            config,
            "demo_sp",
            &demo.name,
            &demo.public_url,
            demo_sp::router(service),
        )
        .await?;
    }
    if let (Some(settings), Some(stores)) = (&config.dashboard, &trail_stores) {
        let sessions = open_stores(config, &options, "dashboard").await?;
        let mut providers: Vec<(String, String)> = Vec::new();
        for (_, hub_config) in config.hubs_in_order() {
            for provider in &hub_config.providers {
                if !providers.iter().any(|(id, _)| *id == provider.id) {
                    providers.push((provider.id.clone(), provider.name.clone()));
                }
            }
        }
        let parts = dashboard::DashboardParts {
            sessions: sessions.sessions.clone(),
            logouts: sessions.tokens.clone(),
            traces: stores.traces.clone(),
            retention_secs: config
                .traces
                .as_ref()
                .map_or(0, hub::TrailConfig::retention_secs),
            preferences: stores.preferences.clone(),
            revocations: stores.revocations.clone(),
            trail_keys: trail_keys.clone(),
            providers,
            clock: options.clock.clone(),
            http: http.clone(),
        };
        let app = dashboard::Dashboard::new(settings.clone(), parts)?;
        running.stores.insert("dashboard".into(), sessions);
        serve(
            &mut running,
            &mut options,
            config,
            "dashboard",
            "Tableau de bord",
            &settings.public_url,
            dashboard::router(app),
        )
        .await?;
    }
    if let Some(dir) = keys_dir.clone() {
        running.keys_dir = Some(dir.clone());
        let holders = running.key_holders.clone();
        let trail_keys = running.trail_keys.clone();
        let clock = options.clock.clone();
        running.tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(KEY_RELOAD_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                reload_keys(&holders, trail_keys.as_deref(), &dir, clock.now());
            }
        }));
    }
    if let Some(metrics) = &config.metrics {
        let listener = match options.listeners.remove("metrics") {
            Some(listener) => listener,
            None => TcpListener::bind(metrics.listen)
                .await
                .with_context(|| format!("metrics cannot listen on {}", metrics.listen))?,
        };
        let parts: Vec<(String, Stores)> = running
            .stores
            .iter()
            .map(|(part, stores)| (part.clone(), stores.clone()))
            .collect();
        let router = web::metrics_routes(running.metrics.clone(), parts);
        running.tasks.push(tokio::spawn(web::serve(
            listener,
            router,
            web::Bounds::PUBLIC,
        )));
    }
    let retention = config.traces.as_ref().map(hub::TrailConfig::retention_secs);
    let purged: Vec<Stores> = running.stores.values().cloned().collect();
    let clock = options.clock.clone();
    running.tasks.push(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            for stores in &purged {
                if let Err(error) = stores.purge_expired(clock.now()).await {
                    tracing::warn!(%error, "purge of expired rows failed");
                }
                if let Some(retention) = retention
                    && let Err(error) = stores.traces.forget_before(clock.now() - retention).await
                {
                    tracing::warn!(%error, "purge of old trail entries failed");
                }
            }
        }
    }));
    Ok(running)
}

/// A part's stores: its schema of `[store] url`, else its SQLite file in
/// the data folder, else memory; what expires goes to `ephemeral_url`
/// when set (Redis, or this process's memory).
async fn open_stores(config: &Config, options: &Options, name: &str) -> anyhow::Result<Stores> {
    let stores = match (&config.store.url, &options.data_dir) {
        (Some(url), _) => Stores::postgres(url, name)
            .await
            .with_context(|| format!("opening the {name} schema of store.url"))?,
        (None, Some(dir)) => {
            let path = dir.join(format!("{name}.sqlite"));
            Stores::sqlite(&path)
                .await
                .with_context(|| format!("opening {}", path.display()))?
        }
        (None, None) => Stores::memory(),
    };
    match &config.store.ephemeral_url {
        Some(url) if url == StoreConfig::MEMORY => Ok(stores.with_memory_ephemeral()),
        Some(url) => stores
            .with_redis(url, &format!("{}{name}:", config.store.key_prefix))
            .await
            .with_context(|| format!("opening store.ephemeral_url for {name}")),
        None => Ok(stores),
    }
}

/// The names of the parts whose stores `config` opens: each a schema of
/// `[store] url` (`passerelle migrate`).
pub fn store_parts(config: &Config) -> Vec<String> {
    let mut parts = Vec::new();
    if config.mail.is_some() {
        parts.push("mail".to_owned());
    }
    for idp in &config.idp_password {
        parts.push(format!("idp-{}", idp.id));
    }
    if let Some(wallet) = &config.idp_wallet {
        parts.push(format!("idp-{}", wallet.id));
    }
    if config.traces.is_some() {
        parts.push("traces".to_owned());
    }
    for (id, _) in config.hubs_in_order() {
        parts.push(Config::hub_part(id));
    }
    if config.demo_sp.is_some() {
        parts.push("demo-sp".to_owned());
    }
    if config.dashboard.is_some() {
        parts.push("dashboard".to_owned());
    }
    parts
}

/// Brings every part's schema of `[store] url` to this program's version;
/// returns each part with the version it was at.
pub async fn migrate(config: &Config) -> anyhow::Result<Vec<(String, i64)>> {
    let url = config
        .store
        .url
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("no [store] url: SQLite files migrate themselves"))?;
    let mut done = Vec::new();
    for part in store_parts(config) {
        let from = store::postgres::migrate(url, &part)
            .await
            .with_context(|| format!("migrating the {part} schema"))?;
        done.push((part, from));
    }
    Ok(done)
}

async fn serve(
    running: &mut Running,
    options: &mut Options,
    config: &Config,
    name: &str,
    label: &str,
    public_url: &str,
    router: axum::Router,
) -> anyhow::Result<()> {
    // Ready when its own stores answer, and the shared ones it writes to
    // (the mail queue, the trails).
    let readiness: Vec<Stores> = [name, "mail", "traces"]
        .iter()
        .filter_map(|part| running.stores.get(*part).cloned())
        .collect();
    let router = web::Frame::new(name, running.metrics.clone()).around(
        router
            .merge(running.theme.clone())
            .merge(web::health_routes(readiness)),
    );
    let listener = match options.listeners.remove(name) {
        Some(listener) => listener,
        None => {
            let address = match config.listen.parts.get(name) {
                Some(address) => *address,
                None => address_of(public_url)
                    .with_context(|| format!("no listen address for {name}"))?,
            };
            TcpListener::bind(address)
                .await
                .with_context(|| format!("{name} cannot listen on {address}"))?
        }
    };
    running.parts.push(Part {
        name: name.to_owned(),
        label: label.to_owned(),
        url: public_url.to_owned(),
    });
    running.tasks.push(tokio::spawn(web::serve(
        listener,
        router,
        web::Bounds::PUBLIC,
    )));
    Ok(())
}

/// The host and port of a URL, to bind when no `[listen]` entry says otherwise.
fn address_of(public_url: &str) -> Option<SocketAddr> {
    let url = url::Url::parse(public_url).ok()?;
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = url.port_or_known_default()?;
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}")
        .parse()
        .ok()
        .or_else(|| format!("[{host}]:{port}").parse().ok())
}
