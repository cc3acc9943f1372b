//! `POST /checktoken`: a data provider reads the access token a service
//! handed it (FranceConnect's `data-provider.controller.ts`).
//!
//! The data provider authenticates as a client does (`client_secret_post`
//! or `private_key_jwt`) and sends `token`. The answer is a JWT
//! (`application/token-introspection+jwt`, the draft "JWT Response for
//! OAuth Token Introspection"), signed, and encrypted to the data provider
//! when it registered for it:
//!
//! ```json
//! { "iss": "…/api/v2", "aud": "<data provider>", "iat": 1700000000,
//!   "token_introspection": { "active": true, "aud": "<service>",
//!     "client_id": "<service>", "sub": "<the data provider's own sub>",
//!     "iat": …, "exp": …, "acr": "eidas1", "scope": "dgfip_rfr dgfip_nbpart",
//!     "token_type": "Bearer", "iss": "…/api/v2",
//!     "given_name": "…", "family_name": "…", … } }
//! ```
//!
//! `scope` holds only the data provider's own scopes. A token that is
//! unknown, expired, revoked, or carries none of the caller's scopes is
//! answered `{"active": false}` and nothing else: a data provider learns
//! nothing of a token it may not read, not even that it is valid.

use serde_json::{Map, Value, json};
use store::sealed::Capability;

use super::{Grant, Params, Provider};
use crate::error::{ErrorCode, OAuthError};

/// The media type of the answer.
pub const INTROSPECTION_JWT: &str = "application/token-introspection+jwt";

impl Provider {
    /// Answers a data provider's checktoken request with the signed (and,
    /// as registered, encrypted) introspection JWT.
    pub async fn check_token(
        &self,
        params: &Params,
        basic_auth: bool,
    ) -> Result<String, OAuthError> {
        params.check_no_repeats()?;
        if basic_auth {
            return Err(OAuthError::new(
                ErrorCode::InvalidClient,
                "client_secret_basic is not supported; use client_secret_post or private_key_jwt",
            ));
        }
        let reader = self.authenticate_in(&self.data_providers, params).await?;
        let token = params.require("token")?;
        let introspection = match self.readable_grant(token, &reader.scopes).await? {
            Some((grant, scope)) => self.introspection(&grant, &reader.client_id, &scope),
            None => json!({ "active": false }),
        };
        let answer = json!({
            "iss": self.issuer(),
            "aud": reader.client_id,
            "iat": self.clock.now(),
            "token_introspection": introspection,
        });
        self.sign_for(reader, &answer).await
    }

    /// The grant behind a live access token and the caller's scopes in it,
    /// when it has any.
    async fn readable_grant(
        &self,
        token: &str,
        readable: &crate::Scopes,
    ) -> Result<Option<(Grant, String)>, OAuthError> {
        let Some(token) = Capability::parse(token) else {
            return Ok(None);
        };
        let Some(grant) = self.live_grant(&token).await? else {
            return Ok(None);
        };
        let scope = grant
            .scopes
            .iter()
            .filter(|scope| readable.contains(scope))
            .collect::<Vec<_>>()
            .join(" ");
        Ok((!scope.is_empty()).then_some((grant, scope)))
    }

    /// What a data provider reads of a grant: the service, the validity,
    /// the level, its own scopes, its own `sub` and the identity pivot.
    fn introspection(&self, grant: &Grant, reader: &str, scope: &str) -> Value {
        let issued_at = grant.token_issued_at.unwrap_or_else(|| self.clock.now());
        let data = grant.data.as_ref();
        let mut introspection = Map::new();
        introspection.insert("active".into(), true.into());
        introspection.insert("aud".into(), grant.client_id.clone().into());
        introspection.insert("client_id".into(), grant.client_id.clone().into());
        if let Some(sub) = data.and_then(|data| data.subs.get(reader)) {
            introspection.insert("sub".into(), sub.clone().into());
        }
        introspection.insert("iat".into(), issued_at.into());
        introspection.insert(
            "exp".into(),
            (issued_at + self.settings.access_token_ttl_secs).into(),
        );
        introspection.insert("acr".into(), grant.acr.as_str().into());
        introspection.insert("scope".into(), scope.into());
        introspection.insert("token_type".into(), "Bearer".into());
        introspection.insert("iss".into(), self.issuer().into());
        if let Some(data) = data {
            introspection.extend(data.identity.clone());
        }
        Value::Object(introspection)
    }
}
