//! The citizen dashboard: a service of the standard platform, as
//! FranceConnect's is. The citizen logs in through the hub and sees the
//! connections of the last six months, checks that the trail is intact,
//! blocks or unblocks identity providers for their own identity, and
//! reports a connection that was not theirs.
//!
//! It finds the person's trail under the `sub` the hub gives it: the hub
//! writes each connection under the person's pairwise `sub` for the
//! dashboard's entity, so the dashboard never needs the identity (it asks
//! only the first and last names, to greet). The JSON it reads and writes is
//! described in docs/dashboard.md.

use oidc::ConfigError;
use std::fmt;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jose::Alg;
use oidc::rp::{Login, RelyingParty, RpSettings};
use oidc::{Acr, Clock, RedirectUri};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{Preferences, Revocations, Sessions, Tokens, Trace, Traces, TrailKeyRing};

pub mod errors;
pub mod integrity;

use errors::{CATALOGUE, DashboardError};

use integrity::{Finding, Head};
use web::rp::{Connection, Kept, RpApp, RpFailure, RpSide, SideSettings, SignedIn, Visit};
use web::{ErrorPage, Lang, LocalPath, Page, Session, SessionManager, see_other};

/// `[dashboard]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the dashboard is reached.
    pub public_url: String,
    /// The standard hub's name, as citizens know it.
    #[serde(default = "default_hub_name")]
    pub hub_name: String,
    /// The standard hub's issuer.
    pub hub_issuer: String,
    /// The dashboard's client id at the hub.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: oidc::Secret,
    /// The other hubs whose trail receipts are accepted (their issuers),
    /// besides `hub_issuer`: every hub that writes trails signs receipts.
    #[serde(default)]
    pub trail_issuers: Vec<String>,
}

fn default_hub_name() -> String {
    "Passerelle".into()
}

impl Config {
    /// Checks the settings; the error names the bad path.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        for (field, value) in [
            ("public_url", &self.public_url),
            ("hub_issuer", &self.hub_issuer),
        ] {
            RedirectUri::parse(value)
                .map_err(|error| ConfigError::new(format!("{path}.{field}"), error))?;
        }
        for (index, issuer) in self.trail_issuers.iter().enumerate() {
            RedirectUri::parse(issuer).map_err(|error| {
                ConfigError::new(format!("{path}.trail_issuers[{index}]"), error)
            })?;
        }
        Ok(())
    }
}

/// How far back the history goes: six months.
const HISTORY_SECS: i64 = 183 * 86_400;

/// The dashboard.
pub struct Dashboard {
    config: Config,
    rp: RpSide,
    traces: Arc<dyn Traces>,
    preferences: Arc<dyn Preferences>,
    revocations: Arc<dyn Revocations>,
    /// The trail's chain keys, current first, reread by the process.
    trail_keys: Arc<TrailKeyRing>,
    /// One verifier per hub whose receipts are accepted.
    receipt_verifiers: Vec<RelyingParty>,
    /// Every provider of the federation, by id, with its name.
    providers: Vec<(String, String)>,
    clock: Arc<dyn Clock>,
}

/// How long a dashboard session lasts (and a back-channel logout is kept).
const SESSION_SECS: i64 = 900;

impl fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dashboard")
            .field("public_url", &self.config.public_url)
            .finish_non_exhaustive()
    }
}

/// What the dashboard needs besides its settings.
#[expect(missing_debug_implementations, reason = "store handles do not print")]
pub struct DashboardParts {
    /// Browser sessions.
    pub sessions: Arc<dyn Sessions>,
    /// Where back-channel logouts are remembered.
    pub logouts: Arc<dyn Tokens>,
    /// The trails the hubs write.
    pub traces: Arc<dyn Traces>,
    /// People's settings, which the hubs read.
    pub preferences: Arc<dyn Preferences>,
    /// Where requests to end a person's sessions go, for the hubs.
    pub revocations: Arc<dyn Revocations>,
    /// The trail's chain keys, current first, reread by the process.
    pub trail_keys: Arc<TrailKeyRing>,
    /// The federation's providers (id, name), for the blocking choices.
    pub providers: Vec<(String, String)>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// HTTP client for the hub.
    pub http: reqwest::Client,
}

