//! The démarches portal: demo services that use the federation as the
//! documents describe, each a relying party of a hub as a service
//! provider's developer would write one.
//!
//! - `/`: the portal, listing the démarches and the level each needs, and
//!   the developer's view: log in through a hub, see the identity and the
//!   raw tokens received, log out through the hub;
//! - `/ants`, `/impots`, `/lettre`, `/procuration`: one service provider
//!   per démarche ([`demarche`]), each registered at its hub with its own
//!   client, entity, scopes and level, keeping its dossiers under the `sub`
//!   it receives.

mod ants;
pub mod demarche;
mod form;
mod impots;
mod lettre;
mod procuration;
mod view;

use oidc::ConfigError;
use std::fmt;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use oidc::op::Params;
use oidc::rp::{PendingLogin, RelyingParty};
use oidc::types::random_token;
use oidc::{Acr, Clock, RedirectUri};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use web::{Lang, LoggedOut, Page, Session, SessionManager, see_other};

/// `[demo_sp]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name shown on pages.
    #[serde(default = "default_name")]
    pub name: String,
    /// Where the service is reached.
    pub public_url: String,
    /// The hubs it logs in through, one button each.
    pub hubs: Vec<HubLogin>,
    /// The démarches, each its own service provider.
    #[serde(default)]
    pub demarches: Vec<demarche::Settings>,
}

/// `[[demo_sp.hubs]]`: the service's registration at one hub.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubLogin {
    /// Short id, in the paths `/login/{id}` and `/callback/{id}`.
    pub id: String,
    /// The button's name (`Passerelle`, `Passerelle+`).
    pub label: String,
    /// The hub's issuer.
    pub issuer: String,
    /// Our client id at the hub.
    pub client_id: String,
    /// Our client secret at the hub.
    pub client_secret: oidc::Secret,
    /// Scopes asked.
    #[serde(default = "default_scopes")]
    pub scopes: String,
    /// Level asked.
    #[serde(default = "default_acr")]
    pub acr: Acr,
}

fn default_name() -> String {
    "Service de démonstration".into()
}

fn default_scopes() -> String {
    "openid identite_pivot email preferred_username".into()
}

fn default_acr() -> Acr {
    Acr::Eidas1
}

impl HubLogin {
    fn registration(&self) -> demarche::Registration<'_> {
        demarche::Registration {
            issuer: &self.issuer,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            scopes: &self.scopes,
        }
    }
}

impl Config {
    /// Checks the settings; the error names the bad path.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        RedirectUri::parse(&self.public_url)
            .map_err(|error| ConfigError::new(format!("{path}.public_url"), error))?;
        if self.hubs.is_empty() {
            return Err(ConfigError::new(
                format!("{path}.hubs"),
                "must list at least one hub",
            ));
        }
        let mut ids = std::collections::HashSet::new();
        for (index, hub) in self.hubs.iter().enumerate() {
            let at = format!("{path}.hubs[{index}]");
            if hub.id.is_empty()
                || !hub
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ConfigError::new(
                    format!("{at}.id"),
                    "must be letters, digits, - or _",
                ));
            }
            if !ids.insert(hub.id.as_str()) {
                return Err(ConfigError::new(format!("{at}.id"), "is used twice"));
            }
            hub.registration().check(&at)?;
        }
        let mut services = std::collections::HashSet::new();
        for (index, demarche) in self.demarches.iter().enumerate() {
            let at = format!("{path}.demarches[{index}]");
            demarche.check(&at)?;
            if !services.insert(demarche.service.path()) {
                return Err(ConfigError::new(format!("{at}.service"), "is used twice"));
            }
        }
        Ok(())
    }
}

/// One hub as the service talks to it.
struct Connection {
    login: HubLogin,
    rp: RelyingParty,
}

