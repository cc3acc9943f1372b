//! A provider that asks for nothing, to measure the hub's own work on full
//! brokered logins (issue 18: « the hub's own CPU, the provider's password
//! hashing excluded »). With the password providers, the full logins are
//! bound by their Argon2id, about 60 a second on a core: the hub then idles
//! nine tenths of the time, and its CPU a login is mostly waking up. This
//! provider's authorize endpoint answers at once, so the load tool can
//! drive the hub to its own limit, as the anchor's figures are measured.
//!
//! It is honest in every way the hub checks: an ES256 ID token for the hub
//! with the hub's nonce, a userinfo signed as FranceConnect v2's providers
//! sign theirs, the person one of the demo population, known to the
//! register. It is a stand-in for benchmarks only, to serve on 127.0.0.1:
//! its codes and access tokens name the person in the clear, it keeps no
//! session, and it sends the browser back to whatever `redirect_uri` it is
//! given.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jose::{KeySet, SigningKey};
use oidc::Clock;
use serde_json::{Value, json};

/// Its id in the hub's config, the one the load tool chooses.
pub const INSTANT_ID: &str = "instant";
/// The hub's client id there.
const HUB_CLIENT_ID: &str = "passerelle-hub";
/// The hub's secret there: a benchmark's value, published on purpose.
const HUB_CLIENT_SECRET: &str = "instant-provider-secret-0123456789abcdef";
/// Its signing key, published on purpose too: the same at each start, so
/// that a hub which cached its key set takes the next run's tokens (a hub
/// fetches a provider's keys again at most once a minute).
const KEY: &str = r#"{"kty":"EC","crv":"P-256","alg":"ES256","x":"cZMCsfIaTGBU7-pywcqPLq6NSmX4YjQQlxoYNbHpIpI","y":"LPVM6ZhJ9AvZclpyrXdZdNi2oNPlCbm8l0qHCu0h-5I","d":"S7hprZX3lv1ybvP8My-tAbF5O53p4XrD_eKAduE1LCw"}"#;

/// The provider, served on a listener of the caller's.
#[derive(Clone, Debug)]
pub struct InstantProvider(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    url: String,
    keys: KeySet,
    people: Vec<population::Citizen>,
    next: AtomicUsize,
    clock: Arc<dyn Clock>,
}

impl InstantProvider {
    /// Serves it on `listener`, logging in `people` in turn (living ones:
    /// the register refuses the dead).
    pub async fn start(
        listener: tokio::net::TcpListener,
        people: Vec<population::Citizen>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(!people.is_empty(), "the instant provider needs people");
        let url = format!("http://{}", listener.local_addr()?);
        let inner = Arc::new(Inner {
            url,
            keys: KeySet::new(vec![SigningKey::from_private_json(KEY)?])?,
            people,
            next: AtomicUsize::new(0),
            clock,
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(Self(inner))
    }

    /// Its issuer.
    pub fn url(&self) -> &str {
        &self.0.url
    }

    /// The block of a hub's config that registers it, for the standard
    /// platform.
    pub fn hub_config(issuer: &str) -> String {
        format!(
            "\n[[hub.standard.providers]]\nid = \"{INSTANT_ID}\"\n\
             name = \"Fournisseur instantané (mesures)\"\nissuer = \"{issuer}\"\n\
             client_id = \"{HUB_CLIENT_ID}\"\nclient_secret = \"{HUB_CLIENT_SECRET}\"\n\
             acr = [\"eidas1\"]\n"
        )
    }
}

type Shared = State<Arc<Inner>>;

/// The discovery document of a provider at `url` with the usual paths.
pub(crate) fn discovery_document(url: &str) -> Value {
    json!({
        "issuer": url, "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"), "userinfo_endpoint": format!("{url}/userinfo"),
        "jwks_uri": format!("{url}/jwks"),
    })
}

async fn discovery(State(inner): Shared) -> Response {
    axum::Json(discovery_document(&inner.url)).into_response()
}

async fn jwks(State(inner): Shared) -> Response {
    match inner.keys.public() {
        Ok(keys) => axum::Json(keys.to_json()).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Back to the hub at once: the code is the person's number and the
/// hub's nonce.
async fn authorize(State(inner): Shared, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let mut redirect_uri = None;
    let (mut state, mut nonce) = (String::new(), String::new());
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "redirect_uri" => redirect_uri = url::Url::parse(&value).ok(),
            "state" => state = value.into_owned(),
            "nonce" => nonce = value.into_owned(),
            _ => {}
        }
    }
    let Some(mut back) = redirect_uri else {
        return (StatusCode::BAD_REQUEST, "redirect_uri missing").into_response();
    };
    let person = inner.next.fetch_add(1, Ordering::Relaxed) % inner.people.len();
    back.query_pairs_mut()
        .append_pair("code", &format!("{person}.{nonce}"))
        .append_pair("state", &state)
        .append_pair("iss", &inner.url);
    Redirect::to(back.as_str()).into_response()
}

/// The ID token for the code, when the hub authenticates.
async fn token(State(inner): Shared, Form(form): Form<Vec<(String, String)>>) -> Response {
    let param = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if param("client_id") != Some(HUB_CLIENT_ID)
        || param("client_secret") != Some(HUB_CLIENT_SECRET)
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let Some((person, nonce)) = param("code").and_then(|code| code.split_once('.')) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if person
        .parse::<usize>()
        .ok()
        .filter(|&n| n < inner.people.len())
        .is_none()
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let now = inner.clock.now();
    let claims = json!({
        "iss": inner.url, "sub": format!("instant-{person}"), "aud": HUB_CLIENT_ID,
        "exp": now + 60, "iat": now, "nonce": nonce, "acr": "eidas1", "auth_time": now,
    });
    let Some(id_token) = signed(&inner, claims) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    axum::Json(json!({
        "access_token": person, "token_type": "Bearer", "expires_in": 60, "id_token": id_token,
    }))
    .into_response()
}

/// The person, signed (`application/jwt`).
async fn userinfo(State(inner): Shared, headers: HeaderMap) -> Response {
    let person = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .and_then(|token| token.parse::<usize>().ok())
        .and_then(|index| inner.people.get(index).map(|person| (index, person)));
    let Some((index, person)) = person else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    let pivot = person.pivot();
    let now = inner.clock.now();
    let claims = json!({
        "iss": inner.url, "aud": HUB_CLIENT_ID, "iat": now, "exp": now + 60,
        "sub": format!("instant-{index}"), "given_name": pivot.given_name,
        "family_name": pivot.family_name, "birthdate": pivot.birthdate, "gender": pivot.gender,
        "birthplace": pivot.birthplace, "birthcountry": pivot.birthcountry, "email": person.email,
    });
    match signed(&inner, claims) {
        Some(jwt) => ([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn signed(inner: &Inner, claims: Value) -> Option<String> {
    let Value::Object(claims) = claims else {
        return None;
    };
    let key = inner.keys.keys().first()?;
    jose::sign(&claims, key, "JWT").ok()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}
