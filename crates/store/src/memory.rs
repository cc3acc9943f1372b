//! The in-process backend: tests and the demo. One lock over everything
//! makes each operation atomic, which is all the contract asks.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::{
    Account, Accounts, CertificationRequest, CertificationRequests, Codes, Confirmation,
    ConfirmationCodes, Dossier, DossierStatus, Dossiers, IdentityProofs, KeptProof,
    LoginTransactions, OpenSessions, Outbox, Person, Preferences, Purge, QrClaim, Queued,
    REVOCATION_KEPT_SECS, RateLimits, Revocation, Revocations, Sessions, StoreError, Taken, Tokens,
    Trace, Traces, TrailHead, TrailKey, UnixSeconds, UsedOnce, WalletIdentities, WalletIdentity,
    same_hash,
};

/// Everything the backend holds.
#[derive(Default)]
pub(crate) struct Memory {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<String, Expiring>,
    codes: HashMap<String, Code>,
    tokens: HashMap<String, Expiring>,
    windows: HashMap<String, Window>,
    /// By id; logins are unique too, checked by scanning (few accounts).
    accounts: HashMap<String, Account>,
    /// By id, in push order.
    outbox: std::collections::BTreeMap<i64, Waiting>,
    next_outbox_id: i64,
    /// Trails by pseudonym, oldest first, with the last hash and rank ever
    /// written (kept when old entries are forgotten).
    trails: HashMap<String, Trail>,
    preferences: HashMap<String, Vec<u8>>,
    /// By id.
    dossiers: HashMap<String, Dossier>,
    /// In push order.
    revocations: Vec<Revocation>,
    /// Groups of members.
    open_sessions: HashMap<String, HashMap<String, Expiring>>,
    /// Wallet identities by id; a deleted one stays as `None`, its id taken.
    wallet_identities: HashMap<String, Option<WalletIdentity>>,
    /// Deletion links: the identity's id, until when.
    deletion_links: HashMap<String, (String, UnixSeconds)>,
    /// Certification requests by id.
    certification_requests: HashMap<String, CertificationRequest>,
    /// Identity proofs by id.
    proofs: HashMap<String, Proof>,
    /// QR logins by key.
    logins: HashMap<String, Expiring>,
    /// QR references.
    login_refs: HashMap<String, LoginRef>,
    /// Claims: the login's key, until when.
    login_claims: HashMap<String, (String, UnixSeconds)>,
    /// Codes mailed for confirmation.
    confirmations: HashMap<String, Mailed>,
    /// Single-use marks: until when.
    used_once: HashMap<String, UnixSeconds>,
}

struct Proof {
    value: Vec<u8>,
    used: bool,
    kept_until: UnixSeconds,
}

struct LoginRef {
    login: String,
    claimed: bool,
    expires_at: UnixSeconds,
}

struct Mailed {
    code_hash: String,
    value: Vec<u8>,
    tries: u32,
    expires_at: UnixSeconds,
}

#[derive(Default)]
struct Trail {
    entries: Vec<Trace>,
    last_seq: i64,
    last_hash: [u8; 32],
    last_at: UnixSeconds,
}

struct Waiting {
    payload: Vec<u8>,
    due_at: UnixSeconds,
    attempts: u32,
}

struct Expiring {
    value: Vec<u8>,
    expires_at: UnixSeconds,
}

impl Expiring {
    /// `value`, kept until `expires_at`.
    fn new(value: &[u8], expires_at: UnixSeconds) -> Self {
        Self {
            value: value.to_vec(),
            expires_at,
        }
    }

    fn live(&self, now: UnixSeconds) -> Option<Vec<u8>> {
        (now < self.expires_at).then(|| self.value.clone())
    }
}

/// Puts `entry` under `key` only when the key is free: a conflict otherwise.
fn put_new<V>(map: &mut HashMap<String, V>, key: &str, entry: V) -> Result<(), StoreError> {
    if map.contains_key(key) {
        return Err(StoreError::Conflict);
    }
    map.insert(key.to_owned(), entry);
    Ok(())
}

struct Code {
    value: Vec<u8>,
    used: bool,
    expires_at: UnixSeconds,
}

struct Window {
    hits: u32,
    ends_at: UnixSeconds,
}

