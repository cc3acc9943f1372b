//! Storage for Passerelle: narrow traits named by what they hold, and the
//! backends that hold it.
//!
//! Apps never see a database: they get a [`Stores`] bundle of trait objects,
//! built once from a [`Backend`] by [`open`]. Every backend passes the same
//! contract test suite (`tests/contract.rs`), so swapping one for another
//! changes nothing an app can observe.
//!
//! Two rules shape every signature:
//! - the crate never reads a clock: whatever depends on time takes
//!   `now: UnixSeconds` from the caller, so a 60 s code is tested without
//!   sleeping;
//! - keys and values are opaque. Apps that store personal data seal it with
//!   a [`sealed::Capability`] the client holds, and store it under the
//!   capability's lookup key, so a stolen database reveals nothing.

mod counted;
mod memory;
pub mod postgres;
mod redis;
pub mod sealed;
mod sqlite;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

/// Seconds since the Unix epoch, as given by the caller's clock.
pub type UnixSeconds = i64;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key, id or login is already taken; nothing was written.
    #[error("already exists")]
    Conflict,
    /// The record to change does not exist.
    #[error("not found")]
    NotFound,
    /// Stored bytes cannot be read back: tampered, truncated, sealed under
    /// another capability, or written by an incompatible version.
    #[error("stored data is corrupt or sealed under another capability")]
    Corrupt,
    /// The backend itself failed (I/O, database, schema newer than us).
    /// Boxed so the enum stays the same whichever backends are compiled in.
    #[error("storage backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A message waiting in an [`Outbox`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// Its id in the outbox.
    pub id: i64,
    /// The message, as pushed (sealed by the caller).
    pub payload: Vec<u8>,
    /// Delivery attempts so far, this one included.
    pub attempts: u32,
}

/// Messages waiting to be delivered (the mail outbox). Each is claimed for a
/// while before an attempt, so that two workers never send one twice, then
/// removed once delivered, or postponed when the attempt failed.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Queues a message, due at `due_at`; returns its id.
    async fn push(&self, payload: &[u8], due_at: UnixSeconds) -> Result<i64, StoreError>;
    /// Queues a message its caller has claimed already, for a first
    /// attempt made before `lease_until`: it is counted as one attempt,
    /// and no other worker claims it before then. One write where a push
    /// and a claim would take two; returns its id.
    async fn push_claimed(
        &self,
        payload: &[u8],
        lease_until: UnixSeconds,
    ) -> Result<i64, StoreError>;
    /// Up to `limit` messages due at `now`, oldest due first, each counted
    /// as one more attempt and made due again only at `lease_until` (when a
    /// worker dies mid-attempt, another tries again then).
    async fn claim(
        &self,
        now: UnixSeconds,
        lease_until: UnixSeconds,
        limit: u32,
    ) -> Result<Vec<Queued>, StoreError>;
    /// Delivered, or given up: the messages go (a round's, at once).
    async fn remove(&self, ids: &[i64]) -> Result<(), StoreError>;
    /// The attempt failed: due again at `due_at`.
    async fn postpone(&self, id: i64, due_at: UnixSeconds) -> Result<(), StoreError>;
    /// How many messages wait.
    async fn waiting(&self) -> Result<u64, StoreError>;
}

/// One entry of a person's trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// Its rank in the person's trail, from 1.
    pub seq: i64,
    /// When it happened.
    pub at: UnixSeconds,
    /// What happened (the caller's JSON).
    pub body: Vec<u8>,
    /// The previous entry's hash (32 zero bytes for the first).
    pub prev_hash: [u8; 32],
    /// The previous entry's date: 0 for the first entry, or when the
    /// previous one was written before entries carried it. It tells a
    /// checker whether the previous entry may have been forgotten by
    /// retention, or must still be there. `None`: an entry written before
    /// entries carried it (the first chain format).
    pub prev_at: Option<UnixSeconds>,
    /// The chain key's id: which [`TrailKey`] made `hash`.
    pub key_id: String,
    /// HMAC-SHA-256, under the chain key, of the fields above (see
    /// [`trace_hash`]).
    pub hash: [u8; 32],
}

/// What a trail's last entry leaves for the next one to chain onto.
#[derive(Clone)]
pub(crate) struct TrailHead {
    pub(crate) seq: i64,
    pub(crate) hash: Vec<u8>,
    /// `None` for a head written before heads carried their date.
    pub(crate) at: Option<UnixSeconds>,
}

/// A person as the trail store keeps them, read at once before a
/// connection is written: their settings, which the connection is checked
/// against, and where their trail ends, which its entry then chains onto
/// ([`Traces::append_seen`]).
pub struct Person {
    pseudonym: String,
    /// Their settings (the dashboard's), when any were saved.
    pub settings: Option<Vec<u8>>,
    /// Their trail's head: `None` when the backend did not read it here
    /// (it reads it as it writes), `Some(None)` for a trail not begun.
    head: Option<Option<TrailHead>>,
}

impl Person {
    /// What a backend read: `head` as [`Person`]'s field says.
    pub(crate) fn read(
        pseudonym: &str,
        settings: Option<Vec<u8>>,
        head: Option<Option<TrailHead>>,
    ) -> Self {
        Self {
            pseudonym: pseudonym.to_owned(),
            settings,
            head,
        }
    }

