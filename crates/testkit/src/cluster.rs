//! A federation of separate processes, as operators run it (issue 16): the
//! `passerelle` binary started once per part, three hub processes behind
//! HAProxy, the password providers and the register alone, on a PostgreSQL
//! and a Redis of the cluster's own (so that they can be stopped), with an
//! SMTP relay that keeps the mail. [`run_scenario`] puts it under load and
//! through its faults; the cluster test asserts on the [`Figures`], and
//! `scripts/cluster` prints them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::process::{Child, Command};

use crate::load::{self, Kind, Load, Report, Target};
use crate::services::{OwnPostgres, OwnRedis, free_port, wait_listening};
use crate::smtp::SmtpSink;

/// How many hub processes run behind the load balancer.
pub const HUBS: usize = 3;
const SANDBOX_SECRET: &str = "sandbox-secret-0123456789abcdef0123456789";
const PROVIDER_SECRET: &str = "cluster-hub-at-impots-0123456789abcdef01";
const PASSWORD: &str = "Passerelle-cluster-2026";
const ACCOUNTS: usize = 60;

/// A process of the cluster.
#[derive(Debug)]
struct Process {
    name: String,
    port: u16,
    child: Child,
}

/// The running cluster.
#[derive(Debug)]
pub struct Cluster {
    /// The hub's public base URL: HAProxy's.
    pub hub: String,
    /// The password provider's base URL.
    pub provider: String,
    /// The logins of the provider's seeded accounts.
    pub logins: Vec<String>,
    /// Their email addresses, by login: where the connection emails go.
    pub emails: BTreeMap<String, String>,
    /// The relay's mail.
    pub smtp: SmtpSink,
    /// The cluster's Redis.
    pub redis: OwnRedis,
    /// The cluster's PostgreSQL.
    pub postgres: OwnPostgres,
    hubs: Vec<Option<Process>>,
    others: Vec<Process>,
    haproxy: Child,
    dir: PathBuf,
}

impl Cluster {
    /// Starts everything with the `passerelle` binary at `binary`; the
    /// processes' output goes to files in a temporary folder (named in
    /// errors).
    pub async fn start(binary: &Path) -> anyhow::Result<Self> {
        Self::start_with(binary, HUBS, None).await
    }

