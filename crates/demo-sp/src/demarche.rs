//! A démarche: one service provider of the portal, with its own
//! registration at a hub (client id, entity, scopes), its own sessions, and
//! its dossiers kept under the `sub` it receives, never under a name.
//!
//! What every démarche does is here: logging in (through the hub, or for
//! the ANTS space with its own account too), checking the level received,
//! logging out through the hub, starting a dossier (one of a kind in
//! progress), and walking its form step by step with drafts. What differs
//! is in the démarche's own module.

use oidc::ConfigError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use jose::Alg;
use oidc::rp::{Login, RelyingParty, RpSettings};
use oidc::types::random_token;
use oidc::{Acr, Clock, RedirectUri, Secret};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::{Dossier, DossierStatus, Dossiers, StoreError};
use web::rp::{Connection, Kept, RpApp, RpFailure, RpSide, SideSettings, SignedIn};
use web::{ErrorPage, Lang, LocalPath, Session, SessionManager, see_other};

use crate::errors::{CATALOGUE, DemarcheError};
use crate::form::{Content, Procedure, Step, parse_body};
use crate::view::{Action, Drawn, Notice, Section, Sheet, StepPage, framed};

/// Which démarche a service is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The ANTS-style space: driving licence, ID card or passport,
    /// vehicle registration (eidas1).
    Ants,
    /// The tax return in 5 steps (eidas1).
    Impots,
    /// The registered electronic letter (eidas2).
    Lettre,
    /// The voting proxy (eidas3: a certified identity).
    Procuration,
}

/// A future of a démarche's own code.
pub type Task<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What one démarche is, and what it does beyond what every démarche does
/// (logging in and out, dossiers, steps, drafts): one table per démarche,
/// in its module. The portal's table (`crate::service`) says which is
/// which.
#[derive(Debug)]
pub struct Service {
    /// Its path on the portal, also its name in the store.
    pub path: &'static str,
    /// Its name, in the banner of its pages.
    pub name: &'static str,
    /// What it does, in a sentence.
    pub summary: &'static str,
    /// The level its démarches need.
    pub level: Acr,
    /// The level its login asks (the voting proxy asks less first).
    pub login_level: Acr,
    /// The démarches it offers.
    pub procedures: &'static [Procedure],
    /// Its own routes under a base path, besides every démarche's.
    pub routes: fn(&str) -> Router<Arc<Demarche>>,
    /// The logged-in citizen's home.
    pub home: for<'a> fn(&'a Demarche, &'a Session<Visit>, &'a User) -> Task<'a, Response>,
    /// The page of a submitted dossier.
    pub receipt: fn(&Demarche, &Session<Visit>, &Dossier, &Content, &Procedure) -> Sheet,
    /// What a step page says first.
    pub notices: fn(&Demarche, &Content) -> Vec<Notice>,
    /// What happens once a dossier is filed (receipts, notices).
    pub on_file: for<'a> fn(
        &'a Demarche,
        &'a User,
        &'a Dossier,
        &'a mut Content,
        &'static Procedure,
    ) -> Task<'a, ()>,
    /// The page for a citizen logged in under [`Service::level`].
    pub level_too_low: fn(&Demarche, &Session<Visit>, &User) -> Response,
}

/// No routes of its own.
pub fn no_routes(_: &str) -> Router<Arc<Demarche>> {
    Router::new()
}

/// Nothing to say first on a step page.
pub fn no_notices(_: &Demarche, _: &Content) -> Vec<Notice> {
    Vec::new()
}

/// The generic refusal of a level under the démarche's.
pub fn level_too_low(demarche: &Demarche, _: &Session<Visit>, _: &User) -> Response {
    demarche.refuse(DemarcheError::LevelTooLow)
}

/// `[[demo_sp.demarches]]`: one démarche's registration at its hub.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Which démarche.
    pub service: Kind,
    /// The hub's name on the login button (`Passerelle`, `Passerelle+`).
    #[serde(default = "default_label")]
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
    /// The service's own accounts (the ANTS space's login), besides the hub.
    #[serde(default)]
    pub account: Option<AccountLogin>,
    /// Where a citizen learns how to have an identity certified (the voting
    /// proxy links there when the level is too low).
    #[serde(default)]
    pub certification_url: Option<String>,
    /// A data provider's API the service reads, right after a login through
    /// the hub, with the access token it received (FranceConnect's
    /// « fournisseurs de données »); its members join the identity's claims
    /// for the forms to be filled in from.
    #[serde(default)]
    pub data_url: Option<String>,
}

