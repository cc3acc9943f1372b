//! The car-rental démarche: the right to drive proved online with the
//! digital driving licence, over OpenID for Verifiable Presentations
//! (ISO/IEC 18013-7 Annex B; `mdoc::oid4vp` holds the shapes).
//!
//! It asks for two elements only: the categories (`driving_privileges`)
//! and `age_over_21`. No login, no name: the rental needs to know that
//! the person may drive, not who they are.
//!
//! 1. `GET /location/demande`: a new request, each with its own ECDH-ES
//!    key (whose `kid` is the request's `state`), `nonce` and ten minutes
//!    of life. The page shows its `openid4vp://` link and QR code. Anyone
//!    may ask, so each address may start [`REQUESTS_PER_MINUTE`] a minute:
//!    a request costs a key, a write and ten minutes of keeping.
//! 2. The wallet posts its encrypted answer to `POST /location/reponse`
//!    (`direct_post.jwt`). The JWE's `kid` finds the request. The answer
//!    is checked: decryption, `state`, then `mdoc::verify` over this
//!    request's transcript (the IACA from `licence_iaca_url`). Only the
//!    first verified answer is kept, under a single-use mark. A refused
//!    answer is told why (400) and changes nothing: whoever sees the link
//!    (over a shoulder, on a screen) can encrypt to the request's key, and
//!    must not be able to close the request before the wallet answers.
//!    Each address may post [`ANSWERS_PER_MINUTE`] a minute, since a
//!    checked answer costs a decryption and a fetch of the IACA.
//! 3. `GET /location/resultat/{state}` shows the outcome.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jose::{DecryptionKey, KeyAlg};
use mdoc::mdl::DrivingPrivilege;
use mdoc::oid4vp::{PresentationRequest, PresentationResponse};
use mdoc::{MDL_NAMESPACE, TrustedIacas, Value};
use oidc::{Clock, ConfigError, RedirectUri};
use serde::{Deserialize, Serialize};
use store::{RateLimits, Sessions, StoreError, Stores, UsedOnce};
use web::{ClientAddress, ErrorPage, Lang};

use crate::errors::{CATALOGUE, DemarcheError};

/// How long a request waits for its answer.
const REQUEST_SECS: i64 = 600;

/// Requests one address may start in a minute; past it, 429.
pub const REQUESTS_PER_MINUTE: u32 = 20;

/// Answers one address may post in a minute; past it, 429.
pub const ANSWERS_PER_MINUTE: u32 = 20;

/// What the rental asks: nothing else.
pub const ASKED: [&str; 2] = ["driving_privileges", "age_over_21"];

/// `[demo_sp.rental]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RentalConfig {
    /// The name shown, and given to the wallet.
    pub name: String,
    /// Where the licences' IACA root certificate (DER) is published.
    pub licence_iaca_url: String,
}

impl RentalConfig {
    pub(crate) fn check(&self, path: &str) -> Result<(), ConfigError> {
        RedirectUri::parse(&self.licence_iaca_url)
            .map_err(|error| ConfigError::new(format!("{path}.licence_iaca_url"), error))?;
        Ok(())
    }
}

/// The running rental.
pub struct Rental {
    config: RentalConfig,
    site: String,
    response_uri: String,
    requests: Arc<dyn Sessions>,
    limits: Arc<dyn RateLimits>,
    /// Marks the requests answered: of two verified answers, one is kept.
    answered: Arc<dyn UsedOnce>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Rental {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rental")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

/// A request as kept until answered.
#[derive(Serialize, Deserialize)]
struct Kept {
    nonce: String,
    /// The request's private ECDH-ES key (JWK).
    key: String,
    outcome: Outcome,
}

/// What became of a request. There is no « refused »: a refused answer
/// leaves the request waiting (see the module's documentation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Waiting,
    Verified {
        categories: Vec<String>,
        over_21: bool,
    },
}

impl Rental {
    pub(crate) fn new(
        config: RentalConfig,
        site: &str,
        portal_url: &str,
        stores: &Stores,
        clock: Arc<dyn Clock>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            config,
            site: site.to_owned(),
            response_uri: format!("{}/location/reponse", portal_url.trim_end_matches('/')),
            requests: stores.sessions.clone(),
            limits: stores.rate_limits.clone(),
            answered: stores.used_once.clone(),
            clock,
            http,
        }
    }