impl Memory {
    /// Every operation leaves the maps consistent before it could panic, so
    /// a poisoned lock still guards valid data and is taken anyway.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message in the outbox, due at `due_at`, `attempts` made.
    fn queue(&self, payload: &[u8], due_at: UnixSeconds, attempts: u32) -> i64 {
        let mut state = self.state();
        state.next_outbox_id += 1;
        let id = state.next_outbox_id;
        let waiting = Waiting {
            payload: payload.to_vec(),
            due_at,
            attempts,
        };
        state.outbox.insert(id, waiting);
        id
    }
}

#[async_trait]
impl Sessions for Memory {
    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state().sessions.get(key).and_then(|s| s.live(now)))
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.state()
            .sessions
            .insert(key.to_owned(), Expiring::new(value, expires_at));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.state().sessions.remove(key);
        Ok(())
    }
}

#[async_trait]
impl Codes for Memory {
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let code = Code {
            value: value.to_vec(),
            used: false,
            expires_at,
        };
        put_new(&mut self.state().codes, key, code)
    }

    async fn take(&self, key: &str, now: UnixSeconds) -> Result<Taken, StoreError> {
        Ok(match self.state().codes.get_mut(key) {
            Some(code) if now < code.expires_at => {
                if code.used {
                    Taken::Replayed
                } else {
                    code.used = true;
                    Taken::Fresh(std::mem::take(&mut code.value))
                }
            }
            _ => Taken::Missing,
        })
    }
}

#[async_trait]
impl Tokens for Memory {
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        put_new(
            &mut self.state().tokens,
            key,
            Expiring::new(value, expires_at),
        )
    }

    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state().tokens.get(key).and_then(|t| t.live(now)))
    }

    async fn revoke(&self, key: &str) -> Result<(), StoreError> {
        self.state().tokens.remove(key);
        Ok(())
    }
}

#[async_trait]
impl RateLimits for Memory {
    async fn hit(&self, key: &str, window_secs: i64, now: UnixSeconds) -> Result<u32, StoreError> {
        let mut state = self.state();
        let window = state.windows.entry(key.to_owned()).or_insert(Window {
            hits: 0,
            ends_at: now.saturating_add(window_secs),
        });
        if window.ends_at <= now {
            *window = Window {
                hits: 0,
                ends_at: now.saturating_add(window_secs),
            };
        }
        window.hits = window.hits.saturating_add(1);
        Ok(window.hits)
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.state().windows.remove(key);
        Ok(())
    }
}

#[async_trait]
impl Accounts for Memory {
    async fn create(&self, account: &Account) -> Result<(), StoreError> {
        let mut state = self.state();
        let taken = state.accounts.contains_key(&account.id)
            || state.accounts.values().any(|a| a.login == account.login);
        if taken {
            return Err(StoreError::Conflict);
        }
        state.accounts.insert(account.id.clone(), account.clone());
        Ok(())
    }

    async fn find_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
        let state = self.state();
        Ok(state.accounts.values().find(|a| a.login == login).cloned())
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<Account>, StoreError> {
        Ok(self.state().accounts.get(id).cloned())
    }

    async fn update(&self, account: &Account) -> Result<(), StoreError> {
        let mut state = self.state();
        if !state.accounts.contains_key(&account.id) {
            return Err(StoreError::NotFound);
        }
        if state
            .accounts
            .values()
            .any(|a| a.login == account.login && a.id != account.id)
        {
            return Err(StoreError::Conflict);
        }
        state.accounts.insert(account.id.clone(), account.clone());
        Ok(())
    }

    async fn count(&self) -> Result<u64, StoreError> {
        Ok(u64::try_from(self.state().accounts.len()).unwrap_or(u64::MAX))
    }
}