    /// Whose settings and trail these are.
    pub fn pseudonym(&self) -> &str {
        &self.pseudonym
    }
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("settings", &self.settings.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

impl Trace {
    /// The entry that follows `head` (none for a new trail), chained
    /// under `key`.
    fn after(
        head: Option<TrailHead>,
        pseudonym: &str,
        at: UnixSeconds,
        body: &[u8],
        key: &TrailKey,
    ) -> Result<Self, StoreError> {
        let (last_seq, prev_hash, prev_at) = match head {
            Some(head) => (head.seq, hash_of(head.hash)?, head.at.unwrap_or(0)),
            None => (0, [0; 32], 0),
        };
        let mut trace = Self {
            seq: last_seq + 1,
            at,
            body: body.to_vec(),
            prev_hash,
            prev_at: Some(prev_at),
            key_id: key.id.clone(),
            hash: [0; 32],
        };
        trace.hash = trace.expected_hash(&key.secret, pseudonym);
        Ok(trace)
    }

    /// What this entry's `hash` must be, under the chain key `key`.
    pub fn expected_hash(&self, key: &[u8; 32], pseudonym: &str) -> [u8; 32] {
        trace_hash(
            key,
            pseudonym,
            &self.prev_hash,
            self.seq,
            self.at,
            self.prev_at,
            &self.body,
        )
    }

    /// An entry as a database row holds it, hashes as byte strings.
    fn from_row(row: TraceRow) -> Result<Self, StoreError> {
        let (seq, at, body, prev_hash, prev_at, key_id, hash) = row;
        Ok(Self {
            seq,
            at,
            body,
            prev_hash: hash_of(prev_hash)?,
            prev_at,
            key_id,
            hash: hash_of(hash)?,
        })
    }
}

/// A `traces` row: `seq, at, body, prev_hash, prev_at, key_id, hash`.
type TraceRow = (i64, i64, Vec<u8>, Vec<u8>, Option<i64>, String, Vec<u8>);

/// A 32-byte hash read back from storage.
fn hash_of(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt)
}

/// A key of the trail's chain. It is not in the store: whoever can write
/// the database cannot recompute a chain without it. Rotated keys stay
/// known for verification under their id.
#[derive(Clone)]
pub struct TrailKey {
    /// Its id, written beside each entry it chains.
    pub id: String,
    /// 32 random bytes.
    pub secret: [u8; 32],
}

/// The trail keys a process uses, current first, replaced as a whole when
/// their file changes (a rotation on the shared key folder is taken without
/// a restart). Readers take a snapshot: an entry is chained and checked
/// under one set, never half of two.
#[derive(Debug)]
pub struct TrailKeyRing {
    keys: std::sync::RwLock<Arc<Vec<TrailKey>>>,
}

impl TrailKeyRing {
    /// A ring holding `keys`.
    pub fn new(keys: Vec<TrailKey>) -> Arc<Self> {
        Arc::new(Self {
            keys: std::sync::RwLock::new(Arc::new(keys)),
        })
    }

    /// The keys now, current first.
    pub fn get(&self) -> Arc<Vec<TrailKey>> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Their ids, current first.
    pub fn ids(&self) -> Vec<String> {
        self.get().iter().map(|key| key.id.clone()).collect()
    }

