//! The OpenID Provider engine, shared by the hub (towards services) and the
//! reference identity providers (towards the hub).
//!
//! It knows the protocol and nothing of pages: an app parses an authorize
//! request with [`Provider::parse_authorize`], runs its own interaction
//! (choice page, login form, consent), then calls [`Provider::issue_code`]
//! with the [`Grant`] it decided. Token, userinfo, revocation, logout and
//! discovery are answered here whole.
//!
//! Storage is the `store` traits: a code is a [`Capability`] whose grant is
//! sealed under the code itself, so the stored row is unreadable without the
//! code the client holds, and any process of a cluster can redeem it.

mod authorize;
mod checktoken;
mod discovery;
mod logout;
mod params;
mod token;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use jose::{KeySet, PublicKeySet};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::sealed::Capability;
use store::{Codes, Tokens};

pub use authorize::{AuthorizationRequest, AuthorizeError, Prompt};
pub use checktoken::INTROSPECTION_JWT;
pub use logout::{BACKCHANNEL_LOGOUT_EVENT, EndSession};
pub use params::Params;
pub use token::{TokenResponse, Userinfo};

use crate::client::{Client, ClientKeys};
use crate::clock::{Clock, UnixSeconds};
use crate::error::{ErrorCode, OAuthError};
use crate::jwks::RemoteKeys;
use crate::types::{Acr, PkceChallenge, RedirectUri, Scopes};

/// The provider's settings.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// The issuer; every endpoint is a path under it.
    pub issuer: String,
    /// Authorization code lifetime (FranceConnect: 30 s).
    pub code_ttl_secs: i64,
    /// Access token lifetime (FranceConnect: 60 s).
    pub access_token_ttl_secs: i64,
    /// ID token lifetime (FranceConnect: 60 s).
    pub id_token_ttl_secs: i64,
    /// Shortest nonce accepted (FranceConnect: 22).
    pub min_nonce_len: usize,
    /// Levels this provider offers, lowest first.
    pub acr_offered: Vec<Acr>,
    /// The level used when a request names none we know.
    pub default_acr: Acr,
    /// Whether `acr_values` must be present (FranceConnect requires it).
    pub require_acr_values: bool,
    /// The scopes offered, in discovery order: those of the claims table
    /// the platform has, then the data providers' (which release no claim
    /// here: their data is theirs to serve). Any other is dropped from a
    /// request.
    pub scopes: Vec<String>,
}

impl ProviderSettings {
    /// FranceConnect's lifetimes and rules (code 30 s, tokens 60 s, nonce of
    /// 22 characters or more), for `issuer` offering `acr_offered`; the
    /// lowest level offered is the default.
    pub fn franceconnect(issuer: String, mut acr_offered: Vec<Acr>) -> Self {
        acr_offered.sort();
        acr_offered.dedup();
        Self {
            issuer,
            code_ttl_secs: 30,
            access_token_ttl_secs: 60,
            id_token_ttl_secs: 60,
            min_nonce_len: 22,
            default_acr: acr_offered.first().copied().unwrap_or(Acr::Eidas1),
            acr_offered,
            require_acr_values: false,
            scopes: crate::claims::known_scopes()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }

    /// Whether the provider offers this scope.
    pub fn offers_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|offered| offered == scope)
    }
}

/// What the app decided at the end of an interaction: who the person is
/// for this client, at which level, and what is released.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// The client the code is for.
    pub client_id: String,
    /// The redirect URI of the authorize request.
    pub redirect_uri: RedirectUri,
    /// The scopes granted.
    pub scopes: Scopes,
    /// The nonce to echo in the ID token.
    pub nonce: String,
    /// The level proven.
    pub acr: Acr,
    /// When the person authenticated.
    pub auth_time: UnixSeconds,
    /// The subject for this client.
    pub sub: String,
    /// The user claims released (already filtered by scope).
    pub claims: Map<String, Value>,
    /// The PKCE challenge of the authorize request.
    pub pkce: Option<PkceChallenge>,
    /// How the person authenticated (`amr`, RFC 8176: `pwd`, `pin`,
    /// `mfa`…), put in the ID token when not empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// What data providers may read of the grant at `/checktoken`, when a
    /// scope granted is one of theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataGrant>,
    /// When the access token was issued: set by the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_issued_at: Option<UnixSeconds>,
}

