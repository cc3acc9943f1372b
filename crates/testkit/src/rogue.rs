//! An identity provider that lies in one chosen way, to show that the hub's
//! relying party catches each lie. It asks for no password: its authorize
//! endpoint answers at once.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jose::{Alg, KeySet, SigningKey};
use oidc::Clock;
use serde_json::{Map, Value, json};

/// The lie told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RogueMode {
    /// No lie: a valid login of citizen 1, at eidas1.
    Honest,
    /// The ID token's payload is changed after signing.
    TamperedSignature,
    /// The ID token names another issuer.
    WrongIssuer,
    /// The ID token is signed by a key the provider does not publish.
    UnknownKid,
    /// The ID token carries another nonce.
    WrongNonce,
    /// The provider answers the callback with `access_denied`.
    ErrorAnswer,
    /// The ID token claims a level the provider is not configured for.
    TooHighAcr,
    /// No lie, but a presumed birth date: a citizen born on the first of a
    /// month, sent as FranceConnect providers send it (`YYYY-MM-00`).
    PresumedBirthdate,
    /// The ID token is unsigned: `alg: none`.
    AlgNone,
    /// The ID token is signed HS256 with the provider's public key (its
    /// published JWK) as the secret, for a verifier that would take any
    /// `alg` and use the key's bytes as an HMAC key.
    HmacKeyedWithThePublicKey,
    /// The ID token is signed by a key the provider does not publish, whose
    /// set the header's `jku` (and `x5u`) points to.
    KeyFromJku,
    /// The ID token is for another audience.
    AnotherAudience,
    /// The ID token expired a second ago.
    Expired,
    /// The ID token was issued an hour from now.
    IssuedInTheFuture,
    /// The userinfo is plain JSON, unsigned: what a front that could
    /// change the answer would send in place of the signed one.
    UnsignedUserinfo,
    /// The userinfo's payload is changed after signing.
    TamperedUserinfo,
    /// The userinfo is signed for another client.
    UserinfoForAnotherClient,
    /// The userinfo expired a second ago.
    ExpiredUserinfo,
    /// The userinfo is signed and valid, but names another `sub` than the
    /// ID token: someone else's answer.
    UserinfoOfSomeoneElse,
}

/// The citizen [`RogueMode::PresumedBirthdate`] logs in: the first of the
/// default population born on the first of a month.
pub fn presumed_citizen() -> Option<population::Citizen> {
    population::generate(population::DEFAULT_SEED, 200)
        .into_iter()
        .find(|citizen| citizen.birthdate.to_string().ends_with("-01"))
}

#[derive(Debug)]
struct Inner {
    url: String,
    mode: Mutex<RogueMode>,
    keys: KeySet,
    unpublished: SigningKey,
    nonce: Mutex<String>,
    jwks_fetches: AtomicU32,
    /// Fetches of the set a `jku` points to.
    jku_fetches: AtomicU32,
    clock: Arc<dyn Clock>,
}

/// The rogue provider, served on 127.0.0.1.
#[derive(Clone, Debug)]
pub struct RogueProvider(Arc<Inner>);

