//! The town-hall console (`/mairie`): agents log in with a password and a
//! TOTP code, check a certification request's QR code (seal, month of
//! validity, still open), read the card the citizen presents (it must be
//! the request's, read with its code), record the fingerprint comparison
//! and decide. Observers may only check seals.
//!
//! The console keeps no name: the card read is shown on the page that
//! answers it and not stored; the session holds the agent, the request id
//! and whether its card was read.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use web::{Lang, Session, see_other};

use crate::WalletProvider;
use crate::api::CardRead;
use crate::certification::{Fingerprints, Request};
use crate::config::{AGENT_LOGINS_PER_QUARTER, AgentConfig, Role};
use crate::identity;
use crate::totp;
use crate::verify::VerifiedCard;

/// What the console's session holds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Desk {
    /// The logged-in agent's login.
    agent: Option<String>,
    /// The request being processed.
    request: Option<String>,
    /// Whether its card was read and matched.
    card_checked: bool,
}

type Fields = Form<HashMap<String, String>>;

fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> &'a str {
    form.get(name).map_or("", String::as_str)
}

fn page(idp: &WalletProvider, title: &str, body: &impl Template) -> Response {
    crate::render_page(
        &format!("{} — console des mairies", idp.config.name),
        title,
        Lang::Fr,
        body,
    )
}

const CONSOLE: &str = "Console des mairies";

/// The login form again, with why the login was refused.
async fn refused_login(idp: &WalletProvider, session: &Session<Desk>, text: &str) -> Response {
    let body = LoginPage {
        csrf: session.csrf_token(),
        notice: Some(Notice::error(text)),
    };
    show(idp, session, page(idp, CONSOLE, &body)).await
}

/// The agent's desk again, with why the action was refused.
async fn refused_action(
    idp: &WalletProvider,
    session: &Session<Desk>,
    agent: &AgentConfig,
    text: &str,
) -> Response {
    let body = DeskPage::new(agent, session, Some(Notice::error(text)));
    show(idp, session, page(idp, CONSOLE, &body)).await
}

/// A message above a console page (`console_notice.html`).
struct Notice {
    /// `error` or `success`.
    kind: &'static str,
    text: String,
}

impl Notice {
    fn error(text: &str) -> Self {
        Self {
            kind: "error",
            text: text.to_owned(),
        }
    }
}

async fn load(idp: &WalletProvider, headers: &HeaderMap) -> Session<Desk> {
    match idp.console_sessions.load::<Desk>(headers).await {
        Ok(Some(session)) => session,
        Ok(None) => Session::new(Desk::default()),
        Err(error) => {
            tracing::warn!(%error, "console session unreadable");
            Session::new(Desk::default())
        }
    }
}

async fn show(idp: &WalletProvider, session: &Session<Desk>, response: Response) -> Response {
    match idp.console_sessions.save(session).await {
        Ok(cookie) => {
            let mut response = response;
            response
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, cookie);
            response
        }
        Err(error) => {
            tracing::warn!(%error, "console session not saved");
            crate::errors::WalletError::Storage.into_response()
        }
    }
}

fn agent_of<'a>(idp: &'a WalletProvider, session: &Session<Desk>) -> Option<&'a AgentConfig> {
    let login = session.data.agent.as_deref()?;
    idp.config.agents.iter().find(|agent| agent.login == login)
}

#[derive(Template)]
#[template(path = "console_login.html")]
struct LoginPage {
    csrf: String,
    notice: Option<Notice>,
}

#[derive(Template)]
#[template(path = "console_desk.html")]
struct DeskPage<'a> {
    agent: &'a AgentConfig,
    role: &'static str,
    csrf: String,
    notice: Option<Notice>,
}

impl<'a> DeskPage<'a> {
    fn new(agent: &'a AgentConfig, session: &Session<Desk>, notice: Option<Notice>) -> Self {
        Self {
            agent,
            role: match agent.role {
                Role::Agent => "agent",
                Role::Observateur => "observateur",
            },
            csrf: session.csrf_token(),
            notice,
        }
    }
}

