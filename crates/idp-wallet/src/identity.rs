//! What the provider keeps of a digital identity: a pseudonymous id, the
//! card it is bound to (hashes only), the contact email, the code's epoch
//! and the certification. No name, no birth date: those are read from the
//! card at each use.
//!
//! Identities live in [`store::WalletIdentities`]. They used to be
//! password accounts with an empty hash; those are not carried over: a
//! data folder (or database schema) from before holds them as accounts the
//! provider no longer reads, and the holder activates the card again,
//! which makes a new identity (the demo recreates its own).

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use store::{StoreError, Stores, WalletIdentity};

use crate::verify::{VerifiedCard, hex};

/// The provider's record of an identity, [`WalletIdentity::record`].
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
    /// SHA-256 (hex) of the device key the driving licence was last
    /// issued to: only that key renews it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence_key: Option<String>,
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

/// The card's binding: issuing state, document number and chip key,
/// hashed. Another card, even of the same person, is another identity.
pub fn binding(card: &VerifiedCard) -> String {
    let digest = Sha256::new()
        .chain_update(card.issuing_state.as_bytes())
        .chain_update([0])
        .chain_update(card.document_number.as_bytes())
        .chain_update([0])
        .chain_update(card.key_fingerprint.as_bytes())
        .finalize();
    hex(&digest)
}

/// An identity and its record.
#[derive(Clone, Debug)]
pub struct Identity {
    /// As stored: id, binding, email, revision.
    pub stored: WalletIdentity,
    /// Its record, read from [`WalletIdentity::record`].
    pub record: Record,
}

impl Identity {
    /// The identity bound to the card, if any.
    pub async fn of_card(stores: &Stores, card: &VerifiedCard) -> Result<Option<Self>, StoreError> {
        let stored = stores
            .wallet_identities
            .find_by_binding(&binding(card))
            .await?;
        stored.map(Self::read).transpose()
    }

    /// The identity with this id, if any.
    pub async fn by_id(stores: &Stores, id: &str) -> Result<Option<Self>, StoreError> {
        let stored = stores.wallet_identities.find_by_id(id).await?;
        stored.map(Self::read).transpose()
    }

    /// The identity a deletion link names, while the link is valid.
    pub async fn by_deletion_link(
        stores: &Stores,
        key: &str,
        now: i64,
    ) -> Result<Option<Self>, StoreError> {
        let stored = stores
            .wallet_identities
            .find_by_deletion_link(key, now)
            .await?;
        stored.map(Self::read).transpose()
    }

    /// A record that does not read back is an error, never a missing
    /// identity.
    pub(crate) fn read(stored: WalletIdentity) -> Result<Self, StoreError> {
        let record = serde_json::from_slice(&stored.record).map_err(|_| StoreError::Corrupt)?;
        Ok(Self { stored, record })
    }

    /// Saves the email and record. [`StoreError::Conflict`] when the
    /// identity changed since it was read (a code change, a certification
    /// result): nothing is written, and the caller tries again.
    pub async fn save(&mut self, stores: &Stores) -> Result<(), StoreError> {
        self.stored.record = crate::stored_json(&self.record)?;
        stores.wallet_identities.update(&self.stored).await?;
        self.stored.revision += 1;
        Ok(())
    }

    /// A new identity for a card.
    pub async fn create(
        stores: &Stores,
        card: &VerifiedCard,
        email: &str,
        now: i64,
    ) -> Result<Self, StoreError> {
        let record = Record {
            pin_epoch: 1,
            activated_at: now,
            certification: None,
            card_expiry: card.expiry.iso(),
            notice: None,
            licence_key: None,
        };
        let stored = WalletIdentity {
            id: oidc::types::random_token(16),
            binding: binding(card),
            email: email.to_owned(),
            record: crate::stored_json(&record)?,
            revision: 0,
            created_at: now,
        };
        stores.wallet_identities.create(&stored).await?;
        Ok(Self { stored, record })
    }

    /// Deletes the identity: its card may no longer log in, its deletion
    /// links stop working; a new card, or the same one activated again,
    /// makes a new identity. The id is never reused.
    pub async fn delete(self, stores: &Stores) -> Result<(), StoreError> {
        stores.wallet_identities.delete(&self.stored.id).await
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
            licence_key: None,
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
