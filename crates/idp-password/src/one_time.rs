//! Single-use secrets sent to citizens: the links of activation, reset,
//! unlock and email-change messages.
//!
//! A link carries a random token of 32 bytes; the store keeps only its
//! SHA-256, under the link's purpose, with what the link stands for and an
//! expiry. Taking it is atomic and erases it: a link works once, before it
//! expires, and a stolen database holds no usable link.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};
use store::{Codes, StoreError, Taken, UnixSeconds};

/// What a link is for; also separates their keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Activates a new account (24 h).
    Activation,
    /// Chooses a new password (1 h).
    Reset,
    /// Lifts a lockout (24 h).
    Unlock,
    /// Confirms a new email address (24 h).
    EmailChange,
}

impl Purpose {
    fn tag(self) -> &'static str {
        match self {
            Purpose::Activation => "activation",
            Purpose::Reset => "reset",
            Purpose::Unlock => "unlock",
            Purpose::EmailChange => "email-change",
        }
    }

    /// How long a link lives.
    pub fn lifetime_secs(self) -> i64 {
        match self {
            Purpose::Reset => 3_600,
            Purpose::Activation | Purpose::Unlock | Purpose::EmailChange => 86_400,
        }
    }
}

/// What taking a link found.
#[derive(Debug, PartialEq, Eq)]
pub enum Redeemed<T> {
    /// A live link, now used.
    Fresh(T),
    /// The link was used already.
    Used,
    /// Unknown, or expired.
    Invalid,
}

fn key(purpose: Purpose, token: &str) -> String {
    let digest = Sha256::digest(format!("{}:{token}", purpose.tag()).as_bytes());
    format!("link:{}", base16ct::lower::encode_string(&digest))
}

/// Stores a new link for `value`; returns its token, to put in the URL.
pub async fn issue<T: Serialize>(
    codes: &dyn Codes,
    purpose: Purpose,
    value: &T,
    now: UnixSeconds,
) -> Result<String, StoreError> {
    let token = oidc::types::random_token(32);
    let json = serde_json::to_vec(value).map_err(|error| StoreError::Backend(Box::new(error)))?;
    codes
        .put(&key(purpose, &token), &json, now + purpose.lifetime_secs())
        .await?;
    Ok(token)
}

/// Uses a link.
pub async fn redeem<T: DeserializeOwned>(
    codes: &dyn Codes,
    purpose: Purpose,
    token: &str,
    now: UnixSeconds,
) -> Result<Redeemed<T>, StoreError> {
    if token.is_empty() || token.len() > 100 {
        return Ok(Redeemed::Invalid);
    }
    Ok(match codes.take(&key(purpose, token), now).await? {
        Taken::Fresh(json) => match serde_json::from_slice(&json) {
            Ok(value) => Redeemed::Fresh(value),
            Err(_) => Redeemed::Invalid,
        },
        Taken::Replayed => Redeemed::Used,
        Taken::Missing => Redeemed::Invalid,
    })
}

/// A short fingerprint of a password hash. Links carry it, and are refused
/// once the password has changed since they were sent.
pub fn fingerprint(password_hash: &str) -> String {
    let digest = Sha256::digest(password_hash.as_bytes());
    base16ct::lower::encode_string(digest.get(..12).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_link_works_once_before_it_expires_and_only_for_its_purpose() {
        let stores = store::Stores::memory();
        let codes = stores.codes.as_ref();
        let token = issue(codes, Purpose::Reset, &"account-1", 1_000)
            .await
            .unwrap_or_default();
        assert_eq!(
            redeem::<String>(codes, Purpose::Activation, &token, 1_001)
                .await
                .ok(),
            Some(Redeemed::Invalid)
        );
        assert_eq!(
            redeem::<String>(codes, Purpose::Reset, &token, 1_001)
                .await
                .ok(),
            Some(Redeemed::Fresh("account-1".to_owned()))
        );
        assert_eq!(
            redeem::<String>(codes, Purpose::Reset, &token, 1_002)
                .await
                .ok(),
            Some(Redeemed::Used)
        );
        let late = issue(codes, Purpose::Reset, &"account-1", 1_000)
            .await
            .unwrap_or_default();
        assert_eq!(
            redeem::<String>(codes, Purpose::Reset, &late, 1_000 + 3_600)
                .await
                .ok(),
            Some(Redeemed::Invalid)
        );
        assert_eq!(
            redeem::<String>(codes, Purpose::Reset, "", 1_000)
                .await
                .ok(),
            Some(Redeemed::Invalid)
        );
    }
}
