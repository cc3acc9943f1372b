//! OpenID back-channel logout (beyond FranceConnect): when a citizen logs
//! out of the federation from one service, every other service of that
//! session that registered a `backchannel_logout_uri` is told, server to
//! server, with a signed logout token.
//!
//! Delivery never holds up the citizen's redirect: each one runs on its own
//! task and is retried on failure, with growing delays, for about ten
//! minutes. The queue is in memory only: a logout token names a person's
//! pairwise `sub`, which the hub does not write at rest.

use std::sync::Arc;
use std::time::Duration;

use crate::flow::SignedIn;
use crate::state::Hub;

/// Waits before each attempt: at once, then after 1 s, 5 s, 30 s, 2 min
/// and 8 min.
const ATTEMPT_DELAYS_MS: [u64; 6] = [0, 1_000, 5_000, 30_000, 120_000, 480_000];

/// Tells the services of `signed_in`, except `initiator`, that the session
/// ended. Returns at once.
pub fn notify(hub: &Arc<Hub>, signed_in: &[SignedIn], initiator: &str) {
    for service in signed_in
        .iter()
        .filter(|service| service.client_id != initiator)
    {
        let Some(uri) = hub
            .provider
            .client(&service.client_id)
            .and_then(|client| client.backchannel_logout_uri.clone())
        else {
            continue;
        };
        let token = match hub.provider.logout_token(&service.client_id, &service.sub) {
            Ok(token) => token,
            Err(error) => {
                tracing::error!(client_id = %service.client_id, %error, "logout token not made");
                continue;
            }
        };
        let http = hub.http.clone();
        let client_id = service.client_id.clone();
        tokio::spawn(async move {
            deliver(&http, uri.as_str(), &token, &client_id).await;
        });
    }
}

/// Posts the token until the service answers 2xx (§2.8); a 4xx ends it,
/// a 5xx or no answer is retried.
async fn deliver(http: &reqwest::Client, uri: &str, token: &str, client_id: &str) {
    for (attempt, delay) in ATTEMPT_DELAYS_MS.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(*delay)).await;
        let answer = http.post(uri).form(&[("logout_token", token)]).send().await;
        match answer {
            Ok(response) if response.status().is_success() => {
                tracing::info!(%client_id, attempt, "back-channel logout delivered");
                return;
            }
            Ok(response) if response.status().is_client_error() => {
                // The service read the token and refused it: trying again
                // would not change its mind.
                tracing::warn!(%client_id, status = %response.status(), "back-channel logout refused");
                return;
            }
            Ok(response) => {
                tracing::warn!(%client_id, attempt, status = %response.status(), "back-channel logout failed");
            }
            Err(error) => {
                tracing::warn!(%client_id, attempt, error = %error.without_url(), "back-channel logout failed");
            }
        }
    }
    tracing::error!(%client_id, "back-channel logout given up");
}