impl Dashboard {
    /// Builds the dashboard.
    pub fn new(config: Config, parts: DashboardParts) -> Result<Arc<Self>, ConfigError> {
        config.check("dashboard")?;
        let redirect_uri = RedirectUri::parse(&format!("{}/callback", config.public_url))
            .map_err(|error| ConfigError::new("dashboard.public_url", error))?;
        let settings = RpSettings {
            issuer: config.hub_issuer.clone(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            redirect_uri,
            scopes: "openid given_name family_name".into(),
            algs: vec![Alg::ES256],
            use_pkce: true,
            decryption_keys: Vec::new(),
        };
        let receipt_verifiers = std::iter::once(&config.hub_issuer)
            .chain(&config.trail_issuers)
            .map(|issuer| {
                let settings = RpSettings {
                    issuer: issuer.clone(),
                    ..settings.clone()
                };
                RelyingParty::new(settings, parts.http.clone(), parts.clock.clone())
            })
            .collect();
        let hub = Connection {
            name: HUB.into(),
            label: config.hub_name.clone(),
            rp: RelyingParty::new(settings, parts.http, parts.clock.clone()),
            acr: Some(Acr::Eidas1),
            login_path: "/login".into(),
            backchannel_path: Some("/backchannel-logout".into()),
        };
        let sessions = SessionManager::new(
            parts.sessions,
            parts.clock.clone(),
            "passerelle_dashboard",
            config.public_url.starts_with("https://"),
            SESSION_SECS,
        );
        let side = SideSettings {
            site: format!("Tableau de bord {}", config.hub_name),
            public_url: config.public_url.clone(),
            home: "/".into(),
            landing: "/".into(),
            logout_path: "/logout".into(),
            logged_out_path: "/deconnecte".into(),
            connections: vec![hub],
        };
        Ok(Arc::new(Self {
            rp: RpSide::new(side, sessions, parts.logouts, parts.clock.clone())?,
            config,
            traces: parts.traces,
            preferences: parts.preferences,
            revocations: parts.revocations,
            trail_keys: parts.trail_keys,
            receipt_verifiers,
            providers: parts.providers,
            clock: parts.clock,
        }))
    }
}

/// The browser's session: the person signed in through the hub.
type SessionData = Visit;

/// The person, as the dashboard knows them: their `sub` for the dashboard
/// (the pseudonym their trail is kept under) and their names.
type Person = SignedIn;

impl RpApp for Dashboard {
    type Extra = ();

    fn rp(&self) -> &RpSide {
        &self.rp
    }

    /// Keeps the names, to greet; nothing else.
    async fn signed_in(&self, _: &Connection, login: Login) -> Result<Kept<()>, RpFailure> {
        let claims = ["given_name", "family_name"]
            .into_iter()
            .filter_map(|name| Some((name.to_owned(), login.userinfo.get(name)?.clone())))
            .collect();
        Ok((claims, ()))
    }
}

/// An entry of the trail, as the hub and the dashboard write it.
#[derive(Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Entry {
    Connection {
        platform: String,
        service: String,
        #[serde(default)]
        provider_id: String,
        provider: String,
        acr: Acr,
    },
    Report {
        about_seq: i64,
        #[serde(default)]
        comment: String,
    },
}

/// What a person set here (read by the hubs).
#[derive(Debug, Default, Deserialize, Serialize)]
struct Settings {
    #[serde(default)]
    blocked_providers: Vec<String>,
    /// By provider: when the person last ended its sessions (the hubs
    /// refuse any session verified before).
    #[serde(default)]
    sessions_ended: std::collections::BTreeMap<String, i64>,
}