    /// As [`Cluster::start`], with `hubs` hub processes behind HAProxy,
    /// each pinned to `hub_cpus` (a `taskset -c` list) when given.
    pub async fn start_with(
        binary: &Path,
        hubs: usize,
        hub_cpus: Option<&str>,
    ) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "passerelle-cluster-{}",
            oidc::types::random_token(6).to_lowercase()
        ));
        std::fs::create_dir_all(&dir)?;
        let (postgres, redis, smtp) =
            tokio::try_join!(OwnPostgres::start(), OwnRedis::start(), SmtpSink::start())?;
        postgres.create_database("passerelle").await?;
        let ports = Ports {
            balancer: free_port()?,
            provider: free_port()?,
            register: free_port()?,
            instant: free_port()?,
            hubs: (0..hubs).map(|_| free_port()).collect::<Result<_, _>>()?,
        };
        let config = dir.join("cluster.toml");
        let relay_certificate = dir.join("relay.pem");
        std::fs::write(&relay_certificate, &smtp.certificate)?;
        std::fs::write(
            &config,
            config_toml(&ports, &postgres, &redis, &smtp, &relay_certificate),
        )?;
        std::fs::write(dir.join("haproxy.cfg"), haproxy_cfg(&ports))?;

        let migrated = Command::new(binary)
            .args(["migrate", "--config"])
            .arg(&config)
            .output()
            .await?;
        anyhow::ensure!(
            migrated.status.success(),
            "passerelle migrate: {}",
            String::from_utf8_lossy(&migrated.stderr)
        );
        let part = |name: &str, command: &str, env: Option<(&str, u16)>| {
            spawn(binary, &dir, &config, name, command, env, None)
        };
        let mut others = vec![
            Process {
                name: "register".into(),
                port: ports.register,
                child: part("register", "register", None)?,
            },
            Process {
                name: "idp-password".into(),
                port: ports.provider,
                child: part("idp-password", "idp-password", None)?,
            },
        ];
        // The first hub makes the keys the others read from the shared
        // folder: it starts alone.
        let mut hubs = Vec::new();
        for (index, port) in ports.hubs.iter().enumerate() {
            let name = format!("hub{}", index + 1);
            let child = spawn(
                binary,
                &dir,
                &config,
                &name,
                "hub",
                Some(("PASSERELLE__LISTEN__HUB_STANDARD", *port)),
                hub_cpus,
            )?;
            let process = Process {
                name,
                port: *port,
                child,
            };
            ready(&dir, &process).await?;
            hubs.push(Some(process));
        }
        for process in &mut others {
            ready(&dir, process).await?;
        }
        let haproxy = Command::new(haproxy_binary())
            .arg("-db")
            .arg("-f")
            .arg(dir.join("haproxy.cfg"))
            .stdout(log_file(&dir, "haproxy")?)
            .stderr(log_file(&dir, "haproxy")?)
            .kill_on_drop(true)
            .spawn()
            .context("haproxy (Debian's haproxy package)")?;
        wait_listening(ports.balancer, Duration::from_secs(10)).await?;
        let hub = format!("http://127.0.0.1:{}", ports.balancer);
        wait_ready(&format!("{hub}/readyz"), Duration::from_secs(20)).await?;
        // The people with an account, the dead left out: the register refuses
        // them, so their logins would fail on purpose.
        let people: Vec<_> = population::generate(2026, 200)
            .into_iter()
            .take(ACCOUNTS)
            .filter(|citizen| citizen.deceased_on.is_none())
            .collect();
        let emails: BTreeMap<String, String> = people
            .iter()
            .map(|citizen| {
                (
                    idp_password::login_of(citizen, idp_password::LoginKind::TaxNumber),
                    citizen.email.clone(),
                )
            })
            .collect();
        let logins = emails.keys().cloned().collect();
        let instant = tokio::net::TcpListener::bind(("127.0.0.1", ports.instant)).await?;
        crate::InstantProvider::start(instant, people, std::sync::Arc::new(oidc::SystemClock))
            .await?;
        Ok(Self {
            hub,
            provider: format!("http://127.0.0.1:{}", ports.provider),
            logins,
            emails,
            smtp,
            redis,
            postgres,
            hubs,
            others,
            haproxy,
            dir,
        })
    }

    /// What the load tool needs to log in.
    pub fn target(&self) -> Target {
        Target {
            hub: self.hub.clone(),
            provider: "impots".into(),
            logins: self.logins.clone(),
            password: PASSWORD.into(),
            client_id: "sandbox".into(),
            client_secret: SANDBOX_SECRET.into(),
            redirect_uri: "http://localhost:8000/callback".into(),
            sso: false,
        }
    }

    /// As [`Cluster::target`], logging in through the instant provider,
    /// which asks for no password: the hubs' own limit, not Argon2id's.
    pub fn instant_target(&self) -> Target {
        Target {
            provider: crate::INSTANT_ID.into(),
            ..self.target()
        }
    }

    /// The running hub processes' ids.
    pub fn hub_pids(&self) -> Vec<u32> {
        self.hubs
            .iter()
            .flatten()
            .filter_map(|process| process.child.id())
            .collect()
    }

    /// `kill -9` of a hub process.
    pub async fn kill_hub(&mut self, index: usize) -> anyhow::Result<()> {
        let mut process = self
            .hubs
            .get_mut(index)
            .and_then(Option::take)
            .context("no such hub running")?;
        process.child.kill().await?;
        Ok(())
    }

    /// Where the processes write their logs.
    pub fn logs(&self) -> &Path {
        &self.dir
    }

    /// Checks every person's trail, as the dashboard does, with the chain
    /// keys of the shared key folder: returns how many trails and entries
    /// there are, and each finding (a fork, a broken link) by person.
    pub async fn check_trails(&self) -> anyhow::Result<(usize, usize, Vec<String>)> {
        use sqlx::Connection as _;
        let url = self.postgres.url("passerelle");
        let mut db = sqlx::PgConnection::connect(&url).await?;
        let people: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT pseudonym FROM traces.traces")
            .fetch_all(&mut db)
            .await?;
        let stores = store::Stores::postgres(&url, "traces").await?;
        let keys = passerelle::keys::load_or_generate_trail(Some(&self.dir.join("data/keys")), 0)?;
        let mut entries = 0;
        let mut findings = Vec::new();
        for (pseudonym,) in &people {
            let trail = stores.traces.trail(pseudonym, 0).await?;
            entries += trail.len();
            // Nothing was forgotten here: every entry must be kept.
            let kept_since = i64::MIN;
            for finding in dashboard::integrity::check_chain(pseudonym, &trail, &keys, kept_since) {
                findings.push(format!("{pseudonym}: {finding:?}"));
            }
        }
        Ok((people.len(), entries, findings))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.haproxy.start_kill();
        for process in self.hubs.iter_mut().flatten().chain(self.others.iter_mut()) {
            let _ = process.child.start_kill();
        }
        if std::env::var_os("PASSERELLE_KEEP_CLUSTER_LOGS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

struct Ports {
    balancer: u16,
    provider: u16,
    register: u16,
    /// The instant provider's, served by this process ([`Cluster::instant_target`]).
    instant: u16,
    hubs: Vec<u16>,
}

fn spawn(
    binary: &Path,
    dir: &Path,
    config: &Path,
    name: &str,
    command: &str,
    env: Option<(&str, u16)>,
    cpus: Option<&str>,
) -> anyhow::Result<Child> {
    let mut spawned = match cpus {
        Some(cpus) => {
            let mut pinned = Command::new("taskset");
            pinned.arg("-c").arg(cpus).arg(binary);
            pinned
        }
        None => Command::new(binary),
    };
    spawned
        .arg(command)
        .arg("--config")
        .arg(config)
        .arg("--data")
        .arg(dir.join("data"))
        // What a deployment logs by default: its cost is part of a login's.
        .env("RUST_LOG", "info")
        .stdout(log_file(dir, name)?)
        .stderr(log_file(dir, name)?)
        .kill_on_drop(true);
    if let Some((key, port)) = env {
        spawned.env(key, format!("127.0.0.1:{port}"));
    }
    spawned
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))
}