/// `[demo_sp.demarches.account]`: an identity provider the service trusts
/// directly, with no hub in between.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountLogin {
    /// The button's text.
    pub label: String,
    /// The provider's issuer.
    pub issuer: String,
    /// Our client id there.
    pub client_id: String,
    /// Our client secret there.
    pub client_secret: oidc::Secret,
    /// Scopes asked.
    #[serde(default = "default_scopes")]
    pub scopes: String,
}

fn default_label() -> String {
    "Passerelle".into()
}

fn default_scopes() -> String {
    "openid identite_pivot email".into()
}

impl Settings {
    /// Checks the settings; the error names the bad path.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        self.registration().check(path)?;
        if let Some(account) = &self.account {
            account.registration().check(&format!("{path}.account"))?;
        }
        if let Some(url) = &self.certification_url {
            RedirectUri::parse(url)
                .map_err(|error| ConfigError::new(format!("{path}.certification_url"), error))?;
        }
        if let Some(url) = &self.data_url {
            RedirectUri::parse(url)
                .map_err(|error| ConfigError::new(format!("{path}.data_url"), error))?;
        }
        Ok(())
    }

    fn registration(&self) -> Registration<'_> {
        Registration {
            issuer: &self.issuer,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            scopes: &self.scopes,
        }
    }
}

impl AccountLogin {
    fn registration(&self) -> Registration<'_> {
        Registration {
            issuer: &self.issuer,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            scopes: &self.scopes,
        }
    }
}

/// A service's registration at an identity service (a hub, or the ANTS
/// account's provider): what every login button of the portal is made of.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Registration<'a> {
    /// The issuer.
    pub issuer: &'a str,
    /// Our client id there.
    pub client_id: &'a str,
    /// Our client secret there.
    pub client_secret: &'a str,
    /// The scopes asked.
    pub scopes: &'a str,
}

impl Registration<'_> {
    /// Checks the issuer and the scopes; the error names the bad path.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        RedirectUri::parse(self.issuer)
            .map_err(|error| ConfigError::new(format!("{path}.issuer"), error))?;
        if !self.scopes.split(' ').any(|scope| scope == "openid") {
            return Err(ConfigError::new(
                format!("{path}.scopes"),
                "must include openid",
            ));
        }
        Ok(())
    }

    /// The relying party answering at `redirect_uri`: ES256, PKCE, and the
    /// portal's key for the tokens a hub encrypts.
    pub fn relying_party(
        &self,
        redirect_uri: &str,
        parts: &DemarcheParts,
    ) -> Result<RelyingParty, ConfigError> {
        let redirect_uri = RedirectUri::parse(redirect_uri)
            .map_err(|error| ConfigError::new("demo_sp.public_url", error))?;
        let settings = RpSettings {
            issuer: self.issuer.to_owned(),
            client_id: self.client_id.to_owned(),
            client_secret: Secret::new(self.client_secret.to_owned()),
            redirect_uri,
            scopes: self.scopes.to_owned(),
            algs: vec![Alg::ES256],
            use_pkce: true,
            decryption_keys: vec![parts.decryption_key.clone()],
        };
        Ok(RelyingParty::new(
            settings,
            parts.http.clone(),
            parts.clock.clone(),
        ))
    }
}

/// How a citizen logged in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Through the hub.
    Passerelle,
    /// With the service's own account.
    Compte,
}

impl Via {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "passerelle" => Some(Self::Passerelle),
            "compte" => Some(Self::Compte),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Passerelle => "passerelle",
            Self::Compte => "compte",
        }
    }
}

/// The logged-in citizen, as the service knows them: the `sub` received,
/// the level, the identity (userinfo, and what the data provider adds).
pub type User = SignedIn;

/// What a démarche's session remembers.
pub type Visit = web::rp::Visit;

/// How the démarche knows a citizen.
pub trait Citizen {
    /// How they logged in.
    fn via(&self) -> Via;