/// The part of a grant data providers read (FranceConnect's checktoken):
/// their own pairwise `sub` for the person, and the identity pivot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataGrant {
    /// Each data provider's `sub` for the person, by its client id; only
    /// the providers some granted scope is for.
    pub subs: std::collections::BTreeMap<String, String>,
    /// The person's identity pivot claims.
    pub identity: Map<String, Value>,
}

/// An OpenID Provider.
pub struct Provider {
    settings: ProviderSettings,
    clients: HashMap<String, Client>,
    /// The signing keys and their public half (served at `jwks_uri`, used
    /// to read back our own tokens); replaced whole when the key file is
    /// rotated ([`Provider::replace_keys`]).
    keys: std::sync::RwLock<Arc<SigningKeys>>,
    clock: Arc<dyn Clock>,
    codes: Arc<dyn Codes>,
    tokens: Arc<dyn Tokens>,
    /// The key sets clients publish at their `jwks_uri`, by client id.
    remote_keys: HashMap<String, RemoteKeys>,
    /// Where the Argon2id client secrets of older configs are verified.
    hash_pool: Option<crate::HashPool>,
    /// Data providers (FranceConnect's « fournisseurs de données »): they
    /// authenticate as clients do, and read at `/checktoken` the tokens
    /// carrying their scopes (held in each one's `scopes`).
    data_providers: HashMap<String, Client>,
}

/// A provider's signing keys with their public half, derived once, and
/// the two documents that change only with them: the JWKS and discovery,
/// served as written once.
#[derive(Debug)]
pub(crate) struct SigningKeys {
    pub(crate) set: KeySet,
    pub(crate) public: PublicKeySet,
    jwks_json: Arc<str>,
    discovery_json: std::sync::OnceLock<Arc<str>>,
}

impl SigningKeys {
    fn of(set: KeySet) -> Result<Self, String> {
        let public = set
            .public()
            .map_err(|error| format!("signing keys: {error}"))?;
        let jwks_json = public.to_json().to_string().into();
        Ok(Self {
            set,
            public,
            jwks_json,
            discovery_json: std::sync::OnceLock::new(),
        })
    }
}

