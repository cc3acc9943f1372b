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

use oidc::ConfigError;
use std::fmt;
use std::sync::Arc;

use std::collections::BTreeMap;

use oidc::{Acr, Identity};
use serde::{Deserialize, Serialize};
use store::{Preferences, Revocations, StoreError, Trace, Traces, TrailKeyRing};

use crate::errors::HubError;
use crate::flow::Verified;
use crate::state::Hub;
use crate::sub::pairwise_sub;

/// `[traces]`: where trails go and how people are pseudonymised.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailConfig {
    /// The `sub_secret` of the platform the dashboard is registered at.
    pub secret: oidc::Secret,
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
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        if self.secret.len() < 32 {
            return Err(ConfigError::new(
                format!("{path}.secret"),
                "must be at least 32 characters",
            ));
        }
        if self.entity.is_empty() {
            return Err(ConfigError::new(
                format!("{path}.entity"),
                "must not be empty",
            ));
        }
        if !(1..=3650).contains(&self.retention_days) {
            return Err(ConfigError::new(
                format!("{path}.retention_days"),
                "must be between 1 and 3650",
            ));
        }
        Ok(())
    }

    /// How long entries are kept, in seconds.
    pub fn retention_secs(&self) -> i64 {
        self.retention_days * 86_400
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
    /// The chain's keys, current first (not in the store: docs/dashboard.md),
    /// reread from their file by the process.
    pub keys: Arc<TrailKeyRing>,
    /// The people's requests to end their sessions, which the hub reads.
    pub revocations: Arc<dyn Revocations>,
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
    /// By provider: when the person last ended every session opened with it
    /// (a block, a « ce n'était pas moi » report). A session verified at or
    /// before that time serves no more.
    #[serde(default)]
    pub sessions_ended: BTreeMap<String, i64>,
}

/// The person's settings. When they cannot be read, the login goes on (and
/// the failure is logged): the store being down must not lock everyone out.
pub async fn settings(hub: &Hub, identity: &Identity) -> Settings {
    let Some(trail) = &hub.trail else {
        return Settings::default();
    };
    let read = trail
        .preferences
        .load(&trail.config.pseudonym(identity))
        .await;
    settings_from(read.as_ref().map(Option::as_deref))
}

/// A person's settings and what the trail store read with them.
#[derive(Debug, Default)]
pub struct Person {
    /// What they set on the dashboard.
    pub settings: Settings,
    /// Their trail's end as read, which [`record_connection`] chains onto.
    seen: Option<store::Person>,
}

/// The person's settings and their trail's head in one read, before a
/// code: [`record_connection`] then chains onto the head read here. When
/// they cannot be read, as with [`settings`].
pub async fn person(hub: &Hub, identity: &Identity) -> Person {
    let Some(trail) = &hub.trail else {
        return Person::default();
    };
    match trail.traces.person(&trail.config.pseudonym(identity)).await {
        Ok(seen) => Person {
            settings: settings_from(Ok(seen.settings.as_deref())),
            seen: Some(seen),
        },
        Err(error) => Person {
            settings: settings_from(Err(&error)),
            seen: None,
        },
    }
}

/// The settings in what the store answered: none saved, or unreadable
/// (logged), are the defaults.
fn settings_from(read: Result<Option<&[u8]>, &StoreError>) -> Settings {
    match read {
        Ok(Some(bytes)) => serde_json::from_slice(bytes).unwrap_or_else(|error| {
            tracing::error!(%error, "person's settings unreadable");
            Settings::default()
        }),
        Ok(None) => Settings::default(),
        Err(error) => {
            tracing::error!(%error, "person's settings unreadable");
            Settings::default()
        }
    }
}

/// Writes the connection to the person's trail, after what `person` read
/// of it, and returns the entry (`None` when the hub keeps no trails). The
/// store's failure fails the login ([`HubError::Storage`], before any code
/// is issued): a connection the person could not see on the dashboard
/// would be one the history lost.
pub async fn record_connection(
    hub: &Hub,
    verified: &Verified,
    person: &Person,
    service_id: &str,
    service: &str,
    acr: Acr,
) -> Result<Option<Trace>, HubError> {
    let Some(trail) = hub.trail.as_ref() else {
        return Ok(None);
    };
    let keys = trail.keys.get();
    let Some(key) = keys.first() else {
        return Ok(None);
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
    let body = serde_json::to_vec(&entry).map_err(|error| {
        tracing::error!(%error, "trail entry cannot be encoded");
        HubError::Internal
    })?;
    let now = hub.clock.now();
    let appended = match &person.seen {
        Some(seen) => trail.traces.append_seen(seen, now, &body, key).await,
        None => {
            let pseudonym = trail.config.pseudonym(&verified.identity);
            trail.traces.append(&pseudonym, now, &body, key).await
        }
    };
    appended.map(Some).map_err(|error| {
        tracing::error!(%error, "connection not written to the trail");
        HubError::Storage
    })
}

/// The `typ` of a trail receipt.
pub const RECEIPT_TYP: &str = "trail-receipt+jwt";

/// A receipt of the trail's head after `trace`: a JWS signed with the hub's
/// key (verifiable at its JWKS) naming the person's pseudonym, the entry's
/// number and its hash. The citizen keeps it, out of our database, so that
/// a later check can tell a truncated or restored trail (docs/dashboard.md).
pub fn receipt(hub: &Hub, verified: &Verified, trace: &Trace) -> Option<String> {
    use base64::Engine as _;
    let trail = hub.trail.as_ref()?;
    let claims = serde_json::json!({
        "iss": hub.config.issuer(),
        "sub": trail.config.pseudonym(&verified.identity),
        "seq": trace.seq,
        "head": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(trace.hash),
        "iat": trace.at,
    });
    let serde_json::Value::Object(claims) = claims else {
        return None;
    };
    hub.provider
        .sign_statement(&claims, RECEIPT_TYP)
        .inspect_err(|error| tracing::error!(%error, "trail receipt not signed"))
        .ok()
}