    /// Whom the dossiers belong to: the `sub` received, marked with where
    /// it comes from (the hub's and the account's are different people to
    /// the service).
    fn owner(&self) -> String;
}

impl Citizen for User {
    fn via(&self) -> Via {
        Via::parse(&self.connection).unwrap_or(Via::Passerelle)
    }

    fn owner(&self) -> String {
        match self.via() {
            Via::Passerelle => self.sub.to_string(),
            Via::Compte => format!("compte:{}", self.sub),
        }
    }
}

/// How long a démarche's session lasts, and so how long a back-channel
/// logout is remembered.
const SESSION_SECS: i64 = 3600;

/// One démarche, running.
pub struct Demarche {
    /// Which.
    pub service: &'static Service,
    /// Its settings.
    pub settings: Settings,
    rp: RpSide,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Its dossiers.
    pub dossiers: Arc<dyn Dossiers>,
    /// Its mail (receipts, the letter's notices), when mail is set up.
    pub mailer: Option<Arc<mail::Mailer>>,
    /// Its base URL (`…/ants`).
    pub base_url: String,
    http: reqwest::Client,
}

impl fmt::Debug for Demarche {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Demarche")
            .field("service", &self.service.path)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// What a démarche is built from.
#[derive(Clone)]
pub struct DemarcheParts {
    /// The portal's URL.
    pub portal_url: String,
    /// Opens tokens encrypted to the service.
    pub decryption_key: jose::DecryptionKey,
    /// Sessions.
    pub sessions: Arc<dyn store::Sessions>,
    /// Back-channel logouts received.
    pub logouts: Arc<dyn store::Tokens>,
    /// Dossiers.
    pub dossiers: Arc<dyn Dossiers>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// For the hub.
    pub http: reqwest::Client,
    /// Mail.
    pub mailer: Option<Arc<mail::Mailer>>,
}

impl fmt::Debug for DemarcheParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemarcheParts")
            .field("portal_url", &self.portal_url)
            .finish_non_exhaustive()
    }
}

