//! The relying-party side of an app, written once: the login buttons, the
//! callback, logout through the provider and back-channel logout, with one
//! catalogue of what can go wrong.
//!
//! An app (the dashboard, the demo service's portal, each démarche) names
//! its [`Connection`]s (a hub, the service's own account provider), each a
//! [`RelyingParty`] with the paths it answers at, and says with
//! [`RpApp::signed_in`] what it keeps of a login. [`routes`] serves the
//! rest. The browser's session is a [`Visit`]: the login in progress, the
//! person signed in, the logout in progress; the person is forgotten as
//! soon as the provider says, by back-channel, that they logged out.
//!
//! The hub, towards its identity providers, keeps its pending login in its
//! own interaction and calls [`RelyingParty::finish`] itself.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oidc::op::Params;
use oidc::rp::{Login, PendingLogin, RelyingParty, RpError};
use oidc::types::random_token;
use oidc::{Acr, Clock, ConfigError, Sub, UnixSeconds};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error_page::{Catalogue, Entry, ErrorPage};
use crate::{Lang, LocalPath, LoggedOut, Session, SessionManager, see_other};

/// One provider an app logs people in with.
#[derive(Debug)]
pub struct Connection {
    /// Its name, in the session and in the back-channel logouts remembered
    /// (`standard`, `passerelle`, `compte`).
    pub name: String,
    /// Its name for people (« Passerelle », « Mon compte ANTS »).
    pub label: String,
    /// The relying party; its callback is served at its `redirect_uri`'s path.
    pub rp: RelyingParty,
    /// The level asked when the login button is pressed; `None` asks none
    /// and takes what the provider proves.
    pub acr: Option<Acr>,
    /// The login button's path (`GET`).
    pub login_path: String,
    /// Where the provider posts logout tokens, when it sends them.
    pub backchannel_path: Option<String>,
}

impl Connection {
    fn callback_path(&self) -> Result<String, ConfigError> {
        let uri = self.rp.settings().redirect_uri.as_str();
        url::Url::parse(uri)
            .map(|url| url.path().to_owned())
            .map_err(|_| ConfigError::new("redirect_uri", format!("{uri:?} is not a URL")))
    }
}

/// What an app's relying-party side is made of.
#[derive(Debug)]
pub struct SideSettings {
    /// The site's name on its pages.
    pub site: String,
    /// The app's base URL, the provider sends the browser back under it.
    pub public_url: String,
    /// The app's home path: the way back from its pages; a login comes
    /// back under it only.
    pub home: String,
    /// Where a login lands, unless the person was on their way to another
    /// page under `home`.
    pub landing: String,
    /// Where the logout form posts.
    pub logout_path: String,
    /// Where the provider sends the browser back after logging out
    /// (registered there as `post_logout_redirect_uri`).
    pub logged_out_path: String,
    /// The providers.
    pub connections: Vec<Connection>,
}

/// An app's relying-party side, running.
#[derive(Debug)]
pub struct RpSide {
    settings: SideSettings,
    sessions: SessionManager,
    logouts: LoggedOut,
    clock: Arc<dyn Clock>,
}

/// Why a login or a logout did not go through: one catalogued page each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpFailure {
    /// No login in progress for this provider (an old tab, another
    /// browser, a callback nobody asked for).
    NoLoginInProgress,
    /// The provider does not answer.
    Unreachable,
    /// The provider says the person cancelled or was refused.
    Cancelled,
    /// The provider's answer did not verify (state, tokens, signatures).
    Rejected,
    /// The provider proved less than the level asked.
    LevelTooLow,
    /// A form of the app sent with a stale token.
    FormExpired,
}