/// The dashboard's routes: the one table.
pub fn router(dashboard: Arc<Dashboard>) -> Router {
    let login = web::rp::routes(&dashboard);
    Router::new()
        .route("/", get(home))
        .route(web::STYLESHEET_PATH, get(web::stylesheet))
        .route("/favicon.ico", get(web::no_favicon))
        .route("/langue/{code}", get(web::switch_language))
        .route(
            "/verification",
            get(verification).post(verification_with_receipt),
        )
        .route("/fournisseurs", post(set_providers))
        .route("/signalement", get(report_form).post(report))
        .with_state(dashboard)
        .merge(login)
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(axum::middleware::from_fn(web::security_headers))
}

fn page(
    dashboard: &Dashboard,
    title: &str,
    template: &impl Template,
    lang: Lang,
    here: Option<&str>,
) -> Response {
    let body = template
        .render()
        .unwrap_or_else(|_| "<h1>Erreur technique</h1>".into());
    let site = format!(
        "{} {}",
        lang.pick("Tableau de bord", "Dashboard"),
        dashboard.config.hub_name
    );
    Page {
        title,
        site: &site,
        body,
        lang,
        here,
    }
    .into_response()
}

/// The page of a refusal, with the way home.
fn refuse(dashboard: &Dashboard, lang: Lang, error: DashboardError) -> Response {
    let site = format!("Tableau de bord {}", dashboard.config.hub_name);
    let mut page = ErrorPage::from_catalogue(CATALOGUE, &error, site);
    page.back = Some((
        "/".into(),
        lang.pick("Retour à l'accueil", "Back to the home page")
            .into(),
    ));
    page.respond(lang)
}

/// The browser's session; a person the hub said logged out is gone.
async fn load(dashboard: &Dashboard, headers: &HeaderMap) -> Session<SessionData> {
    dashboard.rp.visit(headers).await
}

/// The one hub the dashboard logs in through.
const HUB: &str = "standard";

/// A trail entry as a row.
struct Row {
    seq: i64,
    when: String,
    what: String,
    provider: String,
    level: String,
    platform: String,
}

fn row(trace: &Trace, lang: Lang) -> Row {
    let when = match lang {
        Lang::Fr => mail::french_datetime(trace.at),
        Lang::En => mail::english_datetime(trace.at),
    };
    match serde_json::from_slice::<Entry>(&trace.body) {
        Ok(Entry::Connection {
            platform,
            service,
            provider,
            acr,
            ..
        }) => Row {
            seq: trace.seq,
            when,
            what: service,
            provider,
            level: acr.to_string(),
            platform,
        },
        Ok(Entry::Report { about_seq, .. }) => Row {
            seq: trace.seq,
            when,
            what: format!(
                "{} {about_seq}",
                lang.pick("Signalement de la connexion n°", "Report of login no.")
            ),
            provider: String::new(),
            level: String::new(),
            platform: String::new(),
        },
        Err(_) => Row {
            seq: trace.seq,
            when,
            what: lang.pick("Autre événement", "Other event").into(),
            provider: String::new(),
            level: String::new(),
            platform: String::new(),
        },
    }
}

async fn trail(dashboard: &Dashboard, person: &Person) -> Result<Vec<Trace>, store::StoreError> {
    let since = dashboard.clock.now() - HISTORY_SECS;
    dashboard.traces.trail(person.sub.as_str(), since).await
}

/// The person's settings; `None` when they cannot be read (never
/// overwritten then: what the person ended must stay ended).
async fn load_settings(dashboard: &Dashboard, person: &Person) -> Option<Settings> {
    match dashboard.preferences.load(person.sub.as_str()).await {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes)
            .inspect_err(|error| tracing::error!(%error, "settings unreadable"))
            .ok(),
        Ok(None) => Some(Settings::default()),
        Err(error) => {
            tracing::error!(%error, "settings unreadable");
            None
        }
    }
}

