//! A password provider's settings: one `[[idp_password]]` table each.

use oidc::Acr;
use oidc::ConfigError;
use oidc::client::HubRegistration;
use serde::Deserialize;

/// How citizens identify themselves at this provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginKind {
    /// impots.gouv: the 13-digit tax number (numéro fiscal) and a password.
    TaxNumber,
    /// ameli: the 13-digit social security number without its key, and a
    /// secret code.
    Nir,
    /// La Poste's digital identity, Yris: the email address and a password.
    Email,
    /// ANTS: an identifier the provider assigns when the account is
    /// created, and a password.
    Assigned,
}

impl LoginKind {
    /// Whether citizens create their account online here, and how: the
    /// tax records (impots.gouv), the health insurance records (ameli,
    /// MSA), or a form and a captcha (ANTS). La Poste's identity needs the
    /// postman's visit, and Yris its app: not online here.
    pub fn signup(self) -> Option<SignupKind> {
        match self {
            LoginKind::TaxNumber => Some(SignupKind::Tax),
            LoginKind::Nir => Some(SignupKind::Health),
            LoginKind::Assigned => Some(SignupKind::Form),
            LoginKind::Email => None,
        }
    }
}

/// How an account is created online.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignupKind {
    /// The three identifiers of the tax records, email, password, mobile,
    /// "zéro papier" preferences, SMS code, activation link.
    Tax,
    /// The NIR and its key, the reference data of the health records,
    /// email, secret code, activation link.
    Health,
    /// Profile, names, email, captcha, terms; activation link; then
    /// password, secret question and birth details; the identifier by mail.
    Form,
}

/// `[[idp_password]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Short id (`impots`, `ameli`…), also the session cookie's suffix.
    pub id: String,
    /// Name shown on pages.
    pub name: String,
    /// Where the provider is reached; also its issuer.
    pub public_url: String,
    /// How citizens log in.
    pub login: LoginKind,
    /// The level this provider proves.
    #[serde(default = "eidas1")]
    pub acr: Acr,
    /// Password given to the seeded demo accounts.
    pub demo_password: String,
    /// The secret mixed into every password hash (Argon2id's secret key):
    /// kept in the configuration, never in the database, so that a stolen
    /// accounts file cannot be attacked alone. Changing it invalidates every
    /// password.
    pub pepper: oidc::Secret,
    /// How many citizens of the population get an account at first start.
    #[serde(default = "default_seed_accounts")]
    pub seed_accounts: usize,
    /// The relying parties (the hub).
    pub clients: Vec<HubRegistration>,
}

fn eidas1() -> Acr {
    Acr::Eidas1
}

fn default_seed_accounts() -> usize {
    20
}

impl Config {
    /// Checks the settings; the error names the bad path.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        let bad = |field: &str, message: &str| {
            Err(ConfigError::new(
                format!("{path}.{field}"),
                message.to_owned(),
            ))
        };
        if self.id.is_empty()
            || !self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return bad("id", "must be letters, digits, - or _");
        }
        if let Err(error) = oidc::RedirectUri::parse(&self.public_url) {
            return bad("public_url", &error);
        }
        if self.public_url.ends_with('/') {
            return bad("public_url", "must not end with /");
        }
        if self.demo_password.chars().count() < 12
            || !self.demo_password.chars().any(|c| c.is_ascii_digit())
            || !self.demo_password.chars().any(char::is_alphabetic)
        {
            return bad(
                "demo_password",
                "needs 12 characters or more, with a digit and a letter",
            );
        }
        if self.pepper.len() < 32 {
            return bad("pepper", "must be at least 32 characters");
        }
        HubRegistration::clients(&self.clients, &format!("{path}.clients"))?;
        Ok(())
    }
}