/// A client's published keys are refetched after this long, so that a
/// rotated encryption key is used within minutes.
const CLIENT_KEYS_MAX_AGE_SECS: i64 = 300;

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.settings.issuer)
            .field("clients", &self.clients.len())
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider over its clients, keys and stores. Each client is checked.
    pub fn new(
        settings: ProviderSettings,
        clients: Vec<Client>,
        keys: KeySet,
        clock: Arc<dyn Clock>,
        codes: Arc<dyn Codes>,
        tokens: Arc<dyn Tokens>,
    ) -> Result<Self, String> {
        let mut by_id = HashMap::new();
        let mut remote_keys = HashMap::new();
        let mut http = None;
        for client in clients {
            client
                .check()
                .map_err(|error| format!("client {}: {error}", client.client_id))?;
            if keys.current(client.signing_alg).is_none() && client.hmac_key().is_none() {
                return Err(format!(
                    "client {}: no {} key",
                    client.client_id, client.signing_alg
                ));
            }
            if let ClientKeys::Remote(uri) = &client.keys {
                let http = match &http {
                    Some(http) => http,
                    None => http.insert(crate::rp::RelyingParty::http_client()?),
                };
                let keys = RemoteKeys::new(
                    uri.as_str(),
                    Some(CLIENT_KEYS_MAX_AGE_SECS),
                    http.clone(),
                    clock.clone(),
                );
                remote_keys.insert(client.client_id.clone(), keys);
            }
            if by_id.insert(client.client_id.clone(), client).is_some() {
                return Err("two clients share a client_id".into());
            }
        }
        Ok(Self {
            settings,
            clients: by_id,
            keys: std::sync::RwLock::new(Arc::new(SigningKeys::of(keys)?)),
            clock,
            codes,
            tokens,
            remote_keys,
            hash_pool: None,
            data_providers: HashMap::new(),
        })
    }

    /// Serves `/checktoken` to these data providers. Each is checked as a
    /// client is, bar the redirect URIs it has none of; its `scopes` are
    /// the scopes it serves. A client id may not be both.
    pub fn with_data_providers(mut self, providers: Vec<Client>) -> Result<Self, String> {
        for provider in providers {
            let id = provider.client_id.clone();
            provider
                .check_keys()
                .map_err(|error| format!("data provider {id}: {error}"))?;
            if self.clients.contains_key(&id) || self.data_providers.contains_key(&id) {
                return Err(format!("data provider {id}: the client_id is used twice"));
            }
            if let ClientKeys::Remote(uri) = &provider.keys {
                let keys = RemoteKeys::new(
                    uri.as_str(),
                    Some(CLIENT_KEYS_MAX_AGE_SECS),
                    crate::rp::RelyingParty::http_client()?,
                    self.clock.clone(),
                );
                self.remote_keys.insert(id.clone(), keys);
            }
            self.data_providers.insert(id, provider);
        }
        Ok(self)
    }

    /// Verifies the Argon2id client secrets of older configs on `pool`
    /// (bounded), rather than inline.
    #[must_use]
    pub fn with_hash_pool(mut self, pool: crate::HashPool) -> Self {
        self.hash_pool = Some(pool);
        self
    }

    /// A client's public keys; `refresh` when a key was missing (a remote
    /// set is then refetched, at most once a minute).
    pub(crate) async fn client_keys(
        &self,
        client: &Client,
        refresh: bool,
    ) -> Result<PublicKeySet, String> {
        match (&client.keys, self.remote_keys.get(&client.client_id)) {
            (ClientKeys::Inline(keys), _) => Ok(keys.clone()),
            (ClientKeys::Remote(_), Some(remote)) => {
                remote.get(refresh).await.map_err(|error| error.0)
            }
            _ => Err("the client registered no keys".into()),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// A registered client.
    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.get(client_id)
    }

    /// The endpoint URL for a path under the issuer.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.settings.issuer)
    }

    /// The public signing keys, as served at `jwks_uri`.
    pub fn jwks(&self) -> Value {
        self.signing_keys().public.to_json()
    }

    /// [`Provider::jwks`] as JSON text, written once per key set.
    pub fn jwks_json(&self) -> Arc<str> {
        self.signing_keys().jwks_json.clone()
    }

    /// [`Provider::discovery`] as JSON text, written once per key set (the
    /// rest of it is fixed at start).
    pub fn discovery_json(&self) -> Arc<str> {
        let keys = self.signing_keys();
        keys.discovery_json
            .get_or_init(|| self.discovery().to_string().into())
            .clone()
    }

    /// The current signing keys (a snapshot: a replacement does not change
    /// what a request already holds).
    pub(crate) fn signing_keys(&self) -> Arc<SigningKeys> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The key ids in use, current first.
    pub fn key_ids(&self) -> Vec<String> {
        self.signing_keys()
            .set
            .keys()
            .iter()
            .map(|key| key.kid().to_owned())
            .collect()
    }

    /// Serves and signs with `keys` from now on (a rotation read from the
    /// key file by a running process). Refused, keeping the old ones, when
    /// the set has no public half.
    pub fn replace_keys(&self, keys: KeySet) -> Result<(), String> {
        let keys = Arc::new(SigningKeys::of(keys)?);
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
        Ok(())
    }

    /// Issues a code for a grant and returns where to send the browser: the
    /// client's redirect URI with `code`, `state` and `iss` (RFC 9207).
    pub async fn issue_code(&self, grant: &Grant, state: &str) -> Result<String, OAuthError> {
        let code = Capability::generate();
        let sealed = code.seal(&serde_json::to_vec(grant).map_err(internal)?);
        let expires_at = self.clock.now() + self.settings.code_ttl_secs;
        self.codes
            .put(&code.lookup_key(), &sealed, expires_at)
            .await
            .map_err(storage)?;
        Ok(grant.redirect_uri.with_params(&[
            ("code", code.as_str()),
            ("state", state),
            ("iss", self.issuer()),
        ]))
    }

    /// Where to send the browser with an error, once the client and its
    /// redirect URI are verified.
    pub fn error_redirect(
        &self,
        redirect_uri: &RedirectUri,
        state: Option<&str>,
        error: &OAuthError,
    ) -> String {
        let mut params = vec![
            ("error", error.code.as_str()),
            ("error_description", error.description.as_str()),
        ];
        if let Some(state) = state {
            params.push(("state", state));
        }
        params.push(("iss", self.issuer()));
        redirect_uri.with_params(&params)
    }
}

fn internal(error: impl fmt::Display) -> OAuthError {
    OAuthError::new(ErrorCode::ServerError, "internal error").with_detail(error.to_string())
}

fn storage(error: impl fmt::Display) -> OAuthError {
    OAuthError::new(ErrorCode::TemporarilyUnavailable, "storage unavailable")
        .with_detail(error.to_string())
}