    /// Puts `keys` in place of the ring's; returns whether they differ.
    pub fn replace(&self, keys: Vec<TrailKey>) -> bool {
        let ids: Vec<&str> = keys.iter().map(|key| key.id.as_str()).collect();
        let mut held = match self.keys.write() {
            Ok(held) => held,
            Err(poisoned) => poisoned.into_inner(),
        };
        let same = held
            .iter()
            .map(|key| key.id.as_str())
            .eq(ids.iter().copied());
        if !same {
            *held = Arc::new(keys);
        }
        !same
    }
}

impl fmt::Debug for TrailKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrailKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The hash that chains a trace to the one before it: HMAC-SHA-256 under
/// the chain key over the pseudonym's length (8 big-endian bytes) and the
/// pseudonym, the previous hash, then `seq` and `at` as 8 big-endian bytes
/// each, then the body. Changing, removing or reordering an entry, or
/// moving it to another person's trail, breaks it, and only a holder of the
/// key can make a hash that verifies.
///
/// With `prev_at` (the second format), the input starts with the tag
/// [`TRACE_V2`] and has `prev_at`'s 8 bytes after `at`. The tag's first 8
/// bytes, read as a pseudonym's length, are no length a pseudonym has: an
/// entry of one format never verifies as one of the other, so `prev_at`
/// cannot be dropped to hide it.
pub fn trace_hash(
    key: &[u8; 32],
    pseudonym: &str,
    prev_hash: &[u8; 32],
    seq: i64,
    at: UnixSeconds,
    prev_at: Option<UnixSeconds>,
    body: &[u8],
) -> [u8; 32] {
    use hmac::Mac as _;
    // A 32-byte key is always accepted by HMAC; the fallback is unreachable.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    if prev_at.is_some() {
        mac.update(TRACE_V2);
    }
    mac.update(&(pseudonym.len() as u64).to_be_bytes());
    mac.update(pseudonym.as_bytes());
    mac.update(prev_hash);
    mac.update(&seq.to_be_bytes());
    mac.update(&at.to_be_bytes());
    if let Some(prev_at) = prev_at {
        mac.update(&prev_at.to_be_bytes());
    }
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The tag that starts the second chain format's input.
pub const TRACE_V2: &[u8] = b"passerelle/trace/v2\0";

/// People's trails (the dashboard's connection history), each under a
/// pseudonym, each entry chained to the one before by a keyed hash. Appends
/// are atomic: two hubs writing one person's trail never fork it.
#[async_trait]
pub trait Traces: Send + Sync + 'static {
    /// Adds an entry at the end of a trail, chained under `key`; returns it.
    async fn append(
        &self,
        pseudonym: &str,
        at: UnixSeconds,
        body: &[u8],
        key: &TrailKey,
    ) -> Result<Trace, StoreError>;
    /// The person's settings and their trail's head, in one read.
    async fn person(&self, pseudonym: &str) -> Result<Person, StoreError>;
    /// Adds an entry at the end of `seen`'s trail, as [`Traces::append`]
    /// does. A backend that reads the head before it writes (PostgreSQL)
    /// tries the one `seen` read first: when no entry came in between, the
    /// append takes one round trip instead of two.
    async fn append_seen(
        &self,
        seen: &Person,
        at: UnixSeconds,
        body: &[u8],
        key: &TrailKey,
    ) -> Result<Trace, StoreError> {
        self.append(&seen.pseudonym, at, body, key).await
    }
    /// A trail's entries from `since` on, oldest first.
    async fn trail(&self, pseudonym: &str, since: UnixSeconds) -> Result<Vec<Trace>, StoreError>;
    /// Forgets every entry older than `before` (the retention period).
    async fn forget_before(&self, before: UnixSeconds) -> Result<u64, StoreError>;
}

/// A person's request, from the dashboard, to end every session opened
/// through one provider (a block, a « ce n'était pas moi » report).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// Its rank in the queue.
    pub id: i64,
    /// The person's pseudonym.
    pub pseudonym: String,
    /// The provider whose sessions end.
    pub provider: String,
    /// When it was asked.
    pub at: UnixSeconds,
}

/// The queue of [`Revocation`]s the dashboard writes and every hub reads,
/// in order, to end the sessions it holds at once. Entries are purged a
/// day after they were pushed: by then every hub has read them.
#[async_trait]
pub trait Revocations: Send + Sync + 'static {
    /// Queues a revocation; returns its id.
    async fn push(
        &self,
        pseudonym: &str,
        provider: &str,
        at: UnixSeconds,
    ) -> Result<i64, StoreError>;
    /// Up to `limit` revocations after id `after`, oldest first.
    async fn after(&self, after: i64, limit: u32) -> Result<Vec<Revocation>, StoreError>;
}

/// How long a revocation stays queued: every hub reads the queue each
/// second, and one that was down rereads the last day when it starts.
pub const REVOCATION_KEPT_SECS: i64 = 86_400;

/// The hub sessions open for a person through a provider, so that they can
/// be ended together. A group is an opaque key the caller derives; each of
/// its members is one session, its value sealed by the caller.
#[async_trait]
pub trait OpenSessions: Send + Sync + 'static {
    /// Adds a member to a group, or replaces its value and expiry.
    async fn put(
        &self,
        group: &str,
        member: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError>;
    /// Removes every member of the group and returns the live ones' values.
    /// Atomic: of concurrent takes, each member goes to one taker.
    async fn take_group(&self, group: &str, now: UnixSeconds) -> Result<Vec<Vec<u8>>, StoreError>;
}

/// A person's settings (the providers they blocked), under a pseudonym.
#[async_trait]
pub trait Preferences: Send + Sync + 'static {
    /// The settings, when any were saved.
    async fn load(&self, pseudonym: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Saves them, replacing what was there.
    async fn save(&self, pseudonym: &str, value: &[u8]) -> Result<(), StoreError>;
}

/// Browser sessions: opaque bytes under the cookie's lookup key.
#[async_trait]
pub trait Sessions: Send + Sync + 'static {
    /// The session's value, or `None` when it is missing or expired.
    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError>;
    /// Inserts the session or replaces it, value and expiry both.
    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError>;
    /// Forgets the session; deleting a missing session is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// What taking a single-use code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// First use of a live code: its value, now erased from storage.
    Fresh(Vec<u8>),
    /// The code was already used. RFC 6749 §4.1.2 asks the provider to
    /// react (revoke what the first use issued), so this differs from
    /// `Missing`.
    Replayed,
    /// Unknown or expired.
    Missing,
}

/// Single-use secrets: authorization codes, email links, SMS codes.
#[async_trait]
pub trait Codes: Send + Sync + 'static {
    /// Stores a new code. [`StoreError::Conflict`] when the key is already
    /// stored, used or not, until it is purged: a code is never overwritten.
    async fn put(&self, key: &str, value: &[u8], expires_at: UnixSeconds)
    -> Result<(), StoreError>;
    /// Uses the code. Atomic: of concurrent takes, exactly one gets `Fresh`.
    /// A used code stays as a valueless tombstone until it expires, so a
    /// replay is told apart from a guess.
    async fn take(&self, key: &str, now: UnixSeconds) -> Result<Taken, StoreError>;
}

