//! OpenID back-channel logout (beyond FranceConnect): when a citizen logs
//! out of the federation from one service, or ends their sessions from the
//! dashboard, every other service of that session that registered a
//! `backchannel_logout_uri` is told, server to server, with a signed logout
//! token.
//!
//! Each delivery is a durable job in the hub's store (its [`store::Outbox`]),
//! so that a process that dies loses none: any hub process sharing the
//! store takes the due jobs ([`work`]), each claimed for a minute so that
//! two never post the same one at once. A job names a person's pairwise
//! `sub`: it is sealed under a key derived from the platform secret, and
//! deleted once delivered or given up. The citizen's redirect never waits:
//! queuing is one write, and the worker is woken at once.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use store::sealed::Capability;

use crate::flow::SignedIn;
use crate::state::Hub;

/// Waits before each retry, in seconds: 1 s, 5 s, 30 s, 2 min, 8 min;
/// after the sixth attempt the delivery is given up.
const RETRY_DELAYS_SECS: [i64; 5] = [1, 5, 30, 120, 480];

/// How long a claimed job is kept from other workers.
const LEASE_SECS: i64 = 60;

/// How often the worker looks for due jobs when not woken.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// A delivery to make.
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    client_id: String,
    sub: String,
}

/// The key sealing the jobs.
fn sealing(hub: &Hub) -> Option<Capability> {
    hub.derived_capability(b"passerelle/backchannel-jobs/v1", &[])
}

/// Queues a logout for each service of `signed_in` but `initiator` that
/// takes them, and wakes the worker. Returns at once.
pub async fn notify(hub: &Arc<Hub>, signed_in: &[SignedIn], initiator: &str) {
    let Some(sealing) = sealing(hub) else {
        return;
    };
    let mut queued = false;
    for service in signed_in
        .iter()
        .filter(|service| service.client_id != initiator)
    {
        let takes_them = hub
            .provider
            .client(&service.client_id)
            .is_some_and(|client| client.backchannel_logout_uri.is_some());
        if !takes_them {
            continue;
        }
        let job = Job {
            client_id: service.client_id.clone(),
            sub: service.sub.clone(),
        };
        let Ok(plain) = serde_json::to_vec(&job) else {
            continue;
        };
        match hub
            .stores
            .outbox
            .push(&sealing.seal(&plain), hub.clock.now())
            .await
        {
            Ok(_) => queued = true,
            Err(error) => {
                tracing::error!(client_id = %service.client_id, %error, "back-channel logout not queued");
            }
        }
    }
    if queued {
        hub.backchannel_wake.notify_one();
    }
}

/// Delivers the due logouts, for as long as the hub runs: woken by
/// [`notify`], else every quarter of a second.
pub async fn work(hub: Arc<Hub>) {
    loop {
        deliver_due(&hub).await;
        tokio::select! {
            () = hub.backchannel_wake.notified() => {}
            () = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}

/// One round: the due jobs, each tried once.
pub async fn deliver_due(hub: &Arc<Hub>) {
    let Some(sealing) = sealing(hub) else {
        return;
    };
    let now = hub.clock.now();
    let jobs = match hub.stores.outbox.claim(now, now + LEASE_SECS, 16).await {
        Ok(jobs) => jobs,
        Err(error) => {
            tracing::warn!(%error, "back-channel logouts unreadable");
            return;
        }
    };
    for queued in jobs {
        let job = sealing
            .open(&queued.payload)
            .ok()
            .and_then(|plain| serde_json::from_slice::<Job>(&plain).ok());
        let done = match job {
            Some(job) => deliver(hub, &job, queued.attempts).await,
            None => {
                tracing::error!(id = queued.id, "a back-channel logout cannot be opened");
                true
            }
        };
        let settled = if done {
            hub.stores.outbox.remove(&[queued.id]).await
        } else {
            let delay = usize::try_from(queued.attempts)
                .ok()
                .and_then(|attempts| attempts.checked_sub(1))
                .and_then(|retry| RETRY_DELAYS_SECS.get(retry))
                .copied();
            match delay {
                Some(delay) => hub.stores.outbox.postpone(queued.id, now + delay).await,
                None => {
                    tracing::error!(id = queued.id, "back-channel logout given up");
                    hub.stores.outbox.remove(&[queued.id]).await
                }
            }
        };
        if let Err(error) = settled {
            tracing::warn!(id = queued.id, %error, "back-channel logout not settled");
        }
    }
}

/// Posts the token once (§2.8): done on 2xx, and on 4xx (the service read
/// it and refused: trying again would not change its mind); a 5xx or no
/// answer is tried again.
async fn deliver(hub: &Hub, job: &Job, attempt: u32) -> bool {
    let Some(uri) = hub
        .provider
        .client(&job.client_id)
        .and_then(|client| client.backchannel_logout_uri.clone())
    else {
        return true;
    };
    let token = match hub.provider.logout_token(&job.client_id, &job.sub) {
        Ok(token) => token,
        Err(error) => {
            tracing::error!(client_id = %job.client_id, %error, "logout token not made");
            return true;
        }
    };
    let answer = hub
        .http
        .post(uri.as_str())
        .form(&[("logout_token", token.as_str())])
        .send()
        .await;
    let client_id = &job.client_id;
    match answer {
        Ok(response) if response.status().is_success() => {
            tracing::info!(%client_id, attempt, "back-channel logout delivered");
            true
        }
        Ok(response) if response.status().is_client_error() => {
            tracing::warn!(%client_id, status = %response.status(), "back-channel logout refused");
            true
        }
        Ok(response) => {
            tracing::warn!(%client_id, attempt, status = %response.status(), "back-channel logout failed");
            false
        }
        Err(error) => {
            tracing::warn!(%client_id, attempt, error = %error.without_url(), "back-channel logout failed");
            false
        }
    }
}