struct ProviderChoice<'a> {
    id: &'a str,
    name: &'a str,
    blocked: bool,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomeTemplate<'a> {
    lang: Lang,
    hub: &'a str,
    person: Option<&'a str>,
    entries: Vec<Row>,
    providers: Vec<ProviderChoice<'a>>,
    csrf: String,
}

async fn home(State(dashboard): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers, None);
    let title = lang.pick("Mon tableau de bord", "My dashboard");
    let session = load(&dashboard, &headers).await;
    let Some(person) = &session.data.user else {
        let template = HomeTemplate {
            lang,
            hub: &dashboard.config.hub_name,
            person: None,
            entries: Vec::new(),
            providers: Vec::new(),
            csrf: String::new(),
        };
        return page(&dashboard, title, &template, lang, Some("/"));
    };
    let Ok(traces) = trail(&dashboard, person).await else {
        return unavailable(&dashboard, lang);
    };
    let blocked = load_settings(&dashboard, person)
        .await
        .unwrap_or_default()
        .blocked_providers;
    let template = HomeTemplate {
        lang,
        hub: &dashboard.config.hub_name,
        person: Some(&person.name()),
        entries: traces.iter().rev().map(|trace| row(trace, lang)).collect(),
        providers: dashboard
            .providers
            .iter()
            .map(|(id, name)| ProviderChoice {
                id,
                name,
                blocked: blocked.contains(id),
            })
            .collect(),
        csrf: session.csrf_token(),
    };
    page(&dashboard, title, &template, lang, Some("/"))
}

fn unavailable(dashboard: &Dashboard, lang: Lang) -> Response {
    refuse(dashboard, lang, DashboardError::Unavailable)
}

#[derive(Template)]
#[template(path = "verification.html")]
struct VerificationTemplate<'a> {
    lang: Lang,
    hub: &'a str,
    count: usize,
    findings: Vec<String>,
    last_hash: Option<String>,
    /// What became of a receipt: checked, or refused and why.
    receipt: Option<(bool, String)>,
    /// Whether the browser's copy of the last head was compared.
    browser_head: bool,
    csrf: String,
}

/// The browser's copy of the last head seen intact (integrity::browser_head).
const HEAD_COOKIE: &str = "passerelle_dashboard_head";

/// A finding as the citizen reads it.
fn finding_text(finding: &Finding, lang: Lang, hub: &str) -> String {
    match (finding, lang) {
        (Finding::Altered(n), Lang::Fr) => format!(
            "L'entrée n° {n} a été modifiée (son contenu, sa date ou son numéro) ou n'a pas été écrite par {hub}."
        ),
        (Finding::Altered(n), Lang::En) => {
            format!(
                "Entry no. {n} was changed (its content, date or number) or was not written by {hub}."
            )
        }
        (Finding::Moved { from, to }, Lang::Fr) => {
            format!("L'entrée écrite sous le n° {from} a été déplacée au n° {to}.")
        }
        (Finding::Moved { from, to }, Lang::En) => {
            format!("The entry written as no. {from} was moved to no. {to}.")
        }
        (Finding::Missing { after, before }, Lang::Fr) => {
            format!("Des entrées ont été retirées entre le n° {after} et le n° {before}.")
        }
        (Finding::Missing { after, before }, Lang::En) => {
            format!("Entries were removed between no. {after} and no. {before}.")
        }
        (Finding::UnknownKey(n), Lang::Fr) => {
            format!("L'entrée n° {n} n'est chaînée par aucune clé connue de {hub}.")
        }
        (Finding::UnknownKey(n), Lang::En) => {
            format!("Entry no. {n} is chained by no key {hub} knows.")
        }
        (Finding::Truncated { last, receipt }, Lang::Fr) => format!(
            "L'historique s'arrête au n° {last}, mais un reçu atteste le n° {receipt} : les dernières entrées ont été retirées, ou une copie plus ancienne de l'historique a été restaurée."
        ),
        (Finding::Truncated { last, receipt }, Lang::En) => format!(
            "The history ends at no. {last}, but a receipt attests no. {receipt}: the last entries were removed, or an older copy of the history was restored."
        ),
        (Finding::DiffersFromReceipt(n), Lang::Fr) => format!(
            "L'entrée n° {n} n'est plus celle qu'atteste le reçu : l'historique a été réécrit ou restauré depuis."
        ),
        (Finding::DiffersFromReceipt(n), Lang::En) => format!(
            "Entry no. {n} is no longer the one the receipt attests: the history was rewritten or restored since."
        ),
    }
}

