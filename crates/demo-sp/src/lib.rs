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
pub mod errors;
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
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use oidc::rp::Login;
use oidc::{Acr, Clock, RedirectUri};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use web::rp::{Connection, Kept, RpApp, RpFailure, RpSide, SideSettings, SignedIn};
use web::{Lang, Page, Session, SessionManager};

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

/// Which démarche a `service` of the settings is: the one table.
pub fn service(kind: demarche::Kind) -> &'static demarche::Service {
    match kind {
        demarche::Kind::Ants => &ants::ANTS,
        demarche::Kind::Impots => &impots::IMPOTS,
        demarche::Kind::Lettre => &lettre::LETTRE,
        demarche::Kind::Procuration => &procuration::PROCURATION,
    }
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
            if !services.insert(service(demarche.service).path) {
                return Err(ConfigError::new(format!("{at}.service"), "is used twice"));
            }
        }
        Ok(())
    }
}

/// The demo service.
pub struct DemoService {
    config: Config,
    /// The hubs, one connection each.
    rp: RpSide,
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
            .map(|settings| {
                demarche::Demarche::new(
                    service(settings.service),
                    settings.clone(),
                    &demarche_parts,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let public_key = demarche_parts
            .decryption_key
            .public_key()
            .map_err(|error| ConfigError::new("demo_sp", error.to_string()))?;
        let jwks = serde_json::json!({ "keys": [public_key.to_json()] });
        let connections = config
            .hubs
            .iter()
            .map(|hub| {
                let callback = format!("{}/callback/{}", config.public_url, hub.id);
                Ok(Connection {
                    name: hub.id.clone(),
                    label: hub.label.clone(),
                    rp: hub
                        .registration()
                        .relying_party(&callback, &demarche_parts)?,
                    acr: Some(hub.acr),
                    login_path: format!("/login/{}", hub.id),
                    backchannel_path: Some(format!("/backchannel-logout/{}", hub.id)),
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let sessions = SessionManager::new(
            stores.sessions,
            clock.clone(),
            "passerelle_demo_sp",
            config.public_url.starts_with("https://"),
            SESSION_SECS,
        );
        let side = SideSettings {
            site: config.name.clone(),
            public_url: config.public_url.clone(),
            home: "/".into(),
            landing: "/me".into(),
            logout_path: "/logout".into(),
            logged_out_path: "/logged-out".into(),
            connections,
        };
        Ok(Arc::new(Self {
            rp: RpSide::new(side, sessions, stores.tokens, clock)?,
            config,
            jwks,
            demarches,
        }))
    }
}

/// What the developer's view keeps of a login besides the identity: the
/// tokens as received, to show them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Received {
    id_token: String,
    id_claims: Map<String, Value>,
    userinfo_raw: String,
}

impl RpApp for DemoService {
    type Extra = Received;

    fn rp(&self) -> &RpSide {
        &self.rp
    }

    async fn signed_in(&self, _: &Connection, login: Login) -> Result<Kept<Received>, RpFailure> {
        let received = Received {
            id_token: login.id_token,
            id_claims: login.id_claims,
            userinfo_raw: login.userinfo_raw,
        };
        Ok((login.userinfo, received))
    }
}

/// The service's routes: the one table.
pub fn router(service: Arc<DemoService>) -> Router {
    let demarches = service.demarches.clone();
    let portal = Router::new()
        .route("/", get(home))
        .route(web::STYLESHEET_PATH, get(web::stylesheet))
        .route("/favicon.ico", get(web::no_favicon))
        .route("/langue/{code}", get(web::switch_language))
        .route("/jwks", get(jwks))
        .route("/me", get(me))
        .with_state(service.clone())
        .merge(web::rp::routes(&service))
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
) -> Response {
    let body = template
        .render()
        .unwrap_or_else(|_| "<h1>Erreur technique</h1>".into());
    Page {
        title,
        site: &service.config.name,
        body,
        lang,
        here,
    }
    .into_response()
}

/// The browser's session: the developer signed in through a hub.
type SessionData = web::rp::Visit<Received>;

/// How long the service's sessions last, and so how long a back-channel
/// logout is remembered.
const SESSION_SECS: i64 = 3600;

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
    let session: Session<SessionData> = service.rp.visit(&headers).await;
    let person = session.data.user.as_ref().map(SignedIn::name);
    let template = HomeTemplate {
        lang,
        name: &service.config.name,
        hubs: service
            .config
            .hubs
            .iter()
            .map(|hub| HubButton {
                id: &hub.id,
                label: &hub.label,
                acr: hub.acr.as_str(),
            })
            .collect(),
        person,
        csrf: session.csrf_token(),
        demarches: service
            .demarches
            .iter()
            .map(|demarche| DemarcheLink {
                path: demarche.service.path,
                name: demarche.service.name,
                summary: demarche.service.summary,
                level: demarche.service.level.as_str(),
                platform: demarche.settings.label.clone(),
            })
            .collect(),
    };
    page(&service, &service.config.name, &template, lang, Some("/"))
}

async fn jwks(State(service): State<Arc<DemoService>>) -> Response {
    axum::Json(service.jwks.clone()).into_response()
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
    let session: Session<SessionData> = service.rp.visit(&headers).await;
    let Some(user) = &session.data.user else {
        return Redirect::to("/").into_response();
    };
    let received = &user.extra;
    let claims = user
        .claims
        .keys()
        .map(|name| (name.clone(), user.claim(name).unwrap_or_default()))
        .collect();
    let template = MeTemplate {
        lang,
        hub: service
            .rp
            .connection(&user.connection)
            .map_or("Passerelle", |hub| hub.label.as_str()),
        encrypted: received.id_token.split('.').count() == 5,
        acr: user.acr.as_str(),
        sub: user.sub.as_str(),
        claims,
        id_token_claims: serde_json::to_string_pretty(&received.id_claims).unwrap_or_default(),
        id_token: &received.id_token,
        userinfo: &received.userinfo_raw,
        csrf: session.csrf_token(),
    };
    let title = lang.pick("Identité reçue", "Identity received");
    page(&service, title, &template, lang, Some("/me"))
}
