//! The discovery document (OpenID Connect Discovery 1.0 §3).

use serde_json::{Value, json};

use super::Provider;
use crate::claims::SCOPES;

impl Provider {
    /// The provider metadata, FranceConnect v2's fields plus PKCE, RFC 9207's
    /// `authorization_response_iss_parameter_supported`, and the token
    /// encryption FranceConnect+ advertises.
    pub fn discovery(&self) -> Value {
        let mut claims: Vec<&str> = SCOPES
            .iter()
            .filter(|(scope, _)| self.settings.offers_scope(scope))
            .flat_map(|(_, claims)| claims.iter().copied())
            .collect();
        claims.sort_unstable();
        claims.dedup();
        let keys = self.signing_keys();
        let mut algs: Vec<&str> = keys
            .set
            .keys()
            .iter()
            .map(|key| key.alg().as_str())
            .collect();
        algs.dedup();
        if self
            .clients
            .values()
            .any(|client| client.hmac_key().is_some())
        {
            algs.push("HS256");
        }
        let acr: Vec<&str> = self
            .settings
            .acr_offered
            .iter()
            .map(|acr| acr.as_str())
            .collect();
        let encryption: Vec<&str> = jose::KeyAlg::ALL.iter().map(|alg| alg.as_str()).collect();
        json!({
            "issuer": self.issuer(),
            "authorization_endpoint": self.endpoint("/authorize"),
            "token_endpoint": self.endpoint("/token"),
            "userinfo_endpoint": self.endpoint("/userinfo"),
            "jwks_uri": self.endpoint("/jwks"),
            "end_session_endpoint": self.endpoint("/session/end"),
            "revocation_endpoint": self.endpoint("/token/revocation"),
            "scopes_supported": self.settings.scopes,
            "claims_supported": claims,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "acr_values_supported": acr,
            "claim_types_supported": ["normal"],
            "claims_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "id_token_signing_alg_values_supported": algs,
            "userinfo_signing_alg_values_supported": algs,
            "id_token_encryption_alg_values_supported": encryption,
            "id_token_encryption_enc_values_supported": ["A256GCM"],
            "userinfo_encryption_alg_values_supported": encryption,
            "userinfo_encryption_enc_values_supported": ["A256GCM"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "frontchannel_logout_supported": false,
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": false,
            "ui_locales_supported": ["fr", "en"],
        })
    }
}
