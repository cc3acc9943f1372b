//! OpenID for Verifiable Presentations with the mDL, as ISO/IEC 18013-7
//! Annex B profiles it: the verifier's authorization request and the
//! wallet's answer, without transport (the caller fetches and posts).
//!
//! The request travels by value in an `openid4vp://` link (or its QR
//! code):
//! - `response_type=vp_token`;
//! - `client_id_scheme=redirect_uri`: the verifier is named by its
//!   `response_uri`, which is its `client_id`. No signed request object.
//! - `response_mode=direct_post.jwt`;
//! - a `presentation_definition` (DIF Presentation Exchange) with one
//!   input descriptor, the mDL's document type, `limit_disclosure`
//!   required, one field per element, none to be retained;
//! - `client_metadata` with the verifier's name and its ephemeral ECDH-ES
//!   P-256 key for the answer (its `kid` is the request's `state`).
//!
//! The wallet answers with a JWE (ECDH-ES, A256GCM) to that key. `apu`
//! carries its `mdoc_generated_nonce` and `apv` the `nonce`. The payload is
//! `{vp_token, presentation_submission, state}`, where `vp_token` is the
//! DeviceResponse, base64url. Both sides bind it to
//! [`SessionTranscript::openid4vp`] over the client id, the response URI,
//! the nonce and the wallet's nonce.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::transcript::{OpenId4VpHandover, SessionTranscript};
use crate::{ItemsRequest, MDL_DOCTYPE, MDL_NAMESPACE, MdocError};

/// The link scheme wallets open.
pub const SCHEME: &str = "openid4vp://";

/// A verifier's request for mDL elements.
#[derive(Debug, Clone, PartialEq)]
pub struct PresentationRequest {
    /// The verifier's `response_uri`, also its `client_id`.
    pub response_uri: String,
    pub nonce: String,
    pub state: String,
    /// The name the verifier gives itself (not authenticated: the wallet
    /// shows the response URI's origin beside it).
    pub client_name: String,
    /// The mDL elements asked for, none to be retained.
    pub elements: Vec<String>,
    /// The verifier's public JWK for the answer (ECDH-ES, P-256).
    pub encryption_key: Value,
}

/// What the JWE carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentationResponse {
    /// The DeviceResponse, base64url without padding.
    pub vp_token: String,
    pub presentation_submission: Value,
    pub state: String,
}

fn malformed(what: &'static str) -> MdocError {
    MdocError::Malformed(what)
}

/// A JSONPath of Presentation Exchange naming an mDL element.
fn path_of(element: &str) -> String {
    format!("$['{MDL_NAMESPACE}']['{element}']")
}

/// The element a JSONPath names, if it is one of the mDL namespace.
fn element_of(path: &str) -> Option<&str> {
    let prefix = format!("$['{MDL_NAMESPACE}']['");
    path.strip_prefix(&prefix)?.strip_suffix("']")
}

