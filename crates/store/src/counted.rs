//! Counts writes in front of any backend, so every backend reports
//! [`crate::Stores::writes`] the same way without knowing about it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::{
    Account, Accounts, CertificationRequest, CertificationRequests, Codes, Confirmation,
    ConfirmationCodes, Dossier, Dossiers, IdentityProofs, KeptProof, LoginTransactions,
    OpenSessions, Outbox, Preferences, Purge, QrClaim, Queued, RateLimits, Revocation, Revocations,
    Sessions, StoreError, Taken, Tokens, Trace, Traces, TrailKey, UnixSeconds, UsedOnce,
    WalletIdentities, WalletIdentity,
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

#[async_trait]
impl<B: Sessions> Sessions for Counted<B> {
    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.load(key, now).await
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.tally();
        self.backend.save(key, value, expires_at).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.tally();
        self.backend.delete(key).await
    }
}

#[async_trait]
impl<B: Codes> Codes for Counted<B> {
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.tally();
        self.backend.put(key, value, expires_at).await
    }

    async fn take(&self, key: &str, now: UnixSeconds) -> Result<Taken, StoreError> {
        self.tally();
        self.backend.take(key, now).await
    }
}

#[async_trait]
impl<B: Tokens> Tokens for Counted<B> {
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.tally();
        self.backend.put(key, value, expires_at).await
    }

    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.load(key, now).await
    }

    async fn revoke(&self, key: &str) -> Result<(), StoreError> {
        self.tally();
        self.backend.revoke(key).await
    }
}

#[async_trait]
impl<B: RateLimits> RateLimits for Counted<B> {
    async fn hit(&self, key: &str, window_secs: i64, now: UnixSeconds) -> Result<u32, StoreError> {
        self.tally();
        self.backend.hit(key, window_secs, now).await
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.tally();
        self.backend.reset(key).await
    }
}

#[async_trait]
impl<B: Accounts> Accounts for Counted<B> {
    async fn create(&self, account: &Account) -> Result<(), StoreError> {
        self.tally();
        self.backend.create(account).await
    }

    async fn find_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
        self.backend.find_by_login(login).await
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<Account>, StoreError> {
        self.backend.find_by_id(id).await
    }

    async fn update(&self, account: &Account) -> Result<(), StoreError> {
        self.tally();
        self.backend.update(account).await
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.backend.count().await
    }
}

#[async_trait]
impl<B: Purge> Purge for Counted<B> {
    async fn purge_expired(&self, now: UnixSeconds) -> Result<u64, StoreError> {
        self.backend.purge_expired(now).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.backend.ping().await
    }
}

#[async_trait]
impl<B: Outbox> Outbox for Counted<B> {
    async fn push(&self, payload: &[u8], due_at: UnixSeconds) -> Result<i64, StoreError> {
        self.tally();
        self.backend.push(payload, due_at).await
    }

    async fn claim(
        &self,
        now: UnixSeconds,
        lease_until: UnixSeconds,
        limit: u32,
    ) -> Result<Vec<Queued>, StoreError> {
        self.backend.claim(now, lease_until, limit).await
    }

    async fn remove(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.tally();
        self.backend.remove(ids).await
    }

    async fn postpone(&self, id: i64, due_at: UnixSeconds) -> Result<(), StoreError> {
        self.tally();
        self.backend.postpone(id, due_at).await
    }

    async fn waiting(&self) -> Result<u64, StoreError> {
        self.backend.waiting().await
    }
}

#[async_trait]
impl<B: Traces> Traces for Counted<B> {
    async fn append(
        &self,
        pseudonym: &str,
        at: UnixSeconds,
        body: &[u8],
        key: &TrailKey,
    ) -> Result<Trace, StoreError> {
        self.tally();
        self.backend.append(pseudonym, at, body, key).await
    }

    async fn trail(&self, pseudonym: &str, since: UnixSeconds) -> Result<Vec<Trace>, StoreError> {
        self.backend.trail(pseudonym, since).await
    }

    async fn forget_before(&self, before: UnixSeconds) -> Result<u64, StoreError> {
        self.backend.forget_before(before).await
    }
}

#[async_trait]
impl<B: Revocations> Revocations for Counted<B> {
    async fn push(
        &self,
        pseudonym: &str,
        provider: &str,
        at: UnixSeconds,
    ) -> Result<i64, StoreError> {
        self.tally();
        self.backend.push(pseudonym, provider, at).await
    }

    async fn after(&self, after: i64, limit: u32) -> Result<Vec<Revocation>, StoreError> {
        self.backend.after(after, limit).await
    }
}

#[async_trait]
impl<B: OpenSessions> OpenSessions for Counted<B> {
    async fn put(
        &self,
        group: &str,
        member: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.tally();
        self.backend.put(group, member, value, expires_at).await
    }

    async fn take_group(&self, group: &str, now: UnixSeconds) -> Result<Vec<Vec<u8>>, StoreError> {
        self.tally();
        self.backend.take_group(group, now).await
    }
}

#[async_trait]
impl<B: Preferences> Preferences for Counted<B> {
    async fn load(&self, pseudonym: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.load(pseudonym).await
    }

