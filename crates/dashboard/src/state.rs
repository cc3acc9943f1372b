//! The running dashboard: its parts, its relying-party side, the
//! browser's session.

use std::fmt;
use std::sync::Arc;

use axum::http::HeaderMap;
use jose::Alg;
use oidc::rp::{Login, RelyingParty, RpSettings};
use oidc::{Acr, Clock, ConfigError, RedirectUri};
use store::{Preferences, Revocations, Sessions, Tokens, Traces, TrailKeyRing};
use web::rp::{Connection, Kept, RpApp, RpFailure, RpSide, SideSettings, SignedIn, Visit};
use web::{Lang, Session, SessionManager};

use crate::config::Config;

/// How far back the history goes: six months.
pub(crate) const HISTORY_SECS: i64 = 183 * 86_400;

/// The dashboard.
pub struct Dashboard {
    pub(crate) config: Config,
    pub(crate) rp: RpSide,
    pub(crate) traces: Arc<dyn Traces>,
    /// How long the trails keep their entries (`[traces] retention_days`).
    pub(crate) retention_secs: i64,
    pub(crate) preferences: Arc<dyn Preferences>,
    pub(crate) revocations: Arc<dyn Revocations>,
    /// The trail's chain keys, current first, reread by the process.
    pub(crate) trail_keys: Arc<TrailKeyRing>,
    /// One verifier per hub whose receipts are accepted.
    pub(crate) receipt_verifiers: Vec<RelyingParty>,
    /// Every provider of the federation, by id, with its name.
    pub(crate) providers: Vec<(String, String)>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// How long a dashboard session lasts (and a back-channel logout is kept).
pub(crate) const SESSION_SECS: i64 = 900;

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
    /// How long the trails keep their entries, in seconds: an entry
    /// younger than that is never forgotten.
    pub retention_secs: i64,
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

/// The dashboard's name in its pages' banner.
fn site_of(hub_name: &str, lang: Lang) -> String {
    format!("{} {hub_name}", lang.pick("Tableau de bord", "Dashboard"))
}

impl Dashboard {
    /// Its name in its pages' banner.
    pub(crate) fn site(&self, lang: Lang) -> String {
        site_of(&self.config.hub_name, lang)
    }

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
            site: site_of(&config.hub_name, Lang::Fr),
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
            retention_secs: parts.retention_secs,
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
pub(crate) type SessionData = Visit;

/// The person, as the dashboard knows them: their `sub` for the dashboard
/// (the pseudonym their trail is kept under) and their names.
pub(crate) type Person = SignedIn;

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

/// The browser's session; a person the hub said logged out is gone.
pub(crate) async fn load(dashboard: &Dashboard, headers: &HeaderMap) -> Session<SessionData> {
    dashboard.rp.visit(headers).await
}

/// The one hub the dashboard logs in through.
pub(crate) const HUB: &str = "standard";