#[async_trait]
impl Purge for Memory {
    async fn purge_expired(&self, now: UnixSeconds) -> Result<u64, StoreError> {
        let mut state = self.state();
        Ok(drop_dead(&mut state.sessions, |s| now < s.expires_at)
            + drop_dead(&mut state.codes, |c| now < c.expires_at)
            + drop_dead(&mut state.tokens, |t| now < t.expires_at)
            + drop_dead(&mut state.windows, |w| now < w.ends_at)
            + purge_groups(&mut state.open_sessions, now)
            + purge_revocations(&mut state.revocations, now)
            + drop_dead(&mut state.deletion_links, |(_, until)| now < *until)
            + drop_dead(&mut state.certification_requests, |r| r.in_course(now))
            + drop_dead(&mut state.proofs, |p| now < p.kept_until)
            + drop_dead(&mut state.logins, |l| now < l.expires_at)
            + drop_dead(&mut state.login_refs, |r| now < r.expires_at)
            + drop_dead(&mut state.login_claims, |(_, until)| now < *until)
            + drop_dead(&mut state.confirmations, |c| now < c.expires_at)
            + drop_dead(&mut state.used_once, |until| now < *until))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

fn purge_groups(groups: &mut HashMap<String, HashMap<String, Expiring>>, now: UnixSeconds) -> u64 {
    let mut purged = 0;
    for members in groups.values_mut() {
        purged += drop_dead(members, |m| now < m.expires_at);
    }
    groups.retain(|_, members| !members.is_empty());
    purged
}

fn purge_revocations(revocations: &mut Vec<Revocation>, now: UnixSeconds) -> u64 {
    let before = revocations.len();
    revocations.retain(|revocation| revocation.at > now - REVOCATION_KEPT_SECS);
    (before - revocations.len()) as u64
}

/// Keeps the entries still `live`; returns how many went.
fn drop_dead<V>(map: &mut HashMap<String, V>, live: impl Fn(&V) -> bool) -> u64 {
    let before = map.len();
    map.retain(|_, v| live(v));
    u64::try_from(before.saturating_sub(map.len())).unwrap_or(u64::MAX)
}

#[async_trait]
impl Outbox for Memory {
    async fn push(&self, payload: &[u8], due_at: UnixSeconds) -> Result<i64, StoreError> {
        Ok(self.queue(payload, due_at, 0))
    }

    async fn push_claimed(
        &self,
        payload: &[u8],
        lease_until: UnixSeconds,
    ) -> Result<i64, StoreError> {
        Ok(self.queue(payload, lease_until, 1))
    }

    async fn claim(
        &self,
        now: UnixSeconds,
        lease_until: UnixSeconds,
        limit: u32,
    ) -> Result<Vec<Queued>, StoreError> {
        let mut state = self.state();
        let mut due: Vec<(UnixSeconds, i64)> = state
            .outbox
            .iter()
            .filter(|(_, waiting)| waiting.due_at <= now)
            .map(|(id, waiting)| (waiting.due_at, *id))
            .collect();
        due.sort_unstable();
        let mut claimed = Vec::new();
        for (_, id) in due.into_iter().take(limit as usize) {
            if let Some(waiting) = state.outbox.get_mut(&id) {
                waiting.attempts = waiting.attempts.saturating_add(1);
                waiting.due_at = lease_until;
                claimed.push(Queued {
                    id,
                    payload: waiting.payload.clone(),
                    attempts: waiting.attempts,
                });
            }
        }
        Ok(claimed)
    }

    async fn remove(&self, ids: &[i64]) -> Result<(), StoreError> {
        let outbox = &mut self.state().outbox;
        for id in ids {
            outbox.remove(id);
        }
        Ok(())
    }

    async fn postpone(&self, id: i64, due_at: UnixSeconds) -> Result<(), StoreError> {
        match self.state().outbox.get_mut(&id) {
            Some(waiting) => {
                waiting.due_at = due_at;
                Ok(())
            }
            None => Err(StoreError::NotFound),
        }
    }

    async fn waiting(&self) -> Result<u64, StoreError> {
        Ok(self.state().outbox.len() as u64)
    }
}

#[async_trait]
impl Traces for Memory {
    async fn append(
        &self,
        pseudonym: &str,
        at: UnixSeconds,
        body: &[u8],
        key: &TrailKey,
    ) -> Result<Trace, StoreError> {
        let mut state = self.state();
        let trail = state.trails.entry(pseudonym.to_owned()).or_default();
        let head = (trail.last_seq > 0).then(|| TrailHead {
            seq: trail.last_seq,
            hash: trail.last_hash.to_vec(),
            at: Some(trail.last_at),
        });
        let trace = Trace::after(head, pseudonym, at, body, key)?;
        trail.last_seq = trace.seq;
        trail.last_hash = trace.hash;
        trail.last_at = at;
        trail.entries.push(trace.clone());
        Ok(trace)
    }

    async fn person(&self, pseudonym: &str) -> Result<Person, StoreError> {
        let settings = self.state().preferences.get(pseudonym).cloned();
        Ok(Person::read(pseudonym, settings, None))
    }

    async fn trail(&self, pseudonym: &str, since: UnixSeconds) -> Result<Vec<Trace>, StoreError> {
        Ok(self
            .state()
            .trails
            .get(pseudonym)
            .map(|trail| {
                trail
                    .entries
                    .iter()
                    .filter(|trace| trace.at >= since)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn forget_before(&self, before: UnixSeconds) -> Result<u64, StoreError> {
        let mut forgotten = 0;
        for trail in self.state().trails.values_mut() {
            let kept = trail.entries.len();
            trail.entries.retain(|trace| trace.at >= before);
            forgotten += (kept - trail.entries.len()) as u64;
        }
        Ok(forgotten)
    }
}

#[async_trait]
impl Preferences for Memory {
    async fn load(&self, pseudonym: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state().preferences.get(pseudonym).cloned())
    }

    async fn save(&self, pseudonym: &str, value: &[u8]) -> Result<(), StoreError> {
        self.state()
            .preferences
            .insert(pseudonym.to_owned(), value.to_vec());
        Ok(())
    }
}

#[async_trait]
impl Revocations for Memory {
    async fn push(
        &self,
        pseudonym: &str,
        provider: &str,
        at: UnixSeconds,
    ) -> Result<i64, StoreError> {
        let mut state = self.state();
        let id = state.revocations.last().map_or(1, |last| last.id + 1);
        state.revocations.push(Revocation {
            id,
            pseudonym: pseudonym.to_owned(),
            provider: provider.to_owned(),
            at,
        });
        Ok(id)
    }

    async fn after(&self, after: i64, limit: u32) -> Result<Vec<Revocation>, StoreError> {
        Ok(self
            .state()
            .revocations
            .iter()
            .filter(|revocation| revocation.id > after)
            .take(limit as usize)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl OpenSessions for Memory {
    async fn put(
        &self,
        group: &str,
        member: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let members = state.open_sessions.entry(group.to_owned()).or_default();
        members.insert(member.to_owned(), Expiring::new(value, expires_at));
        Ok(())
    }

    async fn take_group(&self, group: &str, now: UnixSeconds) -> Result<Vec<Vec<u8>>, StoreError> {
        let members = self.state().open_sessions.remove(group).unwrap_or_default();
        Ok(members
            .values()
            .filter_map(|member| member.live(now))
            .collect())
    }
}

#[async_trait]
impl Dossiers for Memory {
    async fn create(&self, dossier: &Dossier) -> Result<(), StoreError> {
        let mut state = self.state();
        let second_draft = dossier.status == DossierStatus::Draft
            && state.dossiers.values().any(|other| {
                other.status == DossierStatus::Draft
                    && other.service == dossier.service
                    && other.owner == dossier.owner
                    && other.kind == dossier.kind
            });
        if second_draft || state.dossiers.contains_key(&dossier.id) {
            return Err(StoreError::Conflict);
        }
        state.dossiers.insert(dossier.id.clone(), dossier.clone());
        Ok(())
    }

    async fn update(&self, dossier: &Dossier) -> Result<(), StoreError> {
        let mut state = self.state();
        let stored = state
            .dossiers
            .get_mut(&dossier.id)
            .filter(|stored| stored.service == dossier.service && stored.owner == dossier.owner)
            .ok_or(StoreError::NotFound)?;
        stored.status = dossier.status;
        stored.content.clone_from(&dossier.content);
        stored.updated_at = dossier.updated_at;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Dossier>, StoreError> {
        Ok(self.state().dossiers.get(id).cloned())
    }

    async fn of_owner(&self, service: &str, owner: &str) -> Result<Vec<Dossier>, StoreError> {
        let mut found: Vec<Dossier> = self
            .state()
            .dossiers
            .values()
            .filter(|dossier| dossier.service == service && dossier.owner == owner)
            .cloned()
            .collect();
        found.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
        Ok(found)
    }
}

impl State {
    fn live_identity(&self, id: &str) -> Option<&WalletIdentity> {
        self.wallet_identities.get(id).and_then(Option::as_ref)
    }
}

#[async_trait]
impl WalletIdentities for Memory {
    async fn create(&self, identity: &WalletIdentity) -> Result<(), StoreError> {
        let mut state = self.state();
        let taken = state.wallet_identities.contains_key(&identity.id)
            || state
                .wallet_identities
                .values()
                .flatten()
                .any(|live| live.binding == identity.binding);
        if taken {
            return Err(StoreError::Conflict);
        }
        state
            .wallet_identities
            .insert(identity.id.clone(), Some(identity.clone()));
        Ok(())
    }

    async fn find_by_binding(&self, binding: &str) -> Result<Option<WalletIdentity>, StoreError> {
        let state = self.state();
        Ok(state
            .wallet_identities
            .values()
            .flatten()
            .find(|live| live.binding == binding)
            .cloned())
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<WalletIdentity>, StoreError> {
        Ok(self.state().live_identity(id).cloned())
    }

    async fn update(&self, identity: &WalletIdentity) -> Result<(), StoreError> {
        let mut state = self.state();
        let stored = state
            .wallet_identities
            .get_mut(&identity.id)
            .and_then(Option::as_mut)
            .ok_or(StoreError::NotFound)?;
        if stored.revision != identity.revision {
            return Err(StoreError::Conflict);
        }
        stored.email.clone_from(&identity.email);
        stored.record.clone_from(&identity.record);
        stored.revision = identity.revision.saturating_add(1);
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(stored) = state.wallet_identities.get_mut(id) {
            *stored = None;
        }
        state.deletion_links.retain(|_, (owner, _)| owner != id);
        Ok(())
    }

    async fn add_deletion_link(
        &self,
        key: &str,
        id: &str,
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let link = (id.to_owned(), expires_at);
        put_new(&mut self.state().deletion_links, key, link)
    }

    async fn find_by_deletion_link(
        &self,
        key: &str,
        now: UnixSeconds,
    ) -> Result<Option<WalletIdentity>, StoreError> {
        let state = self.state();
        Ok(state
            .deletion_links
            .get(key)
            .filter(|(_, until)| now < *until)
            .and_then(|(id, _)| state.live_identity(id))
            .cloned())
    }
}

#[async_trait]
impl CertificationRequests for Memory {
    async fn create(
        &self,
        request: &CertificationRequest,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let requests = &mut state.certification_requests;
        if requests.contains_key(&request.id) {
            return Err(StoreError::Conflict);
        }
        let mine = |other: &CertificationRequest| other.identity == request.identity;
        if requests
            .values()
            .any(|other| mine(other) && other.in_course(now))
        {
            return Err(StoreError::Conflict);
        }
        requests.retain(|_, other| !mine(other));
        requests.insert(request.id.clone(), request.clone());
        Ok(())
    }

    async fn get(
        &self,
        id: &str,
        now: UnixSeconds,
    ) -> Result<Option<CertificationRequest>, StoreError> {
        let state = self.state();
        let request = state.certification_requests.get(id);
        Ok(request.filter(|request| request.in_course(now)).cloned())
    }

    async fn in_course(
        &self,
        identity: &str,
        now: UnixSeconds,
    ) -> Result<Option<CertificationRequest>, StoreError> {
        let state = self.state();
        Ok(state
            .certification_requests
            .values()
            .find(|request| request.identity == identity && request.in_course(now))
            .cloned())
    }

    async fn decide(&self, id: &str, decision: &[u8], now: UnixSeconds) -> Result<(), StoreError> {
        let mut state = self.state();
        let request = state
            .certification_requests
            .get_mut(id)
            .filter(|request| request.in_course(now))
            .ok_or(StoreError::NotFound)?;
        if request.decision.is_some() {
            return Err(StoreError::Conflict);
        }
        request.decision = Some(decision.to_vec());
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<(), StoreError> {
        self.state().certification_requests.remove(id);
        Ok(())
    }
}

#[async_trait]
impl IdentityProofs for Memory {
    async fn keep(
        &self,
        id: &str,
        value: &[u8],
        kept_until: UnixSeconds,
    ) -> Result<(), StoreError> {
        let proof = Proof {
            value: value.to_vec(),
            used: false,
            kept_until,
        };
        put_new(&mut self.state().proofs, id, proof)
    }

    async fn load(&self, id: &str, now: UnixSeconds) -> Result<Option<KeptProof>, StoreError> {
        let state = self.state();
        Ok(state
            .proofs
            .get(id)
            .filter(|proof| now < proof.kept_until)
            .map(|proof| KeptProof {
                value: proof.value.clone(),
                used: proof.used,
            }))
    }

    async fn consume(&self, id: &str, now: UnixSeconds) -> Result<bool, StoreError> {
        let mut state = self.state();
        match state.proofs.get_mut(id) {
            Some(proof) if now < proof.kept_until && !proof.used => {
                proof.used = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl LoginTransactions for Memory {
    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.state()
            .logins
            .insert(key.to_owned(), Expiring::new(value, expires_at));
        Ok(())
    }

    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state().logins.get(key).and_then(|l| l.live(now)))
    }

    async fn finish(&self, key: &str) -> Result<(), StoreError> {
        self.state().logins.remove(key);
        Ok(())
    }

    async fn show(
        &self,
        key: &str,
        qr_ref: &str,
        expires_at: UnixSeconds,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(old) = replaces
            && state.login_refs.get(old).is_some_and(|old| !old.claimed)
        {
            state.login_refs.remove(old);
        }
        let shown = LoginRef {
            login: key.to_owned(),
            claimed: false,
            expires_at,
        };
        put_new(&mut state.login_refs, qr_ref, shown)
    }

    async fn claim(
        &self,
        qr_ref: &str,
        claim: &str,
        now: UnixSeconds,
    ) -> Result<QrClaim, StoreError> {
        let mut state = self.state();
        let Some(shown) = state.login_refs.get(qr_ref).filter(|r| now < r.expires_at) else {
            return Ok(QrClaim::Unknown);
        };
        if shown.claimed {
            return Ok(QrClaim::AlreadyClaimed);
        }
        let login = shown.login.clone();
        let Some(until) = state
            .logins
            .get(&login)
            .filter(|l| now < l.expires_at)
            .map(|l| l.expires_at)
        else {
            return Ok(QrClaim::Unknown);
        };
        if state.login_claims.contains_key(claim) {
            return Err(StoreError::Conflict);
        }
        if let Some(shown) = state.login_refs.get_mut(qr_ref) {
            shown.claimed = true;
            shown.expires_at = until;
        }
        state
            .login_claims
            .insert(claim.to_owned(), (login.clone(), until));
        Ok(QrClaim::Claimed(login))
    }

    async fn claimed(
        &self,
        claim: &str,
        now: UnixSeconds,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let state = self.state();
        Ok(state
            .login_claims
            .get(claim)
            .filter(|(_, until)| now < *until)
            .and_then(|(key, _)| {
                let value = state.logins.get(key)?.live(now)?;
                Some((key.clone(), value))
            }))
    }

    async fn release(&self, claim: &str) -> Result<(), StoreError> {
        self.state().login_claims.remove(claim);
        Ok(())
    }
}

#[async_trait]
impl ConfirmationCodes for Memory {
    async fn put(
        &self,
        key: &str,
        code_hash: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mailed = Mailed {
            code_hash: code_hash.to_owned(),
            value: value.to_vec(),
            tries: 0,
            expires_at,
        };
        put_new(&mut self.state().confirmations, key, mailed)
    }

    async fn confirm(
        &self,
        key: &str,
        guess_hash: &str,
        max_tries: u32,
        now: UnixSeconds,
    ) -> Result<Confirmation, StoreError> {
        let mut state = self.state();
        let Some(mailed) = state
            .confirmations
            .get_mut(key)
            .filter(|mailed| now < mailed.expires_at)
        else {
            return Ok(Confirmation::Missing);
        };
        if same_hash(&mailed.code_hash, guess_hash) {
            let value = std::mem::take(&mut mailed.value);
            state.confirmations.remove(key);
            return Ok(Confirmation::Confirmed(value));
        }
        mailed.tries = mailed.tries.saturating_add(1);
        let tries_left = max_tries.saturating_sub(mailed.tries);
        if tries_left == 0 {
            state.confirmations.remove(key);
        }
        Ok(Confirmation::Wrong { tries_left })
    }
}

#[async_trait]
impl UsedOnce for Memory {
    async fn mark(
        &self,
        key: &str,
        until: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        if state.used_once.get(key).is_some_and(|marked| now < *marked) {
            return Ok(false);
        }
        state.used_once.insert(key.to_owned(), until);
        Ok(true)
    }
}
