//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), as
//! FranceConnect's `/session/end`: `id_token_hint` required,
//! `post_logout_redirect_uri` registered, `state` echoed.

use serde_json::{Value, json};

use super::{Params, Provider};
use crate::error::{ErrorCode, OAuthError};
use crate::types::random_token;

/// The event a logout token carries (OpenID Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token may be accepted.
const LOGOUT_TOKEN_TTL_SECS: i64 = 120;

/// A checked logout request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndSession {
    /// The client the hint was issued to.
    pub client_id: String,
    /// The `sub` of the hint.
    pub sub: String,
    /// Where to send the browser at the end (with `state`), when asked.
    pub redirect_to: Option<String>,
}

impl Provider {
    /// Checks a logout request. The hint must be an ID token we signed; it
    /// may have expired (a logout comes long after the login).
    pub fn check_end_session(&self, params: &Params) -> Result<EndSession, OAuthError> {
        let invalid = |description: &str| OAuthError::new(ErrorCode::InvalidRequest, description);
        params.check_no_repeats()?;
        let hint = params.require("id_token_hint")?;
        let claims = self
            .verify_own_token(hint)
            .ok_or_else(|| invalid("id_token_hint is not an ID token of this provider"))?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        if text("iss").as_deref() != Some(self.issuer()) {
            return Err(invalid("id_token_hint was issued by another provider"));
        }
        let client_id = text("aud").ok_or_else(|| invalid("id_token_hint has no audience"))?;
        let client = self
            .client(&client_id)
            .ok_or_else(|| invalid("id_token_hint is for an unknown client"))?;
        if params
            .get("client_id")
            .is_some_and(|claimed| claimed != client_id)
        {
            return Err(invalid("client_id does not match id_token_hint"));
        }
        let redirect_to = match params.get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => {
                let registered = client
                    .post_logout_redirect_uris
                    .iter()
                    .find(|registered| registered.as_str() == uri)
                    .ok_or_else(|| {
                        invalid("post_logout_redirect_uri is not registered for this client")
                    })?;
                let state: Vec<(&str, &str)> = params
                    .get("state")
                    .map(|state| ("state", state))
                    .into_iter()
                    .collect();
                Some(registered.with_params(&state))
            }
        };
        Ok(EndSession {
            client_id,
            sub: text("sub").unwrap_or_default(),
            redirect_to,
        })
    }

    /// Verifies a token this provider signed, with its keys or, for HS256
    /// clients, their secret.
    fn verify_own_token(&self, token: &str) -> Option<serde_json::Map<String, Value>> {
        // An encrypted ID token is unreadable to us (it is encrypted to the
        // client): services of encrypted tokens send as the hint the signed
        // token they decrypted.
        let header = jose::peek_header(token).ok()?;
        if header.alg.is_asymmetric() {
            return jose::verify(token, &self.signing_keys().public, &[header.alg]).ok();
        }
        // HS256: find the client from the unverified audience, then verify.
        let payload = token.split('.').nth(1)?;
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .ok()?;
        let unverified: serde_json::Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
        let client = self.client(unverified.get("aud")?.as_str()?)?;
        jose::verify_hmac(token, client.hmac_key()?).ok()
    }
}

impl Provider {
    /// A logout token for a client's session with `sub` (OpenID Back-Channel
    /// Logout 1.0 §2.4): `iss aud iat exp jti sub events`, no `nonce`,
    /// typed `logout+jwt`, signed as the client's ID tokens are (never
    /// encrypted: it names only the pairwise `sub` the client already has).
    pub fn logout_token(&self, client_id: &str, sub: &str) -> Result<String, OAuthError> {
        let client = self
            .client(client_id)
            .ok_or_else(|| OAuthError::new(ErrorCode::InvalidClient, "unknown client_id"))?;
        let now = self.clock.now();
        let claims = json!({
            "iss": self.issuer(),
            "aud": client.client_id,
            "iat": now,
            "exp": now + LOGOUT_TOKEN_TTL_SECS,
            "jti": random_token(16),
            "sub": sub,
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        });
        let Value::Object(claims) = claims else {
            return Err(OAuthError::new(
                ErrorCode::ServerError,
                "claims are not an object",
            ));
        };
        self.sign(client, &claims, "logout+jwt")
    }
}
