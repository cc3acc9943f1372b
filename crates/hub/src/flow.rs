//! The login through the hub, as states kept in the browser's session.
//!
//! ```text
//!  service ──/api/v2/authorize──▶ Interaction ──/interaction (choice page)
//!                                      │ POST /interaction/choose
//!                                      ▼
//!                               AtProvider ──▶ identity provider (prompt=login, PKCE)
//!                                      │ /api/v2/oidc-callback/{provider}
//!                                      │   state, iss, ID token, userinfo, acr,
//!                                      │   identity checks, national register
//!                                      ▼   (session id rotated)
//!                                 Verified ──/interaction/consent (consent page)
//!                                      │ POST /interaction/consent
//!                                      ▼
//!  service ◀──code, state, iss── Grant issued (the identity stays in the
//!                                 session, sealed under the cookie, until it ends)
//! ```
//!
//! Every state lives in the session, which the store keeps sealed under the
//! cookie: a flow begun on one hub process finishes on any other.

use oidc::op::AuthorizationRequest;
use oidc::rp::PendingLogin;
use oidc::{Acr, Identity, UnixSeconds};
use serde::{Deserialize, Serialize};

/// Everything the hub remembers of one browser.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SessionData {
    /// The service's request being served.
    #[serde(default)]
    pub interaction: Option<AuthorizationRequest>,
    /// A login in progress at an identity provider.
    #[serde(default)]
    pub at_provider: Option<AtProvider>,
    /// The verified person, once back from a provider.
    #[serde(default)]
    pub verified: Option<Verified>,
    /// A banner for the choice page (after a provider failed).
    #[serde(default)]
    pub banner: Option<Banner>,
    /// Whether the current request is served by single sign-on.
    #[serde(default)]
    pub sso: bool,
    /// Where to send the browser once the provider has logged out.
    #[serde(default)]
    pub logout_redirect: Option<String>,
    /// The services this session logged in to, told when it ends.
    #[serde(default)]
    pub signed_in: Vec<SignedIn>,
    /// What [`crate::revoke::file_session`] last filed for this session:
    /// a digest of the filing and when it lapses. A single sign-on that
    /// would file the same thing again, while the filing outlives the
    /// session, writes nothing.
    #[serde(default)]
    pub filed: Option<(String, i64)>,
}

/// A service the session logged in to, and the `sub` it was given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    /// The service.
    pub client_id: String,
    /// Its pairwise `sub` for the person.
    pub sub: String,
}

/// A login sent to an identity provider.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AtProvider {
    /// The provider's id.
    pub provider: String,
    /// Our state, nonce and PKCE verifier for it.
    pub pending: PendingLogin,
}

/// A person verified by a provider and the register.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verified {
    /// The provider used.
    pub provider: String,
    /// The level the provider proved.
    pub acr: Acr,
    /// When the person authenticated (the provider's word).
    pub auth_time: UnixSeconds,
    /// When the hub verified the provider's answer (its own clock): what a
    /// person's « end my sessions » is compared with.
    #[serde(default)]
    pub verified_at: UnixSeconds,
    /// The register's identity, with the provider's email: what the `sub`
    /// is computed on, and what the standard platform releases.
    pub identity: Identity,
    /// The provider's own identity (its birth date as services read it):
    /// what the plus platform releases, beside the register's `rnipp_*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_identity: Option<Identity>,
    /// The birth date exactly as the provider sent it, a presumed
    /// `1970-00-00` included (`idp_birthdate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_birthdate: Option<String>,
    /// The provider's ID token, for logging out there.
    pub provider_id_token: String,
    /// How the person authenticated, as the provider said (`amr`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

/// Why the citizen is back on the choice page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Banner {
    /// The login at this provider did not succeed.
    ProviderFailed(String),
    /// The person blocked this provider on the dashboard.
    ProviderBlocked(String),
    /// The provider proved a lower level than the service asked (an
    /// identity not certified, for eidas3).
    LevelTooLow(String, oidc::Acr),
    /// The service does not accept the provider the session was opened
    /// with (its `providers`, `blocked_providers`).
    ProviderNotAccepted(String),
    /// The session is below the level the service asks.
    HigherLevel(oidc::Acr),
    /// The person ended, from the dashboard, every session opened with
    /// this provider.
    SessionEnded(String),
}

impl Banner {
    /// The banner's text.
    pub fn text(&self, lang: web::Lang) -> String {
        match (self, lang) {
            (Banner::ProviderFailed(name), web::Lang::Fr) => format!(
                "La connexion à {name} n'a pas été possible. Veuillez réessayer ou choisir un autre moyen de connexion."
            ),
            (Banner::ProviderFailed(name), web::Lang::En) => format!(
                "Logging in with {name} did not work. Please try again or choose another account."
            ),
            (Banner::ProviderBlocked(name), web::Lang::Fr) => format!(
                "Vous avez bloqué {name} pour votre identité depuis votre tableau de bord. Choisissez un autre moyen de connexion, ou débloquez-le depuis le tableau de bord."
            ),
            (Banner::ProviderBlocked(name), web::Lang::En) => format!(
                "You blocked {name} for your identity on your dashboard. Choose another account, or unblock it on the dashboard."
            ),
            (Banner::LevelTooLow(name, acr), web::Lang::Fr) => format!(
                "Votre identité chez {name} n'a pas le niveau de sécurité que demande ce service ({acr}) : pour ce niveau, l'identité doit être certifiée. Choisissez un autre moyen de connexion, ou faites d'abord certifier votre identité."
            ),
            (Banner::LevelTooLow(name, acr), web::Lang::En) => format!(
                "Your identity at {name} does not have the level of assurance this service asks ({acr}): at this level, the identity must be certified. Choose another account, or have your identity certified first."
            ),
            (Banner::ProviderNotAccepted(name), web::Lang::Fr) => format!(
                "Vous êtes connecté(e) avec {name}, que ce service n'accepte pas. Choisissez un autre moyen de connexion."
            ),
            (Banner::ProviderNotAccepted(name), web::Lang::En) => format!(
                "You are logged in with {name}, which this service does not accept. Choose another account."
            ),
            (Banner::HigherLevel(acr), web::Lang::Fr) => format!(
                "Ce service demande un niveau de sécurité plus élevé ({acr}) que celui de votre connexion en cours. Choisissez un moyen de connexion qui le permet."
            ),
            (Banner::HigherLevel(acr), web::Lang::En) => format!(
                "This service asks a higher level of assurance ({acr}) than your current login. Choose an account that gives it."
            ),
            (Banner::SessionEnded(name), web::Lang::Fr) => format!(
                "Vous avez fermé depuis votre tableau de bord les connexions ouvertes avec {name}. Reconnectez-vous."
            ),
            (Banner::SessionEnded(name), web::Lang::En) => format!(
                "You closed, from your dashboard, the logins opened with {name}. Please log in again."
            ),
        }
    }
}
