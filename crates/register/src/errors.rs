//! The register's one error type and its JSON rendering.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request to the register was refused. Every variant is answered with
/// `{"error":"invalid_request","error_description":"…"}`, the shape of an OAuth 2.0 error
/// (RFC 6749 §5.2) so the hub parses register and provider errors alike.
///
/// Descriptions name the faulty member, never its value: the values are personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The body is not a well-formed identity query (HTTP 400).
    #[error("{0}")]
    InvalidRequest(String),
    /// The body is larger than the register accepts (HTTP 413).
    #[error("the request body is larger than {limit_bytes} bytes")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit_bytes: usize,
    },
}

/// Every error the register answers, as docs/errors.md lists them:
/// `error`, HTTP status, meaning.
pub const API_ERRORS: [(&str, u16, &str); 2] = [
    (
        "invalid_request",
        400,
        "the body is not a well-formed identity query (the description names the member, never its value)",
    ),
    (
        "invalid_request",
        413,
        "the body is larger than the register accepts",
    ),
];

impl RegisterError {
    /// The HTTP status the error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

impl IntoResponse for RegisterError {
    fn into_response(self) -> Response {
        tracing::info!(error = %self, "identity query refused");
        let body = json!({
            "error": "invalid_request",
            "error_description": self.to_string(),
        });
        (self.status(), Json(body)).into_response()
    }
}