    fn key_of(state: &str) -> String {
        format!("rental:{state}")
    }

    /// The request of `state`, if it is there and not expired; a kept
    /// request that does not read back is as good as gone.
    async fn load(&self, state: &str) -> Result<Option<Kept>, StoreError> {
        let now = self.clock.now();
        let bytes = self.requests.load(&Self::key_of(state), now).await?;
        Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    async fn keep(&self, state: &str, kept: &Kept) -> Result<(), store::StoreError> {
        let bytes = serde_json::to_vec(kept).map_err(|_| store::StoreError::Corrupt)?;
        let expires = self.clock.now() + REQUEST_SECS;
        self.requests
            .save(&Self::key_of(state), &bytes, expires)
            .await
    }

    /// The request of `state`: what the link says, what the answer is
    /// checked against.
    fn request(&self, state: &str, nonce: &str, key: serde_json::Value) -> PresentationRequest {
        PresentationRequest {
            response_uri: self.response_uri.clone(),
            nonce: nonce.to_owned(),
            state: state.to_owned(),
            client_name: self.config.name.clone(),
            elements: ASKED.iter().map(|e| (*e).to_owned()).collect(),
            encryption_key: key,
        }
    }

    /// A new request from `address`, kept; its link.
    async fn start(&self, address: &str) -> Result<(String, String), Refusal> {
        let bound = format!("rental-requests:{address}");
        let now = self.clock.now();
        if !self
            .limits
            .within(&bound, REQUESTS_PER_MINUTE, 60, now)
            .await?
        {
            return Err(Refusal::TooMany);
        }
        let key = DecryptionKey::generate(KeyAlg::EcdhEs)?;
        let public = key.public_key()?;
        let state = key.kid().to_owned();
        let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let request = self.request(&state, &nonce, public.to_json());
        let kept = Kept {
            nonce,
            key: key.to_private_json(),
            outcome: Outcome::Waiting,
        };
        self.keep(&state, &kept).await?;
        Ok((state, request.to_uri()))
    }

    /// Checks an answer posted from `address`. The first verified answer
    /// is kept for the request it names; a refused one changes nothing.
    async fn answer(&self, address: &str, response: &str) -> Result<Outcome, (StatusCode, String)> {
        let bad = |reason: &str| (StatusCode::BAD_REQUEST, reason.to_owned());
        let unavailable = |_: StoreError| (StatusCode::SERVICE_UNAVAILABLE, "storage".to_owned());
        let now = self.clock.now();
        let bound = format!("rental-answers:{address}");
        let within = self
            .limits
            .within(&bound, ANSWERS_PER_MINUTE, 60, now)
            .await
            .map_err(unavailable)?;
        if !within {
            let reason = "too many answers from this address, try again in a minute";
            return Err((StatusCode::TOO_MANY_REQUESTS, reason.to_owned()));
        }
        let header = jose::peek_jwe_header(response).map_err(|_| bad("not a JWE"))?;
        let state = header.kid.ok_or_else(|| bad("no kid"))?;
        let mut kept = self
            .load(&state)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| bad("unknown or expired request"))?;
        if kept.outcome != Outcome::Waiting {
            return Err(bad("this request was already answered"));
        }
        let outcome = self
            .check(&kept, &state, response, header.apu.as_deref())
            .await
            .map_err(|reason| {
                tracing::info!("rental: an answer refused, the request still waits");
                (StatusCode::BAD_REQUEST, reason)
            })?;
        let first = self
            .answered
            .mark(&format!("rental-answered:{state}"), now + REQUEST_SECS, now)
            .await
            .map_err(unavailable)?;
        if !first {
            return Err(bad("this request was already answered"));
        }
        kept.outcome = outcome.clone();
        self.keep(&state, &kept).await.map_err(unavailable)?;
        tracing::info!("rental: licence verified");
        Ok(outcome)
    }

