//! Passwords: the rule a new one must follow, and Argon2id hashes keyed
//! with the provider's pepper.
//!
//! The pepper is a secret of the configuration, never of the database: a
//! stolen accounts file alone cannot be attacked offline. Argon2id runs with
//! OWASP's parameters (m = 19 MiB, t = 2, p = 1), which are the `argon2`
//! crate's defaults, each hash with its own random salt.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

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

/// Hashes and verifies under one pepper.
#[derive(Clone)]
pub struct Hasher {
    pepper: Vec<u8>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher")
    }
}

impl Hasher {
    /// A hasher keyed with `pepper`.
    pub fn new(pepper: &str) -> Self {
        Self {
            pepper: pepper.as_bytes().to_vec(),
        }
    }

    fn argon2(&self) -> Option<Argon2<'_>> {
        Argon2::new_with_secret(
            &self.pepper,
            Algorithm::Argon2id,
            Version::V0x13,
            Params::default(),
        )
        .ok()
    }

    /// The PHC string of a new hash; `None` only if Argon2 itself fails.
    pub fn hash(&self, password: &str) -> Option<String> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2()?
            .hash_password(password.as_bytes(), &salt)
            .ok()
            .map(|hash| hash.to_string())
    }

    /// Whether `password` is the one hashed in `stored`.
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        let Some(argon2) = self.argon2() else {
            return false;
        };
        PasswordHash::new(stored)
            .is_ok_and(|hash| argon2.verify_password(password.as_bytes(), &hash).is_ok())
    }

    /// Hashes on a blocking thread (19 MiB and tens of milliseconds).
    pub async fn hash_blocking(&self, password: String) -> Option<String> {
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .ok()
            .flatten()
    }

    /// Verifies on a blocking thread.
    pub async fn verify_blocking(&self, password: String, stored: String) -> bool {
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || hasher.verify(&password, &stored))
            .await
            .unwrap_or(false)
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

    #[test]
    fn a_hash_verifies_only_under_its_pepper() {
        let hasher = Hasher::new("pepper-of-the-test-0123456789abcdef");
        let Some(hash) = hasher.hash("Printemps-2026") else {
            unreachable!("argon2 hashes")
        };
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hasher.verify("Printemps-2026", &hash));
        assert!(!hasher.verify("Printemps-2027", &hash));
        assert!(!Hasher::new("another-pepper-0123456789abcdef012").verify("Printemps-2026", &hash));
        assert!(!hasher.verify("Printemps-2026", "not a hash"));
    }
}
