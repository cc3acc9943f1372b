//! The running service: the population by identity pivot, and the hub's
//! token check.

use std::collections::HashMap;
use std::sync::Arc;

use oidc::Clock;
use oidc::jwks::RemoteKeys;
use population::{Citizen, Pivot};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::errors::Refusal;

/// The service.
pub(crate) struct TaxData {
    pub(crate) config: Config,
    pub(crate) citizens: Arc<Vec<Citizen>>,
    pub(crate) by_pivot: HashMap<Pivot, usize>,
    pub(crate) hub_keys: RemoteKeys,
    pub(crate) http: reqwest::Client,
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TaxData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaxData")
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

impl TaxData {
    /// The service over the population, checking tokens at the hub.
    pub(crate) fn new(
        config: Config,
        citizens: Arc<Vec<Citizen>>,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let by_pivot = citizens
            .iter()
            .enumerate()
            .map(|(index, citizen)| (citizen.pivot(), index))
            .collect();
        let hub_keys = RemoteKeys::new(
            format!("{}/jwks", config.hub_issuer),
            Some(300),
            http.clone(),
            clock.clone(),
        );
        Self {
            config,
            citizens,
            by_pivot,
            hub_keys,
            http,
            clock,
        }
    }

    /// Asks the hub about a token; the introspection when it is active
    /// for us, verified as the hub's (signature, issuer, audience, age).
    pub(crate) async fn check_token(&self, token: &str) -> Result<Map<String, Value>, Refusal> {
        let unavailable = |reason: String| Refusal::Unavailable(reason);
        let response = self
            .http
            .post(format!("{}/checktoken", self.config.hub_issuer))
            .form(&[
                ("token", token),
                ("client_id", &self.config.client_id),
                ("client_secret", &self.config.client_secret),
            ])
            .send()
            .await
            .map_err(|error| unavailable(error.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("hub answered {}", response.status())));
        }
        let jwt = oidc::answer::text(response)
            .await
            .map_err(|error| unavailable(error.to_string()))?;
        let claims = self.verify(&jwt).await.map_err(unavailable)?;
        let now = self.clock.now();
        let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("iss") != Some(&self.config.hub_issuer)
            || text("aud") != Some(&self.config.client_id)
            || (iat - now).abs() > 300
        {
            return Err(unavailable("the answer is not the hub's to us, now".into()));
        }
        match claims.get("token_introspection") {
            Some(Value::Object(introspection))
                if introspection.get("active") == Some(&Value::Bool(true)) =>
            {
                Ok(introspection.clone())
            }
            _ => Err(Refusal::InvalidToken),
        }
    }

    /// The hub's signature, its keys refetched once for an unknown key.
    async fn verify(&self, jwt: &str) -> Result<Map<String, Value>, String> {
        const ALGS: [jose::Alg; 2] = [jose::Alg::ES256, jose::Alg::RS256];
        let keys = self.hub_keys.get(false).await.map_err(|error| error.0)?;
        match jose::verify(jwt, &keys, &ALGS) {
            Err(jose::JoseError::UnknownKey(_)) => {
                let keys = self.hub_keys.get(true).await.map_err(|error| error.0)?;
                jose::verify(jwt, &keys, &ALGS)
            }
            verified => verified,
        }
        .map_err(|error| error.to_string())
    }
}