    async fn check(
        &self,
        kept: &Kept,
        state: &str,
        response: &str,
        apu: Option<&str>,
    ) -> Result<Outcome, String> {
        let key = DecryptionKey::from_private_json(&kept.key).map_err(|e| e.to_string())?;
        let payload = jose::decrypt(response, &[key], &[KeyAlg::EcdhEs])
            .map_err(|_| "la réponse ne se déchiffre pas".to_owned())?;
        let answer: PresentationResponse =
            serde_json::from_slice(&payload).map_err(|_| "la réponse est illisible".to_owned())?;
        if answer.state != state {
            return Err("la réponse est celle d'une autre demande".into());
        }
        let wallet_nonce = apu
            .and_then(|apu| URL_SAFE_NO_PAD.decode(apu).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or("la réponse ne porte pas le nonce du portefeuille")?;
        let request = self.request(state, &kept.nonce, serde_json::Value::Null);
        let transcript = request
            .transcript(&wallet_nonce)
            .map_err(|e| e.to_string())?;
        let device_response = answer.device_response().map_err(|e| e.to_string())?;
        let trust = self.trust().await?;
        let now = u64::try_from(self.clock.now()).unwrap_or_default();
        let verified = mdoc::verify(&device_response, &request.items(), &transcript, &trust, now)
            .map_err(|e| format!("permis refusé : {e}"))?;
        let elements = verified
            .elements
            .get(MDL_NAMESPACE)
            .ok_or("aucune donnée du permis")?;
        let categories = elements
            .get("driving_privileges")
            .map(DrivingPrivilege::list_from_value)
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect();
        let over_21 = elements.get("age_over_21") == Some(&Value::Bool(true));
        Ok(Outcome::Verified {
            categories,
            over_21,
        })
    }

    /// The IACA, fetched from where the issuer publishes it.
    async fn trust(&self) -> Result<TrustedIacas, String> {
        let unavailable = || "le certificat racine des permis est indisponible".to_owned();
        let response = self
            .http
            .get(&self.config.licence_iaca_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|_| unavailable())?;
        let der = oidc::answer::bytes(response)
            .await
            .map_err(|_| unavailable())?;
        TrustedIacas::new(&[der]).map_err(|e| e.to_string())
    }
}

#[derive(Template)]
#[template(path = "rental.html")]
struct RentalPage<'a> {
    lang: Lang,
    name: &'a str,
    step: Step,
}

enum Step {
    Home,
    Request {
        link: String,
        qr: String,
        state: String,
    },
    Result(Outcome),
    Unknown,
}

impl Step {
    fn over_21_and_b(&self) -> bool {
        matches!(self, Step::Result(Outcome::Verified { categories, over_21: true })
            if categories.iter().any(|c| c == "B" || c.starts_with("B ")))
    }
}

fn page(rental: &Rental, headers: &HeaderMap, step: Step) -> Response {
    let lang = Lang::of(headers, None);
    let name = &rental.config.name;
    web::render_page(
        &rental.site,
        name,
        lang,
        None,
        &RentalPage { lang, name, step },
    )
}

async fn home(State(rental): State<Arc<Rental>>, headers: HeaderMap) -> Response {
    page(&rental, &headers, Step::Home)
}

/// Why no request was made.
#[derive(Debug)]
enum Refusal {
    /// Too many from this address this minute.
    TooMany,
    /// The store failed.
    Storage(StoreError),
    /// No key could be made.
    Key(String),
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        Refusal::Storage(error)
    }
}

impl From<jose::JoseError> for Refusal {
    fn from(error: jose::JoseError) -> Self {
        Refusal::Key(error.to_string())
    }
}

