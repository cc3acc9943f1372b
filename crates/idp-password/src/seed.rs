//! Demo accounts for citizens of the seeded population, created at first
//! start, plus two accounts whose identity the register will refuse (one
//! unknown person, one near match), so that refusals can be tried.

use oidc::{HashPool, Identity};
use population::Citizen;
use store::{Account, AccountStatus, StoreError, Stores};

use crate::config::{Config, LoginKind};
use crate::password::Hasher;
use crate::profile::Profile;

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
        LoginKind::TaxNumber | LoginKind::Email | LoginKind::Assigned => pivot.given_name,
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
        LoginKind::Assigned => assigned_login(citizen),
    }
}

/// The identifier an ANTS-style provider assigned to a seeded citizen.
fn assigned_login(citizen: &Citizen) -> String {
    let ascii = |text: &str| -> String {
        text.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let given = citizen.given_name();
    let first = given.split_whitespace().next().unwrap_or_default();
    format!(
        "{}.{}.{:04}",
        ascii(first),
        ascii(&citizen.family_name),
        citizen.id
    )
}

fn synthetic_login(kind: LoginKind, suffix: &str) -> String {
    match kind {
        LoginKind::TaxNumber => format!("39999999999{suffix}"),
        LoginKind::Nir => format!("19999999999{suffix}"),
        LoginKind::Email => format!("compte.test.{suffix}@example.fr"),
        LoginKind::Assigned => format!("compte.test.{suffix}"),
    }
}

/// Creates the demo accounts when the provider has none; returns them.
/// The demo password is hashed once, with Argon2id (OWASP parameters) and the
/// provider's pepper, on the process's hashing `pool`, whose worker gives the
/// memory back at once (a blocking thread would hold it for its life).
pub async fn seed_accounts(
    stores: &Stores,
    config: &Config,
    citizens: &[Citizen],
    now: i64,
    pool: &HashPool,
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
    // One hash for every seeded account: they share the demo password,
    // which is published anyway, and a start hashes once, not twenty times.
    let (pepper, password) = (config.pepper.clone(), config.demo_password.clone());
    let hash = pool
        .run(move || {
            let hash = Hasher::hash_now(pepper.as_bytes(), &password);
            oidc::hash_pool::argon2id::release();
            hash
        })
        .await
        .ok()
        .flatten()
        .ok_or(StoreError::Corrupt)?;
    for (login, identity, label) in accounts {
        let account = Account {
            id: oidc::types::random_token(16),
            login: login.clone(),
            password_hash: hash.clone(),
            email: identity.email.clone(),
            identity: Profile::of(identity).to_json()?,
            status: AccountStatus::Active,
            created_at: now,
        };
        stores.accounts.create(&account).await?;
        seeded.push(SeededAccount { login, label });
    }
    Ok(seeded)
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use oidc::hash_pool::argon2id;

    use super::*;

    #[tokio::test]
    async fn a_first_start_hashes_once_on_the_pool_and_keeps_none_of_its_memory() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "id": "impots",
            "name": "impots.gouv (démo)",
            "public_url": "http://127.0.0.1:1",
            "login": "tax_number",
            "demo_password": "Demo-password-2026",
            "pepper": "a pepper",
            "seed_accounts": 3,
            "clients": [],
        }))
        .unwrap();
        let stores = Stores::memory();
        let citizens = population::generate(population::DEFAULT_SEED, 10);
        // A worker that would keep its memory for a minute, were it not
        // given back at once.
        let pool = HashPool::keeping(1, 1, Duration::from_secs(60)).unwrap();
        let seeded = seed_accounts(&stores, &config, &citizens, 0, &pool)
            .await
            .unwrap();
        assert_eq!(
            seeded.len(),
            5,
            "three citizens, the unknown, the near match"
        );
        assert_eq!(pool.run(argon2id::held).await, Ok(0));
        let account = stores
            .accounts
            .find_by_login(&seeded[0].login)
            .await
            .unwrap()
            .unwrap();
        assert!(argon2id::verify(
            Some(b"a pepper"),
            "Demo-password-2026",
            &account.password_hash
        ));
        // A second start finds the accounts and makes no other.
        let again = seed_accounts(&stores, &config, &citizens, 0, &pool)
            .await
            .unwrap();
        assert_eq!(again.len(), 5);
        assert_eq!(stores.accounts.count().await.unwrap(), 5);
    }
}