impl PresentationRequest {
    /// The `openid4vp://` link.
    pub fn to_uri(&self) -> String {
        let fields: Vec<Value> = self
            .elements
            .iter()
            .map(|element| json!({"path": [path_of(element)], "intent_to_retain": false}))
            .collect();
        let definition = json!({
            "id": self.state,
            "input_descriptors": [{
                "id": MDL_DOCTYPE,
                "format": {"mso_mdoc": {"alg": ["ES256"]}},
                "constraints": {"limit_disclosure": "required", "fields": fields},
            }],
        });
        let metadata = json!({
            "client_name": self.client_name,
            "jwks": {"keys": [self.encryption_key]},
            "authorization_encrypted_response_alg": "ECDH-ES",
            "authorization_encrypted_response_enc": "A256GCM",
            "vp_formats": {"mso_mdoc": {"alg": ["ES256"]}},
        });
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "vp_token")
            .append_pair("client_id", &self.response_uri)
            .append_pair("client_id_scheme", "redirect_uri")
            .append_pair("response_mode", "direct_post.jwt")
            .append_pair("response_uri", &self.response_uri)
            .append_pair("nonce", &self.nonce)
            .append_pair("state", &self.state)
            .append_pair("presentation_definition", &definition.to_string())
            .append_pair("client_metadata", &metadata.to_string())
            .finish();
        format!("{SCHEME}?{query}")
    }

    /// Reads an `openid4vp://` link; refuses what this profile does not
    /// allow (another response type or mode, a client id that is not the
    /// response URI, a request for another document type, an element
    /// outside the mDL namespace).
    pub fn from_uri(uri: &str) -> Result<Self, MdocError> {
        let query = uri
            .strip_prefix(SCHEME)
            .and_then(|rest| rest.split_once('?'))
            .map(|(_, query)| query)
            .ok_or(malformed("openid4vp link"))?;
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |name: &'static str| -> Result<&str, MdocError> {
            let mut found = pairs.iter().filter(|(key, _)| key == name);
            match (found.next(), found.next()) {
                (Some((_, value)), None) => Ok(value.as_str()),
                _ => Err(malformed(name)),
            }
        };
        let expect = |name: &'static str, value: &str| -> Result<(), MdocError> {
            (get(name)? == value).then_some(()).ok_or(malformed(name))
        };
        expect("response_type", "vp_token")?;
        expect("client_id_scheme", "redirect_uri")?;
        expect("response_mode", "direct_post.jwt")?;
        let response_uri = get("response_uri")?;
        if get("client_id")? != response_uri {
            return Err(malformed("client_id"));
        }
        let json = |name: &'static str| -> Result<Value, MdocError> {
            serde_json::from_str(get(name)?).map_err(|_| malformed(name))
        };
        let definition = json("presentation_definition")?;
        let descriptors = definition
            .get("input_descriptors")
            .and_then(Value::as_array)
            .filter(|descriptors| descriptors.len() == 1)
            .ok_or(malformed("input_descriptors"))?;
        let descriptor = descriptors.first().ok_or(malformed("input_descriptors"))?;
        if descriptor.get("id").and_then(Value::as_str) != Some(MDL_DOCTYPE) {
            return Err(malformed("input descriptor id"));
        }
        let elements = descriptor
            .pointer("/constraints/fields")
            .and_then(Value::as_array)
            .ok_or(malformed("fields"))?
            .iter()
            .map(|field| {
                field
                    .pointer("/path/0")
                    .and_then(Value::as_str)
                    .and_then(element_of)
                    .map(str::to_owned)
                    .ok_or(malformed("field path"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metadata = json("client_metadata")?;
        let encryption_key = metadata
            .pointer("/jwks/keys/0")
            .cloned()
            .ok_or(malformed("client_metadata jwks"))?;
        Ok(Self {
            response_uri: response_uri.to_owned(),
            nonce: get("nonce")?.to_owned(),
            state: get("state")?.to_owned(),
            client_name: metadata
                .get("client_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            elements,
            encryption_key,
        })
    }

    /// The device request this asks for.
    pub fn items(&self) -> ItemsRequest {
        let elements: Vec<&str> = self.elements.iter().map(String::as_str).collect();
        ItemsRequest::mdl(&elements)
    }

    /// The transcript both sides sign and check, with the wallet's nonce.
    pub fn transcript(&self, mdoc_generated_nonce: &str) -> Result<SessionTranscript, MdocError> {
        Ok(SessionTranscript::openid4vp(OpenId4VpHandover::new(
            &self.response_uri,
            &self.response_uri,
            &self.nonce,
            mdoc_generated_nonce,
        )?))
    }

    /// The payload of the wallet's answer for `device_response`.
    pub fn response(&self, device_response: &[u8]) -> PresentationResponse {
        PresentationResponse {
            vp_token: URL_SAFE_NO_PAD.encode(device_response),
            presentation_submission: json!({
                "id": format!("{}-submission", self.state),
                "definition_id": self.state,
                "descriptor_map": [{"id": MDL_DOCTYPE, "format": "mso_mdoc", "path": "$"}],
            }),
            state: self.state.clone(),
        }
    }
}

impl PresentationResponse {
    /// The DeviceResponse bytes.
    pub fn device_response(&self) -> Result<Vec<u8>, MdocError> {
        URL_SAFE_NO_PAD
            .decode(&self.vp_token)
            .map_err(|_| malformed("vp_token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> PresentationRequest {
        PresentationRequest {
            response_uri: "http://127.0.0.1:7084/location/reponse".into(),
            nonce: "n-123".into(),
            state: "s-456".into(),
            client_name: "Location (démo)".into(),
            elements: vec!["driving_privileges".into(), "age_over_21".into()],
            encryption_key: json!({"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": "s-456"}),
        }
    }

    #[test]
    fn a_request_reads_back_from_its_link() {
        let uri = request().to_uri();
        assert!(
            uri.starts_with("openid4vp://?response_type=vp_token&"),
            "{uri}"
        );
        assert_eq!(PresentationRequest::from_uri(&uri).unwrap(), request());
        let items = request().items();
        assert!(items.asks_for(MDL_NAMESPACE, "age_over_21"));
        assert!(!items.asks_for(MDL_NAMESPACE, "family_name"));
    }

    #[test]
    fn a_link_outside_the_profile_is_refused() {
        let uri = request().to_uri();
        let changed =
            |from: &str, to: &str| PresentationRequest::from_uri(&uri.replacen(from, to, 1));
        for (from, to) in [
            ("response_mode=direct_post.jwt", "response_mode=direct_post"),
            ("response_type=vp_token", "response_type=code"),
            ("client_id=http", "client_id=https"),
            (
                "client_id_scheme=redirect_uri",
                "client_id_scheme=x509_san_dns",
            ),
            ("org.iso.18013.5.1.mDL", "eu.europa.ec.eudi.pid.1"),
            ("openid4vp://", "https://"),
        ] {
            assert!(changed(from, to).is_err(), "{from} → {to}");
        }
        let twice = format!("{uri}&nonce=other");
        assert!(
            PresentationRequest::from_uri(&twice).is_err(),
            "a repeated parameter"
        );
        for garbage in ["", "openid4vp://", "openid4vp://?", "openid4vp://?%ff%fe"] {
            assert!(PresentationRequest::from_uri(garbage).is_err());
        }
    }

    #[test]
    fn the_answer_carries_the_device_response_and_the_state() {
        let response = request().response(b"\xa1\x01\x02");
        assert_eq!(response.state, "s-456");
        assert_eq!(response.device_response().unwrap(), b"\xa1\x01\x02");
        let transcript = request().transcript("wallet-nonce").unwrap();
        assert_ne!(transcript, request().transcript("other").unwrap());
    }
}