async fn request(
    State(rental): State<Arc<Rental>>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers, None);
    let error = |error: DemarcheError| {
        ErrorPage::from_catalogue(CATALOGUE, &error, &rental.site)
            .with_way_home("/location/", lang)
            .respond(lang)
    };
    match rental.start(&address).await {
        Ok((state, link)) => {
            let qr = web::qr_svg(&link, 280).unwrap_or_default();
            page(&rental, &headers, Step::Request { link, qr, state })
        }
        Err(Refusal::TooMany) => error(DemarcheError::TooMany),
        Err(Refusal::Storage(failure)) => {
            tracing::warn!(error = %failure, "rental: no request made");
            error(DemarcheError::Unavailable)
        }
        Err(Refusal::Key(failure)) => {
            tracing::warn!(error = %failure, "rental: no request made");
            ErrorPage::technical(&rental.site).respond(lang)
        }
    }
}

#[derive(Debug, Deserialize)]
struct DirectPost {
    response: String,
}

async fn response(
    State(rental): State<Arc<Rental>>,
    ClientAddress(address): ClientAddress,
    Form(post): Form<DirectPost>,
) -> Response {
    match rental.answer(&address, &post.response).await {
        Ok(_) => axum::Json(serde_json::json!({})).into_response(),
        Err((status, reason)) => (status, reason).into_response(),
    }
}

async fn result(
    State(rental): State<Arc<Rental>>,
    Path(state): Path<String>,
    headers: HeaderMap,
) -> Response {
    let step = match rental.load(&state).await {
        Ok(Some(kept)) => Step::Result(kept.outcome),
        Ok(None) => Step::Unknown,
        Err(failure) => {
            tracing::warn!(error = %failure, "rental: request not read");
            let lang = Lang::of(&headers, None);
            return ErrorPage::from_catalogue(CATALOGUE, &DemarcheError::Unavailable, &rental.site)
                .respond(lang);
        }
    };
    page(&rental, &headers, step)
}

