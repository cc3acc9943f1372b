//! Its one route.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oidc::Clock;
use population::{Citizen, Pivot};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::errors::Refusal;
use crate::state::TaxData;
use crate::tax_data;

/// The data provider's routes, over the population.
pub fn router(
    config: Config,
    citizens: Arc<Vec<Citizen>>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
) -> Router {
    let service = Arc::new(TaxData::new(config, citizens, http, clock));
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