/// `GET /mairie`.
pub async fn home(State(idp): State<Arc<WalletProvider>>, headers: HeaderMap) -> Response {
    let session = load(&idp, &headers).await;
    let body = match agent_of(&idp, &session) {
        Some(agent) => page(&idp, CONSOLE, &DeskPage::new(agent, &session, None)),
        None => {
            let login = LoginPage {
                csrf: session.csrf_token(),
                notice: None,
            };
            page(&idp, CONSOLE, &login)
        }
    };
    show(&idp, &session, body).await
}

/// `POST /mairie/connexion`: password, then TOTP code (each step used
/// once), rate-limited per login.
pub async fn log_in(
    State(idp): State<Arc<WalletProvider>>,
    headers: HeaderMap,
    Form(form): Fields,
) -> Response {
    let session = load(&idp, &headers).await;
    if !session.check_csrf(form.get("csrf").map(String::as_str)) {
        return refused_login(&idp, &session, "Formulaire expiré : recommencez.").await;
    }
    let login = field(&form, "login").trim().to_owned();
    let now = idp.clock.now();
    let agent = idp.config.agents.iter().find(|agent| agent.login == login);
    let password = field(&form, "password").to_owned();
    let password_ok = match agent {
        Some(agent) => {
            let hash = agent.password_hash.clone();
            let checked = idp
                .hash_pool
                .run(move || oidc::hash_pool::argon2id::verify(None, &password, &hash))
                .await;
            match checked {
                Ok(checked) => checked,
                Err(oidc::Busy) => return crate::errors::WalletError::Busy.into_response(),
            }
        }
        None => false,
    };
    // Counted once the password was checked, so that a busy pool (503,
    // nothing checked) costs the agent none of their tries; the pool
    // bounds how many checks run at once.
    let within = idp
        .stores
        .rate_limits
        .within(
            &format!("wallet-agent:{login}"),
            AGENT_LOGINS_PER_QUARTER,
            900,
            now,
        )
        .await
        .unwrap_or(false);
    if !within {
        return refused_login(&idp, &session, "Trop de tentatives : patientez 15 minutes.").await;
    }
    let step = agent.filter(|_| password_ok).and_then(|agent| {
        let secret = totp::decode_base32(&agent.totp_secret)?;
        totp::matching_step(&secret, field(&form, "code"), now)
    });
    let (Some(agent), Some(step)) = (agent, step) else {
        tracing::info!(provider = %idp.config.id, "console login refused");
        return refused_login(
            &idp,
            &session,
            "Identifiant, mot de passe ou code incorrect.",
        )
        .await;
    };
    // A code serves once: its step is marked for as long as it could be
    // accepted again.
    let step_key = format!("totp:{}:{step}", agent.login);
    match idp.stores.used_once.mark(&step_key, now + 120, now).await {
        Ok(true) => {}
        Ok(false) => {
            return refused_login(
                &idp,
                &session,
                "Ce code a déjà servi : attendez le suivant.",
            )
            .await;
        }
        Err(error) => {
            tracing::warn!(%error, "totp step not recorded");
            return crate::errors::WalletError::Storage.into_response();
        }
    }
    tracing::info!(provider = %idp.config.id, agent = %agent.login, "console login");
    let (mut session, _) = match idp.console_sessions.rotate(session).await {
        Ok(rotated) => rotated,
        Err(_) => return crate::errors::WalletError::Storage.into_response(),
    };
    session.data = Desk {
        agent: Some(agent.login.clone()),
        ..Desk::default()
    };
    show(&idp, &session, see_other("/mairie", None)).await
}

/// `POST /mairie/deconnexion`.
pub async fn log_out(
    State(idp): State<Arc<WalletProvider>>,
    headers: HeaderMap,
    Form(form): Fields,
) -> Response {
    let session = load(&idp, &headers).await;
    if !session.check_csrf(form.get("csrf").map(String::as_str)) {
        return see_other("/mairie", None);
    }
    match idp.console_sessions.destroy(&session).await {
        Ok(cookie) => see_other("/mairie", Some(cookie)),
        Err(_) => crate::errors::WalletError::Storage.into_response(),
    }
}

