//! A data provider of the federation, FranceConnect's « fournisseur de
//! données »: the tax administration's data on the fictional population
//! (demo), as the DGFiP serves its `dgfip_*` scopes.
//!
//! A service logged in through the hub with the scopes `dgfip_rfr` and/or
//! `dgfip_nbpart` hands its access token over:
//!
//! ```text
//! GET /api/v1/situation-fiscale
//! Authorization: Bearer <the service's access token>
//! ```
//!
//! The data provider checks the token at the hub (`POST {hub}/checktoken`
//! with its own credentials), verifies the hub's signature on the answer,
//! finds the person by the identity pivot the answer carries, and answers
//! only what the token's scopes for it allow:
//!
//! | scope | members |
//! |---|---|
//! | `dgfip_rfr` | `revenu_fiscal_de_reference` (euros) |
//! | `dgfip_nbpart` | `nombre_de_parts`, `situation_de_famille` (`marie`, `celibataire`) |
//!
//! The household is the demo's convention: a person with a usage name is
//! taken as married (two shares), anyone else as single (one share).
//!
//! Refusals are JSON: 401 `invalid_token` (unknown, expired, revoked, or
//! none of our scopes), 404 `not_found` (no tax record for the person),
//! 503 `temporarily_unavailable` (the hub did not answer, or answered
//! something we could not verify). The data provider stores nothing.

use oidc::ConfigError;
use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oidc::Clock;
use oidc::jwks::RemoteKeys;
use population::{Citizen, Pivot};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The scope of the reference tax income.
pub const SCOPE_INCOME: &str = "dgfip_rfr";
/// The scope of the household (number of shares, family situation).
pub const SCOPE_HOUSEHOLD: &str = "dgfip_nbpart";

/// `[data_provider]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where services reach it.
    pub public_url: String,
    /// The hub's issuer: checktoken and the keys are under it.
    pub hub_issuer: String,
    /// Its client id at the hub (a `[[hub.*.data_providers]]` entry).
    pub client_id: String,
    /// Its secret there.
    pub client_secret: oidc::Secret,
}

impl Config {
    /// Checks the URLs; the error names the bad path.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        oidc::RedirectUri::parse(&self.public_url)
            .map_err(|error| ConfigError::new(format!("{path}.public_url"), error))?;
        oidc::RedirectUri::parse(&self.hub_issuer)
            .map_err(|error| ConfigError::new(format!("{path}.hub_issuer"), error))?;
        if self.client_id.is_empty() || self.client_secret.len() < 32 {
            return Err(ConfigError::new(
                format!("{path}.client_secret"),
                "a client_id, and a secret of at least 32 characters",
            ));
        }
        Ok(())
    }
}

/// The service.
struct TaxData {
    config: Config,
    citizens: Arc<Vec<Citizen>>,
    by_pivot: HashMap<Pivot, usize>,
    hub_keys: RemoteKeys,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TaxData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaxData")
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

/// Why a request gets no data.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// No bearer token, or one the hub says is not active for us.
    InvalidToken,
    /// The person has no tax record here.
    NotFound,
    /// The hub did not answer, or not verifiably.
    Unavailable(String),
}

/// One error of the data provider's API: `error`, HTTP status, meaning
/// (`error_description` says it to the service).
pub type ApiError = (&'static str, u16, &'static str);

const INVALID_TOKEN: ApiError = (
    "invalid_token",
    401,
    "the access token is missing, expired, revoked or not for this data",
);
const NOT_FOUND: ApiError = ("not_found", 404, "no tax record for this person");
const UNAVAILABLE: ApiError = (
    "temporarily_unavailable",
    503,
    "the token could not be checked; retry in a moment",
);

/// Every error the API answers (docs/errors.md).
pub const API_ERRORS: [ApiError; 3] = [INVALID_TOKEN, NOT_FOUND, UNAVAILABLE];

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (error, status, description) = match &self {
            Refusal::InvalidToken => INVALID_TOKEN,
            Refusal::NotFound => NOT_FOUND,
            Refusal::Unavailable(reason) => {
                tracing::warn!(reason, "checktoken failed");
                UNAVAILABLE
            }
        };
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            axum::Json(json!({ "error": error, "error_description": description })),
        )
            .into_response();
        if self == Refusal::InvalidToken
            && let Ok(value) = header::HeaderValue::from_str("Bearer error=\"invalid_token\"")
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The data provider's routes, over the population.
pub fn router(
    config: Config,
    citizens: Arc<Vec<Citizen>>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
) -> Router {
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
    let service = Arc::new(TaxData {
        config,
        citizens,
        by_pivot,
        hub_keys,
        http,
        clock,
    });
    Router::new()
        .route("/api/v1/situation-fiscale", get(situation))
        .with_state(service)
}

/// `GET /api/v1/situation-fiscale`.
async fn situation(State(service): State<Arc<TaxData>>, headers: HeaderMap) -> Response {
    match answer(&service, &headers).await {
        Ok(data) => (
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(Value::Object(data)),
        )
            .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn answer(service: &TaxData, headers: &HeaderMap) -> Result<Map<String, Value>, Refusal> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(Refusal::InvalidToken)?;
    let introspection = service.check_token(token).await?;
    let scopes: Vec<&str> = introspection
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split(' ')
        .collect();
    let text = |name: &str| {
        introspection
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let pivot = Pivot {
        given_name: text("given_name"),
        family_name: text("family_name"),
        birthdate: text("birthdate"),
        gender: text("gender"),
        birthplace: text("birthplace"),
        birthcountry: text("birthcountry"),
    };
    let citizen = service
        .by_pivot
        .get(&pivot)
        .and_then(|index| service.citizens.get(*index))
        .ok_or(Refusal::NotFound)?;
    Ok(tax_data(citizen, &scopes))
}

/// What the scopes give of a citizen's tax record.
fn tax_data(citizen: &Citizen, scopes: &[&str]) -> Map<String, Value> {
    let mut data = Map::new();
    if scopes.contains(&SCOPE_INCOME) {
        data.insert(
            "revenu_fiscal_de_reference".into(),
            citizen.reference_income.into(),
        );
    }
    if scopes.contains(&SCOPE_HOUSEHOLD) {
        let married = citizen.usage_name.is_some();
        data.insert("nombre_de_parts".into(), json!(if married { 2 } else { 1 }));
        data.insert(
            "situation_de_famille".into(),
            (if married { "marie" } else { "celibataire" }).into(),
        );
    }
    data
}

impl TaxData {
    /// Asks the hub about a token; the introspection when it is active
    /// for us, verified as the hub's (signature, issuer, audience, age).
    async fn check_token(&self, token: &str) -> Result<Map<String, Value>, Refusal> {
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
        let jwt = response
            .text()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scope_gives_its_own_members_only() {
        let mut citizen = population::generate(7, 1).remove(0);
        citizen.usage_name = Some("MARTIN".into());
        let income = tax_data(&citizen, &[SCOPE_INCOME]);
        assert_eq!(
            income.keys().collect::<Vec<_>>(),
            ["revenu_fiscal_de_reference"]
        );
        let household = tax_data(&citizen, &[SCOPE_HOUSEHOLD]);
        assert_eq!(household["nombre_de_parts"], json!(2));
        assert_eq!(household["situation_de_famille"], "marie");
        assert!(!household.contains_key("revenu_fiscal_de_reference"));
        citizen.usage_name = None;
        assert_eq!(
            tax_data(&citizen, &[SCOPE_HOUSEHOLD])["situation_de_famille"],
            "celibataire"
        );
        assert!(tax_data(&citizen, &["openid"]).is_empty());
    }
}