impl Demarche {
    /// Builds a démarche from its settings.
    pub fn new(
        service: &'static Service,
        settings: Settings,
        parts: &DemarcheParts,
    ) -> Result<Arc<Self>, ConfigError> {
        let base_url = format!("{}/{}", parts.portal_url, service.path);
        let path = |rest: &str| format!("/{}{rest}", service.path);
        let connection = |via: Via, registration: Registration<'_>, label: &str| {
            Ok::<_, ConfigError>(Connection {
                name: via.as_str().into(),
                label: label.to_owned(),
                rp: registration
                    .relying_party(&format!("{base_url}/callback/{}", via.as_str()), parts)?,
                // An own account proves its provider's level; the hub is
                // asked the démarche's.
                acr: (via == Via::Passerelle).then_some(service.login_level),
                login_path: path(&format!("/connexion/{}", via.as_str())),
                backchannel_path: (via == Via::Passerelle).then(|| path("/backchannel-logout")),
            })
        };
        let mut connections = vec![connection(
            Via::Passerelle,
            settings.registration(),
            &settings.label,
        )?];
        if let Some(account) = &settings.account {
            connections.push(connection(
                Via::Compte,
                account.registration(),
                &account.label,
            )?);
        }
        let sessions = SessionManager::new(
            parts.sessions.clone(),
            parts.clock.clone(),
            format!("passerelle_{}", service.path),
            parts.portal_url.starts_with("https://"),
            SESSION_SECS,
        );
        let side = SideSettings {
            site: service.name.into(),
            public_url: parts.portal_url.clone(),
            home: path("/"),
            landing: path("/"),
            logout_path: path("/deconnexion"),
            logged_out_path: path("/deconnecte"),
            connections,
        };
        let rp = RpSide::new(side, sessions, parts.logouts.clone(), parts.clock.clone())?;
        Ok(Arc::new(Self {
            service,
            settings,
            rp,
            clock: parts.clock.clone(),
            dossiers: parts.dossiers.clone(),
            mailer: parts.mailer.clone(),
            base_url,
            http: parts.http.clone(),
        }))
    }

    /// What the data provider gives for the access token, read at once
    /// (the token lives a minute). Without it the forms are simply not
    /// filled in: a data provider down never stops a login.
    async fn provided_data(&self, access_token: &str) -> Map<String, Value> {
        let Some(url) = &self.settings.data_url else {
            return Map::new();
        };
        let answer = async {
            let response = self
                .http
                .get(url)
                .bearer_auth(access_token)
                .send()
                .await
                .map_err(|error| error.without_url().to_string())?;
            if !response.status().is_success() {
                return Err(format!("answered {}", response.status()));
            }
            oidc::answer::json::<Map<String, Value>>(response)
                .await
                .map_err(|error| error.to_string())
        };
        match answer.await {
            Ok(data) => data
                .into_iter()
                .filter(|(_, value)| value.is_string() || value.is_number())
                .take(32)
                .collect(),
            Err(reason) => {
                tracing::warn!(
                    reason,
                    service = self.service.path,
                    "data provider unavailable"
                );
                Map::new()
            }
        }
    }

    /// A path of this démarche (`/ants/dossier/…`).
    pub fn path(&self, rest: &str) -> String {
        format!("/{}{rest}", self.service.path)
    }

    /// `target` when it is a page of this démarche (checked by
    /// [`LocalPath`]: the target may come from the request's path), else
    /// the démarche's home.
    pub fn own_page(&self, target: &str) -> LocalPath {
        self.rp.own_page(Some(target))
    }

    /// The session, forgetting a citizen the hub logged out since.
    pub async fn visit(&self, headers: &HeaderMap) -> Session<Visit> {
        self.rp.visit(headers).await
    }

    /// The sessions.
    pub fn sessions(&self) -> &SessionManager {
        self.rp.sessions()
    }

    /// A page of this démarche.
    pub fn page(&self, sheet: &Sheet, status: StatusCode) -> Response {
        framed(self.service.name, &sheet.title, sheet, status)
    }

    /// The page of a refusal, with the way back.
    pub fn refuse(&self, error: DemarcheError) -> Response {
        ErrorPage::from_catalogue(CATALOGUE, &error, self.service.name)
            .with_way_home(self.path("/"), Lang::Fr)
            .respond(Lang::Fr)
    }

    /// The page for a citizen who is not logged in: what the démarche is,
    /// and how to log in.
    pub fn welcome(&self, session: &Session<Visit>) -> Response {
        let kind = self.service;
        let mut login = Section::new("Se connecter")
            .says(format!(
                "Cette démarche demande le niveau d'identification {} : identifiez-vous avec un compte que vous avez déjà.",
                kind.login_level
            ))
            .action(Action::go(
                self.path("/connexion/passerelle"),
                format!("S'identifier avec {}", self.settings.label),
            ));
        if let Some(account) = &self.settings.account {
            login = login.action(Action::go_also(
                self.path("/connexion/compte"),
                &account.label,
            ));
        }
        let sheet = Sheet::new(kind.name, session.csrf_token())
            .lead(kind.summary)
            .section(login);
        self.page(&sheet, StatusCode::OK)
    }

    /// The logged-in citizen's dossiers here.
    pub async fn dossiers_of(&self, user: &User) -> Result<Vec<Dossier>, StoreError> {
        self.dossiers
            .of_owner(self.service.path, &user.owner())
            .await
    }

    /// A technical failure, logged, said plainly.
    pub fn failure(&self, error: &StoreError) -> Response {
        tracing::warn!(%error, service = self.service.path, "dossier storage failed");
        self.refuse(DemarcheError::Unavailable)
    }

    /// Sends a mail, when mail is set up; a failure is logged, not shown
    /// (the dossier is already safe).
    pub async fn mail(&self, to: &str, subject: &str, text: String) {
        let Some(mailer) = &self.mailer else {
            return;
        };
        if to.is_empty() {
            return;
        }
        let message = mail::Message {
            to: to.to_owned(),
            subject: subject.to_owned(),
            text,
            sender: Some(self.service.name.to_owned()),
        };
        if let Err(error) = mailer.queue(&message).await {
            tracing::warn!(%error, service = self.service.path, "mail not queued");
        }
    }

    /// Today, as a day count since 1970-01-01 (Paris time is close enough
    /// for a form's dates).
    pub fn today(&self) -> i64 {
        self.clock.now().div_euclid(86_400)
    }
}