fn log_file(dir: &Path, name: &str) -> anyhow::Result<Stdio> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))?;
    Ok(Stdio::from(file))
}

async fn ready(dir: &Path, process: &Process) -> anyhow::Result<()> {
    wait_ready(
        &format!("http://127.0.0.1:{}/readyz", process.port),
        Duration::from_secs(60),
    )
    .await
    .with_context(|| {
        let log =
            std::fs::read_to_string(dir.join(format!("{}.log", process.name))).unwrap_or_default();
        format!("{} did not start: {log}", process.name)
    })
}

async fn wait_ready(url: &str, within: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    let http = reqwest::Client::new();
    while tokio::time::Instant::now() < deadline {
        if http
            .get(url)
            .send()
            .await
            .is_ok_and(|answer| answer.status() == 200)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{url} not ready after {within:?}")
}

fn haproxy_binary() -> &'static str {
    if Path::new("/usr/sbin/haproxy").exists() {
        "/usr/sbin/haproxy"
    } else {
        "haproxy"
    }
}

/// The federation's config: one hub (the standard platform) with the
/// sandbox service, an impots-like provider and the instant one, the
/// register, the trails, the mail through the relay, PostgreSQL and Redis.
fn config_toml(
    ports: &Ports,
    postgres: &OwnPostgres,
    redis: &OwnRedis,
    smtp: &SmtpSink,
    relay_certificate: &Path,
) -> String {
    let hub = format!("http://127.0.0.1:{}", ports.balancer);
    let instant =
        crate::InstantProvider::hub_config(&format!("http://127.0.0.1:{}", ports.instant));
    let provider = format!("http://127.0.0.1:{}", ports.provider);
    let register = format!("http://127.0.0.1:{}", ports.register);
    format!(
        r#"# The cluster test's federation (crates/testkit/src/cluster.rs).
[population]
seed = 2026
size = 200

[store]
url = "{database}"
ephemeral_url = "{redis}"
key_prefix = "cluster:"

[register]
public_url = "{register}"

[mail]
from = "Passerelle <ne-pas-repondre@passerelle.localhost>"
transport = "smtp"
smtp_host = "127.0.0.1"
smtp_port = {smtp}
smtp_security = "starttls"
smtp_ca_file = "{relay_certificate}"
smtp_timeout_secs = 5

[traces]
secret = "cluster-pairwise-secret-0123456789abcdef"
entity = "passerelle-dashboard"

[hub.standard]
public_url = "{hub}"
name = "Passerelle"
sub_secret = "cluster-pairwise-secret-0123456789abcdef"
register_url = "{register}"
platform = "standard"
acr_offered = ["eidas1"]
notify = "every_connection"

[[hub.standard.services]]
client_id = "sandbox"
client_secret = "{SANDBOX_SECRET}"
name = "Service du test de charge"
redirect_uris = ["http://localhost:8000/callback"]
scopes = ["openid", "given_name", "family_name", "email"]
require_pkce = false

[[hub.standard.providers]]
id = "impots"
name = "impots.gouv (test)"
issuer = "{provider}"
client_id = "passerelle-hub"
client_secret = "{PROVIDER_SECRET}"
acr = ["eidas1"]

[[idp_password]]
id = "impots"
name = "impots.gouv (test)"
public_url = "{provider}"
login = "tax_number"
acr = "eidas1"
demo_password = "{PASSWORD}"
pepper = "cluster-pepper-of-impots-0123456789abcdef"
seed_accounts = {ACCOUNTS}
[[idp_password.clients]]
client_id = "passerelle-hub"
client_secret = "{PROVIDER_SECRET}"
redirect_uris = ["{hub}/api/v2/oidc-callback/impots"]
post_logout_redirect_uris = ["{hub}/api/v2/client/logout-callback"]
{instant}"#,
        database = postgres.url("passerelle"),
        redis = redis.url(),
        smtp = smtp.port,
        relay_certificate = relay_certificate.display(),
    )
}