/// `GET /verification`: the chain checked, and compared with the head this
/// browser last saw intact.
async fn verification(State(dashboard): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    check_integrity(&dashboard, &headers, None).await
}

/// `POST /verification`: the same, with a receipt from a connection email.
async fn verification_with_receipt(
    State(dashboard): State<Arc<Dashboard>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, _, pairs) = match posted_form(&dashboard, &headers, &body, "/").await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let receipt = pairs
        .iter()
        .find(|(name, _)| name == "recu")
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    check_integrity(&dashboard, &headers, Some(&receipt)).await
}

/// Reads a hub's receipt: its signature by a hub this dashboard trusts,
/// its type, and that it is this person's.
async fn read_receipt(dashboard: &Dashboard, person: &Person, receipt: &str) -> Option<Head> {
    let header = jose::peek_header(receipt).ok()?;
    if header.typ.as_deref() != Some(RECEIPT_TYP) {
        return None;
    }
    for verifier in &dashboard.receipt_verifiers {
        let Ok(claims) = verifier.verify_signature(receipt).await else {
            continue;
        };
        let issuer = claims.get("iss").and_then(Value::as_str);
        if issuer != Some(verifier.settings().issuer.as_str())
            || claims.get("sub").and_then(Value::as_str) != Some(person.sub.as_str())
        {
            return None;
        }
        let seq = claims.get("seq").and_then(Value::as_i64)?;
        let hash = claims.get("head").and_then(Value::as_str)?;
        use base64::Engine as _;
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(hash)
            .ok()?
            .try_into()
            .ok()?;
        return Some(Head { seq, hash });
    }
    None
}

/// The hubs' receipt type (hub::trail::RECEIPT_TYP: apps share no code).
const RECEIPT_TYP: &str = "trail-receipt+jwt";

async fn check_integrity(
    dashboard: &Dashboard,
    headers: &HeaderMap,
    receipt: Option<&str>,
) -> Response {
    let lang = Lang::of(headers, None);
    let session = load(dashboard, headers).await;
    let Some(person) = &session.data.user else {
        return Redirect::to("/").into_response();
    };
    let Ok(traces) = trail(dashboard, person).await else {
        return unavailable(dashboard, lang);
    };
    let trail_keys = dashboard.trail_keys.get();
    let mut findings = integrity::check_chain(person.sub.as_str(), &traces, &trail_keys);
    let browser = web::cookie_value(headers, HEAD_COOKIE)
        .and_then(|value| integrity::parse_browser_head(&trail_keys, person.sub.as_str(), &value));
    if let Some(head) = &browser {
        findings.extend(integrity::check_head(&traces, head));
    }
    let receipt = match receipt {
        None => None,
        Some(receipt) => match read_receipt(dashboard, person, receipt).await {
            Some(head) => {
                let finding = integrity::check_head(&traces, &head);
                let text = lang.pick("Reçu vérifié : entrée n°", "Receipt checked: entry no.");
                findings.extend(finding);
                Some((true, format!("{text} {}.", head.seq)))
            }
            None => Some((
                false,
                lang.pick(
                    "Ce reçu n'est pas valable : il n'est pas signé par la plateforme, ou il concerne une autre personne.",
                    "This receipt is not valid: it is not signed by the platform, or it is another person's.",
                )
                .to_owned(),
            )),
        },
    };
    findings.dedup();
    let hub = &dashboard.config.hub_name;
    let template = VerificationTemplate {
        lang,
        hub,
        count: traces.len(),
        findings: findings
            .iter()
            .map(|finding| finding_text(finding, lang, hub))
            .collect(),
        last_hash: traces.last().map(|trace| {
            trace
                .hash
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect()
        }),
        receipt,
        browser_head: browser.is_some(),
        csrf: session.csrf_token(),
    };
    let title = lang.pick("Intégrité de l'historique", "History integrity");
    let mut response = page(dashboard, title, &template, lang, Some("/verification"));
    // An intact head is what this browser will hold the trail to next time.
    if findings.is_empty()
        && let Some(last) = traces.last()
        && let Some(value) = integrity::browser_head(
            &trail_keys,
            person.sub.as_str(),
            &Head {
                seq: last.seq,
                hash: last.hash,
            },
        )
    {
        let secure = if dashboard.config.public_url.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        if let Ok(cookie) = axum::http::HeaderValue::from_str(&format!(
            "{HEAD_COOKIE}={value}; Path=/; Max-Age=34214400; HttpOnly; SameSite=Lax{secure}"
        )) {
            response
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, cookie);
        }
    }
    response
}

