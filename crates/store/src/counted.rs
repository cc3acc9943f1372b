//! Counts writes in front of any backend, so every backend reports
//! [`crate::Stores::writes`] the same way without knowing about it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::{
    Account, Accounts, CertificationRequest, CertificationRequests, Codes, Confirmation,
    ConfirmationCodes, Dossier, Dossiers, IdentityProofs, KeptProof, LoginTransactions,
    OpenSessions, Outbox, Person, Preferences, Purge, QrClaim, Queued, RateLimits, Revocation,
    Revocations, Sessions, StoreError, Taken, Tokens, Trace, Traces, TrailKey, UnixSeconds,
    UsedOnce, WalletIdentities, WalletIdentity,
};

/// A backend and the counter its writes bump.
pub(crate) struct Counted<B> {
    backend: B,
    /// Every write of the bundle.
    writes: Arc<AtomicU64>,
    /// This backend's writes.
    own: Arc<AtomicU64>,
}

impl<B> Counted<B> {
    pub(crate) fn new(backend: B, writes: Arc<AtomicU64>, own: Arc<AtomicU64>) -> Self {
        Self {
            backend,
            writes,
            own,
        }
    }

    /// Counted before the call, so a failed write counts too: it still
    /// reached storage.
    fn tally(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.own.fetch_add(1, Ordering::Relaxed);
    }
}

/// Implements each store trait for [`Counted`]: every method forwards to
/// the backend, and those marked `write` are counted first.
macro_rules! forward {
    ($($store:ident { $($access:ident $method:ident($($arg:ident: $ty:ty),*) -> $out:ty;)* })*) => {$(
        #[async_trait]
        impl<B: $store> $store for Counted<B> {$(
            async fn $method(&self, $($arg: $ty),*) -> Result<$out, StoreError> {
                forward!(@ $access self);
                self.backend.$method($($arg),*).await
            }
        )*}
    )*};
    (@ read $counted:ident) => {};
    (@ write $counted:ident) => { $counted.tally() };
}

forward! {
    Sessions {
        read load(key: &str, now: UnixSeconds) -> Option<Vec<u8>>;
        write save(key: &str, value: &[u8], expires_at: UnixSeconds) -> ();
        write delete(key: &str) -> ();
    }
    Codes {
        write put(key: &str, value: &[u8], expires_at: UnixSeconds) -> ();
        write take(key: &str, now: UnixSeconds) -> Taken;
    }
    Tokens {
        write put(key: &str, value: &[u8], expires_at: UnixSeconds) -> ();
        read load(key: &str, now: UnixSeconds) -> Option<Vec<u8>>;
        write revoke(key: &str) -> ();
    }
    RateLimits {
        write hit(key: &str, window_secs: i64, now: UnixSeconds) -> u32;
        write reset(key: &str) -> ();
    }
    Accounts {
        write create(account: &Account) -> ();
        read find_by_login(login: &str) -> Option<Account>;
        read find_by_id(id: &str) -> Option<Account>;
        write update(account: &Account) -> ();
        read count() -> u64;
    }
    Purge {
        read purge_expired(now: UnixSeconds) -> u64;
        read ping() -> ();
    }
    Outbox {
        write push(payload: &[u8], due_at: UnixSeconds) -> i64;
        write push_claimed(payload: &[u8], lease_until: UnixSeconds) -> i64;
        read claim(now: UnixSeconds, lease_until: UnixSeconds, limit: u32) -> Vec<Queued>;
        write remove(ids: &[i64]) -> ();
        write postpone(id: i64, due_at: UnixSeconds) -> ();
        read waiting() -> u64;
    }
    Traces {
        write append(pseudonym: &str, at: UnixSeconds, body: &[u8], key: &TrailKey) -> Trace;
        read person(pseudonym: &str) -> Person;
        write append_seen(seen: &Person, at: UnixSeconds, body: &[u8], key: &TrailKey) -> Trace;
        read trail(pseudonym: &str, since: UnixSeconds) -> Vec<Trace>;
        read forget_before(before: UnixSeconds) -> u64;
    }
    Revocations {
        write push(pseudonym: &str, provider: &str, at: UnixSeconds) -> i64;
        read after(after: i64, limit: u32) -> Vec<Revocation>;
    }
    OpenSessions {
        write put(group: &str, member: &str, value: &[u8], expires_at: UnixSeconds) -> ();
        write take_group(group: &str, now: UnixSeconds) -> Vec<Vec<u8>>;
    }
    Preferences {
        read load(pseudonym: &str) -> Option<Vec<u8>>;
        write save(pseudonym: &str, value: &[u8]) -> ();
    }
    Dossiers {
        write create(dossier: &Dossier) -> ();
        write update(dossier: &Dossier) -> ();
        read get(id: &str) -> Option<Dossier>;
        read of_owner(service: &str, owner: &str) -> Vec<Dossier>;
    }
    WalletIdentities {
        write create(identity: &WalletIdentity) -> ();
        read find_by_binding(binding: &str) -> Option<WalletIdentity>;
        read find_by_id(id: &str) -> Option<WalletIdentity>;
        write update(identity: &WalletIdentity) -> ();
        write delete(id: &str) -> ();
        write add_deletion_link(key: &str, id: &str, expires_at: UnixSeconds) -> ();
        read find_by_deletion_link(key: &str, now: UnixSeconds) -> Option<WalletIdentity>;
    }
    CertificationRequests {
        write create(request: &CertificationRequest, now: UnixSeconds) -> ();
        read get(id: &str, now: UnixSeconds) -> Option<CertificationRequest>;
        read in_course(identity: &str, now: UnixSeconds) -> Option<CertificationRequest>;
        write decide(id: &str, decision: &[u8], now: UnixSeconds) -> ();
        write remove(id: &str) -> ();
    }
    IdentityProofs {
        write keep(id: &str, value: &[u8], kept_until: UnixSeconds) -> ();
        read load(id: &str, now: UnixSeconds) -> Option<KeptProof>;
        write consume(id: &str, now: UnixSeconds) -> bool;
    }
    LoginTransactions {
        write save(key: &str, value: &[u8], expires_at: UnixSeconds) -> ();
        read load(key: &str, now: UnixSeconds) -> Option<Vec<u8>>;
        write finish(key: &str) -> ();
        write show(key: &str, qr_ref: &str, expires_at: UnixSeconds, replaces: Option<&str>) -> ();
        write claim(qr_ref: &str, claim: &str, now: UnixSeconds) -> QrClaim;
        read claimed(claim: &str, now: UnixSeconds) -> Option<(String, Vec<u8>)>;
        write release(claim: &str) -> ();
    }
    ConfirmationCodes {
        write put(key: &str, code_hash: &str, value: &[u8], expires_at: UnixSeconds) -> ();
        write confirm(key: &str, guess_hash: &str, max_tries: u32, now: UnixSeconds) -> Confirmation;
    }
    UsedOnce {
        write mark(key: &str, until: UnixSeconds, now: UnixSeconds) -> bool;
    }
}
