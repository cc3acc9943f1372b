//! The relying party: the hub towards identity providers, and the demo
//! services towards the hub.
//!
//! A login is [`RelyingParty::start`] (which gives the authorize URL and a
//! [`PendingLogin`] that the caller keeps in the browser's session) then
//! [`RelyingParty::finish`] on the callback. The provider's metadata and keys
//! are fetched once and cached; the key set is fetched again when a token
//! names an unknown `kid`, at most once a minute.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jose::{Alg, JoseError, PublicKeySet};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use crate::client::Secret;
use crate::clock::{Clock, UnixSeconds};
use crate::jwks::RemoteKeys;
use crate::op::Params;
use crate::request_id::Propagate as _;
use crate::types::{Acr, PkceChallenge, RedirectUri, Sub, random_token};

/// How a relying party is registered at its provider.
#[derive(Clone, Debug)]
pub struct RpSettings {
    /// The provider's issuer; discovery is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// Our client id there.
    pub client_id: String,
    /// Our client secret there (`client_secret_post`).
    pub client_secret: Secret,
    /// Our callback, registered there.
    pub redirect_uri: RedirectUri,
    /// Scopes to ask for.
    pub scopes: String,
    /// Signature algorithms we accept from the provider.
    pub algs: Vec<Alg>,
    /// Whether to send PKCE.
    pub use_pkce: bool,
    /// Our private keys, when the provider encrypts tokens to us: ID tokens
    /// and userinfo then arrive as JWE around the signed JWT.
    pub decryption_keys: Vec<jose::DecryptionKey>,
}

/// The provider's metadata, as discovered.
#[derive(Clone, Debug, Deserialize)]
pub struct Metadata {
    /// `issuer`.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `userinfo_endpoint`.
    pub userinfo_endpoint: String,
    /// `jwks_uri`.
    pub jwks_uri: String,
    /// `end_session_endpoint`.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// What a login in progress must remember, bound to the browser session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// Our `state`.
    pub state: String,
    /// Our `nonce`.
    pub nonce: String,
    /// Our PKCE verifier.
    pub code_verifier: Option<String>,
    /// The level we asked for.
    pub acr: Option<Acr>,
}

/// A finished login, parsed at the edge: what callers decide on is typed;
/// the tokens as received are kept for logout and for display.
#[derive(Clone, Debug)]
pub struct Login {
    /// Who, for this provider (`sub` of the ID token, the same in userinfo).
    pub sub: Sub,
    /// The level the provider proved (`acr` of the ID token), when known.
    pub acr: Option<Acr>,
    /// When the person last authenticated (`auth_time`), when said.
    pub auth_time: Option<UnixSeconds>,
    /// How (`amr`): at most 8 short method names, others dropped.
    pub amr: Vec<String>,
    /// The userinfo claims (verified when signed).
    pub userinfo: Map<String, Value>,
    /// The access token.
    pub access_token: String,
    /// The ID token as received.
    pub id_token: String,
    /// The signed ID token: as received, or from inside the encrypted one.
    /// The provider expects it back as `id_token_hint` at logout.
    pub id_token_hint: String,
    /// The ID token's verified claims, for display.
    pub id_claims: Map<String, Value>,
    /// The userinfo response as received, for display.
    pub userinfo_raw: String,
}

impl Login {
    /// A userinfo claim that is text.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.userinfo.get(name).and_then(Value::as_str)
    }

    /// `Prénoms NOM`, from `given_name` and `family_name`.
    pub fn full_name(&self) -> String {
        let text = |name| self.text(name).unwrap_or_default();
        format!("{} {}", text("given_name"), text("family_name"))
            .trim()
            .to_owned()
    }
}

/// The `amr` a provider sent, kept as it said it: a few short method names.
fn methods(claims: &Map<String, Value>) -> Vec<String> {
    let Some(Value::Array(methods)) = claims.get("amr") else {
        return Vec::new();
    };
    methods
        .iter()
        .filter_map(Value::as_str)
        .filter(|method| {
            (1..=32).contains(&method.len())
                && method
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        })
        .take(8)
        .map(str::to_owned)
        .collect()
}