/// Bearer tokens (access tokens): valid a short time, usable many times.
#[async_trait]
pub trait Tokens: Send + Sync + 'static {
    /// Stores a new token. [`StoreError::Conflict`] when the key is already
    /// stored: a token is never overwritten by another.
    async fn put(&self, key: &str, value: &[u8], expires_at: UnixSeconds)
    -> Result<(), StoreError>;
    /// The token's value, or `None` when it is missing, revoked or expired.
    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError>;
    /// Forgets the token; revoking a missing token is not an error.
    async fn revoke(&self, key: &str) -> Result<(), StoreError>;
}

/// Fixed-window counters that throttle guessing (passwords, codes, mails).
#[async_trait]
pub trait RateLimits: Send + Sync + 'static {
    /// Counts this hit and returns the key's hits in the current window,
    /// this one included. A window opens at the first hit and lasts
    /// `window_secs`; the first hit after it ends opens a new one at 1.
    async fn hit(&self, key: &str, window_secs: i64, now: UnixSeconds) -> Result<u32, StoreError>;
    /// Counts this hit against a bound of `limit` hits a window: `true`
    /// while within it (this hit included), `false` past it. The one « hit,
    /// then compare » of every per-key bound.
    async fn within(
        &self,
        key: &str,
        limit: u32,
        window_secs: i64,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        Ok(self.hit(key, window_secs, now).await? <= limit)
    }
    /// Forgets the key's count, e.g. after a successful login.
    async fn reset(&self, key: &str) -> Result<(), StoreError>;
}

/// Where an account stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Registered, email not yet confirmed.
    Pending,
    /// Can log in.
    Active,
    /// Refused at login (too many failures, or by an operator).
    Locked,
}

impl AccountStatus {
    /// The stored text; stable, because it is written to databases.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Locked => "locked",
        }
    }

    /// Reads the stored text back; `None` for anything [`Self::as_str`]
    /// never writes.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "active" => Some(Self::Active),
            "locked" => Some(Self::Locked),
            _ => None,
        }
    }
}

/// An account of a password identity provider.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    /// Stable identifier, never shown to the user.
    pub id: String,
    /// What the user types to log in; unique.
    pub login: String,
    /// PHC string of the password hash; the store never sees a password.
    pub password_hash: String,
    /// Where confirmation and notification mails go.
    pub email: String,
    /// The identity the provider asserts, as JSON the provider owns.
    pub identity: String,
    /// Whether the account may log in.
    pub status: AccountStatus,
    /// When the account was created.
    pub created_at: UnixSeconds,
}

/// Shows only what is not personal data, so an account logged by mistake
/// leaks nothing.
impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Accounts of a password identity provider.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Stores a new account; [`StoreError::Conflict`] when its id or login
    /// is taken.
    async fn create(&self, account: &Account) -> Result<(), StoreError>;
    /// The account with this login, if any.
    async fn find_by_login(&self, login: &str) -> Result<Option<Account>, StoreError>;
    /// The account with this id, if any.
    async fn find_by_id(&self, id: &str) -> Result<Option<Account>, StoreError>;
    /// Replaces every field of the account with the same id;
    /// [`StoreError::NotFound`] when there is none, [`StoreError::Conflict`]
    /// when the new login belongs to another account.
    async fn update(&self, account: &Account) -> Result<(), StoreError>;
    /// How many accounts exist (seeding and dashboards).
    async fn count(&self) -> Result<u64, StoreError>;
}

/// Where a [`Dossier`] stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DossierStatus {
    /// Being filled in: at most one of a kind per person and service.
    Draft,
    /// Sent to the administration; never a draft again.
    Submitted,
}

impl DossierStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
        }
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "draft" => Some(Self::Draft),
            "submitted" => Some(Self::Submitted),
            _ => None,
        }
    }
}

/// A démarche's file as a service provider keeps it: its own data, under
/// the `sub` it received from the hub, never under a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dossier {
    /// Its reference, unique in the store.
    pub id: String,
    /// The service keeping it (`ants`, `impots`…).
    pub service: String,
    /// The person it belongs to: the `sub` the service received.
    pub owner: String,
    /// The démarche (`permis`, `declaration-2026`…).
    pub kind: String,
    /// Draft or submitted.
    pub status: DossierStatus,
    /// The service's content (its own format).
    pub content: Vec<u8>,
    /// When it was started.
    pub created_at: UnixSeconds,
    /// When it last changed.
    pub updated_at: UnixSeconds,
}

