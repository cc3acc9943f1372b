//! Passwords: the rule a new one must follow, and Argon2id hashes keyed
//! with the provider's pepper.
//!
//! The pepper is a secret of the configuration, never of the database: a
//! stolen accounts file alone cannot be attacked offline. Argon2id runs with
//! OWASP's parameters (m = 19 MiB, t = 2, p = 1), which are the `argon2`
//! crate's defaults, each hash with its own random salt.

use oidc::HashPool;

use crate::errors::IdpError;

/// Why a new password is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weakness {
    /// Fewer than 12 characters.
    TooShort,
    /// No digit.
    NoDigit,
    /// No letter.
    NoLetter,
    /// The confirmation differs.
    Mismatch,
}

impl Weakness {
    /// What the citizen reads.
    pub fn message(self) -> &'static str {
        match self {
            Weakness::TooShort => "Le mot de passe doit comporter au moins 12 caractères.",
            Weakness::NoDigit => "Le mot de passe doit comporter au moins un chiffre.",
            Weakness::NoLetter => "Le mot de passe doit comporter au moins une lettre.",
            Weakness::Mismatch => "Les deux mots de passe saisis sont différents.",
        }
    }
}

/// Shortest password accepted, in characters.
pub const MIN_LENGTH: usize = 12;

/// Checks a new password and its confirmation (impots.gouv's rule: 12
/// characters or more, at least one digit and one letter).
pub fn check_new(password: &str, confirmation: &str) -> Result<(), Weakness> {
    if password.chars().count() < MIN_LENGTH {
        return Err(Weakness::TooShort);
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        return Err(Weakness::NoDigit);
    }
    if !password.chars().any(char::is_alphabetic) {
        return Err(Weakness::NoLetter);
    }
    if password != confirmation {
        return Err(Weakness::Mismatch);
    }
    Ok(())
}

/// Hashes and verifies under one pepper, on the process's bounded pool
/// ([`HashPool`]): past it, [`IdpError::Busy`] (503, `Retry-After`) and
/// nothing is done.
#[derive(Clone)]
pub struct Hasher {
    pepper: Vec<u8>,
    pool: HashPool,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher")
    }
}

impl Hasher {
    /// A hasher keyed with `pepper`, hashing on `pool`.
    pub fn new(pepper: &str, pool: HashPool) -> Self {
        Self {
            pepper: pepper.as_bytes().to_vec(),
            pool,
        }
    }

    /// The PHC string of a new hash of `password` under `pepper`, on the
    /// calling thread; `None` only if Argon2 itself fails.
    pub fn hash_now(pepper: &[u8], password: &str) -> Option<String> {
        oidc::hash_pool::argon2id::hash(Some(pepper), password)
    }

    /// Whether `password` is the one hashed in `stored`, on the calling
    /// thread.
    pub fn verify_now(pepper: &[u8], password: &str, stored: &str) -> bool {
        oidc::hash_pool::argon2id::verify(Some(pepper), password, stored)
    }

    /// Hashes on the pool (19 MiB and tens of milliseconds).
    pub async fn hash_on_pool(&self, password: String) -> Result<String, IdpError> {
        let pepper = self.pepper.clone();
        self.pool
            .run(move || Self::hash_now(&pepper, &password))
            .await
            .map_err(|_| IdpError::Busy)?
            .ok_or(IdpError::Storage)
    }

    /// Verifies on the pool. `Err(Busy)` is no answer: it must not count as
    /// a failed attempt.
    pub async fn verify_on_pool(&self, password: String, stored: String) -> Result<bool, IdpError> {
        let pepper = self.pepper.clone();
        self.pool
            .run(move || Self::verify_now(&pepper, &password, &stored))
            .await
            .map_err(|_| IdpError::Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_password_has_twelve_characters_a_digit_and_a_letter() {
        assert_eq!(check_new("court1", "court1"), Err(Weakness::TooShort));
        assert_eq!(
            check_new("sans-chiffre-du-tout", "sans-chiffre-du-tout"),
            Err(Weakness::NoDigit)
        );
        assert_eq!(
            check_new("123456789012", "123456789012"),
            Err(Weakness::NoLetter)
        );
        assert_eq!(
            check_new("Printemps-2026", "Printemps-2027"),
            Err(Weakness::Mismatch)
        );
        assert_eq!(check_new("Printemps-2026", "Printemps-2026"), Ok(()));
        // Twelve characters, not twelve bytes.
        assert_eq!(check_new("éééééééééé12", "éééééééééé12"), Ok(()));
    }

    #[tokio::test]
    async fn a_hash_verifies_only_under_its_pepper() {
        let pool = HashPool::new(1, 1).unwrap();
        let hasher = Hasher::new("pepper-of-the-test-0123456789abcdef", pool.clone());
        let hash = hasher.hash_on_pool("Printemps-2026".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let verify = |hasher: &Hasher, password: &str, stored: &str| {
            let (hasher, password, stored) =
                (hasher.clone(), password.to_owned(), stored.to_owned());
            async move { hasher.verify_on_pool(password, stored).await.unwrap() }
        };
        assert!(verify(&hasher, "Printemps-2026", &hash).await);
        assert!(!verify(&hasher, "Printemps-2027", &hash).await);
        let other = Hasher::new("another-pepper-0123456789abcdef012", pool);
        assert!(!verify(&other, "Printemps-2026", &hash).await);
        assert!(!verify(&hasher, "Printemps-2026", "not a hash").await);
    }
}