/// A démarche's routes, under `/{kind}/`.
pub fn router(demarche: Arc<Demarche>) -> Router {
    let at = |rest: &str| demarche.path(rest);
    let own = (demarche.service.routes)(&at(""));
    Router::new()
        .route(&at(""), get(home))
        .route(&at("/"), get(home))
        .route(&at("/niveau-superieur"), get(step_up))
        .route(&at("/commencer/{procedure}"), post(start))
        .route(&at("/dossier/{id}"), get(show_dossier).post(fill_dossier))
        .merge(own)
        .with_state(demarche.clone())
        .merge(web::rp::routes(&demarche))
        .layer(DefaultBodyLimit::max(64 * 1024))
}

async fn home(State(demarche): State<Arc<Demarche>>, headers: HeaderMap) -> Response {
    let session = demarche.visit(&headers).await;
    let Some(user) = session.data.user.clone() else {
        return demarche.welcome(&session);
    };
    (demarche.service.home)(&demarche, &session, &user).await
}

/// The logged-in citizen, or a page sending them to log in first (and back
/// here after).
pub async fn require_user(
    demarche: &Demarche,
    mut session: Session<Visit>,
    here: &str,
) -> Result<(Session<Visit>, User), Box<Response>> {
    if let Some(user) = session.data.user.clone() {
        return Ok((session, user));
    }
    session.data.come_back_to(&demarche.own_page(here));
    let cookie = demarche.sessions().save(&session).await.ok();
    Err(Box::new(web::with_cookie(
        demarche.welcome(&session),
        cookie,
    )))
}

/// `/niveau-superieur`: logs in again through the hub, asking the level the
/// démarche needs (the voting proxy's eidas3).
async fn step_up(State(demarche): State<Arc<Demarche>>, headers: HeaderMap) -> Response {
    let session = demarche.visit(&headers).await;
    let level = Some(demarche.service.level);
    let lang = Lang::of(&headers, None);
    let hub = Via::Passerelle.as_str();
    demarche.rp.start(session, hub, level, true, lang).await
}

impl RpApp for Demarche {
    type Extra = ();

    fn rp(&self) -> &RpSide {
        &self.rp
    }

    /// Keeps the identity; through the hub, with what the data provider
    /// adds to it.
    async fn signed_in(
        &self,
        connection: &Connection,
        login: Login,
    ) -> Result<Kept<()>, RpFailure> {
        let mut claims = login.userinfo;
        if connection.name == Via::Passerelle.as_str() {
            claims.extend(self.provided_data(&login.access_token).await);
        }
        Ok((claims, ()))
    }
}

/// A form sent with a stale token.
pub fn expired_form(demarche: &Demarche) -> Response {
    demarche.rp.failure(RpFailure::FormExpired, Lang::Fr)
}

/// The page shown when a dossier of the kind is already in progress: the
/// documents' rule (« vous serez bloqué par un message d'erreur, indiquant
/// que vous avez déjà une [démarche] en cours »), with the way to it.
fn already_in_progress(demarche: &Demarche, procedure: &Procedure, draft: &Dossier) -> Response {
    let sheet = Sheet::new("Une démarche est déjà en cours", "")
        .notice(Notice::alert(format!(
            "Vous avez déjà une démarche « {} » en cours, commencée le {} et enregistrée le {}. Vous ne pouvez pas en commencer une deuxième : reprenez celle qui est en cours, là où vous l'avez laissée.",
            procedure.title,
            mail::french_date(draft.created_at),
            mail::french_datetime(draft.updated_at),
        )))
        .section(
            Section::default()
                .action(Action::go(
                    demarche.path(&format!("/dossier/{}", draft.id)),
                    "Reprendre ma démarche en cours",
                ))
                .action(Action::go_also(demarche.path("/"), "Retour à mon espace")),
        );
    demarche.page(&sheet, StatusCode::CONFLICT)
}

/// The dossier kind a procedure starts now (the tax return's carries the
/// year).
pub fn dossier_kind(demarche: &Demarche, procedure: &Procedure) -> String {
    if procedure.yearly {
        format!(
            "{}-{}",
            procedure.kind,
            mail::paris_year(demarche.clock.now())
        )
    } else {
        procedure.kind.to_owned()
    }
}

