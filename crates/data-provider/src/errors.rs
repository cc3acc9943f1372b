//! Its refusals, JSON as OAuth 2.0 answers them (docs/errors.md).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request gets no data.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
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