/// The relying-party side's error pages.
pub static CATALOGUE: &Catalogue<RpFailure> = &[
    Entry {
        error: RpFailure::NoLoginInProgress,
        code: "RP-NO-LOGIN",
        status: 400,
        title: ["Connexion expirée", "Login expired"],
        message: [
            "Aucune connexion n'est en cours. Recommencez depuis l'accueil.",
            "No login is in progress. Start again from the home page.",
        ],
    },
    Entry {
        error: RpFailure::Unreachable,
        code: "RP-UNREACHABLE",
        status: 502,
        title: [
            "Service d'identification injoignable",
            "Identification service unreachable",
        ],
        message: [
            "Le service d'identification ne répond pas. Réessayez dans quelques minutes.",
            "The identification service does not answer. Try again in a few minutes.",
        ],
    },
    Entry {
        error: RpFailure::Cancelled,
        code: "RP-CANCELLED",
        status: 403,
        title: ["Connexion annulée", "Login cancelled"],
        message: [
            "Vous n'avez pas été identifié : la connexion a été annulée ou refusée. Vous pouvez recommencer depuis l'accueil.",
            "You were not identified: the login was cancelled or refused. You may start again from the home page.",
        ],
    },
    Entry {
        error: RpFailure::Rejected,
        code: "RP-REJECTED",
        status: 502,
        title: ["Connexion refusée", "Login refused"],
        message: [
            "La réponse du service d'identification n'a pas pu être vérifiée. Recommencez depuis l'accueil.",
            "The identification service's answer could not be verified. Start again from the home page.",
        ],
    },
    Entry {
        error: RpFailure::LevelTooLow,
        code: "RP-LEVEL",
        status: 403,
        title: ["Niveau insuffisant", "Level too low"],
        message: [
            "Le niveau d'identification reçu est inférieur à celui demandé : vous n'êtes pas connecté.",
            "The level of assurance received is lower than the one asked: you are not logged in.",
        ],
    },
    Entry {
        error: RpFailure::FormExpired,
        code: "RP-FORM-EXPIRED",
        status: 403,
        title: ["Formulaire expiré", "Form expired"],
        message: [
            "Ce formulaire a expiré. Rechargez la page et recommencez.",
            "This form has expired. Reload the page and start again.",
        ],
    },
];

/// A browser's visit to an app: its whole session.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "X: Serialize + DeserializeOwned")]
pub struct Visit<X = ()> {
    #[serde(default)]
    pending: Option<Pending>,
    /// Who is signed in.
    #[serde(default)]
    pub user: Option<SignedIn<X>>,
    /// The logout in progress: the connection and our `state`.
    #[serde(default)]
    logout: Option<(String, String)>,
    /// A page of the app to come back to after logging in.
    #[serde(default)]
    return_to: Option<String>,
}

impl<X> Default for Visit<X> {
    fn default() -> Self {
        Self {
            pending: None,
            user: None,
            logout: None,
            return_to: None,
        }
    }
}