/// The procedure a dossier follows.
pub fn procedure_of(service: &Service, dossier: &Dossier) -> Option<&'static Procedure> {
    service.procedures.iter().find(|procedure| {
        dossier.kind == procedure.kind
            || procedure.yearly
                && dossier
                    .kind
                    .strip_prefix(procedure.kind)
                    .is_some_and(|year| year.starts_with('-'))
    })
}

/// A fresh dossier reference: letters and digits a person can read out.
pub fn reference(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let token = random_token(12);
    let letters: String = token
        .bytes()
        .take(10)
        .map(|byte| {
            char::from(
                ALPHABET
                    .get(usize::from(byte) % ALPHABET.len())
                    .copied()
                    .unwrap_or(b'A'),
            )
        })
        .collect();
    format!("{prefix}-{letters}")
}

async fn start(
    State(demarche): State<Arc<Demarche>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = demarche.visit(&headers).await;
    let (session, user) = match require_user(&demarche, session, &demarche.path("/")).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    if !session.check_csrf(parse_body(&body).get("csrf").map(String::as_str)) {
        return expired_form(&demarche);
    }
    let Some(procedure) = demarche
        .service
        .procedures
        .iter()
        .find(|procedure| procedure.kind == kind)
    else {
        return demarche.refuse(DemarcheError::UnknownProcedure);
    };
    if let Some(refusal) = level_refusal(&demarche, &session, &user) {
        return refusal;
    }
    let now = demarche.clock.now();
    let kind = dossier_kind(&demarche, procedure);
    let mine = match demarche.dossiers_of(&user).await {
        Ok(mine) => mine,
        Err(error) => return demarche.failure(&error),
    };
    if procedure.yearly
        && let Some(filed) = mine
            .iter()
            .find(|dossier| dossier.kind == kind && dossier.status == DossierStatus::Submitted)
    {
        return see_other(&demarche.path(&format!("/dossier/{}", filed.id)), None);
    }
    let content = Content::prefilled(procedure, |claim| user.claim(claim), now);
    let stored = match content.stored() {
        Ok(stored) => stored,
        Err(error) => return demarche.failure(&error),
    };
    let dossier = Dossier {
        id: reference(&procedure.kind.to_ascii_uppercase()),
        service: demarche.service.path.to_owned(),
        owner: user.owner(),
        kind: kind.clone(),
        status: DossierStatus::Draft,
        content: stored,
        created_at: now,
        updated_at: now,
    };
    match demarche.dossiers.create(&dossier).await {
        Ok(()) => see_other(&demarche.path(&format!("/dossier/{}", dossier.id)), None),
        Err(StoreError::Conflict) => {
            let draft = mine
                .iter()
                .find(|other| other.kind == kind && other.status == DossierStatus::Draft);
            match draft {
                Some(draft) => already_in_progress(&demarche, procedure, draft),
                None => demarche.failure(&StoreError::Conflict),
            }
        }
        Err(error) => demarche.failure(&error),
    }
}

/// The voting proxy's rule: a page explaining why the level received is
/// not enough, and how to get it; `None` when it is.
pub fn level_refusal(
    demarche: &Demarche,
    session: &Session<Visit>,
    user: &User,
) -> Option<Response> {
    (user.acr < demarche.service.level)
        .then(|| (demarche.service.level_too_low)(demarche, session, user))
}

/// A dossier of the logged-in citizen, or the page to show instead.
async fn own_dossier(
    demarche: &Demarche,
    user: &User,
    id: &str,
) -> Result<(Dossier, Content, &'static Procedure), Box<Response>> {
    let missing = || Box::new(demarche.refuse(DemarcheError::DossierNotFound));
    let dossier = match demarche.dossiers.get(id).await {
        Ok(Some(dossier)) => dossier,
        Ok(None) => return Err(missing()),
        Err(error) => return Err(Box::new(demarche.failure(&error))),
    };
    if dossier.service != demarche.service.path || dossier.owner != user.owner() {
        return Err(missing());
    }
    let procedure = procedure_of(demarche.service, &dossier).ok_or_else(missing)?;
    let content: Content = serde_json::from_slice(&dossier.content)
        .map_err(|_| Box::new(demarche.failure(&StoreError::Corrupt)))?;
    Ok((dossier, content, procedure))
}