/// The form's pairs (repeated names allowed, as checkboxes send).
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// A form posted by a logged-in person: the page language, the person and
/// the form's pairs; else where to go (`anonymous_to` when nobody is
/// logged in, the expired-form page without the session's CSRF token).
async fn posted_form(
    dashboard: &Dashboard,
    headers: &HeaderMap,
    body: &[u8],
    anonymous_to: &str,
) -> Result<(Lang, Person, Vec<(String, String)>), Response> {
    let lang = Lang::of(headers, None);
    let session = load(dashboard, headers).await;
    let Some(person) = session.data.user.clone() else {
        return Err(Redirect::to(anonymous_to).into_response());
    };
    let pairs = form_pairs(body);
    if !csrf_ok(&session, &pairs) {
        return Err(form_expired(dashboard, lang));
    }
    Ok((lang, person, pairs))
}

fn csrf_ok(session: &Session<SessionData>, pairs: &[(String, String)]) -> bool {
    let token = pairs
        .iter()
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.as_str());
    session.check_csrf(token)
}

async fn set_providers(
    State(dashboard): State<Arc<Dashboard>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (lang, person, pairs) = match posted_form(&dashboard, &headers, &body, "/").await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let person = &person;
    let blocked: Vec<String> = dashboard
        .providers
        .iter()
        .filter(|(id, _)| {
            pairs
                .iter()
                .any(|(name, value)| name == "blocked" && value == id)
        })
        .map(|(id, _)| id.clone())
        .collect();
    let Some(mut settings) = load_settings(&dashboard, person).await else {
        return unavailable(&dashboard, lang);
    };
    let newly_blocked: Vec<String> = blocked
        .iter()
        .filter(|id| !settings.blocked_providers.contains(id))
        .cloned()
        .collect();
    settings.blocked_providers = blocked;
    if !end_sessions(&dashboard, person, &mut settings, &newly_blocked).await {
        return unavailable(&dashboard, lang);
    }
    tracing::info!(blocked = settings.blocked_providers.len(), "providers set");
    Redirect::to("/").into_response()
}

/// Saves the settings with the sessions opened through `providers` ended
/// now, and asks every hub to end them at once and tell their services
/// (docs/dashboard.md). A block or a report ends the sessions already
/// open, not only the next logins: a stolen account stops working
/// everywhere. Returns whether it was saved.
async fn end_sessions(
    dashboard: &Dashboard,
    person: &Person,
    settings: &mut Settings,
    providers: &[String],
) -> bool {
    let now = dashboard.clock.now();
    for provider in providers {
        settings.sessions_ended.insert(provider.clone(), now);
    }
    let Ok(bytes) = serde_json::to_vec(&settings) else {
        return false;
    };
    // The settings first: from now on every hub refuses those sessions at
    // their next use, whatever becomes of the queue.
    if let Err(error) = dashboard
        .preferences
        .save(person.sub.as_str(), &bytes)
        .await
    {
        tracing::error!(%error, "settings not saved");
        return false;
    }
    for provider in providers {
        if let Err(error) = dashboard
            .revocations
            .push(person.sub.as_str(), provider, now)
            .await
        {
            tracing::error!(%error, "sessions' end not queued");
        }
    }
    true
}