/// The checks every desk action starts with: a logged-in agent and the
/// form's CSRF token.
fn desk<'a>(
    idp: &'a WalletProvider,
    session: &Session<Desk>,
    form: &HashMap<String, String>,
) -> Result<&'a AgentConfig, Box<Response>> {
    let Some(agent) = agent_of(idp, session) else {
        return Err(Box::new(see_other("/mairie", None)));
    };
    if !session.check_csrf(form.get("csrf").map(String::as_str)) {
        let notice = Notice::error("Formulaire expiré : recommencez.");
        let body = DeskPage::new(agent, session, Some(notice));
        return Err(Box::new(page(idp, CONSOLE, &body)));
    }
    Ok(agent)
}

/// A request as the console shows it (`console_request.html`).
struct Summary<'a> {
    id: &'a str,
    issued: String,
    until: String,
}

impl<'a> Summary<'a> {
    fn of(request: &'a Request) -> Self {
        Self {
            id: &request.id,
            issued: card::Date::from_time(request.issued_at).iso(),
            until: card::Date::from_time(request.expires_at).iso(),
        }
    }
}

/// The card-read step: a challenge for the counter's reader.
#[derive(Template)]
#[template(path = "console_card_step.html")]
struct CardStep<'a> {
    notice: Option<Notice>,
    request: Summary<'a>,
    challenge: String,
    csrf: String,
}

impl<'a> CardStep<'a> {
    async fn new(
        idp: &WalletProvider,
        session: &Session<Desk>,
        request: &'a Request,
        notice: Option<Notice>,
    ) -> Result<Self, Box<Response>> {
        let now = idp.clock.now();
        let challenge =
            crate::flow::issue_challenge(&idp.stores, &format!("counter:{}", request.id), now)
                .await
                .map_err(|_| Box::new(crate::errors::WalletError::Storage.into_response()))?;
        Ok(Self {
            notice,
            request: Summary::of(request),
            challenge: crate::verify::hex(&challenge),
            csrf: session.csrf_token(),
        })
    }
}

/// A valid request, as an observer sees it.
#[derive(Template)]
#[template(path = "console_observer.html")]
struct ObserverPage<'a> {
    request: Summary<'a>,
}

/// `POST /mairie/demande`: checks a request's QR code.
pub async fn check(
    State(idp): State<Arc<WalletProvider>>,
    headers: HeaderMap,
    Form(form): Fields,
) -> Response {
    let mut session = load(&idp, &headers).await;
    let agent = match desk(&idp, &session, &form) {
        Ok(agent) => agent,
        Err(response) => return *response,
    };
    session.data.request = None;
    session.data.card_checked = false;
    let request = match idp.check_request(field(&form, "seal")).await {
        Ok(request) => request,
        Err(refused) => {
            tracing::info!(provider = %idp.config.id, %refused, "certification QR refused");
            let notice = Notice::error(&format!("Demande refusée : {refused}."));
            let body = DeskPage::new(agent, &session, Some(notice));
            return show(&idp, &session, page(&idp, "Demande refusée", &body)).await;
        }
    };
    let body = if agent.role == Role::Agent {
        session.data.request = Some(request.id.clone());
        match CardStep::new(&idp, &session, &request, None).await {
            Ok(step) => page(&idp, "Demande valide", &step),
            Err(response) => return *response,
        }
    } else {
        let observed = ObserverPage {
            request: Summary::of(&request),
        };
        page(&idp, "Demande valide", &observed)
    };
    show(&idp, &session, body).await
}

async fn current_request(idp: &WalletProvider, session: &Session<Desk>) -> Option<Request> {
    let id = session.data.request.as_deref()?;
    idp.certification_request(id)
        .await
        .ok()
        .flatten()
        .filter(|request| {
            request.state == crate::certification::RequestState::Open
                && idp.clock.now() <= request.expires_at
        })
}

/// [`desk`], for the actions only agents may take (card reads,
/// decisions).
fn deciding_agent<'a>(
    idp: &'a WalletProvider,
    session: &Session<Desk>,
    form: &HashMap<String, String>,
) -> Result<&'a AgentConfig, Box<Response>> {
    let agent = desk(idp, session, form)?;
    if agent.role == Role::Agent {
        return Ok(agent);
    }
    let notice = Notice::error("Votre rôle ne permet pas de lire une carte ni de décider.");
    let body = DeskPage::new(agent, session, Some(notice));
    let mut response = page(idp, "Action non permise", &body);
    *response.status_mut() = axum::http::StatusCode::FORBIDDEN;
    Err(Box::new(response))
}