async fn show_dossier(
    State(demarche): State<Arc<Demarche>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = demarche.visit(&headers).await;
    let here = demarche.path(&format!("/dossier/{id}"));
    let (session, user) = match require_user(&demarche, session, &here).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    if let Some(refusal) = level_refusal(&demarche, &session, &user) {
        return refusal;
    }
    let (dossier, content, procedure) = match own_dossier(&demarche, &user, &id).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    if dossier.status == DossierStatus::Submitted {
        return receipt(&demarche, &session, &dossier, &content, procedure);
    }
    let step = content.step.min(procedure.steps.len().saturating_sub(1));
    step_page(
        &demarche,
        &session,
        &dossier,
        &content,
        procedure,
        step,
        Vec::new(),
    )
}

/// The page of a submitted dossier.
fn receipt(
    demarche: &Demarche,
    session: &Session<Visit>,
    dossier: &Dossier,
    content: &Content,
    procedure: &Procedure,
) -> Response {
    let sheet = (demarche.service.receipt)(demarche, session, dossier, content, procedure);
    demarche.page(&sheet, StatusCode::OK)
}

/// A dossier's answers, step by step, as a reader sees them.
fn answers_by_step(content: &Content, steps: &[Step]) -> Vec<(String, Vec<(String, String)>)> {
    steps
        .iter()
        .map(|step| {
            let rows: Vec<(String, String)> = step
                .fields
                .iter()
                .filter(|field| !content.answer(field.name).is_empty())
                .map(|field| {
                    (
                        field.label.to_owned(),
                        field.shown(content.answer(field.name)),
                    )
                })
                .collect();
            (step.title.to_owned(), rows)
        })
        .filter(|(_, rows)| !rows.is_empty())
        .collect()
}

/// A filed dossier's page with its answers, one section per step.
pub fn with_answers(mut sheet: Sheet, content: &Content, procedure: &Procedure) -> Sheet {
    for (heading, rows) in answers_by_step(content, procedure.steps) {
        let mut section = Section::new(heading);
        section.rows = rows;
        sheet = sheet.section(section);
    }
    sheet
}