fn form_expired(dashboard: &Dashboard, lang: Lang) -> Response {
    dashboard.rp.failure(RpFailure::FormExpired, lang)
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportTemplate {
    lang: Lang,
    connections: Vec<Row>,
    csrf: String,
}

async fn report_form(State(dashboard): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers, None);
    let mut session = load(&dashboard, &headers).await;
    let Some(person) = &session.data.user else {
        // The mail's link: log in first, then come back here.
        session
            .data
            .come_back_to(&LocalPath::parse("/signalement").unwrap_or_else(|_| LocalPath::root()));
        return see_other("/login", dashboard.rp.sessions().save(&session).await.ok());
    };
    let Ok(traces) = trail(&dashboard, person).await else {
        return unavailable(&dashboard, lang);
    };
    let template = ReportTemplate {
        lang,
        connections: connections(&traces)
            .rev()
            .map(|trace| row(trace, lang))
            .collect(),
        csrf: session.csrf_token(),
    };
    let title = lang.pick("Signaler une connexion", "Report a login");
    page(&dashboard, title, &template, lang, Some("/signalement"))
}

fn connections(traces: &[Trace]) -> impl DoubleEndedIterator<Item = &Trace> {
    traces.iter().filter(|trace| {
        matches!(
            serde_json::from_slice::<Entry>(&trace.body),
            Ok(Entry::Connection { .. })
        )
    })
}

#[derive(Template)]
#[template(path = "reported.html")]
struct ReportedTemplate<'a> {
    lang: Lang,
    hub: &'a str,
    when: String,
    service: String,
    provider: String,
}

async fn report(
    State(dashboard): State<Arc<Dashboard>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (lang, person, pairs) = match posted_form(&dashboard, &headers, &body, "/signalement").await
    {
        Ok(form) => form,
        Err(response) => return response,
    };
    let person = &person;
    let field = |wanted: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.clone())
    };
    let Ok(traces) = trail(&dashboard, person).await else {
        return unavailable(&dashboard, lang);
    };
    let about = field("seq")
        .and_then(|seq| seq.parse::<i64>().ok())
        .and_then(|seq| connections(&traces).find(|trace| trace.seq == seq));
    let Some(about) = about else {
        return refuse(&dashboard, lang, DashboardError::UnknownConnection);
    };
    let comment: String = field("comment")
        .unwrap_or_default()
        .chars()
        .take(1000)
        .collect();
    let entry = Entry::Report {
        about_seq: about.seq,
        comment,
    };
    let trail_keys = dashboard.trail_keys.get();
    let written = match (serde_json::to_vec(&entry), trail_keys.first()) {
        (Ok(bytes), Some(key)) => dashboard
            .traces
            .append(person.sub.as_str(), dashboard.clock.now(), &bytes, key)
            .await
            .is_ok(),
        _ => false,
    };
    if !written {
        return unavailable(&dashboard, lang);
    }
    if let Ok(Entry::Connection { provider_id, .. }) = serde_json::from_slice(&about.body)
        && !provider_id.is_empty()
    {
        let Some(mut settings) = load_settings(&dashboard, person).await else {
            return unavailable(&dashboard, lang);
        };
        if !end_sessions(&dashboard, person, &mut settings, &[provider_id]).await {
            return unavailable(&dashboard, lang);
        }
    }
    tracing::info!(about = about.seq, "connection reported");
    let about = row(about, lang);
    let template = ReportedTemplate {
        lang,
        hub: &dashboard.config.hub_name,
        when: about.when,
        service: about.what,
        provider: about.provider,
    };
    let title = lang.pick("Signalement enregistré", "Report recorded");
    page(&dashboard, title, &template, lang, None)
}