/// Why a login could not finish. The texts are safe to log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RpError {
    /// The provider could not be reached or answered badly.
    #[error("provider unreachable or answering badly: {0}")]
    Provider(String),
    /// The callback's state is not ours.
    #[error("state does not match")]
    State,
    /// The callback's `iss` is not our provider's (RFC 9207 mix-up defence).
    #[error("iss in the callback is not the provider's")]
    CallbackIssuer,
    /// The provider sent an OAuth error.
    #[error("provider answered {error}: {description}")]
    Refused {
        /// `error`.
        error: String,
        /// `error_description`.
        description: String,
    },
    /// The callback has no code.
    #[error("callback has no code")]
    NoCode,
    /// The token endpoint refused the code.
    #[error("token request refused: {0}")]
    Token(String),
    /// The ID token is not acceptable.
    #[error("ID token rejected: {0}")]
    IdToken(String),
    /// The ID token's signature key is unknown even after refetching keys.
    #[error("ID token signed by an unknown key")]
    UnknownKey,
    /// The ID token's signature does not verify.
    #[error("ID token signature is invalid")]
    Signature,
    /// The userinfo answer is not acceptable.
    #[error("userinfo rejected: {0}")]
    Userinfo(String),
}

/// A relying party of one provider.
pub struct RelyingParty {
    settings: RpSettings,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    metadata: RwLock<Option<Metadata>>,
    keys: tokio::sync::OnceCell<RemoteKeys>,
}

