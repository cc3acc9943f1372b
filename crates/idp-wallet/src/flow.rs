//! A login's transaction, from the hub's request to the code: created with
//! the browser's cookie, shown as short-lived QR references, claimed once
//! by an app, approved (or refused) with a card read, collected by the
//! browser that started it and by no other.

use oidc::op::AuthorizationRequest;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use store::{LoginTransactions, QrClaim, Stores, Taken};

use crate::config::{CHALLENGE_TTL_SECS, LOGIN_TTL_SECS, QR_TTL_SECS};
use crate::verify::hex;

/// Where the login stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Waiting for an app to scan the QR code.
    Pending,
    /// An app took it and shows it to its holder.
    Claimed { installation: String },
    /// The holder said yes and the card was verified.
    Approved { grant: Box<oidc::op::Grant> },
    /// The holder said "ce n'est pas moi".
    Refused,
}

/// One login.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Transaction {
    pub request: AuthorizationRequest,
    pub created_at: i64,
    /// The QR reference shown now, and until when.
    pub qr_ref: String,
    pub qr_expires_at: i64,
    /// What the app is told of where the login started.
    pub browser: String,
    pub address: String,
    pub status: Status,
}

impl Transaction {
    pub fn expires_at(&self) -> i64 {
        self.created_at + LOGIN_TTL_SECS
    }
}

pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Where a login is filed: the hash of the browser's cookie, so that the
/// store holds no usable cookie.
fn txn_key(browser_token: &str) -> String {
    sha256_hex(browser_token)
}

/// Where a QR reference is filed.
fn ref_key(qr_ref: &str) -> String {
    sha256_hex(qr_ref)
}

/// Where a claim is filed.
fn claim_key(claim: &str) -> String {
    sha256_hex(claim)
}

/// The logins, in [`store::LoginTransactions`] (each expires with its
/// login).
#[derive(Clone)]
pub struct Transactions {
    stores: Stores,
}

impl std::fmt::Debug for Transactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transactions").finish_non_exhaustive()
    }
}

type Result<T> = std::result::Result<T, store::StoreError>;

/// A login's bytes read back; bytes that do not are an error, never a
/// missing login.
fn read(bytes: &[u8]) -> Result<Transaction> {
    serde_json::from_slice(bytes).map_err(|_| store::StoreError::Corrupt)
}

impl Transactions {
    pub fn new(stores: Stores) -> Self {
        Self { stores }
    }

    fn logins(&self) -> &dyn LoginTransactions {
        self.stores.login_transactions.as_ref()
    }

    /// Starts a login; returns the browser's token (its cookie).
    pub async fn start(&self, mut txn: Transaction, now: i64) -> Result<String> {
        let browser_token = oidc::types::random_token(32);
        txn.qr_ref = String::new();
        self.show_new_qr(&txn_key(&browser_token), &mut txn, now)
            .await?;
        Ok(browser_token)
    }

    /// Shows the login under a new QR reference (the old one stops
    /// working).
    async fn show_new_qr(&self, key: &str, txn: &mut Transaction, now: i64) -> Result<()> {
        let replaces = (!txn.qr_ref.is_empty()).then(|| ref_key(&txn.qr_ref));
        txn.qr_ref = oidc::types::random_token(16);
        txn.qr_expires_at = (now + QR_TTL_SECS).min(txn.expires_at());
        self.save(key, txn).await?;
        self.logins()
            .show(
                key,
                &ref_key(&txn.qr_ref),
                txn.qr_expires_at,
                replaces.as_deref(),
            )
            .await
    }

    async fn save(&self, key: &str, txn: &Transaction) -> Result<()> {
        let bytes = crate::stored_json(txn)?;
        self.logins().save(key, &bytes, txn.expires_at()).await
    }

    async fn load(&self, key: &str, now: i64) -> Result<Option<Transaction>> {
        let bytes = self.logins().load(key, now).await?;
        bytes.as_deref().map(read).transpose()
    }