/// The démarches' files of the demo services.
#[async_trait]
pub trait Dossiers: Send + Sync + 'static {
    /// Stores a new dossier; [`StoreError::Conflict`] when its id is taken
    /// or when it is a draft and its owner already has a draft of the same
    /// kind at the same service (one démarche of a kind in progress).
    async fn create(&self, dossier: &Dossier) -> Result<(), StoreError>;
    /// Replaces the status, content and update time of the dossier with the
    /// same id, service and owner; [`StoreError::NotFound`] when there is
    /// none.
    async fn update(&self, dossier: &Dossier) -> Result<(), StoreError>;
    /// The dossier with this id, if any.
    async fn get(&self, id: &str) -> Result<Option<Dossier>, StoreError>;
    /// A person's dossiers at a service, the last changed first.
    async fn of_owner(&self, service: &str, owner: &str) -> Result<Vec<Dossier>, StoreError>;
}

/// A digital identity of the wallet provider. It holds no name and no
/// birth date (those are read from the card at each use): a pseudonymous
/// id, the card it is bound to, a contact address and the provider's own
/// record of it.
#[derive(Clone, PartialEq, Eq)]
pub struct WalletIdentity {
    /// Stable pseudonymous id, the `sub` the provider asserts; never given
    /// to another identity, even after this one is deleted.
    pub id: String,
    /// The card it is bound to: the provider's hash of the card's issuing
    /// state, number and chip key. Unique among live identities.
    pub binding: String,
    /// Where the provider's notices go.
    pub email: String,
    /// What the provider keeps of it (code epoch, certification), in the
    /// provider's own format.
    pub record: Vec<u8>,
    /// Bumped by each update, so that an update made from an older reading
    /// is refused instead of undoing the one in between.
    pub revision: i64,
    /// When it was created.
    pub created_at: UnixSeconds,
}

/// Shows only what is not personal data.
impl fmt::Debug for WalletIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WalletIdentity")
            .field("id", &self.id)
            .field("revision", &self.revision)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The wallet provider's identities, with the deletion links mailed to
/// their holders. A deleted identity is emptied, its binding freed (the
/// same card may make a new identity) and its id kept taken.
#[async_trait]
pub trait WalletIdentities: Send + Sync + 'static {
    /// Stores a new identity, at the revision it carries;
    /// [`StoreError::Conflict`] when its id was ever used or its binding
    /// belongs to a live identity.
    async fn create(&self, identity: &WalletIdentity) -> Result<(), StoreError>;
    /// The live identity bound to this card, if any.
    async fn find_by_binding(&self, binding: &str) -> Result<Option<WalletIdentity>, StoreError>;
    /// The live identity with this id, if any.
    async fn find_by_id(&self, id: &str) -> Result<Option<WalletIdentity>, StoreError>;
    /// Replaces the email and record of the live identity with the same id,
    /// provided its stored revision is still `identity.revision`; the stored
    /// revision becomes `identity.revision + 1`. [`StoreError::NotFound`]
    /// when there is no live identity with this id,
    /// [`StoreError::Conflict`] when another update came first (read it
    /// again). The binding never changes.
    async fn update(&self, identity: &WalletIdentity) -> Result<(), StoreError>;
    /// Deletes the identity: its binding, email, record and deletion links
    /// go, its id stays taken. Deleting an identity already deleted, or
    /// unknown, is not an error.
    async fn delete(&self, id: &str) -> Result<(), StoreError>;
    /// Files a deletion link for the identity `id` under `key` (the lookup
    /// key of the token mailed to the holder), valid until `expires_at`;
    /// [`StoreError::Conflict`] when the key is taken.
    async fn add_deletion_link(
        &self,
        key: &str,
        id: &str,
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError>;
    /// The live identity a deletion link names, while the link is valid.
    async fn find_by_deletion_link(
        &self,
        key: &str,
        now: UnixSeconds,
    ) -> Result<Option<WalletIdentity>, StoreError>;
}

/// A request to have a wallet identity certified at a town hall.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificationRequest {
    /// Its id, which its sealed QR code carries.
    pub id: String,
    /// The identity to certify.
    pub identity: String,
    /// The card the request was made with ([`WalletIdentity::binding`]).
    pub binding: String,
    /// When it was made.
    pub issued_at: UnixSeconds,
    /// The last second it may be presented at a counter.
    pub expires_at: UnixSeconds,
    /// The agent's decision, in the provider's own format; `None` while
    /// the request is open.
    pub decision: Option<Vec<u8>>,
}

impl CertificationRequest {
    /// Whether the request is still in course at `now`: open and not past
    /// its last second, or decided and awaiting its result.
    pub fn in_course(&self, now: UnixSeconds) -> bool {
        self.decision.is_some() || now <= self.expires_at
    }
}

/// Certification requests: open (until their last second), then decided
/// at a counter, then removed once their result took effect. An identity
/// has at most one request in course.
#[async_trait]
pub trait CertificationRequests: Send + Sync + 'static {
    /// Stores a new request. [`StoreError::Conflict`] when its id is taken
    /// or when its identity has a request in course at `now`; an open
    /// request of the identity past its last second is replaced. Atomic:
    /// of concurrent requests for one identity, one is stored.
    async fn create(
        &self,
        request: &CertificationRequest,
        now: UnixSeconds,
    ) -> Result<(), StoreError>;
    /// The request while it is in course at `now`.
    async fn get(
        &self,
        id: &str,
        now: UnixSeconds,
    ) -> Result<Option<CertificationRequest>, StoreError>;
    /// The identity's request in course at `now`, if any.
    async fn in_course(
        &self,
        identity: &str,
        now: UnixSeconds,
    ) -> Result<Option<CertificationRequest>, StoreError>;
    /// Records the agent's decision on an open request. Atomic: of two
    /// agents deciding at once, one decision is recorded and the other
    /// gets [`StoreError::Conflict`], as does any decision on a request
    /// already decided; [`StoreError::NotFound`] when no open request has
    /// this id at `now` (unknown, past its last second, or removed).
    async fn decide(&self, id: &str, decision: &[u8], now: UnixSeconds) -> Result<(), StoreError>;
    /// Removes the request once its result took effect (or can no longer
    /// take effect); removing a missing request is not an error.
    async fn remove(&self, id: &str) -> Result<(), StoreError>;
}

