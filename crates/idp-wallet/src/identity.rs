//! What the provider keeps of a digital identity: a pseudonymous id, the
//! card it is bound to (hashes only), the contact email, the code's epoch
//! and the certification. No name, no birth date: those are read from the
//! card at each use.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use store::{Account, AccountStatus, Stores};

use crate::verify::{VerifiedCard, hex};

/// The stored record, in the account's `identity` column.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Increased at every server-witnessed change of the code; a
    /// certification holds only for the epoch it was granted in.
    pub pin_epoch: u32,
    /// When the identity was created.
    pub activated_at: i64,
    /// The certification, if one was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certification: Option<Certification>,
    /// The card's expiry (`YYYY-MM-DD`): a certification ends with it.
    pub card_expiry: String,
    /// The last certification result, for the app to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<Notice>,
}

/// A certification result as the app shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Whether the identity was certified.
    pub certified: bool,
    /// Why not, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the result took effect.
    pub at: i64,
}

/// A granted certification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certification {
    /// When it took effect.
    pub certified_at: i64,
    /// The code epoch it covers.
    pub pin_epoch: u32,
}

/// Five years, in seconds (365.25 days a year).
pub const CERTIFICATION_SECS: i64 = 5 * 31_557_600;

impl Record {
    /// Whether a certification is valid at `now`: within 5 years, same code
    /// epoch, card not expired.
    pub fn certified_at(&self, now: i64) -> bool {
        let card_valid = card::Date::from_time(now).iso() <= self.card_expiry;
        self.certification.as_ref().is_some_and(|c| {
            c.pin_epoch == self.pin_epoch && now < c.certified_at + CERTIFICATION_SECS
        }) && card_valid
    }

    pub fn acr(&self, now: i64) -> oidc::Acr {
        if self.certified_at(now) {
            oidc::Acr::Eidas3
        } else {
            oidc::Acr::Eidas2
        }
    }
}

/// The login key of the card: issuing state, document number and chip key,
/// hashed. Another card, even of the same person, is another identity.
pub fn binding(card: &VerifiedCard) -> String {
    let digest = Sha256::new()
        .chain_update(card.issuing_state.as_bytes())
        .chain_update([0])
        .chain_update(card.document_number.as_bytes())
        .chain_update([0])
        .chain_update(card.key_fingerprint.as_bytes())
        .finalize();
    format!("card:{}", hex(&digest))
}

/// An identity and its record.
#[derive(Clone, Debug)]
pub struct Identity {
    pub account: Account,
    pub record: Record,
}

impl Identity {
    pub async fn of_card(
        stores: &Stores,
        card: &VerifiedCard,
    ) -> Result<Option<Self>, store::StoreError> {
        let Some(account) = stores.accounts.find_by_login(&binding(card)).await? else {
            return Ok(None);
        };
        Ok(Self::read(account))
    }

    pub async fn by_id(stores: &Stores, id: &str) -> Result<Option<Self>, store::StoreError> {
        Ok(stores.accounts.find_by_id(id).await?.and_then(Self::read))
    }

    fn read(account: Account) -> Option<Self> {
        if account.status != AccountStatus::Active {
            return None;
        }
        let record = serde_json::from_str(&account.identity).ok()?;
        Some(Self { account, record })
    }

    pub async fn save(&self, stores: &Stores) -> Result<(), store::StoreError> {
        let mut account = self.account.clone();
        account.identity = crate::stored_json_text(&self.record)?;
        stores.accounts.update(&account).await
    }

    /// A new identity for a card.
    pub async fn create(
        stores: &Stores,
        card: &VerifiedCard,
        email: &str,
        now: i64,
    ) -> Result<Self, store::StoreError> {
        let record = Record {
            pin_epoch: 1,
            activated_at: now,
            certification: None,
            card_expiry: card.expiry.iso(),
            notice: None,
        };
        let account = Account {
            id: oidc::types::random_token(16),
            login: binding(card),
            password_hash: String::new(),
            email: email.to_owned(),
            identity: crate::stored_json_text(&record)?,
            status: AccountStatus::Active,
            created_at: now,
        };
        stores.accounts.create(&account).await?;
        Ok(Self { account, record })
    }

    /// Deletes the identity: its card may no longer log in; a new card
    /// makes a new identity. The row stays, emptied and locked, so that
    /// the id is never reused.
    pub async fn delete(mut self, stores: &Stores) -> Result<(), store::StoreError> {
        self.account.status = AccountStatus::Locked;
        self.account.login = format!("deleted:{}", self.account.id);
        self.account.email = String::new();
        self.account.identity = String::new();
        stores.accounts.update(&self.account).await
    }
}

/// The identity claims of a card read, for the hub.
pub fn claims_identity(card: &VerifiedCard, email: &str) -> oidc::Identity {
    let holder = &card.holder;
    oidc::Identity {
        given_name: holder.given_names.clone(),
        family_name: holder.family_name.clone(),
        birthdate: holder.birth_date.iso(),
        gender: if holder.sex == 'F' { "female" } else { "male" }.to_owned(),
        birthplace: holder.birthplace.clone().unwrap_or_default(),
        birthcountry: holder.birthcountry.clone(),
        email: email.to_owned(),
        preferred_username: holder.usage_name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRANTED: i64 = 1_800_000_000;

    fn certified() -> Record {
        Record {
            pin_epoch: 2,
            activated_at: GRANTED - 100,
            certification: Some(Certification {
                certified_at: GRANTED,
                pin_epoch: 2,
            }),
            card_expiry: "2036-01-01".into(),
            notice: None,
        }
    }

    #[test]
    fn a_certification_lasts_five_years_to_the_second() {
        let record = certified();
        assert_eq!(record.acr(GRANTED), oidc::Acr::Eidas3);
        assert_eq!(
            record.acr(GRANTED + CERTIFICATION_SECS - 1),
            oidc::Acr::Eidas3
        );
        assert_eq!(record.acr(GRANTED + CERTIFICATION_SECS), oidc::Acr::Eidas2);
    }

    #[test]
    fn a_new_code_or_an_expired_card_ends_the_certification() {
        let mut record = certified();
        record.pin_epoch = 3;
        assert_eq!(record.acr(GRANTED + 1), oidc::Acr::Eidas2);
        let mut record = certified();
        record.card_expiry = "2027-01-16".into();
        let after_expiry = card::Date::new(2027, 1, 17).unwrap().to_unix();
        assert_eq!(
            record.acr(i64::try_from(after_expiry).unwrap()),
            oidc::Acr::Eidas2
        );
        assert_eq!(record.acr(GRANTED), oidc::Acr::Eidas3);
    }
}