/// HAProxy in front of the hubs: health checks on `/readyz`, a dead
/// process's connections sent to another, and, when no hub is ready
/// (Redis or PostgreSQL down), the hubs that are alive answer all the same
/// with their « service indisponible » page rather than HAProxy's own.
/// `X-Served-By` names the process that answered.
fn haproxy_cfg(ports: &Ports) -> String {
    let servers = || {
        ports
            .hubs
            .iter()
            .enumerate()
            .fold(String::new(), |mut lines, (index, port)| {
                let _ = writeln!(lines, "    server hub{} 127.0.0.1:{port} check", index + 1);
                lines
            })
    };
    format!(
        r"global
    maxconn 4096

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    # A request's headers must arrive within 10 s: slow senders are cut.
    timeout http-request 10s
    timeout server 30s
    timeout check 1s
    retries 2
    option redispatch 1
    retry-on conn-failure empty-response

frontend passerelle
    bind 127.0.0.1:{balancer}
    use_backend hubs_alive if {{ nbsrv(hubs) eq 0 }}
    default_backend hubs

backend hubs
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
    http-response set-header X-Served-By %s
{ready}
backend hubs_alive
    balance roundrobin
    option httpchk GET /healthz
    default-server inter 500ms fall 2 rise 1
    http-response set-header X-Served-By %s
{alive}",
        balancer = ports.balancer,
        ready = servers(),
        alive = servers(),
    )
}

/// One phase of the scenario, as measured.
#[derive(Clone, Debug)]
pub struct Phase {
    /// Its name.
    pub name: &'static str,
    /// When it began, from the start of the load.
    pub from: Duration,
    /// When it ended.
    pub to: Duration,
    /// When the fault began (the kill, the stop), from the start of the load.
    pub fault: Option<Duration>,
    /// When the fault ended (the server started again).
    pub restored: Option<Duration>,
    /// Logins completed in the phase.
    pub completed: usize,
    /// The first login that went through after the server came back
    /// finished this long after its return.
    pub recovery: Option<Duration>,
    /// The last failure the fault caused came this long after it began.
    pub disrupted: Option<Duration>,
}