impl fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelyingParty")
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// A relying party; nothing is fetched until the first login.
    pub fn new(settings: RpSettings, http: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        Self {
            settings,
            http,
            clock,
            metadata: RwLock::new(None),
            keys: tokio::sync::OnceCell::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &RpSettings {
        &self.settings
    }

    /// An HTTP client with the timeouts a relying party needs (6 s, as
    /// FranceConnect's calls to providers).
    pub fn http_client() -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .timeout(crate::answer::TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| error.to_string())
    }

    /// The provider's metadata, fetched once. The issuer must be the one
    /// configured (OpenID Connect Discovery §4.3).
    pub async fn metadata(&self) -> Result<Metadata, RpError> {
        if let Some(metadata) = self.metadata.read().await.as_ref() {
            return Ok(metadata.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.settings.issuer);
        let metadata: Metadata = self.get_json(&url).await?;
        if metadata.issuer != self.settings.issuer {
            return Err(RpError::Provider("discovery names another issuer".into()));
        }
        *self.metadata.write().await = Some(metadata.clone());
        Ok(metadata)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, RpError> {
        let response = self
            .http
            .get(url)
            .with_request_id()
            .send()
            .await
            .map_err(|error| RpError::Provider(error.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(RpError::Provider(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        crate::answer::json(response)
            .await
            .map_err(|error| RpError::Provider(format!("{url}: {error}")))
    }

    /// Starts a login: the authorize URL and what to keep until the callback.
    /// `prompt=login` is always sent when `force_login` (FranceConnect never
    /// relies on a provider's own session).
    pub async fn start(
        &self,
        acr: Option<Acr>,
        force_login: bool,
        extra: &[(&str, &str)],
    ) -> Result<(String, PendingLogin), RpError> {
        let metadata = self.metadata().await?;
        let pending = PendingLogin {
            state: random_token(24),
            nonce: random_token(24),
            code_verifier: self.settings.use_pkce.then(|| random_token(32)),
            acr,
        };
        let mut url = url::Url::parse(&metadata.authorization_endpoint)
            .map_err(|_| RpError::Provider("bad authorization_endpoint".into()))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.settings.client_id)
                .append_pair("redirect_uri", self.settings.redirect_uri.as_str())
                .append_pair("scope", &self.settings.scopes)
                .append_pair("state", &pending.state)
                .append_pair("nonce", &pending.nonce);
            if let Some(acr) = acr {
                query.append_pair("acr_values", acr.as_str());
            }
            if force_login {
                query.append_pair("prompt", "login");
            }
            if let Some(verifier) = &pending.code_verifier {
                query.append_pair("code_challenge", PkceChallenge::of(verifier).as_str());
                query.append_pair("code_challenge_method", "S256");
            }
            query.extend_pairs(extra);
        }
        Ok((url.into(), pending))
    }

    /// Finishes a login from the callback's parameters: state, `iss`, error,
    /// code exchange, ID token checks, userinfo.
    pub async fn finish(
        &self,
        pending: &PendingLogin,
        callback: &Params,
    ) -> Result<Login, RpError> {
        if callback.get("state") != Some(pending.state.as_str()) {
            return Err(RpError::State);
        }
        if callback
            .get("iss")
            .is_some_and(|iss| iss != self.settings.issuer)
        {
            return Err(RpError::CallbackIssuer);
        }
        if let Some(error) = callback.get("error") {
            return Err(RpError::Refused {
                error: error.chars().take(64).collect(),
                description: callback
                    .get("error_description")
                    .unwrap_or_default()
                    .chars()
                    .take(256)
                    .collect(),
            });
        }
        let code = callback.get("code").ok_or(RpError::NoCode)?;
        let metadata = self.metadata().await?;
        let tokens = self.exchange(&metadata, code, pending).await?;
        let id_token = tokens
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| RpError::Token("no id_token".into()))?
            .to_owned();
        let access_token = tokens
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| RpError::Token("no access_token".into()))?
            .to_owned();
        let (sub, id_claims) = self.check_id_token(&id_token, pending).await?;
        let (userinfo_raw, userinfo) = self.userinfo(&metadata, &access_token).await?;
        if userinfo.get("sub").and_then(Value::as_str) != Some(sub.as_str()) {
            return Err(RpError::Userinfo("sub differs from the ID token's".into()));
        }
        let acr = id_claims
            .get("acr")
            .and_then(Value::as_str)
            .and_then(Acr::parse);
        let id_token_hint = if id_token.split('.').count() == 5 {
            self.decrypt(&id_token)?
        } else {
            id_token.clone()
        };
        Ok(Login {
            sub,
            acr,
            auth_time: id_claims.get("auth_time").and_then(Value::as_i64),
            amr: methods(&id_claims),
            userinfo,
            access_token,
            id_token,
            id_token_hint,
            id_claims,
            userinfo_raw,
        })
    }

    async fn exchange(
        &self,
        metadata: &Metadata,
        code: &str,
        pending: &PendingLogin,
    ) -> Result<Map<String, Value>, RpError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.settings.redirect_uri.as_str()),
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.expose()),
        ];
        if let Some(verifier) = &pending.code_verifier {
            form.push(("code_verifier", verifier));
        }
        let response = self
            .http
            .post(&metadata.token_endpoint)
            .form(&form)
            .with_request_id()
            .send()
            .await
            .map_err(|error| RpError::Provider(error.without_url().to_string()))?;
        let status = response.status();
        // A provider that cannot serve now (5xx, `temporarily_unavailable`)
        // is out of service, not refusing this code.
        if status.is_server_error() {
            return Err(RpError::Provider(format!(
                "token endpoint answered {status}"
            )));
        }
        let body: Map<String, Value> = crate::answer::json(response)
            .await
            .map_err(|error| RpError::Token(format!("token response: {error}")))?;
        if !status.is_success() {
            let error = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            // A code the provider no longer takes (used, expired): the
            // provider's own refusal, the login is to be begun again. A
            // process that died after redeeming it leaves the retry here.
            if error == "invalid_grant" {
                return Err(RpError::Refused {
                    error: error.to_owned(),
                    description: body
                        .get("error_description")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                });
            }
            return Err(RpError::Token(format!("{status} {error}")));
        }
        Ok(body)
    }

    /// Verifies a token from the provider: signature by an allowed algorithm
    /// with the provider's keys (refetched once on an unknown `kid`), or with
    /// our client secret for HS256.
    pub async fn verify_signature(&self, token: &str) -> Result<Map<String, Value>, RpError> {
        if token.split('.').count() == 5 {
            let inner = self.decrypt(token)?;
            return Box::pin(self.verify_signature(&inner)).await;
        }
        let header =
            jose::peek_header(token).map_err(|error| RpError::IdToken(error.to_string()))?;
        if !self.settings.algs.contains(&header.alg) {
            return Err(RpError::IdToken(format!(
                "algorithm {} not accepted",
                header.alg
            )));
        }
        if header.alg == Alg::HS256 {
            return jose::verify_hmac(token, self.settings.client_secret.expose().as_bytes())
                .map_err(|_| RpError::Signature);
        }
        let keys = self.keys(false).await?;
        match jose::verify(token, &keys, &self.settings.algs) {
            Ok(claims) => Ok(claims),
            Err(JoseError::UnknownKey(_)) => {
                let keys = self.keys(true).await?;
                jose::verify(token, &keys, &self.settings.algs).map_err(|error| match error {
                    JoseError::UnknownKey(_) => RpError::UnknownKey,
                    JoseError::BadSignature => RpError::Signature,
                    other => RpError::IdToken(other.to_string()),
                })
            }
            Err(JoseError::BadSignature) => Err(RpError::Signature),
            Err(other) => Err(RpError::IdToken(other.to_string())),
        }
    }

    /// Opens a token encrypted to us (only when we hold decryption keys: an
    /// unexpected JWE is refused).
    fn decrypt(&self, token: &str) -> Result<String, RpError> {
        if self.settings.decryption_keys.is_empty() {
            return Err(RpError::IdToken(
                "encrypted token, but no decryption key".into(),
            ));
        }
        let inner = jose::decrypt(token, &self.settings.decryption_keys, &jose::KeyAlg::ALL)
            .map_err(|error| RpError::IdToken(error.to_string()))?;
        let inner = String::from_utf8(inner)
            .map_err(|_| RpError::IdToken("decrypted token is not text".into()))?;
        if inner.split('.').count() != 3 {
            return Err(RpError::IdToken(
                "an encrypted token must hold a signed one".into(),
            ));
        }
        Ok(inner)
    }

    /// The provider's keys, from its `jwks_uri`: cached until a token names
    /// a key we do not hold, then refetched at most once a minute.
    async fn keys(&self, refresh: bool) -> Result<PublicKeySet, RpError> {
        let remote = self
            .keys
            .get_or_try_init(|| async {
                let metadata = self.metadata().await?;
                Ok::<_, RpError>(RemoteKeys::new(
                    metadata.jwks_uri,
                    None,
                    self.http.clone(),
                    self.clock.clone(),
                ))
            })
            .await?;
        remote
            .get(refresh)
            .await
            .map_err(|error| RpError::Provider(error.0))
    }

    /// Whether a token's `aud` names our client id: the string itself, or
    /// an array holding it.
    fn names_us(&self, aud: Option<&Value>) -> bool {
        let ours = self.settings.client_id.as_str();
        match aud {
            Some(Value::String(aud)) => aud == ours,
            Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(ours)),
            _ => false,
        }
    }

    /// OpenID Connect Core §3.1.3.7: signature, `iss`, `aud`, `exp`, `iat`,
    /// `nonce`, and an `acr` that is a level we know.
    async fn check_id_token(
        &self,
        token: &str,
        pending: &PendingLogin,
    ) -> Result<(Sub, Map<String, Value>), RpError> {
        let claims = self.verify_signature(token).await?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("iss") != Some(self.settings.issuer.as_str()) {
            return Err(RpError::IdToken("iss is not the provider's".into()));
        }
        // With other audiences beside us, `azp` must name us (§3.1.3.7, 4-5).
        let several = claims
            .get("aud")
            .and_then(Value::as_array)
            .is_some_and(|auds| auds.len() > 1);
        let audience_ok = self.names_us(claims.get("aud"))
            && (!several || text("azp") == Some(&self.settings.client_id));
        if !audience_ok {
            return Err(RpError::IdToken("aud is not our client_id".into()));
        }
        let now = self.clock.now();
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| RpError::IdToken("exp missing".into()))?;
        if exp <= now {
            return Err(RpError::IdToken("expired".into()));
        }
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or_else(|| RpError::IdToken("iat missing".into()))?;
        if iat > now + 60 {
            return Err(RpError::IdToken("iat in the future".into()));
        }
        if text("nonce") != Some(pending.nonce.as_str()) {
            return Err(RpError::IdToken("nonce does not match".into()));
        }
        let sub = text("sub")
            .and_then(|sub| Sub::parse(sub).ok())
            .ok_or_else(|| RpError::IdToken("sub missing or malformed".into()))?;
        if pending.acr.is_some() && text("acr").and_then(Acr::parse).is_none() {
            return Err(RpError::IdToken("acr missing or unknown".into()));
        }
        Ok((sub, claims))
    }

    /// Checks a back-channel logout token (OpenID Back-Channel Logout 1.0
    /// §2.6): signed by the provider, `iss` and `aud` ours, issued within
    /// the last two minutes, carrying the logout event and a `sub`, and no
    /// `nonce`. Returns the `sub` to log out.
    pub async fn verify_logout_token(&self, token: &str) -> Result<Sub, RpError> {
        let bad = |why: &str| RpError::IdToken(format!("logout token: {why}"));
        let claims = self.verify_signature(token).await?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("iss") != Some(self.settings.issuer.as_str()) {
            return Err(bad("iss is not the provider's"));
        }
        if !self.names_us(claims.get("aud")) {
            return Err(bad("aud is not our client_id"));
        }
        let now = self.clock.now();
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or_else(|| bad("iat missing"))?;
        if iat > now + 60 || iat < now - 120 {
            return Err(bad("iat is not recent"));
        }
        if claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|exp| exp <= now)
        {
            return Err(bad("expired"));
        }
        if claims.contains_key("nonce") {
            return Err(bad("a nonce is forbidden"));
        }
        let has_event = claims
            .get("events")
            .and_then(Value::as_object)
            .is_some_and(|events| events.contains_key(crate::op::BACKCHANNEL_LOGOUT_EVENT));
        if !has_event {
            return Err(bad("the logout event is missing"));
        }
        text("sub")
            .and_then(|sub| Sub::parse(sub).ok())
            .ok_or_else(|| bad("sub missing or malformed"))
    }

    /// Reads userinfo, which must be a signed JWT (`application/jwt`, as
    /// FranceConnect v2 requires): its signature verified, `iss` the
    /// provider's, `aud` our client id, not expired. A plain JSON answer is
    /// refused: whoever could change the answer on its way (a TLS front the
    /// provider does not run) would otherwise swap the signed answer for an
    /// unsigned one and name anyone. [`Self::finish`] then binds its `sub`
    /// to the ID token's.
    async fn userinfo(
        &self,
        metadata: &Metadata,
        access_token: &str,
    ) -> Result<(String, Map<String, Value>), RpError> {
        let response = self
            .http
            .get(&metadata.userinfo_endpoint)
            .bearer_auth(access_token)
            .with_request_id()
            .send()
            .await
            .map_err(|error| RpError::Provider(error.without_url().to_string()))?;
        if response.status().is_server_error() {
            return Err(RpError::Provider(format!(
                "userinfo answered {}",
                response.status()
            )));
        }
        if !response.status().is_success() {
            return Err(RpError::Userinfo(format!("answered {}", response.status())));
        }
        let is_jwt = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/jwt"));
        if !is_jwt {
            return Err(RpError::Userinfo("not a signed JWT".into()));
        }
        let body = crate::answer::text(response)
            .await
            .map_err(|error| RpError::Userinfo(error.to_string()))?;
        let claims = self
            .verify_signature(body.trim())
            .await
            .map_err(|error| RpError::Userinfo(error.to_string()))?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.settings.issuer.as_str()) {
            return Err(RpError::Userinfo("iss is not the provider's".into()));
        }
        if !self.names_us(claims.get("aud")) {
            return Err(RpError::Userinfo("aud is not our client_id".into()));
        }
        if claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|exp| exp <= self.clock.now())
        {
            return Err(RpError::Userinfo("expired".into()));
        }
        Ok((body, claims))
    }

    /// The provider's logout URL for an ID token, when it has one.
    pub async fn end_session_url(
        &self,
        id_token: &str,
        post_logout_redirect_uri: &str,
        state: &str,
    ) -> Result<Option<String>, RpError> {
        let metadata = self.metadata().await?;
        let Some(endpoint) = metadata.end_session_endpoint else {
            return Ok(None);
        };
        let mut url = url::Url::parse(&endpoint)
            .map_err(|_| RpError::Provider("bad end_session_endpoint".into()))?;
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token)
            .append_pair("post_logout_redirect_uri", post_logout_redirect_uri)
            .append_pair("state", state);
        Ok(Some(url.into()))
    }
}