/// `POST /mairie/carte`: the card read at the counter must verify and be
/// the request's card.
pub async fn read_card(
    State(idp): State<Arc<WalletProvider>>,
    headers: HeaderMap,
    Form(form): Fields,
) -> Response {
    let mut session = load(&idp, &headers).await;
    let agent = match deciding_agent(&idp, &session, &form) {
        Ok(agent) => agent,
        Err(response) => return *response,
    };
    let Some(request) = current_request(&idp, &session).await else {
        let text = "Aucune demande en cours : vérifiez d'abord le QR code.";
        return refused_action(&idp, &session, agent, text).await;
    };
    let read: Result<CardRead, _> = serde_json::from_str(field(&form, "read").trim());
    let verified = match read {
        Ok(read) => idp
            .read_card(&read, &format!("counter:{}", request.id))
            .await
            .map_err(|error| error.message().to_owned()),
        Err(_) => Err("la lecture collée est illisible".to_owned()),
    };
    let refusal = match &verified {
        Ok(card) if identity::binding(card) == request.binding => None,
        Ok(_) => {
            tracing::info!(provider = %idp.config.id, "counter: not the request's card");
            Some("Cette carte n'est pas celle de la demande : la certification ne peut pas continuer avec elle.".to_owned())
        }
        Err(message) => Some(format!("Lecture refusée : {message}")),
    };
    let card = match (verified, refusal) {
        (Ok(card), None) => card,
        (_, refusal) => {
            let notice = Notice::error(refusal.as_deref().unwrap_or_default());
            return match CardStep::new(&idp, &session, &request, Some(notice)).await {
                Ok(step) => show(&idp, &session, page(&idp, "Carte refusée", &step)).await,
                Err(response) => *response,
            };
        }
    };
    session.data.card_checked = true;
    let body = CardPage {
        request: Summary::of(&request),
        card: &card,
        csrf: session.csrf_token(),
    };
    show(&idp, &session, page(&idp, "Carte vérifiée", &body)).await
}

/// The card read at the counter, and the fingerprint comparison to record.
#[derive(Template)]
#[template(path = "console_card.html")]
struct CardPage<'a> {
    request: Summary<'a>,
    card: &'a VerifiedCard,
    csrf: String,
}

/// `POST /mairie/decision`: records the comparison and the decision.
pub async fn decide(
    State(idp): State<Arc<WalletProvider>>,
    headers: HeaderMap,
    Form(form): Fields,
) -> Response {
    let mut session = load(&idp, &headers).await;
    let agent = match deciding_agent(&idp, &session, &form) {
        Ok(agent) => agent,
        Err(response) => return *response,
    };
    let request = current_request(&idp, &session).await;
    let (Some(request), true) = (request, session.data.card_checked) else {
        let text = "Lisez d'abord la carte de la demande.";
        return refused_action(&idp, &session, agent, text).await;
    };
    let Some(fingerprints) = Fingerprints::parse(field(&form, "fingerprints")) else {
        let text = "Choisissez le résultat de la comparaison des empreintes.";
        return refused_action(&idp, &session, agent, text).await;
    };
    if let Err(error) = idp.decide(&request, agent, fingerprints).await {
        return refused_action(&idp, &session, agent, error.message()).await;
    }
    session.data.request = None;
    session.data.card_checked = false;
    let outcome = if fingerprints == Fingerprints::Concordantes {
        "Certification accordée"
    } else {
        "Certification refusée"
    };
    let notice = Notice {
        kind: "success",
        text: format!(
            "Décision enregistrée ({}) : {outcome}. La personne reçoit le résultat par courriel et dans l'application sous 48 heures.",
            fingerprints.label()
        ),
    };
    let body = DeskPage::new(agent, &session, Some(notice));
    show(&idp, &session, page(&idp, "Décision enregistrée", &body)).await
}