fn step_page(
    demarche: &Demarche,
    session: &Session<Visit>,
    dossier: &Dossier,
    content: &Content,
    procedure: &'static Procedure,
    index: usize,
    errors: Vec<(&'static str, String)>,
) -> Response {
    let Some(step) = procedure.steps.get(index) else {
        return demarche.failure(&StoreError::Corrupt);
    };
    let last = index + 1 == procedure.steps.len();
    let known = step
        .fields
        .iter()
        .filter(|field| content.locked.contains(field.name))
        .map(|field| {
            (
                field.label.to_owned(),
                field.shown(content.answer(field.name)),
            )
        })
        .collect();
    let fields = step
        .fields
        .iter()
        .filter(|field| !content.locked.contains(field.name))
        .map(|field| Drawn {
            field: *field,
            value: content.answer(field.name).to_owned(),
            error: errors
                .iter()
                .find(|(name, _)| *name == field.name)
                .map(|(_, message)| message.clone()),
        })
        .collect();
    let summary = if last {
        answers_by_step(content, procedure.steps.get(..index).unwrap_or_default())
    } else {
        Vec::new()
    };
    let notices = (demarche.service.notices)(demarche, content);
    let page = StepPage {
        procedure: format!("{} — dossier {}", procedure.title, dossier.id),
        steps: procedure.step_names(),
        current: index,
        intro: step.intro.to_owned(),
        notices,
        known,
        summary,
        fields,
        action: demarche.path(&format!("/dossier/{}", dossier.id)),
        submit: if last { procedure.submit } else { "Continuer" }.to_owned(),
        submit_value: if last { "deposer" } else { "suivant" },
        can_go_back: index > 0,
        csrf: session.csrf_token(),
        errors,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let title = format!("{} — {}", page.title(), procedure.title);
    framed(demarche.service.name, &title, &page, status)
}

async fn fill_dossier(
    State(demarche): State<Arc<Demarche>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = demarche.visit(&headers).await;
    let here = demarche.path(&format!("/dossier/{id}"));
    let (session, user) = match require_user(&demarche, session, &here).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let form = parse_body(&body);
    if !session.check_csrf(form.get("csrf").map(String::as_str)) {
        return expired_form(&demarche);
    }
    if let Some(refusal) = level_refusal(&demarche, &session, &user) {
        return refusal;
    }
    let (mut dossier, mut content, procedure) = match own_dossier(&demarche, &user, &id).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    if dossier.status == DossierStatus::Submitted {
        return demarche.own_page(&here).see_other(None);
    }
    let index = content.step.min(procedure.steps.len().saturating_sub(1));
    let Some(step) = procedure.steps.get(index) else {
        return demarche.failure(&StoreError::Corrupt);
    };
    let now = demarche.clock.now();
    let today = demarche.today();
    let action = form.get("action").map_or("suivant", String::as_str);
    match action {
        "enregistrer" | "retour" => {
            content.keep_typed(step, &form);
            if action == "retour" {
                content.step = index.saturating_sub(1);
            } else {
                content.record(now, "Brouillon enregistré");
            }
        }
        "suivant" | "deposer" => {
            let errors = content.check_step(step, Some(&form), today);
            if !errors.is_empty() {
                return step_page(
                    &demarche, &session, &dossier, &content, procedure, index, errors,
                );
            }
            if index + 1 < procedure.steps.len() {
                content.step = index + 1;
            } else {
                // Every step again: a saved draft may hold what was never checked.
                for (earlier, step) in procedure.steps.iter().enumerate() {
                    let errors = content.check_step(step, None, today);
                    if !errors.is_empty() {
                        content.step = earlier;
                        dossier.content = match content.stored() {
                            Ok(stored) => stored,
                            Err(error) => return demarche.failure(&error),
                        };
                        dossier.updated_at = now;
                        if let Err(error) = demarche.dossiers.update(&dossier).await {
                            return demarche.failure(&error);
                        }
                        return step_page(
                            &demarche, &session, &dossier, &content, procedure, earlier, errors,
                        );
                    }
                }
                dossier.status = DossierStatus::Submitted;
                content.record(now, "Démarche déposée");
            }
        }
        _ => {
            return demarche.refuse(DemarcheError::UnknownAction);
        }
    }
    let submitted = dossier.status == DossierStatus::Submitted;
    if submitted {
        (demarche.service.on_file)(&demarche, &user, &dossier, &mut content, procedure).await;
    }
    dossier.content = match content.stored() {
        Ok(stored) => stored,
        Err(error) => return demarche.failure(&error),
    };
    dossier.updated_at = now;
    if let Err(error) = demarche.dossiers.update(&dossier).await {
        return demarche.failure(&error);
    }
    if action == "enregistrer" {
        let sheet = Sheet::new("Démarche enregistrée", session.csrf_token())
            .notice(Notice::info(format!(
                "Votre démarche « {} » est enregistrée ({}). Vous la retrouverez dans votre espace : reprenez-la là où vous l'avez laissée, sans la recommencer.",
                procedure.title,
                mail::french_datetime(now),
            )))
            .section(
                Section::default()
                    .action(Action::go(here, "Reprendre maintenant"))
                    .action(Action::go_also(demarche.path("/"), "Retour à mon espace")),
            );
        return demarche.page(&sheet, StatusCode::OK);
    }
    demarche.own_page(&here).see_other(None)
}

/// The « logged in as » section with the logout button, for a démarche's
/// home page.
pub fn account_section(demarche: &Demarche, user: &User) -> Section {
    let via = match user.via() {
        Via::Passerelle => format!("avec {}", demarche.settings.label),
        Via::Compte => demarche.settings.account.as_ref().map_or_else(
            || "avec votre compte".to_owned(),
            |account| format!("— {}", account.label),
        ),
    };
    Section::default()
        .says(format!(
            "Connecté : {} ({via}, niveau {}).",
            user.name(),
            user.acr
        ))
        .action(Action::post_also(
            demarche.path("/deconnexion"),
            "Se déconnecter",
        ))
}
