//! The citizen's trail, which the dashboard shows: one entry per connection,
//! under a pseudonym of the person (never a name), chained by hash in the
//! store; and the providers the person blocked there, which the hub
//! enforces at the next login.
//!
//! The pseudonym is the person's pairwise `sub` for the dashboard's entity,
//! derived with the secret of the platform the dashboard is registered at
//! ([`TrailConfig`]): the dashboard finds a person's trail with the `sub` it
//! receives, and never needs the identity. The JSON written here is the
//! contract with the dashboard (docs/dashboard.md).

use std::fmt;
use std::sync::Arc;

use oidc::{Acr, Identity};
use serde::{Deserialize, Serialize};
use store::{Preferences, Traces};

use crate::flow::Verified;
use crate::state::Hub;
use crate::sub::pairwise_sub;

/// `[traces]`: where trails go and how people are pseudonymised.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailConfig {
    /// The `sub_secret` of the platform the dashboard is registered at.
    pub secret: String,
    /// The dashboard's `entity_id` there.
    pub entity: String,
    /// How long entries are kept, in days (default 183: six months).
    #[serde(default = "default_retention_days")]
    pub retention_days: i64,
}

fn default_retention_days() -> i64 {
    183
}

impl TrailConfig {
    /// Checks the settings.
    pub fn check(&self, path: &str) -> Result<(), (String, String)> {
        if self.secret.len() < 32 {
            return Err((
                format!("{path}.secret"),
                "must be at least 32 characters".into(),
            ));
        }
        if self.entity.is_empty() {
            return Err((format!("{path}.entity"), "must not be empty".into()));
        }
        if !(1..=3650).contains(&self.retention_days) {
            return Err((
                format!("{path}.retention_days"),
                "must be between 1 and 3650".into(),
            ));
        }
        Ok(())
    }

    /// The person's pseudonym.
    pub fn pseudonym(&self, identity: &Identity) -> String {
        pairwise_sub(self.secret.as_bytes(), &self.entity, identity)
    }
}

/// The trail store as the hub uses it.
#[derive(Clone)]
pub struct Trail {
    /// Settings.
    pub config: TrailConfig,
    /// Entries.
    pub traces: Arc<dyn Traces>,
    /// People's settings.
    pub preferences: Arc<dyn Preferences>,
}

impl fmt::Debug for Trail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trail")
            .field("entity", &self.config.entity)
            .finish_non_exhaustive()
    }
}

/// One entry, as written (and read back by the dashboard).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// A connection to a service.
    Connection {
        /// The platform's name.
        platform: String,
        /// The service's client id.
        service_id: String,
        /// Its name.
        service: String,
        /// The provider's id.
        provider_id: String,
        /// Its name.
        provider: String,
        /// The level given to the service.
        acr: Acr,
    },
}

/// What a person set on the dashboard.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Settings {
    /// Providers that may not be used for this person.
    #[serde(default)]
    pub blocked_providers: Vec<String>,
}

/// Writes the connection to the person's trail. A failure is logged, never
/// shown: the citizen's login goes on.
pub async fn record_connection(
    hub: &Hub,
    verified: &Verified,
    service_id: &str,
    service: &str,
    acr: Acr,
) {
    let Some(trail) = &hub.trail else {
        return;
    };
    let entry = Entry::Connection {
        platform: hub.config.name.clone(),
        service_id: service_id.to_owned(),
        service: service.to_owned(),
        provider_id: verified.provider.clone(),
        provider: hub
            .identity_provider(&verified.provider)
            .map_or_else(|| verified.provider.clone(), |idp| idp.config.name.clone()),
        acr,
    };
    let Ok(body) = serde_json::to_vec(&entry) else {
        return;
    };
    let pseudonym = trail.config.pseudonym(&verified.identity);
    if let Err(error) = trail
        .traces
        .append(&pseudonym, hub.clock.now(), &body)
        .await
    {
        tracing::error!(%error, "connection not written to the trail");
    }
}

/// Whether the person blocked this provider on the dashboard. When the
/// settings cannot be read, the login goes on (and the failure is logged).
pub async fn is_blocked(hub: &Hub, identity: &Identity, provider: &str) -> bool {
    let Some(trail) = &hub.trail else {
        return false;
    };
    match trail
        .preferences
        .load(&trail.config.pseudonym(identity))
        .await
    {
        Ok(Some(bytes)) => serde_json::from_slice::<Settings>(&bytes)
            .is_ok_and(|settings| settings.blocked_providers.iter().any(|id| id == provider)),
        Ok(None) => false,
        Err(error) => {
            tracing::error!(%error, "blocked providers unreadable");
            false
        }
    }
}
