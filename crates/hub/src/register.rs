//! Client of the national register service (the RNIPP of FranceConnect):
//! `POST {register}/api/v1/identities/match` with the identity pivot. The
//! contract is in docs/register.md.

use oidc::Identity;
use oidc::request_id::Propagate as _;
use serde::Deserialize;
use serde_json::json;

use crate::errors::HubError;

/// The register client.
#[derive(Clone, Debug)]
pub struct Register {
    url: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Answer {
    outcome: String,
    #[serde(default)]
    identity: Option<RegisterIdentity>,
}

#[derive(Deserialize)]
struct RegisterIdentity {
    given_name: String,
    family_name: String,
    birthdate: String,
    gender: String,
    birthplace: String,
    birthcountry: String,
    #[serde(default)]
    preferred_username: Option<String>,
}

impl Register {
    /// A client of the register at `base_url`.
    pub fn new(base_url: &str, http: reqwest::Client) -> Self {
        Self {
            url: format!("{}/api/v1/identities/match", base_url.trim_end_matches('/')),
            http,
        }
    }

    /// Checks an identity; on a match, returns the register's identity
    /// (corrected) with the provider's email kept.
    pub async fn check(&self, identity: &Identity) -> Result<Identity, HubError> {
        let body = json!({
            "given_name": identity.given_name, "family_name": identity.family_name,
            "birthdate": identity.birthdate, "gender": identity.gender,
            "birthplace": identity.birthplace, "birthcountry": identity.birthcountry,
        });
        let response = self
            .http
            .post(&self.url)
            .json(&body)
            .with_request_id()
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(error = %error.without_url(), "register unreachable");
                HubError::RegisterUnavailable
            })?;
        if !response.status().is_success() {
            tracing::warn!(
                status = response.status().as_u16(),
                "register refused the request"
            );
            return Err(HubError::RegisterUnavailable);
        }
        let answer: Answer = oidc::answer::json(response).await.map_err(|error| {
            tracing::warn!(%error, "register's answer unreadable");
            HubError::RegisterUnavailable
        })?;
        match (answer.outcome.as_str(), answer.identity) {
            ("match", Some(found)) => Ok(Identity {
                given_name: found.given_name,
                family_name: found.family_name,
                birthdate: found.birthdate,
                gender: found.gender,
                birthplace: found.birthplace,
                birthcountry: found.birthcountry,
                email: identity.email.clone(),
                preferred_username: found
                    .preferred_username
                    .or_else(|| identity.preferred_username.clone()),
            }),
            ("not_found", _) => Err(HubError::RegisterNotFound),
            ("near_match", _) => Err(HubError::RegisterNearMatch),
            ("deceased", _) => Err(HubError::RegisterDeceased),
            (outcome, _) => {
                tracing::warn!(outcome, "register answered an unknown outcome");
                Err(HubError::RegisterUnavailable)
            }
        }
    }
}
