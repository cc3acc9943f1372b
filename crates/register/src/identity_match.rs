//! `POST /api/v1/identities/match`: check an identity against the register; and
//! `POST /api/v1/driving-licences/match`: the licence register's answer for that identity.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;

use crate::RegisterError;
use crate::index::{Index, LicenceOutcome, Outcome};
use crate::query::{IdentityQuery, parse_query};

/// Largest request body accepted: a pivot is a few hundred bytes, 16 KiB leaves room for
/// long names and refuses anything that is not an identity query.
pub(crate) const BODY_LIMIT_BYTES: usize = 16 * 1024;

/// Reads the query, looks it up, answers the outcome (HTTP 200) or an error (400, 413).
pub(crate) async fn match_identity(
    State(index): State<Arc<Index>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Outcome>, RegisterError> {
    let outcome = index.find(&read_query(body)?);
    // The outcome only: the query's names and dates are personal data and stay out of logs.
    tracing::info!(outcome = outcome.name(), "identity query answered");
    Ok(Json(outcome))
}

/// `POST /api/v1/driving-licences/match`: the licence of the person the pivot names exactly.
pub(crate) async fn match_licence(
    State(index): State<Arc<Index>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<LicenceOutcome>, RegisterError> {
    let outcome = index.licence(&read_query(body)?);
    tracing::info!(outcome = outcome.name(), "driving licence query answered");
    Ok(Json(outcome))
}

/// `POST /api/v1/driving-licences/lookup`: the licence of a number, as it
/// stands (`{"number": "…"}`; the number stays out of URLs and logs).
pub(crate) async fn lookup_licence(
    State(index): State<Arc<Index>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<LicenceOutcome>, RegisterError> {
    #[derive(serde::Deserialize)]
    struct Lookup {
        number: String,
    }
    let body = read_body(body)?;
    let lookup: Lookup = serde_json::from_slice(&body).map_err(|_| {
        RegisterError::InvalidRequest("the body must be {\"number\": \"…\"}".to_owned())
    })?;
    let outcome = index.licence_numbered(&lookup.number);
    tracing::info!(outcome = outcome.name(), "driving licence lookup answered");
    Ok(Json(outcome))
}

fn read_query(body: Result<Bytes, BytesRejection>) -> Result<IdentityQuery, RegisterError> {
    parse_query(&read_body(body)?)
}

fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, RegisterError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            RegisterError::BodyTooLarge {
                limit_bytes: BODY_LIMIT_BYTES,
            }
        } else {
            RegisterError::InvalidRequest("the request body could not be read".to_owned())
        }
    })
}
