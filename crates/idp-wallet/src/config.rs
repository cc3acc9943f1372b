//! `[idp_wallet]`: the wallet identity provider's settings.

use oidc::ConfigError;
use oidc::client::HubRegistration;
use std::path::PathBuf;

use serde::Deserialize;

/// `[idp_wallet]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Short id (`wallet`), also the cookies' suffix.
    pub id: String,
    /// Name shown on pages and in the app.
    pub name: String,
    /// Where the provider is reached; also its issuer, and the only origin
    /// whose QR codes the app accepts.
    pub public_url: String,
    /// The folder of the test PKI: `csca.der` is trusted, `crl.der` (if
    /// present) applied. The demo creates it, with the personalisation
    /// side's keys, at first start.
    pub pki: PathBuf,
    /// The relying parties (the hub).
    pub clients: Vec<HubRegistration>,
    /// How long after a town-hall agent's decision the result takes effect
    /// and reaches the citizen, in seconds: at most 48 h (172800); 0 (the
    /// demo) is at once.
    #[serde(default)]
    pub certification_delay_secs: i64,
    /// The driving licence register (`register`'s service); without it,
    /// the wallet offers no driving licence.
    #[serde(default)]
    pub licence_register: Option<String>,
    /// The town-hall agents of the certification console (`/mairie`).
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
}

/// A town-hall agent: a password and a TOTP (RFC 6238) authenticator.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// What the agent types to log in.
    pub login: String,
    /// The agent's name, recorded with each decision.
    pub name: String,
    /// The town hall.
    pub commune: String,
    /// What the agent may do.
    pub role: Role,
    /// The password's Argon2id hash (PHC string; `passerelle agent
    /// hash-password` makes one).
    pub password_hash: String,
    /// The authenticator's shared secret, base32 (RFC 4648), at least 128
    /// bits.
    pub totp_secret: oidc::Secret,
}

/// What an agent may do at the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Checks requests, reads cards, records fingerprint comparisons and
    /// decides.
    Agent,
    /// Checks requests' seals only (a trainee, an auditor): no card read,
    /// no decision.
    Observateur,
}

/// How long a QR code's reference lives; the page asks for a new one.
pub const QR_TTL_SECS: i64 = 60;
/// How long a whole login lasts, QR codes included.
pub const LOGIN_TTL_SECS: i64 = 300;
/// How long a card challenge is valid.
pub const CHALLENGE_TTL_SECS: i64 = 300;
/// Logins a client address may start per minute.
pub const LOGINS_PER_MINUTE: u32 = 30;
/// Claims an app installation may make per minute.
pub const CLAIMS_PER_MINUTE: u32 = 10;
/// The longest a certification result may wait after the decision.
pub const RESULT_WITHIN_SECS: i64 = 48 * 3600;
/// Console login attempts per agent login per 15 minutes.
pub const AGENT_LOGINS_PER_QUARTER: u32 = 5;
/// An agent's console session, idle.
pub const CONSOLE_SESSION_SECS: i64 = 3600;
/// How long the emailed code of a certification request lives.
pub const EMAIL_CODE_TTL_SECS: i64 = 1800;
/// Wrong emailed codes before the confirmation must start over.
pub const EMAIL_CODE_TRIES: u32 = 5;

/// Checks what serde cannot: the hub's registration, the delay's bound,
/// the agents' secrets.
pub fn check(config: &Config) -> Result<(), ConfigError> {
    HubRegistration::clients(&config.clients, "idp_wallet.clients")?;
    if let Some(url) = &config.licence_register {
        oidc::RedirectUri::parse(url)
            .map_err(|error| ConfigError::new("idp_wallet.licence_register", error))?;
    }
    if !(0..=RESULT_WITHIN_SECS).contains(&config.certification_delay_secs) {
        return Err(ConfigError::new(
            "idp_wallet.certification_delay_secs",
            format!("must be between 0 and {RESULT_WITHIN_SECS} (48 hours)"),
        ));
    }
    for (at, agent) in config.agents.iter().enumerate() {
        let path = |field: &str| format!("idp_wallet.agents[{at}].{field}");
        if agent.login.trim().is_empty() {
            return Err(ConfigError::new(path("login"), "must not be empty"));
        }
        if config
            .agents
            .iter()
            .filter(|other| other.login == agent.login)
            .count()
            > 1
        {
            return Err(ConfigError::new(path("login"), "is used twice"));
        }
        if argon2::password_hash::PasswordHash::new(&agent.password_hash).is_err() {
            return Err(ConfigError::new(
                path("password_hash"),
                "is not a PHC string (passerelle agent hash-password makes one)",
            ));
        }
        if crate::totp::decode_base32(&agent.totp_secret).is_none_or(|secret| secret.len() < 16) {
            return Err(ConfigError::new(
                path("totp_secret"),
                "must be base32 of at least 128 bits",
            ));
        }
    }
    Ok(())
}
