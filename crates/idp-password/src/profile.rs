//! What a provider keeps of an account holder, in the account's `identity`
//! column: the identity it asserts, plus what its account creation asked
//! (mobile, "zéro papier" choices, secret question). Older rows, which held
//! only the identity, read back with the extras empty.

use oidc::Identity;
use serde::{Deserialize, Serialize};
use store::{Account, StoreError};

/// The "zéro papier" choices of an impots.gouv-style account, pre-checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paperless {
    /// Tax notices only online, announced by email.
    pub notices_online: bool,
    /// Tax news by email.
    pub news_by_email: bool,
    /// Tax news by text message.
    pub news_by_sms: bool,
}

/// An ANTS-style secret question and the hash of its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretQuestion {
    /// Which question (an index into [`crate::signup::QUESTIONS`]).
    pub question: usize,
    /// Argon2id hash of the answer, lower-cased and trimmed.
    pub answer_hash: String,
}

/// The account holder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The identity asserted to the hub.
    #[serde(flatten)]
    pub identity: Identity,
    /// Mobile number, international form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    /// "Zéro papier" choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paperless: Option<Paperless>,
    /// Secret question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretQuestion>,
}

impl Profile {
    /// A profile of only an identity.
    pub fn of(identity: Identity) -> Self {
        Self {
            identity,
            mobile: None,
            paperless: None,
            secret: None,
        }
    }

    /// Reads an account's profile.
    pub fn read(account: &Account) -> Result<Self, StoreError> {
        serde_json::from_str(&account.identity).map_err(|_| StoreError::Corrupt)
    }

    /// The JSON to store.
    pub fn to_json(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(|error| StoreError::Backend(Box::new(error)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_stored_alone_reads_back_as_a_profile() {
        let identity = Identity {
            given_name: "Marie".into(),
            family_name: "DUPONT".into(),
            birthdate: "1985-03-12".into(),
            gender: "female".into(),
            birthplace: "75115".into(),
            birthcountry: "99100".into(),
            email: "marie@example.fr".into(),
            preferred_username: None,
        };
        let json = serde_json::to_string(&identity).unwrap_or_default();
        let profile: Profile =
            serde_json::from_str(&json).unwrap_or_else(|_| Profile::of(identity.clone()));
        assert_eq!(profile, Profile::of(identity.clone()));
        let mut full = Profile::of(identity);
        full.mobile = Some("+33612345678".into());
        full.paperless = Some(Paperless {
            notices_online: true,
            news_by_email: true,
            news_by_sms: false,
        });
        let back: Option<Profile> = serde_json::from_str(&full.to_json().unwrap_or_default()).ok();
        assert_eq!(back, Some(full));
    }
}