/// What the scenario measured.
#[derive(Clone, Debug)]
pub struct Figures {
    /// The concurrent users.
    pub users: usize,
    /// The phases in order: steady, kill, redis, postgres.
    pub phases: Vec<Phase>,
    /// The whole report of the load tool.
    pub report: Report,
    /// Sessions of logins completed before the kill that the survivors
    /// refused after it (must be none).
    pub sessions_lost: Vec<(String, u16)>,
    /// Distinct connection emails received, and how many arrived twice.
    pub mails: usize,
    /// Emails received more than once (at-least-once delivery).
    pub duplicate_mails: usize,
    /// Messages without a `Message-ID`.
    pub mails_without_id: usize,
    /// The connections the relay accepted for them.
    pub relay_connections: usize,
    /// The people who got fewer connection emails than the logins they
    /// completed: (address, logins, emails).
    pub mails_missing: Vec<(String, usize, usize)>,
    /// The trails checked (people, entries), the same people logging in at
    /// once through different hub processes.
    pub trails: (usize, usize),
    /// What the dashboard's check found wrong in them (must be nothing).
    pub trail_findings: Vec<String>,
}

impl Figures {
    /// The phase of that name.
    pub fn phase(&self, name: &str) -> Option<&Phase> {
        self.phases.iter().find(|phase| phase.name == name)
    }

    /// The failed requests by kind, in a phase (all phases with `None`).
    pub fn failures_by_kind(&self, phase: Option<&Phase>) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for failure in &self.report.failures {
            if phase.is_some_and(|phase| failure.at < phase.from || failure.at >= phase.to) {
                continue;
            }
            let kind = match &failure.kind {
                Kind::Transport => "no answer (retried)".to_owned(),
                Kind::Busy => "503 très demandé (waited, sent again)".to_owned(),
                Kind::Balancer(status) => format!("HAProxy {status} (retried)"),
                Kind::Unavailable => "503 service indisponible".to_owned(),
                Kind::Server(status) => format!("{status} from a running process"),
                Kind::Flow(status) => format!("login broken ({status})"),
                Kind::IdToken => "ID token refused".to_owned(),
            };
            *counts.entry(kind).or_insert(0) += 1;
        }
        counts
    }

    /// A table of the figures, in Markdown.
    pub fn table(&self) -> String {
        let mut text = format!(
            "{} concurrent users, {} hub processes behind HAProxy.\n\n\
             | phase | seconds | logins | logins/s | failures until | logins again after | failed requests |\n\
             |---|---|---|---|---|---|---|\n",
            self.users, HUBS
        );
        for phase in &self.phases {
            let seconds = phase.to.saturating_sub(phase.from).as_secs_f64();
            let failures = self
                .failures_by_kind(Some(phase))
                .into_iter()
                .map(|(kind, count)| format!("{count} × {kind}"))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                text,
                "| {} | {seconds:.1} | {} | {:.1} | {} | {} | {} |",
                phase.name,
                phase.completed,
                phase.completed as f64 / seconds.max(0.001),
                seconds_or_dash(phase.disrupted, "after the fault"),
                seconds_or_dash(phase.recovery, "after the return"),
                if failures.is_empty() {
                    "none".to_owned()
                } else {
                    failures
                },
            );
        }
        let _ = write!(
            text,
            "\nLogins completed: {}; given up then begun again: {}. Sessions of completed logins \
             refused after the kill: {}. Connection emails received: {} distinct, {} twice, {} \
             without an id, over {} relay connections; people missing one: {}. Trails checked: {} \
             people, {} entries, {} findings.\n",
            self.report.completed.len(),
            self.report.abandoned,
            self.sessions_lost.len(),
            self.mails,
            self.duplicate_mails,
            self.mails_without_id,
            self.relay_connections,
            self.mails_missing.len(),
            self.trails.0,
            self.trails.1,
            self.trail_findings.len(),
        );
        text
    }
}