impl<X> Visit<X> {
    /// Comes back to `page` after the login to come.
    pub fn come_back_to(&mut self, page: &LocalPath) {
        self.return_to = Some(page.to_string());
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pending {
    connection: String,
    login: PendingLogin,
}

/// A person signed in through one of the app's connections.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignedIn<X = ()> {
    /// Which connection.
    pub connection: String,
    /// Who, for that provider.
    pub sub: Sub,
    /// The level proven (the lowest when the provider did not say).
    pub acr: Acr,
    /// When they signed in here.
    pub at: UnixSeconds,
    /// The identity claims the app keeps.
    pub claims: Map<String, Value>,
    /// What else the app keeps.
    pub extra: X,
    id_token_hint: String,
}

impl<X> SignedIn<X> {
    /// A claim as text, or nothing.
    pub fn claim(&self, name: &str) -> Option<String> {
        match self.claims.get(name)? {
            Value::String(text) => Some(text.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// `Prénoms NOM`.
    pub fn name(&self) -> String {
        let text = |name: &str| self.claim(name).unwrap_or_default();
        format!("{} {}", text("given_name"), text("family_name"))
            .trim()
            .to_owned()
    }
}

/// What an app keeps of a login: the claims, and its own part.
pub type Kept<X> = (Map<String, Value>, X);

/// An app with a relying-party side.
pub trait RpApp: Send + Sync + 'static {
    /// What the app keeps of a login besides the claims.
    type Extra: Clone + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Its relying-party side.
    fn rp(&self) -> &RpSide;

    /// What it keeps of a login through `connection`, whose level was
    /// already checked against the one asked; or why it refuses it.
    fn signed_in(
        &self,
        connection: &Connection,
        login: Login,
    ) -> impl Future<Output = Result<Kept<Self::Extra>, RpFailure>> + Send;
}

impl RpSide {
    /// The side of an app: its sessions in `sessions`, the logouts its
    /// providers post remembered for as long as a session lives.
    pub fn new(
        settings: SideSettings,
        sessions: SessionManager,
        logouts: Arc<dyn store::Tokens>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        for connection in &settings.connections {
            connection.callback_path()?;
        }
        let logouts = LoggedOut::new(logouts, sessions.ttl_secs());
        Ok(Self {
            settings,
            sessions,
            logouts,
            clock,
        })
    }

    /// The sessions.
    pub fn sessions(&self) -> &SessionManager {
        &self.sessions
    }

    /// A connection by name.
    pub fn connection(&self, name: &str) -> Option<&Connection> {
        self.settings
            .connections
            .iter()
            .find(|connection| connection.name == name)
    }

    /// The browser's visit; a person their provider logged out since is
    /// signed out.
    pub async fn visit<X: Serialize + DeserializeOwned>(
        &self,
        headers: &HeaderMap,
    ) -> Session<Visit<X>> {
        let mut session = match self.sessions.load::<Visit<X>>(headers).await {
            Ok(Some(session)) => session,
            _ => Session::new(Visit::default()),
        };
        if let Some(user) = &session.data.user
            && self
                .logouts
                .since(
                    &user.connection,
                    user.sub.as_str(),
                    user.at,
                    self.clock.now(),
                )
                .await
        {
            session.data.user = None;
            let _ = self.sessions.save(&session).await;
        }
        session
    }

    /// Sends the browser to log in through `connection`, asking `acr`;
    /// `force_login` asks the provider to authenticate again (a step-up).
    pub async fn start<X: Serialize + DeserializeOwned>(
        &self,
        mut session: Session<Visit<X>>,
        connection: &str,
        acr: Option<Acr>,
        force_login: bool,
        lang: Lang,
    ) -> Response {
        let Some(at) = self.connection(connection) else {
            return self.failure(RpFailure::NoLoginInProgress, lang);
        };
        match at.rp.start(acr, force_login, &[]).await {
            Ok((url, login)) => {
                session.data.pending = Some(Pending {
                    connection: at.name.clone(),
                    login,
                });
                see_other(&url, self.sessions.save(&session).await.ok())
            }
            Err(error) => {
                tracing::warn!(%error, connection, "identity service unreachable");
                self.failure(RpFailure::Unreachable, lang)
            }
        }
    }

    /// The page of a failure, with the way home.
    pub fn failure(&self, failure: RpFailure, lang: Lang) -> Response {
        ErrorPage::from_catalogue(CATALOGUE, &failure, self.settings.site.clone())
            .with_way_home(self.settings.home.clone(), lang)
            .respond(lang)
    }

    async fn callback<A: RpApp + ?Sized>(
        &self,
        app: &A,
        connection: &Connection,
        headers: &HeaderMap,
        query: &[u8],
    ) -> Response {
        let lang = Lang::of(headers, None);
        let mut session = self.visit::<A::Extra>(headers).await;
        let pending = session
            .data
            .pending
            .take()
            .filter(|pending| pending.connection == connection.name);
        let Some(pending) = pending else {
            return self.failure(RpFailure::NoLoginInProgress, lang);
        };
        let params = Params::parse(query).unwrap_or_default();
        let login = match connection.rp.finish(&pending.login, &params).await {
            Ok(login) => login,
            Err(RpError::Refused { error, .. }) => {
                // The answer is the provider's: this login is over.
                let _ = self.sessions.save(&session).await;
                tracing::info!(error, connection = connection.name, "login refused");
                return self.failure(RpFailure::Cancelled, lang);
            }
            Err(error) => {
                tracing::warn!(
                    target: "security",
                    event = "token_refused",
                    %error,
                    connection = connection.name,
                    "login answer refused"
                );
                return self.failure(
                    match error {
                        RpError::Provider(_) => RpFailure::Unreachable,
                        _ => RpFailure::Rejected,
                    },
                    lang,
                );
            }
        };
        // A service checks the level it receives (FranceConnect+'s rule).
        let acr = login.acr.unwrap_or(Acr::Eidas1);
        if pending.login.acr.is_some_and(|asked| acr < asked) {
            tracing::warn!(connection = connection.name, %acr, "level too low");
            return self.failure(RpFailure::LevelTooLow, lang);
        }
        let sub = login.sub.clone();
        let id_token_hint = login.id_token_hint.clone();
        let (claims, extra) = match app.signed_in(connection, login).await {
            Ok(kept) => kept,
            Err(failure) => return self.failure(failure, lang),
        };
        session.data.user = Some(SignedIn {
            connection: connection.name.clone(),
            sub,
            acr,
            at: self.clock.now(),
            claims,
            extra,
            id_token_hint,
        });
        let back = self.own_page(session.data.return_to.take().as_deref());
        // A new session id now that the person is known (no fixation).
        let cookie = self.sessions.rotate(session).await.ok();
        back.see_other(cookie.map(|(_, cookie)| cookie))
    }

    /// `page` when it is a page of the app (under its home, checked by
    /// [`LocalPath`]: it may come from a request), else its landing page.
    pub fn own_page(&self, page: Option<&str>) -> LocalPath {
        page.and_then(|page| LocalPath::parse(page).ok())
            .filter(|page| page.is_under(&self.settings.home))
            .or_else(|| LocalPath::parse(&self.settings.landing).ok())
            .unwrap_or_else(LocalPath::root)
    }

    async fn logout<X: Serialize + DeserializeOwned>(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Response {
        let mut session = self.visit::<X>(headers).await;
        let form = Params::parse(body).unwrap_or_default();
        if !session.check_csrf(form.get("csrf")) {
            return self.failure(RpFailure::FormExpired, Lang::of(headers, None));
        }
        let Some(user) = session.data.user.take() else {
            return see_other(&self.settings.home, None);
        };
        let state = random_token(16);
        let back = format!(
            "{}{}",
            self.settings.public_url, self.settings.logged_out_path
        );
        let url = match self.connection(&user.connection) {
            Some(at) => at
                .rp
                .end_session_url(&user.id_token_hint, &back, &state)
                .await
                .ok()
                .flatten(),
            None => None,
        };
        match url {
            Some(url) => {
                session.data.logout = Some((user.connection, state));
                see_other(&url, self.sessions.save(&session).await.ok())
            }
            None => see_other(
                &self.settings.logged_out_path,
                self.sessions.destroy(&session).await.ok(),
            ),
        }
    }

    async fn logged_out<X: Serialize + DeserializeOwned>(
        &self,
        headers: &HeaderMap,
        query: &[u8],
    ) -> Response {
        let lang = Lang::of(headers, None);
        let session = self.visit::<X>(headers).await;
        let params = Params::parse(query).unwrap_or_default();
        // Only a return carrying our own state is the end of a logout we
        // began, and proves the provider ended its session too.
        let ours = session
            .data
            .logout
            .as_ref()
            .filter(|(_, state)| params.get("state") == Some(state.as_str()));
        if ours.is_none() && session.data.user.is_some() {
            // A link from elsewhere (logout CSRF): nobody is signed out.
            return see_other(&self.settings.home, None);
        }
        let cookie = self.sessions.destroy(&session).await.ok();
        let through = ours.and_then(|(connection, _)| self.connection(connection));
        let message = match (through, lang) {
            (Some(at), Lang::Fr) => {
                format!("Vous êtes déconnecté de ce service et de {}.", at.label)
            }
            (Some(at), Lang::En) => {
                format!("You are logged out of this service and of {}.", at.label)
            }
            (None, _) => lang
                .pick(
                    "Vous êtes déconnecté de ce service.",
                    "You are logged out of this service.",
                )
                .to_owned(),
        };
        let title = lang.pick("Déconnexion", "Logged out");
        let page = LoggedOutPage {
            lang,
            title,
            message: &message,
            home: &self.settings.home,
        };
        let response = crate::render_page(&self.settings.site, title, lang, None, &page);
        crate::with_cookie(response, cookie)
    }

    async fn backchannel_logout(&self, connection: &Connection, body: &[u8]) -> Response {
        self.logouts
            .receive(&connection.rp, &connection.name, body, self.clock.now())
            .await
    }
}

/// The page a provider sends the browser back to after logging out.
#[derive(askama::Template)]
#[template(path = "logged_out.html")]
struct LoggedOutPage<'a> {
    lang: Lang,
    title: &'a str,
    message: &'a str,
    home: &'a str,
}

/// The routes of an app's relying-party side: for each connection its
/// login button, its callback and its back-channel logout; the logout form
/// and the page the providers send back to.
pub fn routes<A: RpApp>(app: &Arc<A>) -> Router {
    let side = app.rp();
    let mut router = Router::new();
    for (index, connection) in side.settings.connections.iter().enumerate() {
        // Checked when the side was made.
        let Ok(callback) = connection.callback_path() else {
            continue;
        };
        let login = {
            let app = app.clone();
            move |headers: HeaderMap| async move {
                match app.rp().settings.connections.get(index) {
                    Some(at) => {
                        let session = app.rp().visit::<A::Extra>(&headers).await;
                        let lang = Lang::of(&headers, None);
                        app.rp().start(session, &at.name, at.acr, false, lang).await
                    }
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        };
        let back = {
            let app = app.clone();
            move |headers: HeaderMap, RawQuery(query): RawQuery| async move {
                match app.rp().settings.connections.get(index) {
                    Some(at) => {
                        let query = query.unwrap_or_default();
                        app.rp()
                            .callback(app.as_ref(), at, &headers, query.as_bytes())
                            .await
                    }
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        };
        router = router
            .route(&connection.login_path, get(login))
            .route(&callback, get(back));
        if let Some(path) = &connection.backchannel_path {
            let app = app.clone();
            let receive = move |body: Bytes| async move {
                match app.rp().settings.connections.get(index) {
                    Some(at) => app.rp().backchannel_logout(at, &body).await,
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            };
            router = router.route(path, post(receive));
        }
    }
    let logout = {
        let app = app.clone();
        move |headers: HeaderMap, body: Bytes| async move {
            app.rp().logout::<A::Extra>(&headers, &body).await
        }
    };
    let logged_out = {
        let app = app.clone();
        move |headers: HeaderMap, RawQuery(query): RawQuery| async move {
            let query = query.unwrap_or_default();
            app.rp()
                .logged_out::<A::Extra>(&headers, query.as_bytes())
                .await
        }
    };
    router
        .route(&side.settings.logout_path, post(logout))
        .route(&side.settings.logged_out_path, get(logged_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side() -> RpSide {
        let stores = store::Stores::memory();
        let clock: Arc<dyn Clock> = Arc::new(oidc::FakeClock::at(1_800_000_000));
        let sessions = SessionManager::new(stores.sessions, clock.clone(), "test", false, 60);
        let settings = SideSettings {
            site: "Test".into(),
            public_url: "http://127.0.0.1:1".into(),
            home: "/ants/".into(),
            landing: "/ants/".into(),
            logout_path: "/ants/deconnexion".into(),
            logged_out_path: "/ants/deconnecte".into(),
            connections: Vec::new(),
        };
        RpSide::new(settings, sessions, stores.tokens, clock).unwrap()
    }

    #[test]
    fn a_login_comes_back_only_to_a_page_under_the_apps_home() {
        let side = side();
        let back = |page: &str| side.own_page(Some(page)).to_string();
        assert_eq!(back("/ants/dossier/AB12"), "/ants/dossier/AB12");
        assert_eq!(back("/ants/espace/permis?x=1"), "/ants/espace/permis?x=1");
        for elsewhere in [
            "/impots/",
            "//evil.example/ants/",
            "/\\evil.example/ants/",
            "https://evil.example/ants/",
            "/ants/../impots/",
            "/\tants/",
            "",
        ] {
            assert_eq!(back(elsewhere), "/ants/", "{elsewhere:?}");
        }
        assert_eq!(side.own_page(None).to_string(), "/ants/");
    }

    #[test]
    fn every_failure_has_its_page_in_the_catalogue() {
        for failure in [
            RpFailure::NoLoginInProgress,
            RpFailure::Unreachable,
            RpFailure::Cancelled,
            RpFailure::Rejected,
            RpFailure::LevelTooLow,
            RpFailure::FormExpired,
        ] {
            let entries = CATALOGUE.iter().filter(|entry| entry.error == failure);
            assert_eq!(entries.count(), 1, "{failure:?}");
        }
    }
}