    /// The browser's login, its QR reference renewed when it has expired
    /// and nobody claimed it yet.
    pub async fn for_browser(&self, browser_token: &str, now: i64) -> Result<Option<Transaction>> {
        let key = txn_key(browser_token);
        let Some(mut txn) = self.load(&key, now).await? else {
            return Ok(None);
        };
        if txn.status == Status::Pending && txn.qr_expires_at <= now && now < txn.expires_at() {
            self.show_new_qr(&key, &mut txn, now).await?;
        }
        Ok(Some(txn))
    }

    /// Ends the browser's login (its code was issued, or it gave up).
    pub async fn finish(&self, browser_token: &str) -> Result<()> {
        self.logins().finish(&txn_key(browser_token)).await
    }

    /// Claims the login a QR reference shows, once: returns the claim token
    /// the app uses from then on, and the login.
    pub async fn claim(
        &self,
        qr_ref: &str,
        installation: &str,
        now: i64,
    ) -> std::result::Result<(String, Transaction), ClaimRefused> {
        let claim = oidc::types::random_token(32);
        // One claim per reference, atomically.
        let key = match self
            .logins()
            .claim(&ref_key(qr_ref), &claim_key(&claim), now)
            .await?
        {
            QrClaim::Claimed(key) => key,
            QrClaim::AlreadyClaimed => return Err(ClaimRefused::AlreadyClaimed),
            QrClaim::Unknown => return Err(ClaimRefused::Unknown),
        };
        let Some(mut txn) = self.load(&key, now).await? else {
            return Err(ClaimRefused::Unknown);
        };
        if txn.status != Status::Pending {
            return Err(ClaimRefused::AlreadyClaimed);
        }
        txn.status = Status::Claimed {
            installation: installation.to_owned(),
        };
        self.save(&key, &txn).await?;
        Ok((claim, txn))
    }

    /// The login a claim token names, and its key.
    pub async fn claimed(&self, claim: &str, now: i64) -> Result<Option<(String, Transaction)>> {
        let Some((key, bytes)) = self.logins().claimed(&claim_key(claim), now).await? else {
            return Ok(None);
        };
        Ok(Some((key, read(&bytes)?)))
    }

    /// Records the app's answer; the claim serves no more.
    pub async fn decide(
        &self,
        key: &str,
        claim: &str,
        mut txn: Transaction,
        status: Status,
    ) -> Result<()> {
        txn.status = status;
        self.logins().release(&claim_key(claim)).await?;
        self.save(key, &txn).await
    }
}

/// Why a QR reference cannot be claimed.
#[derive(Debug)]
pub enum ClaimRefused {
    /// Unknown or expired.
    Unknown,
    /// Another app (or this one) already took it.
    AlreadyClaimed,
    /// The store failed.
    Storage(store::StoreError),
}

impl From<store::StoreError> for ClaimRefused {
    fn from(error: store::StoreError) -> Self {
        ClaimRefused::Storage(error)
    }
}

/// Issues a card challenge for `purpose` (`login:<claim hash>`,
/// `activation`…): 8 random bytes, single use, 5 minutes.
pub async fn issue_challenge(stores: &Stores, purpose: &str, now: i64) -> Result<[u8; 8]> {
    let challenge: [u8; 8] = rand::random();
    stores
        .codes
        .put(
            &format!("wallet-challenge:{}", hex(&challenge)),
            purpose.as_bytes(),
            now + CHALLENGE_TTL_SECS,
        )
        .await?;
    Ok(challenge)
}

/// Why a challenge is not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum ChallengeRefused {
    /// Never issued, expired, or issued for something else.
    Unknown,
    /// Already used once.
    Replayed,
}

/// Uses a challenge: it must have been issued for `purpose` and never used.
pub async fn take_challenge(
    stores: &Stores,
    challenge: &[u8; 8],
    purpose: &str,
    now: i64,
) -> std::result::Result<std::result::Result<(), ChallengeRefused>, store::StoreError> {
    let key = format!("wallet-challenge:{}", hex(challenge));
    Ok(match stores.codes.take(&key, now).await? {
        Taken::Fresh(value) if value == purpose.as_bytes() => Ok(()),
        Taken::Fresh(_) | Taken::Missing => Err(ChallengeRefused::Unknown),
        Taken::Replayed => Err(ChallengeRefused::Replayed),
    })
}
