//! Ending at once every session a person opened through a provider, when
//! they block it or report a connection on the dashboard: a stolen account
//! stops working everywhere, not only at its next fresh login.
//!
//! The hub cannot list sessions by person: each is sealed under its cookie.
//! So, when a session gives a service a code, the hub files it in a group
//! of [`store::OpenSessions`] keyed by an HMAC (under the platform secret)
//! of the person's pseudonym and the provider, the entry sealed under a key
//! derived the same way: the session's storage key and the services it
//! logged in to, with their `sub`. A database thief without the platform
//! secret can tie a group to nobody.
//!
//! The dashboard queues the request in [`store::Revocations`] (the trail
//! store, shared by the hubs and the dashboard); every hub reads the queue
//! each second ([`watch`]), takes the group, deletes its sessions and tells
//! their services by back-channel logout. Independently, the rules at each
//! reuse ([`crate::policy::check_person_allows`]) refuse any session
//! verified before the request, so nothing depends on the watcher's timing.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use store::sealed::Capability;

use crate::backchannel;
use crate::flow::{SessionData, SignedIn};
use crate::state::Hub;

/// How often the queue is read.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// How long a filed session stays findable: past a day without a new code,
/// the services it logged in to have ended their own sessions, and the
/// hub's own is still refused at its next use.
const FILED_SECS: i64 = 86_400;

/// A filed session.
#[derive(Debug, Serialize, Deserialize)]
struct Filed {
    /// Where the session is stored.
    session: String,
    /// The services it logged in to.
    signed_in: Vec<SignedIn>,
}

/// The group of a person's sessions through a provider: its storage key
/// and sealing key, both from the platform secret.
fn group(hub: &Hub, pseudonym: &str, provider: &str) -> Option<Capability> {
    hub.derived_capability(b"passerelle/open-sessions/v1", &[pseudonym, provider])
}

/// Files the session under its person and provider, after a code was
/// issued from it. A failure is logged: the login goes on, and the rules at
/// each reuse still end the session when asked.
///
/// The same filing (this session key, person, provider and services) is
/// not written again while it outlives the session: the digest of what was
/// filed is kept in the session, so any path that changes one of them (a
/// new login, a rotated session, one more service) files again.
pub async fn file_session(hub: &Hub, session: &mut web::Session<SessionData>) {
    let (Some(trail), Some(verified)) = (&hub.trail, &session.data.verified) else {
        return;
    };
    let pseudonym = trail.config.pseudonym(&verified.identity);
    let Some(group) = group(hub, &pseudonym, &verified.provider) else {
        return;
    };
    let filed = Filed {
        session: session.store_key(),
        signed_in: session.data.signed_in.clone(),
    };
    let Ok(plain) = serde_json::to_vec(&filed) else {
        return;
    };
    let now = hub.clock.now();
    let digest = filing_digest(&group.lookup_key(), &session.store_key(), &plain);
    if let Some((filed_digest, until)) = &session.data.filed
        && *filed_digest == digest
        && *until >= now + hub.sessions.ttl_secs()
    {
        return;
    }
    let expires_at = now + FILED_SECS.max(hub.sessions.ttl_secs());
    if let Err(error) = hub
        .stores
        .open_sessions
        .put(
            &group.lookup_key(),
            &session.store_key(),
            &group.seal(&plain),
            expires_at,
        )
        .await
    {
        tracing::error!(%error, "session not filed for ending");
        return;
    }
    session.data.filed = Some((digest, expires_at));
}

fn filing_digest(group: &str, session: &str, filed: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    for part in [group.as_bytes(), session.as_bytes(), filed] {
        hasher.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        hasher.update(part);
    }
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        hasher.finalize(),
    )
}

/// Ends every session of the person opened through the provider, and tells
/// their services. Returns how many sessions ended.
pub async fn end_sessions(hub: &Arc<Hub>, pseudonym: &str, provider: &str) -> usize {
    let Some(group) = group(hub, pseudonym, provider) else {
        return 0;
    };
    let taken = match hub
        .stores
        .open_sessions
        .take_group(&group.lookup_key(), hub.clock.now())
        .await
    {
        Ok(taken) => taken,
        Err(error) => {
            tracing::error!(%error, "sessions to end unreadable");
            return 0;
        }
    };
    let mut ended = 0;
    for sealed in taken {
        let Some(filed) = group
            .open(&sealed)
            .ok()
            .and_then(|plain| serde_json::from_slice::<Filed>(&plain).ok())
        else {
            tracing::error!("a filed session cannot be opened");
            continue;
        };
        if let Err(error) = hub.sessions.end(&filed.session).await {
            tracing::error!(%error, "session not ended");
        }
        backchannel::notify(hub, &filed.signed_in, "").await;
        ended += 1;
    }
    tracing::info!(provider, ended, "sessions ended at the person's request");
    ended
}

/// Reads the revocation queue every second, for as long as the hub runs,
/// and ends the sessions it names. Starts a day back, so that a hub that
/// was down ends the sessions it still holds.
pub async fn watch(hub: Arc<Hub>) {
    let Some(trail) = hub.trail.clone() else {
        return;
    };
    let mut cursor = 0;
    let mut every = tokio::time::interval(WATCH_EVERY);
    loop {
        every.tick().await;
        let revocations = match trail.revocations.after(cursor, 100).await {
            Ok(revocations) => revocations,
            Err(error) => {
                tracing::warn!(%error, "revocation queue unreadable");
                continue;
            }
        };
        for revocation in revocations {
            cursor = revocation.id;
            end_sessions(&hub, &revocation.pseudonym, &revocation.provider).await;
        }
    }
}
