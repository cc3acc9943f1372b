//! The authorization endpoint's checks, in the order they run.
//!
//! The first two checks decide whether the client can be told about an
//! error at all: until the client and its redirect URI are verified, an error
//! is a page of ours (RFC 6749 §4.1.2.1; never a redirect to an unverified
//! URI). After them, errors go back to the client.

use serde::{Deserialize, Serialize};

use super::{Params, Provider};
use crate::claims::{claims_for, is_user_claim};
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::types::{Acr, PkceChallenge, RedirectUri, Scopes};

/// A checked authorization request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: String,
    /// The verified redirect URI.
    pub redirect_uri: RedirectUri,
    /// Requested scopes (known and allowed for the client).
    pub scopes: Scopes,
    /// The client's state, echoed back.
    pub state: String,
    /// The client's nonce, echoed in the ID token.
    pub nonce: String,
    /// The level asked: the lowest known of `acr_values`, or the default.
    pub acr: Acr,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age`, in seconds.
    pub max_age: Option<i64>,
    /// PKCE challenge.
    pub pkce: Option<PkceChallenge>,
    /// `ui_locales`, as sent.
    pub ui_locales: Option<String>,
    /// `idp_hint` (FranceConnect), as sent.
    pub idp_hint: Option<String>,
    /// User claims asked one by one in the `claims` parameter, beyond what
    /// the scopes release (each one the client's scopes allow).
    #[serde(default)]
    pub claims: Vec<String>,
}

/// The `prompt` values we honour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// `login`: authenticate again, whatever the session.
    pub login: bool,
    /// `consent`: show the consent page (we always do).
    pub consent: bool,
}

/// Why an authorize request was refused, and who may be told.
#[derive(Clone, Debug, PartialEq)]
pub enum AuthorizeError {
    /// Client or redirect URI not verified: show our own error page.
    Page {
        /// The check that failed.
        check: &'static str,
        /// The error.
        error: OAuthError,
    },
    /// Send the error back to the verified redirect URI.
    Redirect {
        /// The check that failed.
        check: &'static str,
        /// The error.
        error: OAuthError,
        /// Where to send it.
        redirect_uri: RedirectUri,
        /// The client's state, when it sent one.
        state: Option<String>,
    },
}

impl AuthorizeError {
    /// The check that failed.
    pub fn check(&self) -> &'static str {
        match self {
            AuthorizeError::Page { check, .. } | AuthorizeError::Redirect { check, .. } => check,
        }
    }

    /// The error.
    pub fn error(&self) -> &OAuthError {
        match self {
            AuthorizeError::Page { error, .. } | AuthorizeError::Redirect { error, .. } => error,
        }
    }
}

/// Longest `state` and `nonce` we carry (they are echoed back). Frameworks
/// put their own data in `state` (ASP.NET's protected properties run to
/// 2–3 KB): FranceConnect sets no maximum, so the bound only keeps a URL
/// within what browsers and servers take.
const MAX_ECHO_LEN: usize = 4096;

impl Provider {
    /// Parses and checks an authorize request (GET query or POST form),
    /// running every check in order. Nothing is stored.
    pub fn parse_authorize(&self, params: &Params) -> Result<AuthorizationRequest, AuthorizeError> {
        let page = |check, error| AuthorizeError::Page { check, error };
        let client = check_client(self, params).map_err(|error| page("check_client", error))?;
        let redirect_uri = check_redirect_uri(client, params)
            .map_err(|error| page("check_redirect_uri", error))?;
        let state = params
            .get("state")
            .filter(|state| state.len() <= MAX_ECHO_LEN);
        let redirect = |check, error| AuthorizeError::Redirect {
            check,
            error,
            redirect_uri: redirect_uri.clone(),
            state: state.map(str::to_owned),
        };
        params
            .check_no_repeats()
            .map_err(|error| redirect("check_no_repeats", error))?;
        check_response_type(params).map_err(|error| redirect("check_response_type", error))?;
        let scopes =
            check_scope(self, client, params).map_err(|error| redirect("check_scope", error))?;
        let state = check_state(params).map_err(|error| redirect("check_state", error))?;
        let nonce = check_nonce(self, params).map_err(|error| redirect("check_nonce", error))?;
        let acr =
            check_acr_values(self, params).map_err(|error| redirect("check_acr_values", error))?;
        let claims =
            check_claims(client, params).map_err(|error| redirect("check_claims", error))?;
        let prompt = check_prompt(params).map_err(|error| redirect("check_prompt", error))?;
        let max_age = check_max_age(params).map_err(|error| redirect("check_max_age", error))?;
        let pkce = check_pkce(client, params).map_err(|error| redirect("check_pkce", error))?;
        check_unsupported(params).map_err(|error| redirect("check_unsupported", error))?;
        Ok(AuthorizationRequest {
            client_id: client.client_id.clone(),
            redirect_uri,
            scopes,
            state,
            nonce,
            acr,
            prompt,
            max_age,
            pkce,
            ui_locales: params.get("ui_locales").map(str::to_owned),
            idp_hint: params.get("idp_hint").map(str::to_owned),
            claims,
        })
    }
}

fn invalid(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, description)
}

/// `client_id` names a registered client (RFC 6749 §4.1.2.1: an unknown
/// client is never redirected to).
fn check_client<'a>(provider: &'a Provider, params: &Params) -> Result<&'a Client, OAuthError> {
    if params.is_repeated("client_id") {
        return Err(invalid("client_id is repeated"));
    }
    let client_id = params.require("client_id")?;
    provider.client(client_id).ok_or_else(|| {
        OAuthError::new(ErrorCode::InvalidClient, "unknown client_id")
            .with_detail(client_id.chars().take(64).collect::<String>())
    })
}

/// `redirect_uri` is present and equals a registered one exactly
/// (RFC 9700 §4.1.3; FranceConnect requires it on every request).
fn check_redirect_uri(client: &Client, params: &Params) -> Result<RedirectUri, OAuthError> {
    if params.is_repeated("redirect_uri") {
        return Err(invalid("redirect_uri is repeated"));
    }
    let text = params.require("redirect_uri")?;
    client
        .redirect_uris
        .iter()
        .find(|registered| registered.as_str() == text)
        .cloned()
        .ok_or_else(|| invalid("redirect_uri is not registered for this client"))
}

/// `response_type` is `code`: the code flow only (FranceConnect).
fn check_response_type(params: &Params) -> Result<(), OAuthError> {
    match params.require("response_type")? {
        "code" => Ok(()),
        _ => Err(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            "only response_type=code is supported",
        )),
    }
    .and_then(|()| match params.get("response_mode") {
        None | Some("query") => Ok(()),
        Some(_) => Err(invalid("only response_mode=query is supported")),
    })
}

/// `scope` has `openid` (OpenID Connect Core §3.1.2.1) and, of the known
/// scopes, only those the client is registered for (FranceConnect). An
/// unknown scope is dropped, as FranceConnect's engine drops it: a scope of
/// another platform or a newer version never breaks a login.
fn check_scope(
    provider: &Provider,
    client: &Client,
    params: &Params,
) -> Result<Scopes, OAuthError> {
    let scopes = Scopes::parse(params.require("scope")?)
        .map_err(|error| OAuthError::new(ErrorCode::InvalidScope, error))?
        .retain(|scope| provider.settings.offers_scope(scope));
    if !scopes.contains("openid") {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "scope must contain openid",
        ));
    }
    if let Some(refused) = scopes.iter().find(|scope| !client.scopes.contains(scope)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope {refused} is not allowed for this client"),
        ));
    }
    Ok(scopes)
}

/// `state` is required (FranceConnect; RFC 9700 §4.7.1 against CSRF).
fn check_state(params: &Params) -> Result<String, OAuthError> {
    let state = params.require("state")?;
    if state.len() > MAX_ECHO_LEN {
        return Err(invalid("state is too long"));
    }
    Ok(state.to_owned())
}

/// `nonce` is required and at least 22 characters long (FranceConnect's
/// rule, `authorize-params.dto.ts`), so that it carries enough entropy.
fn check_nonce(provider: &Provider, params: &Params) -> Result<String, OAuthError> {
    let nonce = params.require("nonce")?;
    let min = provider.settings.min_nonce_len;
    if nonce.chars().count() < min {
        return Err(invalid(format!(
            "nonce must be at least {min} characters long"
        )));
    }
    if nonce.len() > MAX_ECHO_LEN {
        return Err(invalid("nonce is too long"));
    }
    Ok(nonce.to_owned())
}

/// The user claims the `claims` parameter asks for (OpenID Connect Core
/// §5.5), in `userinfo` or `id_token`: all are released in userinfo, as
/// FranceConnect releases every user claim. A claim we do not know is
/// ignored (§5.5); one the client's scopes do not allow is refused, as a
/// scope would be.
fn check_claims(client: &Client, params: &Params) -> Result<Vec<String>, OAuthError> {
    let Some(text) = params.get("claims") else {
        return Ok(Vec::new());
    };
    let request: serde_json::Value =
        serde_json::from_str(text).map_err(|_| invalid("claims is not a JSON object"))?;
    let Some(request) = request.as_object() else {
        return Err(invalid("claims is not a JSON object"));
    };
    let allowed = claims_for(&client.scopes);
    let mut asked = Vec::new();
    for member in ["userinfo", "id_token"] {
        let Some(names) = request.get(member).and_then(serde_json::Value::as_object) else {
            continue;
        };
        for name in names.keys() {
            if name == "sub" || !is_user_claim(name) || asked.contains(name) {
                continue;
            }
            if !allowed.contains(&name.as_str()) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidRequest,
                    format!("claim {name} is not allowed for this client"),
                ));
            }
            asked.push(name.clone());
        }
    }
    Ok(asked)
}

/// The `acr` the `claims` parameter asks for the ID token (OpenID Connect
/// Core §5.5.1.1): its `value`/`values`, and whether it is essential.
fn claims_acr(params: &Params) -> Result<Option<(Vec<String>, bool)>, OAuthError> {
    let Some(text) = params.get("claims") else {
        return Ok(None);
    };
    let claims: serde_json::Value =
        serde_json::from_str(text).map_err(|_| invalid("claims is not a JSON object"))?;
    let Some(acr) = claims
        .get("id_token")
        .and_then(|id_token| id_token.get("acr"))
        .filter(|acr| acr.is_object())
    else {
        return Ok(None);
    };
    let mut values: Vec<String> = acr
        .get("value")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .into_iter()
        .collect();
    if let Some(list) = acr.get("values").and_then(serde_json::Value::as_array) {
        values.extend(
            list.iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_owned),
        );
    }
    let essential = acr
        .get("essential")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    Ok((!values.is_empty()).then_some((values, essential)))
}

/// `acr_values`, or an `acr` of the `claims` parameter when there is one:
/// the lowest known level wins, the platform default when none is known
/// (unless the claim is essential), and a level the platform does not offer
/// is `invalid_acr` (FranceConnect `acr.transform.ts`, `core-acr.service.ts`).
fn check_acr_values(provider: &Provider, params: &Params) -> Result<Acr, OAuthError> {
    let settings = &provider.settings;
    let requested = match claims_acr(params)? {
        Some((values, essential)) => {
            match values.iter().filter_map(|value| Acr::parse(value)).min() {
                Some(acr) => Some(acr),
                None if essential => {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidAcr,
                        "the essential acr claim names no known level",
                    ));
                }
                None => None,
            }
        }
        None => match params.get("acr_values") {
            Some(values) => Acr::lowest_of(values),
            None if settings.require_acr_values => return Err(invalid("acr_values is required")),
            None => None,
        },
    };
    let acr = requested.unwrap_or(settings.default_acr);
    if settings.acr_offered.contains(&acr) {
        return Ok(acr);
    }
    let expected: Vec<&str> = settings
        .acr_offered
        .iter()
        .map(|acr| acr.as_str())
        .collect();
    Err(OAuthError::new(
        ErrorCode::InvalidAcr,
        format!(
            "acr_value is not valid, should be equal one of these values, expected {}, got {acr}",
            expected.join(",")
        ),
    ))
}

/// `prompt` may be `login` and `consent` (FranceConnect `allowedPrompt`);
/// `none` is answered `login_required`, since we always show a page.
fn check_prompt(params: &Params) -> Result<Prompt, OAuthError> {
    let mut prompt = Prompt::default();
    for value in params
        .get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|value| !value.is_empty())
    {
        match value {
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "none" => {
                return Err(OAuthError::new(
                    ErrorCode::LoginRequired,
                    "prompt=none is not supported",
                ));
            }
            _ => return Err(invalid("prompt may only be login and consent")),
        }
    }
    Ok(prompt)
}

/// `max_age` is a non-negative number of seconds (OpenID Connect Core §3.1.2.1).
fn check_max_age(params: &Params) -> Result<Option<i64>, OAuthError> {
    params
        .get("max_age")
        .map(|text| {
            text.parse::<i64>()
                .ok()
                .filter(|age| *age >= 0)
                .ok_or_else(|| invalid("max_age must be a number of seconds"))
        })
        .transpose()
}

/// PKCE: only `S256`; required for clients registered with `require_pkce`
/// (RFC 9700 §2.1.1; FranceConnect-compatible clients opt out).
fn check_pkce(client: &Client, params: &Params) -> Result<Option<PkceChallenge>, OAuthError> {
    match params.get("code_challenge") {
        Some(challenge) => PkceChallenge::parse(challenge, params.get("code_challenge_method"))
            .map(Some)
            .map_err(invalid),
        None if client.require_pkce => Err(invalid(
            "code_challenge is required for this client (PKCE S256)",
        )),
        None => Ok(None),
    }
}

/// Request objects are not supported (OpenID Connect Core §6: the errors
/// `request_not_supported` and `request_uri_not_supported`).
fn check_unsupported(params: &Params) -> Result<(), OAuthError> {
    if params.get("request").is_some() || params.get("request_uri").is_some() {
        return Err(invalid("request objects are not supported"));
    }
    Ok(())
}
