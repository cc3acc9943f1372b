//! Protocol errors: an RFC 6749 code, an HTTP status, a description safe to
//! send, and a private detail that is only logged.

use std::fmt;

/// The OAuth 2.0 / OpenID Connect error codes we send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// RFC 6749 §4.1.2.1, §5.2.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed.
    InvalidClient,
    /// RFC 6749 §5.2: bad, expired, reused or foreign code.
    InvalidGrant,
    /// RFC 6749 §4.1.2.1.
    UnauthorizedClient,
    /// RFC 6749 §5.2.
    UnsupportedGrantType,
    /// RFC 6749 §4.1.2.1.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1.
    InvalidScope,
    /// RFC 6749 §4.1.2.1: the citizen or the federation refused.
    AccessDenied,
    /// RFC 6749 §4.1.2.1.
    ServerError,
    /// RFC 6749 §4.1.2.1.
    TemporarilyUnavailable,
    /// RFC 6750 §3.1.
    InvalidToken,
    /// FranceConnect: a level of assurance the platform does not offer.
    InvalidAcr,
    /// OpenID Connect Core §3.1.2.6.
    LoginRequired,
    /// FranceConnect: `idp_hint` names a provider the service may not name.
    InvalidIdpHint,
}

impl ErrorCode {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InvalidAcr => "invalid_acr",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::InvalidIdpHint => "invalid_idp_hint",
        }
    }

    /// The HTTP status when the error is answered directly (token, userinfo).
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            ErrorCode::AccessDenied => 403,
            _ => 400,
        }
    }
}

/// A protocol error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The RFC code.
    pub code: ErrorCode,
    /// Public description (`error_description`): never secret, never personal.
    pub description: String,
    /// Private detail for the log.
    pub detail: String,
}

impl OAuthError {
    /// An error whose public description says enough.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            detail: String::new(),
        }
    }

    /// Adds a private detail, for the log only.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// The RFC 6749 §5.2 JSON body.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.code.as_str(), "error_description": self.description })
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for OAuthError {}