/// The scenario of issue 16: `users` concurrent logins; a steady phase;
/// `kill -9` of a hub; Redis stopped then started; PostgreSQL stopped then
/// started; then the mail, waited for. Each phase lasts `seconds`, each
/// outage `outage`.
pub async fn run_scenario(
    cluster: &mut Cluster,
    users: usize,
    seconds: Duration,
    outage: Duration,
) -> anyhow::Result<Figures> {
    let load = Load::start(cluster.target(), users);
    let mut phases = Vec::new();

    tokio::time::sleep(seconds).await;
    phases.push(phase("steady", Duration::ZERO, load.elapsed(), None, None));

    let from = load.elapsed();
    let before = load.report();
    cluster.kill_hub(1).await?;
    let killed = load.elapsed();
    // The sessions of the logins completed just before: they go on.
    let recent: Vec<String> = before
        .completed
        .iter()
        .filter(|login| login.finished + Duration::from_secs(5) >= killed)
        .map(|login| login.access_token.clone())
        .collect();
    let sessions_lost = load::sessions_refused(&cluster.hub, &recent).await;
    tokio::time::sleep(seconds).await;
    phases.push(phase(
        "kill -9 of a hub",
        from,
        load.elapsed(),
        Some(killed),
        None,
    ));

    // A fault begins when its stop begins: connections end during it.
    let from = load.elapsed();
    let stopped = load.elapsed();
    cluster.redis.stop();
    tokio::time::sleep(outage).await;
    cluster.redis.start_again().await?;
    let restored = load.elapsed();
    tokio::time::sleep(seconds).await;
    phases.push(phase(
        "Redis stopped, started",
        from,
        load.elapsed(),
        Some(stopped),
        Some(restored),
    ));

    let from = load.elapsed();
    let stopped = load.elapsed();
    cluster.postgres.stop()?;
    tokio::time::sleep(outage).await;
    cluster.postgres.start_again().await?;
    let restored = load.elapsed();
    tokio::time::sleep(seconds).await;
    phases.push(phase(
        "PostgreSQL stopped, started",
        from,
        load.elapsed(),
        Some(stopped),
        Some(restored),
    ));

    let report = load.stop().await;
    for phase in &mut phases {
        phase.completed = report.completed_between(phase.from, phase.to);
        phase.recovery = phase
            .restored
            .and_then(|restored| report.recovery_after(restored));
        phase.disrupted = phase
            .fault
            .and_then(|fault| report.disrupted_after(fault, phase.to));
    }
    // Every completed login queued its email before its code was issued:
    // wait for them (the queue is tried again every 30 s at most), then
    // count them by recipient.
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for login in &report.completed {
        if let Some(email) = cluster
            .emails
            .get(&login.login)
            .filter(|email| !email.is_empty())
        {
            *expected.entry(email.clone()).or_insert(0) += 1;
        }
    }
    let missing = |cluster: &Cluster| {
        let mut received: BTreeMap<String, usize> = BTreeMap::new();
        for message in cluster.smtp.messages() {
            if let Some(to) = crate::smtp::header(&message, "to") {
                *received.entry(to).or_insert(0) += 1;
            }
        }
        expected
            .iter()
            .map(|(email, logins)| {
                (
                    email.clone(),
                    *logins,
                    received.get(email).copied().unwrap_or_default(),
                )
            })
            .filter(|(_, logins, mails)| mails < logins)
            .collect::<Vec<_>>()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !missing(cluster).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mails_missing = missing(cluster);
    let received = cluster.smtp.by_id();
    let (people, entries, trail_findings) = cluster.check_trails().await?;
    Ok(Figures {
        users,
        trails: (people, entries),
        trail_findings,
        phases,
        sessions_lost,
        mails: received.len(),
        duplicate_mails: received.values().filter(|count| **count > 1).count(),
        mails_without_id: received.get("(none)").copied().unwrap_or_default(),
        relay_connections: cluster.smtp.connections(),
        mails_missing,
        report,
    })
}

fn seconds_or_dash(duration: Option<Duration>, after: &str) -> String {
    duration.map_or("—".to_owned(), |duration| {
        format!("{:.1} s {after}", duration.as_secs_f64())
    })
}

fn phase(
    name: &'static str,
    from: Duration,
    to: Duration,
    fault: Option<Duration>,
    restored: Option<Duration>,
) -> Phase {
    Phase {
        name,
        from,
        to,
        fault,
        restored,
        completed: 0,
        recovery: None,
        disrupted: None,
    }
}
