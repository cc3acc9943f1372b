//! A key set published by someone else at a `jwks_uri`: a provider's
//! signing keys (read by a relying party) or a client's signing and
//! encryption keys (read by a provider). Cached; refetched when stale or
//! when a token names a key we do not hold, at most once a minute.

use std::fmt;
use std::sync::Arc;

use jose::PublicKeySet;
use tokio::sync::RwLock;

use crate::clock::{Clock, UnixSeconds};
use crate::request_id::Propagate as _;

/// Refetch on an unknown key at most this often.
pub const REFETCH_SECS: i64 = 60;

/// Why the keys could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

#[derive(Debug, Default)]
struct Cached {
    keys: Option<PublicKeySet>,
    fetched_at: UnixSeconds,
}

/// A remote key set and its cache.
pub struct RemoteKeys {
    uri: String,
    max_age_secs: Option<i64>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    cache: RwLock<Cached>,
}

impl fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl RemoteKeys {
    /// Keys at `uri`, kept at most `max_age_secs` (`None`: until a token
    /// names an unknown key).
    pub fn new(
        uri: impl Into<String>,
        max_age_secs: Option<i64>,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            uri: uri.into(),
            max_age_secs,
            http,
            clock,
            cache: RwLock::new(Cached::default()),
        }
    }

    /// Where the keys are published.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The keys: from the cache unless it is stale, or unless `refresh`
    /// (a key was missing) and the last fetch is over a minute old. When a
    /// fetch fails, keys already held are used rather than none.
    pub async fn get(&self, refresh: bool) -> Result<PublicKeySet, FetchError> {
        let now = self.clock.now();
        let stale_keys = {
            let cache = self.cache.read().await;
            let age = now - cache.fetched_at;
            if let Some(keys) = &cache.keys {
                let fresh = self.max_age_secs.is_none_or(|max| age < max);
                if (fresh && !refresh) || (refresh && age < REFETCH_SECS) {
                    return Ok(keys.clone());
                }
            }
            cache.keys.clone()
        };
        match self.fetch().await {
            Ok(keys) => {
                *self.cache.write().await = Cached {
                    keys: Some(keys.clone()),
                    fetched_at: now,
                };
                Ok(keys)
            }
            Err(error) => match stale_keys {
                Some(keys) => {
                    tracing::warn!(uri = %self.uri, %error, "key refetch failed; keeping the keys held");
                    Ok(keys)
                }
                None => Err(error),
            },
        }
    }

    async fn fetch(&self) -> Result<PublicKeySet, FetchError> {
        let response = self
            .http
            .get(&self.uri)
            .with_request_id()
            .send()
            .await
            .map_err(|error| FetchError(error.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(FetchError(format!(
                "{} answered {}",
                self.uri,
                response.status()
            )));
        }
        let text = crate::answer::text(response)
            .await
            .map_err(|error| FetchError(format!("JWKS: {error}")))?;
        PublicKeySet::from_json(&text).map_err(|error| FetchError(error.to_string()))
    }
}