/// What is kept of a single-use identity proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptProof {
    /// The provider's record of it (recipient, hashes, validity).
    pub value: Vec<u8>,
    /// Whether its recipient used it.
    pub used: bool,
}

/// The single-use identity proofs the wallet provider issued: a record per
/// proof, kept a while past its validity, used once by its recipient.
#[async_trait]
pub trait IdentityProofs: Send + Sync + 'static {
    /// Keeps a new proof's record until `kept_until`;
    /// [`StoreError::Conflict`] when the id is taken.
    async fn keep(&self, id: &str, value: &[u8], kept_until: UnixSeconds)
    -> Result<(), StoreError>;
    /// The proof's record, while it is kept.
    async fn load(&self, id: &str, now: UnixSeconds) -> Result<Option<KeptProof>, StoreError>;
    /// Uses the proof: `true` for its first use, `false` when it was used
    /// already or is not kept. Atomic: of concurrent uses, one gets `true`.
    async fn consume(&self, id: &str, now: UnixSeconds) -> Result<bool, StoreError>;
}

/// What claiming a QR reference found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QrClaim {
    /// First claim of a live reference: the key of the login it shows.
    Claimed(String),
    /// The reference was claimed already (by another app, or this one).
    AlreadyClaimed,
    /// Unknown, expired, replaced by a newer reference, or its login ended.
    Unknown,
}

/// Logins by QR code, from the browser that starts one to the app that
/// answers it. A login is filed under the lookup key of the browser's
/// cookie; it is shown under short-lived QR references, one at a time; the
/// first app to claim a reference gets a claim, under which it answers.
#[async_trait]
pub trait LoginTransactions: Send + Sync + 'static {
    /// Inserts the login or replaces it, value and expiry both.
    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError>;
    /// The login's value, or `None` when it is missing or expired.
    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError>;
    /// Ends the login: its references and claim then find nothing. Ending
    /// a missing login is not an error.
    async fn finish(&self, key: &str) -> Result<(), StoreError>;
    /// Shows the login `key` under the QR reference `qr_ref` until
    /// `expires_at`, withdrawing the unclaimed reference it `replaces`;
    /// [`StoreError::Conflict`] when `qr_ref` is taken.
    async fn show(
        &self,
        key: &str,
        qr_ref: &str,
        expires_at: UnixSeconds,
        replaces: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Claims the login a QR reference shows, under `claim` (the lookup key
    /// of the claim token given to the app), which then names the login
    /// until the login expires. Atomic: of concurrent claims, one gets
    /// [`QrClaim::Claimed`]; a claimed reference then answers
    /// [`QrClaim::AlreadyClaimed`] until the time its login expires.
    async fn claim(
        &self,
        qr_ref: &str,
        claim: &str,
        now: UnixSeconds,
    ) -> Result<QrClaim, StoreError>;
    /// The login a claim names: its key and value.
    async fn claimed(
        &self,
        claim: &str,
        now: UnixSeconds,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError>;
    /// Ends a claim (the app answered): it names no login any more, and its
    /// reference stays claimed. Releasing a missing claim is not an error.
    async fn release(&self, claim: &str) -> Result<(), StoreError>;
}

/// What a guess at a mailed code found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// The right code: the value it confirms, now erased from storage.
    Confirmed(Vec<u8>),
    /// A wrong code, counted. At 0 tries left the code is erased.
    Wrong {
        /// Wrong guesses still allowed.
        tries_left: u32,
    },
    /// Unknown, expired, confirmed already or out of tries.
    Missing,
}

/// Codes mailed to a person to confirm a step taken elsewhere (a
/// certification request in the app): each under the lookup key of the
/// token its client holds, with the hash of the code and the value it
/// confirms, wrong guesses counted.
#[async_trait]
pub trait ConfirmationCodes: Send + Sync + 'static {
    /// Stores a code awaiting its confirmation; [`StoreError::Conflict`]
    /// when the key is taken.
    async fn put(
        &self,
        key: &str,
        code_hash: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError>;
    /// Checks a guess, given as its hash. Atomic: of concurrent right
    /// guesses one gets [`Confirmation::Confirmed`], and every wrong guess
    /// counts; after `max_tries` wrong guesses the code is erased.
    async fn confirm(
        &self,
        key: &str,
        guess_hash: &str,
        max_tries: u32,
        now: UnixSeconds,
    ) -> Result<Confirmation, StoreError>;
}

/// Marks that something served once (a one-time password's time step),
/// kept as long as it could be replayed.
#[async_trait]
pub trait UsedOnce: Send + Sync + 'static {
    /// Marks `key` used until `until`: `true` when it was not marked at
    /// `now`, `false` when it was (a replay). Atomic: of concurrent marks,
    /// one gets `true`.
    async fn mark(
        &self,
        key: &str,
        until: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<bool, StoreError>;
}

/// Whether two hashes are equal, in a time that does not depend on where
/// they differ.
fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0_u8, |differ, (x, y)| differ | (x ^ y))
            == 0
}