/// The rental's routes.
pub(crate) fn router(rental: Arc<Rental>) -> axum::Router {
    axum::Router::new()
        .route("/location/", get(home))
        .route("/location/demande", get(request))
        .route("/location/reponse", post(response))
        .route("/location/resultat/{state}", get(result))
        .with_state(rental)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oidc::FakeClock;

    /// Requests kept in a store that fails at every call.
    struct Failing;

    #[async_trait::async_trait]
    impl Sessions for Failing {
        async fn load(&self, _: &str, _: i64) -> Result<Option<Vec<u8>>, StoreError> {
            Err(StoreError::Backend("down".into()))
        }
        async fn save(&self, _: &str, _: &[u8], _: i64) -> Result<(), StoreError> {
            Err(StoreError::Backend("down".into()))
        }
        async fn delete(&self, _: &str) -> Result<(), StoreError> {
            Err(StoreError::Backend("down".into()))
        }
    }

    fn rental(stores: &Stores) -> Rental {
        let config = RentalConfig {
            name: "Location".into(),
            licence_iaca_url: "http://127.0.0.1:9/mdl/iaca.der".into(),
        };
        Rental::new(
            config,
            "Location",
            "http://127.0.0.1:9",
            stores,
            Arc::new(FakeClock::at(1_800_000_000)),
            reqwest::Client::new(),
        )
    }

    /// Stores whose requests fail at every call.
    fn failing() -> Stores {
        let mut stores = Stores::memory();
        stores.sessions = Arc::new(Failing);
        stores
    }

    /// What an onlooker who saw the link can post: a well-formed answer
    /// for the request, encrypted to its key, carrying no licence.
    fn forged_answer(link: &str) -> String {
        let request = PresentationRequest::from_uri(link).unwrap();
        let keys = serde_json::json!({ "keys": [request.encryption_key] });
        let keys = jose::PublicKeySet::from_json(&keys.to_string()).unwrap();
        let answer = request.response(b"not a DeviceResponse");
        let mut copied = serde_json::Map::new();
        copied.insert("apu".into(), URL_SAFE_NO_PAD.encode("onlooker").into());
        jose::encrypt(
            &serde_json::to_vec(&answer).unwrap(),
            &keys.keys()[0],
            KeyAlg::EcdhEs,
            "JSON",
            &copied,
        )
        .unwrap()
    }

    /// A JWE's shape whose header names the request `kid`.
    fn answer_for(kid: &str) -> String {
        let header = serde_json::json!({"alg": "ECDH-ES", "enc": "A256GCM", "kid": kid});
        format!(
            "{}..AAAA.AAAA.AAAA",
            URL_SAFE_NO_PAD.encode(header.to_string())
        )
    }

    #[tokio::test]
    async fn a_store_that_fails_is_unavailable_not_an_unknown_request() {
        let broken = rental(&failing());
        assert!(matches!(
            broken.start("203.0.113.1").await,
            Err(Refusal::Storage(_))
        ));
        assert!(broken.load("some-state").await.is_err());
        let Err((status, _)) = broken
            .answer("203.0.113.1", &answer_for("some-state"))
            .await
        else {
            panic!("answered from a failing store");
        };
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

        // The same answer to a working store that never made the request.
        let working = rental(&Stores::memory());
        let answer = answer_for("some-state");
        let Err((status, reason)) = working.answer("203.0.113.1", &answer).await else {
            panic!("answered an unknown request");
        };
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(reason, "unknown or expired request");
    }

    #[tokio::test]
    async fn one_address_starts_a_bounded_number_of_requests_a_minute() {
        let rental = rental(&Stores::memory());
        for _ in 0..REQUESTS_PER_MINUTE {
            assert!(rental.start("203.0.113.1").await.is_ok());
        }
        assert!(matches!(
            rental.start("203.0.113.1").await,
            Err(Refusal::TooMany)
        ));
        assert!(rental.start("203.0.113.2").await.is_ok());
    }

    /// Whoever sees the QR code can post to the request: what they post
    /// is refused, and the request still waits for the wallet.
    #[tokio::test]
    async fn an_answer_refused_leaves_the_request_waiting() {
        let rental = rental(&Stores::memory());
        let (state, link) = rental.start("203.0.113.1").await.unwrap();
        let forged = forged_answer(&link);
        let junk = answer_for(&state);
        for answer in [forged.as_str(), junk.as_str()] {
            let Err((status, reason)) = rental.answer("198.51.100.9", answer).await else {
                panic!("a forged answer was accepted");
            };
            assert_eq!(status, StatusCode::BAD_REQUEST, "{reason}");
            let kept = rental.load(&state).await.unwrap().unwrap();
            assert_eq!(kept.outcome, Outcome::Waiting);
        }
        // Not taken as « answered » either: the same forgery is refused
        // for what it is, again, rather than as a second answer.
        let Err((_, reason)) = rental.answer("198.51.100.9", &forged).await else {
            panic!("a forged answer was accepted");
        };
        assert_ne!(reason, "this request was already answered");
    }

    #[tokio::test]
    async fn one_address_posts_a_bounded_number_of_answers_a_minute() {
        let rental = rental(&Stores::memory());
        let (_, link) = rental.start("203.0.113.1").await.unwrap();
        let forged = forged_answer(&link);
        for _ in 0..ANSWERS_PER_MINUTE {
            let Err((status, _)) = rental.answer("198.51.100.9", &forged).await else {
                panic!("a forged answer was accepted");
            };
            assert_eq!(status, StatusCode::BAD_REQUEST);
        }
        let Err((status, _)) = rental.answer("198.51.100.9", &forged).await else {
            panic!("a forged answer was accepted");
        };
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let Err((status, _)) = rental.answer("198.51.100.10", &forged).await else {
            panic!("a forged answer was accepted");
        };
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
