//! Demo accounts for citizens of the seeded population, created at first
//! start, plus two accounts whose identity the register will refuse (one
//! unknown person, one near match), so that refusals can be tried.

use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Argon2, PasswordHasher};
use oidc::Identity;
use population::Citizen;
use store::{Account, AccountStatus, StoreError, Stores};

use crate::config::{Config, LoginKind};

/// A seeded account, as the demo prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeededAccount {
    /// The login identifier.
    pub login: String,
    /// Who it is (for the printout).
    pub label: String,
}

/// Login of the account whose person is unknown to the register.
pub const UNKNOWN_PERSON_SUFFIX: &str = "01";
/// Login of the account whose identity is a near match.
pub const NEAR_MATCH_SUFFIX: &str = "02";

/// The identity as this provider's administration holds it.
pub fn identity_of(citizen: &Citizen, kind: LoginKind) -> Identity {
    let pivot = citizen.pivot();
    let given_name = match kind {
        // Health insurance files write first names in capitals; the national
        // register gives them back as the civil register has them.
        LoginKind::Nir => pivot.given_name.to_uppercase(),
        LoginKind::TaxNumber | LoginKind::Email => pivot.given_name,
    };
    Identity {
        given_name,
        family_name: pivot.family_name,
        birthdate: pivot.birthdate,
        gender: pivot.gender,
        birthplace: pivot.birthplace,
        birthcountry: pivot.birthcountry,
        email: citizen.email.clone(),
        preferred_username: citizen.usage_name.clone(),
    }
}

/// The login identifier of a citizen at a provider.
pub fn login_of(citizen: &Citizen, kind: LoginKind) -> String {
    match kind {
        LoginKind::TaxNumber => citizen.tax_number.clone(),
        LoginKind::Nir => citizen.nir.clone(),
        LoginKind::Email => citizen.email.to_lowercase(),
    }
}

fn synthetic_login(kind: LoginKind, suffix: &str) -> String {
    match kind {
        LoginKind::TaxNumber => format!("39999999999{suffix}"),
        LoginKind::Nir => format!("19999999999{suffix}"),
        LoginKind::Email => format!("compte.test.{suffix}@example.fr"),
    }
}

/// Creates the demo accounts when the provider has none; returns them.
/// Each password is hashed with Argon2id (OWASP parameters) and its own salt.
pub async fn seed_accounts(
    stores: &Stores,
    config: &Config,
    citizens: &[Citizen],
    now: i64,
) -> Result<Vec<SeededAccount>, StoreError> {
    let mut seeded = Vec::new();
    let mut accounts: Vec<(String, Identity, String)> = citizens
        .iter()
        .take(config.seed_accounts)
        .map(|citizen| {
            let identity = identity_of(citizen, config.login);
            let label = format!(
                "{} {} (citoyen n° {})",
                citizen.given_name(),
                citizen.family_name,
                citizen.id
            );
            (login_of(citizen, config.login), identity, label)
        })
        .collect();
    if let Some(first) = citizens.first() {
        let mut unknown = identity_of(first, config.login);
        unknown.given_name = "Personne".into();
        unknown.family_name = "INCONNUE".into();
        accounts.push((
            synthetic_login(config.login, UNKNOWN_PERSON_SUFFIX),
            unknown,
            "personne inconnue du registre".into(),
        ));
        let mut near = identity_of(first, config.login);
        near.family_name = typo(&near.family_name);
        accounts.push((
            synthetic_login(config.login, NEAR_MATCH_SUFFIX),
            near,
            "identité proche (faute de frappe)".into(),
        ));
    }
    if stores.accounts.count().await? > 0 {
        return Ok(accounts
            .into_iter()
            .map(|(login, _, label)| SeededAccount { login, label })
            .collect());
    }
    for (login, identity, label) in accounts {
        let password = config.demo_password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|error| StoreError::Backend(Box::new(error)))?
            .ok_or(StoreError::Corrupt)?;
        let account = Account {
            id: oidc::types::random_token(16),
            login: login.clone(),
            password_hash: hash,
            email: identity.email.clone(),
            identity: serde_json::to_string(&identity)
                .map_err(|error| StoreError::Backend(Box::new(error)))?,
            status: AccountStatus::Active,
            created_at: now,
        };
        stores.accounts.create(&account).await?;
        seeded.push(SeededAccount { login, label });
    }
    Ok(seeded)
}

/// Argon2id with the crate's defaults, which are OWASP's (m = 19 MiB, t = 2, p = 1).
pub fn hash_password(password: &str) -> Option<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .ok()
        .map(|hash| hash.to_string())
}

/// One letter changed, in the middle of the name.
fn typo(name: &str) -> String {
    let middle = name.chars().count() / 2;
    name.chars()
        .enumerate()
        .map(|(index, c)| {
            if index == middle {
                if c == 'E' { 'A' } else { 'E' }
            } else {
                c
            }
        })
        .collect()
}