/// An update that changed a row succeeded; one that changed none missed it.
fn found(changed: bool) -> Result<(), StoreError> {
    if changed {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// Why a guarded update changed nothing: the record is still there (the
/// guard refused), or it is gone.
fn refused(still_there: bool) -> StoreError {
    if still_there {
        StoreError::Conflict
    } else {
        StoreError::NotFound
    }
}

/// What every backend does besides its traits: drop what has expired, and
/// answer whether it is there. Crate-private because
/// [`Stores::purge_expired`] and [`Stores::ping`] are the ways in.
#[async_trait]
trait Purge: Send + Sync + 'static {
    async fn purge_expired(&self, now: UnixSeconds) -> Result<u64, StoreError>;
    /// The cheapest round trip to the backend.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Which backend holds the data; chosen once, at start, from config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// In the process: lost at exit. Tests and the demo.
    Memory,
    /// A SQLite file, created with its folder when missing.
    Sqlite(PathBuf),
    /// A schema of a PostgreSQL database (`postgres://…`), migrated by
    /// [`postgres::migrate`] beforehand.
    Postgres {
        /// The database.
        url: String,
        /// The part's schema in it.
        schema: String,
    },
}

/// Opens the configured backend.
pub async fn open(backend: &Backend) -> Result<Stores, StoreError> {
    match backend {
        Backend::Memory => Ok(Stores::memory()),
        Backend::Sqlite(path) => Stores::sqlite(path).await,
        Backend::Postgres { url, schema } => Stores::postgres(url, schema).await,
    }
}

/// Every store an app may need, over one backend. Cheap to clone: clones
/// share the backend and the write counter.
#[derive(Clone)]
pub struct Stores {
    /// Browser sessions.
    pub sessions: Arc<dyn Sessions>,
    /// Single-use codes.
    pub codes: Arc<dyn Codes>,
    /// Bearer tokens.
    pub tokens: Arc<dyn Tokens>,
    /// Rate-limit counters.
    pub rate_limits: Arc<dyn RateLimits>,
    /// Password accounts.
    pub accounts: Arc<dyn Accounts>,
    /// Messages waiting to be sent.
    pub outbox: Arc<dyn Outbox>,
    /// People's trails.
    pub traces: Arc<dyn Traces>,
    /// People's settings.
    pub preferences: Arc<dyn Preferences>,
    /// The demo services' dossiers.
    pub dossiers: Arc<dyn Dossiers>,
    /// Requests to end a person's sessions.
    pub revocations: Arc<dyn Revocations>,
    /// The hub's sessions, grouped by person and provider.
    pub open_sessions: Arc<dyn OpenSessions>,
    /// The wallet provider's identities.
    pub wallet_identities: Arc<dyn WalletIdentities>,
    /// The wallet provider's certification requests.
    pub certification_requests: Arc<dyn CertificationRequests>,
    /// The wallet provider's single-use identity proofs.
    pub identity_proofs: Arc<dyn IdentityProofs>,
    /// Logins by QR code.
    pub login_transactions: Arc<dyn LoginTransactions>,
    /// Codes mailed for confirmation.
    pub confirmation_codes: Arc<dyn ConfirmationCodes>,
    /// Single-use marks.
    pub used_once: Arc<dyn UsedOnce>,
    writes: Arc<AtomicU64>,
    durable_writes: Arc<AtomicU64>,
    purge: Arc<dyn Purge>,
    ephemeral_purge: Option<Arc<dyn Purge>>,
    backend: &'static str,
    ephemeral: Option<Ephemeral>,
}

/// Where what expires is kept, when not on the durable backend.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ephemeral {
    Redis,
    Memory,
}

impl Ephemeral {
    fn name(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Memory => "memory",
        }
    }
}

impl Stores {
    /// Stores in the process's memory.
    pub fn memory() -> Self {
        Self::over("memory", memory::Memory::default())
    }

    /// Stores in the SQLite file at `path`, creating the file, its folder
    /// and its tables when missing.
    pub async fn sqlite(path: &Path) -> Result<Self, StoreError> {
        Ok(Self::over("sqlite", sqlite::Sqlite::open(path).await?))
    }

    /// Stores in `schema` of the PostgreSQL database at `url`, which must
    /// be at this program's version ([`postgres::migrate`]).
    pub async fn postgres(url: &str, schema: &str) -> Result<Self, StoreError> {
        Ok(Self::over(
            "postgres",
            postgres::Postgres::open(url, schema).await?,
        ))
    }