/// The demo service.
pub struct DemoService {
    config: Config,
    hubs: Vec<Connection>,
    sessions: SessionManager,
    /// Back-channel logouts received.
    logouts: LoggedOut,
    clock: Arc<dyn Clock>,
    /// Its public encryption key, published at `/jwks` for the hubs that
    /// encrypt its tokens.
    jwks: Value,
    /// The démarches.
    demarches: Vec<Arc<demarche::Demarche>>,
}

/// What the portal is built from.
#[derive(Clone)]
pub struct DemoParts {
    /// Opens the tokens a hub encrypts to the portal's services.
    pub decryption_key: jose::DecryptionKey,
    /// Its storage: sessions, back-channel logouts, dossiers.
    pub stores: store::Stores,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// For the hubs.
    pub http: reqwest::Client,
    /// Mail (the démarches' receipts and notices), when set up.
    pub mailer: Option<Arc<mail::Mailer>>,
}

impl fmt::Debug for DemoParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoParts").finish_non_exhaustive()
    }
}

impl fmt::Debug for DemoService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoService")
            .field("public_url", &self.config.public_url)
            .finish_non_exhaustive()
    }
}

impl DemoService {
    /// Builds the portal and its démarches.
    pub fn new(config: Config, parts: DemoParts) -> Result<Arc<Self>, ConfigError> {
        config.check("demo_sp")?;
        let DemoParts {
            decryption_key,
            stores,
            clock,
            http,
            mailer,
        } = parts;
        let demarche_parts = demarche::DemarcheParts {
            portal_url: config.public_url.trim_end_matches('/').to_owned(),
            decryption_key,
            sessions: stores.sessions.clone(),
            logouts: stores.tokens.clone(),
            dossiers: stores.dossiers.clone(),
            clock: clock.clone(),
            http: http.clone(),
            mailer,
        };
        let demarches = config
            .demarches
            .iter()
            .map(|settings| demarche::Demarche::new(settings.clone(), &demarche_parts))
            .collect::<Result<Vec<_>, _>>()?;
        let (sessions, logouts) = (stores.sessions, stores.tokens);
        let public_key = demarche_parts
            .decryption_key
            .public_key()
            .map_err(|error| ConfigError::new("demo_sp", error.to_string()))?;
        let jwks = serde_json::json!({ "keys": [public_key.to_json()] });
        let hubs = config
            .hubs
            .iter()
            .map(|login| {
                let callback = format!("{}/callback/{}", config.public_url, login.id);
                Ok(Connection {
                    login: login.clone(),
                    rp: login
                        .registration()
                        .relying_party(&callback, &demarche_parts)?,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let secure = config.public_url.starts_with("https://");
        let sessions = SessionManager::new(
            sessions,
            clock.clone(),
            "passerelle_demo_sp",
            secure,
            SESSION_SECS,
        );
        Ok(Arc::new(Self {
            config,
            hubs,
            sessions,
            logouts: LoggedOut::new(logouts, SESSION_SECS),
            clock,
            jwks,
            demarches,
        }))
    }

    fn hub(&self, id: &str) -> Option<&Connection> {
        self.hubs.iter().find(|hub| hub.login.id == id)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct SessionData {
    /// The hub id and what to check its answer against.
    pending: Option<(String, PendingLogin)>,
    login: Option<Received>,
    logout_state: Option<String>,
}

/// What the service received from the hub.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Received {
    /// Which hub.
    hub: String,
    /// When.
    #[serde(default)]
    at: i64,
    id_token: String,
    /// The signed ID token, for logging out.
    #[serde(default)]
    id_token_hint: String,
    id_claims: Map<String, Value>,
    userinfo: Map<String, Value>,
    userinfo_raw: String,
}

/// The service's routes: the one table.
pub fn router(service: Arc<DemoService>) -> Router {
    let demarches = service.demarches.clone();
    let portal = Router::new()
        .route("/", get(home))
        .route(web::STYLESHEET_PATH, get(web::stylesheet))
        .route("/favicon.ico", get(web::no_favicon))
        .route("/langue/{code}", get(web::switch_language))
        .route("/login/{hub}", get(login))
        .route("/callback/{hub}", get(callback))
        .route("/jwks", get(jwks))
        .route("/backchannel-logout/{hub}", post(backchannel_logout))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/logged-out", get(logged_out))
        .with_state(service)
        .layer(DefaultBodyLimit::max(16 * 1024));
    demarches
        .into_iter()
        .fold(portal, |portal, demarche| {
            portal.merge(demarche::router(demarche))
        })
        .layer(axum::middleware::from_fn(web::security_headers))
}

fn page(
    service: &DemoService,
    title: &str,
    template: &impl Template,
    lang: Lang,
    here: Option<&str>,
    cookie: Option<HeaderValue>,
) -> Response {
    let body = template
        .render()
        .unwrap_or_else(|_| "<h1>Erreur technique</h1>".into());
    let response = Page {
        title,
        site: &service.config.name,
        body,
        lang,
        here,
    }
    .into_response();
    view::with_cookie(response, cookie)
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessageTemplate<'a> {
    lang: Lang,
    title: &'a str,
    message: &'a str,
    class: &'a str,
    role: &'a str,
}

fn message(service: &DemoService, lang: Lang, title: &str, text: &str, is_error: bool) -> Response {
    let template = MessageTemplate {
        lang,
        title,
        message: text,
        class: if is_error { "pa-alert" } else { "pa-info" },
        role: if is_error { "alert" } else { "status" },
    };
    page(service, title, &template, lang, None, None)
}

async fn load(service: &DemoService, headers: &HeaderMap) -> Session<SessionData> {
    let mut session = match service.sessions.load::<SessionData>(headers).await {
        Ok(Some(session)) => session,
        _ => Session::new(SessionData::default()),
    };
    if let Some(login) = &session.data.login
        && logged_out_since(service, login).await
    {
        session.data.login = None;
        let _ = service.sessions.save(&session).await;
    }
    session
}

/// How long the service's sessions last, and so how long a back-channel
/// logout is remembered.
const SESSION_SECS: i64 = 3600;

/// Whether the hub said, after this login, that the person logged out.
async fn logged_out_since(service: &DemoService, login: &Received) -> bool {
    let sub = login
        .id_claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    service
        .logouts
        .since(&login.hub, sub, login.at, service.clock.now())
        .await
}

/// `POST /backchannel-logout/{hub}`: the hub says a person logged out of
/// the federation (OpenID Back-Channel Logout 1.0 §2.5).
async fn backchannel_logout(
    State(service): State<Arc<DemoService>>,
    Path(hub_id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(hub) = service.hub(&hub_id) else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    service
        .logouts
        .receive(&hub.rp, &hub_id, &body, service.clock.now())
        .await
}

/// A démarche on the home page.
struct DemarcheLink {
    path: &'static str,
    name: &'static str,
    summary: &'static str,
    level: &'static str,
    platform: String,
}

/// A login button of the home page.
struct HubButton<'a> {
    id: &'a str,
    label: &'a str,
    acr: &'a str,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomeTemplate<'a> {
    lang: Lang,
    name: &'a str,
    hubs: Vec<HubButton<'a>>,
    person: Option<String>,
    csrf: String,
    demarches: Vec<DemarcheLink>,
}

async fn home(State(service): State<Arc<DemoService>>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers, None);
    let session = load(&service, &headers).await;
    let person = session.data.login.as_ref().map(|login| {
        let text = |name: &str| {
            login
                .userinfo
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        format!("{} {}", text("given_name"), text("family_name"))
            .trim()
            .to_owned()
    });
    let template = HomeTemplate {
        lang,
        name: &service.config.name,
        hubs: service
            .hubs
            .iter()
            .map(|hub| HubButton {
                id: &hub.login.id,
                label: &hub.login.label,
                acr: hub.login.acr.as_str(),
            })
            .collect(),
        person,
        csrf: session.csrf_token(),
        demarches: service
            .demarches
            .iter()
            .map(|demarche| DemarcheLink {
                path: demarche.kind.path(),
                name: demarche.kind.name(),
                summary: demarche.kind.summary(),
                level: demarche.kind.level().as_str(),
                platform: demarche.settings.label.clone(),
            })
            .collect(),
    };
    page(
        &service,
        &service.config.name,
        &template,
        lang,
        Some("/"),
        None,
    )
}

async fn jwks(State(service): State<Arc<DemoService>>) -> Response {
    axum::Json(service.jwks.clone()).into_response()
}

fn unknown_hub(service: &DemoService, lang: Lang) -> Response {
    let mut response = message(
        service,
        lang,
        lang.pick("Page introuvable", "Page not found"),
        lang.pick(
            "Ce service ne connaît pas cette plateforme d'identification.",
            "This service does not know this identification platform.",
        ),
        true,
    );
    *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
    response
}

async fn login(
    State(service): State<Arc<DemoService>>,
    Path(hub_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers, None);
    let Some(hub) = service.hub(&hub_id) else {
        return unknown_hub(&service, lang);
    };
    let mut session = load(&service, &headers).await;
    match hub.rp.start(Some(hub.login.acr), false, &[]).await {
        Ok((url, pending)) => {
            session.data.pending = Some((hub_id, pending));
            see_other(&url, service.sessions.save(&session).await.ok())
        }
        Err(error) => {
            tracing::warn!(%error, "hub unreachable");
            message(
                &service,
                lang,
                lang.pick("Passerelle injoignable", "Passerelle unreachable"),
                lang.pick(
                    "Le service d'identification ne répond pas. Réessayez dans quelques minutes.",
                    "The identification service does not answer. Try again in a few minutes.",
                ),
                true,
            )
        }
    }
}

async fn callback(
    State(service): State<Arc<DemoService>>,
    Path(hub_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = Lang::of(&headers, None);
    let Some(hub) = service.hub(&hub_id) else {
        return unknown_hub(&service, lang);
    };
    let mut session = load(&service, &headers).await;
    let pending = session.data.pending.take();
    let Some((_, pending)) = pending.filter(|(started_at, _)| *started_at == hub_id) else {
        return message(
            &service,
            lang,
            lang.pick("Connexion expirée", "Login expired"),
            lang.pick(
                "Aucune connexion n'est en cours. Recommencez depuis l'accueil.",
                "No login is in progress. Start again from the home page.",
            ),
            true,
        );
    };
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    match hub.rp.finish(&pending, &params).await {
        Ok(login) => {
            if login.acr.is_none_or(|acr| acr < hub.login.acr) {
                // A service must check the level it receives (FranceConnect+ doc).
                return message(
                    &service,
                    lang,
                    lang.pick("Niveau insuffisant", "Level too low"),
                    lang.pick(
                        "Le niveau d'identification reçu est inférieur à celui demandé.",
                        "The level of assurance received is lower than the one asked.",
                    ),
                    true,
                );
            }
            session.data.login = Some(Received {
                at: service.clock.now(),
                hub: hub_id,
                id_token: login.id_token,
                id_token_hint: login.id_token_hint,
                id_claims: login.id_claims,
                userinfo: login.userinfo,
                userinfo_raw: login.userinfo_raw,
            });
            let cookie = service
                .sessions
                .rotate(session)
                .await
                .ok()
                .map(|(_, cookie)| cookie);
            see_other("/me", cookie)
        }
        Err(oidc::rp::RpError::Refused { error, description }) => {
            let _ = service.sessions.save(&session).await;
            let text = match lang {
                Lang::Fr => format!("Passerelle a répondu « {error} » : {description}"),
                Lang::En => format!("Passerelle answered “{error}”: {description}"),
            };
            message(
                &service,
                lang,
                lang.pick("Connexion annulée", "Login cancelled"),
                &text,
                true,
            )
        }
        Err(error) => {
            tracing::warn!(%error, "login failed");
            let text = match lang {
                Lang::Fr => format!("La réponse de Passerelle a été refusée : {error}"),
                Lang::En => format!("Passerelle's answer was refused: {error}"),
            };
            message(
                &service,
                lang,
                lang.pick("Connexion refusée", "Login refused"),
                &text,
                true,
            )
        }
    }
}

#[derive(Template)]
#[template(path = "me.html")]
struct MeTemplate<'a> {
    lang: Lang,
    hub: &'a str,
    encrypted: bool,
    acr: &'a str,
    sub: &'a str,
    claims: Vec<(String, String)>,
    id_token_claims: String,
    id_token: &'a str,
    userinfo: &'a str,
    csrf: String,
}

async fn me(State(service): State<Arc<DemoService>>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers, None);
    let session = load(&service, &headers).await;
    let Some(login) = &session.data.login else {
        return Redirect::to("/").into_response();
    };
    let text = |value: &Value| {
        value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned)
    };
    let claims = login
        .userinfo
        .iter()
        .map(|(name, value)| (name.clone(), text(value)))
        .collect();
    let template = MeTemplate {
        lang,
        hub: service
            .hub(&login.hub)
            .map_or("Passerelle", |hub| hub.login.label.as_str()),
        encrypted: login.id_token.split('.').count() == 5,
        acr: login
            .id_claims
            .get("acr")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        sub: login
            .id_claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        claims,
        id_token_claims: serde_json::to_string_pretty(&login.id_claims).unwrap_or_default(),
        id_token: &login.id_token,
        userinfo: &login.userinfo_raw,
        csrf: session.csrf_token(),
    };
    let title = lang.pick("Identité reçue", "Identity received");
    page(&service, title, &template, lang, Some("/me"), None)
}

async fn logout(
    State(service): State<Arc<DemoService>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lang = Lang::of(&headers, None);
    let mut session = load(&service, &headers).await;
    let form = Params::parse(&body).unwrap_or_default();
    if !session.check_csrf(form.get("csrf")) {
        return message(
            &service,
            lang,
            lang.pick("Formulaire expiré", "Form expired"),
            lang.pick(
                "Rechargez la page et recommencez.",
                "Reload the page and start again.",
            ),
            true,
        );
    }
    let Some(login) = session.data.login.take() else {
        return Redirect::to("/").into_response();
    };
    let Some(hub) = service.hub(&login.hub) else {
        return see_other("/", service.sessions.destroy(&session).await.ok());
    };
    let state = random_token(16);
    let back = format!("{}/logged-out", service.config.public_url);
    match hub
        .rp
        .end_session_url(&login.id_token_hint, &back, &state)
        .await
    {
        Ok(Some(url)) => {
            session.data.logout_state = Some(state);
            see_other(&url, service.sessions.save(&session).await.ok())
        }
        _ => see_other("/", service.sessions.destroy(&session).await.ok()),
    }
}

async fn logged_out(
    State(service): State<Arc<DemoService>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let session = load(&service, &headers).await;
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let expected = session.data.logout_state.as_deref();
    let cookie = service.sessions.destroy(&session).await.ok();
    // Only a return carrying our own state proves the hub ended its session.
    let through_hub = expected.is_some() && params.get("state") == expected;
    let lang = Lang::of(&headers, None);
    let title = lang.pick("Déconnexion", "Logged out");
    let template = MessageTemplate {
        lang,
        title,
        message: if through_hub {
            lang.pick(
                "Vous êtes déconnecté de ce service et de Passerelle.",
                "You are logged out of this service and of Passerelle.",
            )
        } else {
            lang.pick(
                "Vous êtes déconnecté de ce service.",
                "You are logged out of this service.",
            )
        },
        class: "pa-info",
        role: "status",
    };
    page(&service, title, &template, lang, None, cookie)
}