impl RogueProvider {
    /// Starts it on a free port.
    pub async fn start(clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let inner = Arc::new(Inner {
            url,
            mode: Mutex::new(RogueMode::Honest),
            keys: KeySet::new(vec![SigningKey::generate(Alg::ES256)?])?,
            unpublished: SigningKey::generate(Alg::ES256)?,
            nonce: Mutex::new(String::new()),
            jwks_fetches: AtomicU32::new(0),
            jku_fetches: AtomicU32::new(0),
            clock,
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/attacker/jwks", get(attacker_jwks))
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

    /// Chooses the lie.
    pub fn set_mode(&self, mode: RogueMode) {
        if let Ok(mut current) = self.0.mode.lock() {
            *current = mode;
        }
    }

    /// How many times its key set was fetched.
    pub fn jwks_fetches(&self) -> u32 {
        self.0.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many times the key set a `jku` points to was fetched.
    pub fn jku_fetches(&self) -> u32 {
        self.0.jku_fetches.load(Ordering::SeqCst)
    }
}

type Shared = State<Arc<Inner>>;

fn mode(inner: &Inner) -> RogueMode {
    inner.mode.lock().map_or(RogueMode::Honest, |mode| *mode)
}

async fn discovery(State(inner): Shared) -> Response {
    axum::Json(crate::instant::discovery_document(&inner.url)).into_response()
}

async fn jwks(State(inner): Shared) -> Response {
    inner.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(
        inner
            .keys
            .public()
            .map(|keys| keys.to_json())
            .unwrap_or_default(),
    )
    .into_response()
}

/// The set of the key the provider does not publish, where a `jku` points.
async fn attacker_jwks(State(inner): Shared) -> Response {
    inner.jku_fetches.fetch_add(1, Ordering::SeqCst);
    let set = inner
        .unpublished
        .public_key()
        .map(|key| json!({ "keys": [key.to_json()] }))
        .unwrap_or_default();
    axum::Json(set).into_response()
}

async fn authorize(State(inner): Shared, RawQuery(query): RawQuery) -> Response {
    let params: std::collections::BTreeMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let get = |name: &str| params.get(name).cloned().unwrap_or_default();
    if let Ok(mut nonce) = inner.nonce.lock() {
        *nonce = get("nonce");
    }
    let mut back = url::Url::parse(&get("redirect_uri")).expect("the hub sends its callback");
    if mode(&inner) == RogueMode::ErrorAnswer {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "refused")
            .append_pair("state", &get("state"));
    } else {
        back.query_pairs_mut()
            .append_pair("code", "rogue-code")
            .append_pair("state", &get("state"))
            .append_pair("iss", &inner.url);
    }
    Redirect::to(back.as_str()).into_response()
}

async fn token(State(inner): Shared) -> Response {
    let now = inner.clock.now();
    let mode = mode(&inner);
    let nonce = inner
        .nonce
        .lock()
        .map(|nonce| nonce.clone())
        .unwrap_or_default();
    let iat = match mode {
        RogueMode::Expired => now - 61,
        RogueMode::IssuedInTheFuture => now + 3600,
        _ => now,
    };
    let claims = json!({
        "iss": if mode == RogueMode::WrongIssuer { "http://elsewhere.test".to_owned() } else { inner.url.clone() },
        "sub": "rogue-sub-1",
        "aud": if mode == RogueMode::AnotherAudience { "another-client" } else { "passerelle-hub" },
        "exp": iat + 60,
        "iat": iat,
        "nonce": if mode == RogueMode::WrongNonce { "another-nonce".to_owned() } else { nonce },
        "acr": if mode == RogueMode::TooHighAcr { "eidas3" } else { "eidas1" },
        "auth_time": now,
    });
    let Value::Object(claims) = claims else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let key = if matches!(mode, RogueMode::UnknownKid | RogueMode::KeyFromJku) {
        &inner.unpublished
    } else {
        &inner.keys.keys()[0]
    };
    let mut id_token = match mode {
        RogueMode::AlgNone => format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
        ),
        RogueMode::HmacKeyedWithThePublicKey => {
            let published = key.public_key().map(|key| key.to_json().to_string());
            jose::sign_hmac(&claims, published.unwrap_or_default().as_bytes(), "JWT")
                .unwrap_or_default()
        }
        RogueMode::KeyFromJku => {
            let mut extra = Map::new();
            extra.insert("jku".into(), format!("{}/attacker/jwks", inner.url).into());
            extra.insert(
                "x5u".into(),
                format!("{}/attacker/cert.pem", inner.url).into(),
            );
            jose::sign_with_header(&claims, key, "JWT", &extra).unwrap_or_default()
        }
        _ => jose::sign(&claims, key, "JWT").unwrap_or_default(),
    };
    if mode == RogueMode::TamperedSignature {
        id_token = with_payload(&id_token, "sub", "someone-else");
    }
    axum::Json(json!({ "access_token": "rogue-at", "token_type": "Bearer", "expires_in": 60, "id_token": id_token }))
        .into_response()
}

/// The person, signed (`application/jwt`) as FranceConnect v2's providers
/// answer, but for the userinfo lies.
async fn userinfo(State(inner): Shared) -> Response {
    let mode = mode(&inner);
    let presumed = mode == RogueMode::PresumedBirthdate;
    let Some(citizen) = (if presumed {
        presumed_citizen()
    } else {
        population::generate(population::DEFAULT_SEED, 1).pop()
    }) else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut pivot = citizen.pivot();
    if presumed {
        pivot.birthdate = format!("{}00", pivot.birthdate.get(..8).unwrap_or_default());
    }
    let now = inner.clock.now();
    let claims = json!({
        "iss": inner.url,
        "aud": if mode == RogueMode::UserinfoForAnotherClient { "another-client" } else { "passerelle-hub" },
        "iat": now,
        "exp": if mode == RogueMode::ExpiredUserinfo { now - 1 } else { now + 60 },
        "sub": if mode == RogueMode::UserinfoOfSomeoneElse { "rogue-sub-2" } else { "rogue-sub-1" },
        "given_name": pivot.given_name, "family_name": pivot.family_name,
        "birthdate": pivot.birthdate, "gender": pivot.gender, "birthplace": pivot.birthplace,
        "birthcountry": pivot.birthcountry, "email": citizen.email,
    });
    let Value::Object(claims) = claims else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if mode == RogueMode::UnsignedUserinfo {
        return axum::Json(claims).into_response();
    }
    let Ok(mut jwt) = jose::sign(&claims, &inner.keys.keys()[0], "JWT") else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if mode == RogueMode::TamperedUserinfo {
        jwt = with_payload(&jwt, "given_name", "Usurpé");
    }
    ([(axum::http::header::CONTENT_TYPE, "application/jwt")], jwt).into_response()
}

/// `token` with one claim of its payload changed, its signature kept.
fn with_payload(token: &str, claim: &str, value: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let payload = parts
        .get(1)
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok());
    if let (Some(mut payload), Some(part)) = (payload, parts.get_mut(1)) {
        payload.insert(claim.into(), value.into());
        *part = URL_SAFE_NO_PAD.encode(Value::Object(payload).to_string());
    }
    parts.join(".")
}