    /// Wraps a backend so that every write through the bundle is counted.
    fn over<B>(backend_name: &'static str, backend: B) -> Self
    where
        B: Sessions
            + Codes
            + Tokens
            + RateLimits
            + Accounts
            + Outbox
            + Traces
            + Preferences
            + Dossiers
            + Revocations
            + OpenSessions
            + WalletIdentities
            + CertificationRequests
            + IdentityProofs
            + LoginTransactions
            + ConfirmationCodes
            + UsedOnce
            + Purge,
    {
        let writes = Arc::new(AtomicU64::new(0));
        let durable_writes = Arc::new(AtomicU64::new(0));
        let counted = Arc::new(counted::Counted::new(
            backend,
            Arc::clone(&writes),
            Arc::clone(&durable_writes),
        ));
        Self {
            sessions: counted.clone(),
            codes: counted.clone(),
            tokens: counted.clone(),
            rate_limits: counted.clone(),
            accounts: counted.clone(),
            outbox: counted.clone(),
            traces: counted.clone(),
            preferences: counted.clone(),
            dossiers: counted.clone(),
            revocations: counted.clone(),
            open_sessions: counted.clone(),
            wallet_identities: counted.clone(),
            certification_requests: counted.clone(),
            identity_proofs: counted.clone(),
            login_transactions: counted.clone(),
            confirmation_codes: counted.clone(),
            used_once: counted.clone(),
            writes,
            durable_writes,
            purge: counted,
            ephemeral_purge: None,
            backend: backend_name,
            ephemeral: None,
        }
    }

    /// Moves what expires (sessions, codes, tokens, rate windows, open
    /// sessions, QR logins, mailed confirmation codes, single-use marks) to
    /// the Redis at `url`, every key under `prefix`; the rest stays on this
    /// bundle's backend.
    pub async fn with_redis(self, url: &str, prefix: &str) -> Result<Self, StoreError> {
        let redis = redis::Redis::open(url, prefix).await?;
        Ok(self.with_ephemeral(Ephemeral::Redis, redis))
    }

    /// Keeps what expires (as [`Stores::with_redis`] lists it) in this
    /// process's memory; the rest stays on this bundle's backend. For a part
    /// that runs as one process: another process sharing the durable store
    /// would not see these, and a restart ends them.
    pub fn with_memory_ephemeral(self) -> Self {
        self.with_ephemeral(Ephemeral::Memory, memory::Memory::default())
    }

    fn with_ephemeral<B>(self, kind: Ephemeral, backend: B) -> Self
    where
        B: Sessions
            + Codes
            + Tokens
            + RateLimits
            + OpenSessions
            + LoginTransactions
            + ConfirmationCodes
            + UsedOnce
            + Purge,
    {
        let counted = Arc::new(counted::Counted::new(
            backend,
            Arc::clone(&self.writes),
            Arc::new(AtomicU64::new(0)),
        ));
        Self {
            sessions: counted.clone(),
            codes: counted.clone(),
            tokens: counted.clone(),
            rate_limits: counted.clone(),
            open_sessions: counted.clone(),
            login_transactions: counted.clone(),
            confirmation_codes: counted.clone(),
            used_once: counted.clone(),
            ephemeral_purge: Some(counted),
            ephemeral: Some(kind),
            ..self
        }
    }

    /// Whether what expires is on the durable backend with the rest, so
    /// that every write is a durable one.
    pub fn all_durable(&self) -> bool {
        self.ephemeral.is_none()
    }

    /// Whether what expires is dropped by its backend itself (Redis), so
    /// that [`Stores::purge_expired`] has nothing of it to reclaim.
    pub fn expires_by_itself(&self) -> bool {
        self.ephemeral == Some(Ephemeral::Redis)
    }

    /// How many writing calls (save, delete, put, take, revoke, hit, reset,
    /// create, update, and the other traits' writes alike) went through this bundle and its clones since it was
    /// opened, whatever their outcome. Tests use it to keep the writes per
    /// login few; purges are not counted.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Of [`Stores::writes`], those that went to the durable backend: all
    /// of them without an ephemeral one.
    pub fn durable_writes(&self) -> u64 {
        self.durable_writes.load(Ordering::Relaxed)
    }

    /// Deletes what has expired (sessions, codes, tokens, rate windows,
    /// QR logins, lapsed certification requests, proofs past their keeping,
    /// deletion links…); returns how many rows went. Run periodically: reads already ignore expired
    /// rows, this only reclaims space.
    pub async fn purge_expired(&self, now: UnixSeconds) -> Result<u64, StoreError> {
        let mut purged = self.purge.purge_expired(now).await?;
        if let Some(ephemeral) = &self.ephemeral_purge
            && !self.expires_by_itself()
        {
            purged += ephemeral.purge_expired(now).await?;
        }
        Ok(purged)
    }

    /// Whether every backend of the bundle answers (readiness checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.purge.ping().await?;
        if let Some(ephemeral) = &self.ephemeral_purge {
            ephemeral.ping().await?;
        }
        Ok(())
    }
}

/// Names the backend only: the stores hold nothing worth printing.
impl fmt::Debug for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Stores");
        debug.field("backend", &self.backend);
        if let Some(ephemeral) = self.ephemeral {
            debug.field("ephemeral", &ephemeral.name());
        }
        debug.finish_non_exhaustive()
    }
}