    async fn save(&self, pseudonym: &str, value: &[u8]) -> Result<(), StoreError> {
        self.tally();
        self.backend.save(pseudonym, value).await
    }
}

#[async_trait]
impl<B: Dossiers> Dossiers for Counted<B> {
    async fn create(&self, dossier: &Dossier) -> Result<(), StoreError> {
        self.tally();
        self.backend.create(dossier).await
    }

    async fn update(&self, dossier: &Dossier) -> Result<(), StoreError> {
        self.tally();
        self.backend.update(dossier).await
    }

    async fn get(&self, id: &str) -> Result<Option<Dossier>, StoreError> {
        self.backend.get(id).await
    }

    async fn of_owner(&self, service: &str, owner: &str) -> Result<Vec<Dossier>, StoreError> {
        self.backend.of_owner(service, owner).await
    }
}

#[async_trait]
impl<B: WalletIdentities> WalletIdentities for Counted<B> {
    async fn create(&self, identity: &WalletIdentity) -> Result<(), StoreError> {
        self.tally();
        self.backend.create(identity).await
    }

    async fn find_by_binding(&self, binding: &str) -> Result<Option<WalletIdentity>, StoreError> {
        self.backend.find_by_binding(binding).await
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<WalletIdentity>, StoreError> {
        self.backend.find_by_id(id).await
    }

    async fn update(&self, identity: &WalletIdentity) -> Result<(), StoreError> {
        self.tally();
        self.backend.update(identity).await
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.tally();
        self.backend.delete(id).await
    }

    async fn add_deletion_link(
        &self,
        key: &str,
        id: &str,
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.tally();
        self.backend.add_deletion_link(key, id, expires_at).await
    }

    async fn find_by_deletion_link(
        &self,
        key: &str,
        now: UnixSeconds,
    ) -> Result<Option<WalletIdentity>, StoreError> {
        self.backend.find_by_deletion_link(key, now).await
    }
}

#[async_trait]
impl<B: CertificationRequests> CertificationRequests for Counted<B> {
    async fn create(
        &self,
        request: &CertificationRequest,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.tally();
        self.backend.create(request, now).await
    }

    async fn get(
        &self,
        id: &str,
        now: UnixSeconds,
    ) -> Result<Option<CertificationRequest>, StoreError> {
        self.backend.get(id, now).await
    }

    async fn in_course(
        &self,
        identity: &str,
        now: UnixSeconds,
    ) -> Result<Option<CertificationRequest>, StoreError> {
        self.backend.in_course(identity, now).await
    }

    async fn decide(&self, id: &str, decision: &[u8], now: UnixSeconds) -> Result<(), StoreError> {
        self.tally();
        self.backend.decide(id, decision, now).await
    }

    async fn remove(&self, id: &str) -> Result<(), StoreError> {
        self.tally();
        self.backend.remove(id).await
    }
}

#[async_trait]
impl<B: IdentityProofs> IdentityProofs for Counted<B> {
    async fn keep(
        &self,
        id: &str,
        value: &[u8],
        kept_until: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.tally();
        self.backend.keep(id, value, kept_until).await
    }

    async fn load(&self, id: &str, now: UnixSeconds) -> Result<Option<KeptProof>, StoreError> {
        self.backend.load(id, now).await
    }

    async fn consume(&self, id: &str, now: UnixSeconds) -> Result<bool, StoreError> {
        self.tally();
        self.backend.consume(id, now).await
    }
}

#[async_trait]
impl<B: LoginTransactions> LoginTransactions for Counted<B> {
    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.tally();
        self.backend.save(key, value, expires_at).await
    }

    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.load(key, now).await
    }

    async fn finish(&self, key: &str) -> Result<(), StoreError> {
        self.tally();
        self.backend.finish(key).await
    }

    async fn show(
        &self,
        key: &str,
        qr_ref: &str,
        expires_at: UnixSeconds,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        self.tally();
        self.backend.show(key, qr_ref, expires_at, replaces).await
    }

    async fn claim(
        &self,
        qr_ref: &str,
        claim: &str,
        now: UnixSeconds,
    ) -> Result<QrClaim, StoreError> {
        self.tally();
        self.backend.claim(qr_ref, claim, now).await
    }

    async fn claimed(
        &self,
        claim: &str,
        now: UnixSeconds,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        self.backend.claimed(claim, now).await
    }

    async fn release(&self, claim: &str) -> Result<(), StoreError> {
        self.tally();
        self.backend.release(claim).await
    }
}

#[async_trait]
impl<B: ConfirmationCodes> ConfirmationCodes for Counted<B> {
    async fn put(
        &self,
        key: &str,
        code_hash: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.tally();
        self.backend.put(key, code_hash, value, expires_at).await
    }

    async fn confirm(
        &self,
        key: &str,
        guess_hash: &str,
        max_tries: u32,
        now: UnixSeconds,
    ) -> Result<Confirmation, StoreError> {
        self.tally();
        self.backend.confirm(key, guess_hash, max_tries, now).await
    }
}

#[async_trait]
impl<B: UsedOnce> UsedOnce for Counted<B> {
    async fn mark(
        &self,
        key: &str,
        until: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        self.tally();
        self.backend.mark(key, until, now).await
    }
}
