//! The login: authorize request, login form, password check, code.

use std::sync::Arc;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oidc::Identity;
use oidc::op::{AuthorizationRequest, Grant, Params};
use serde::{Deserialize, Serialize};
use store::AccountStatus;
use web::{Lang, Page, Session, see_other};

use crate::PasswordProvider;
use crate::config::LoginKind;
use crate::errors::IdpError;

/// What the provider remembers of a browser.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct LoginSession {
    request: Option<AuthorizationRequest>,
    account_id: Option<String>,
}

/// Failed logins allowed per identifier in [`FAILURE_WINDOW_SECS`].
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW_SECS: i64 = 15 * 60;

/// `GET /authorize`.
pub async fn authorize(
    State(idp): State<Arc<PasswordProvider>>,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(params) = Params::parse(query.unwrap_or_default().as_bytes()) else {
        return IdpError::UnknownClient.into_response();
    };
    let request = match idp.provider.parse_authorize(&params) {
        Ok(request) => request,
        Err(refused) => {
            return web::answer_refused_authorize(&idp.provider, refused, |check| {
                let page = if check == "check_client" {
                    IdpError::UnknownClient
                } else {
                    IdpError::BadRedirectUri
                };
                page.into_response()
            });
        }
    };
    // Every login asks for the password again (the hub always sends
    // prompt=login), so a new session starts here.
    let session = Session::new(LoginSession {
        request: Some(request),
        account_id: None,
    });
    match idp.sessions.save(&session).await {
        Ok(cookie) => see_other("/login", Some(cookie)),
        Err(error) => IdpError::from(error).into_response(),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTemplate<'a> {
    lang: Lang,
    name: &'a str,
    csrf: String,
    identifier_label: &'static str,
    identifier_hint: &'static str,
    password_label: &'static str,
    /// `numeric` for numbers, `email` for addresses (the keyboard shown).
    input_mode: &'static str,
    identifier: &'a str,
    error: Option<&'a str>,
}

fn render_login(
    idp: &PasswordProvider,
    session: &Session<LoginSession>,
    identifier: &str,
    notice: Option<Notice>,
) -> Response {
    let lang = session
        .data
        .request
        .as_ref()
        .and_then(|request| request.ui_locales.as_deref())
        .and_then(Lang::from_ui_locales)
        .unwrap_or_default();
    let (identifier_label, identifier_hint, password_label) = match idp.config.login {
        LoginKind::TaxNumber => (
            lang.pick("Numéro fiscal", "Tax number"),
            lang.pick(
                "13 chiffres, sur votre dernière déclaration de revenus",
                "13 digits, on your last income tax return",
            ),
            lang.pick("Mot de passe", "Password"),
        ),
        LoginKind::Nir => (
            lang.pick("Numéro de sécurité sociale", "Social security number"),
            lang.pick("13 chiffres, sans la clé", "13 digits, without the key"),
            lang.pick("Code personnel", "Personal code"),
        ),
        LoginKind::Email => (
            lang.pick("Adresse électronique", "Email address"),
            lang.pick("Format attendu : nom@domaine.fr", "Format: name@domain.fr"),
            lang.pick("Mot de passe", "Password"),
        ),
    };
    let template = LoginTemplate {
        lang,
        name: &idp.config.name,
        csrf: session.csrf_token(),
        identifier_label,
        identifier_hint,
        password_label,
        input_mode: match idp.config.login {
            LoginKind::Email => "email",
            LoginKind::TaxNumber | LoginKind::Nir => "numeric",
        },
        identifier,
        error: notice.map(|notice| notice.text(lang)),
    };
    match template.render() {
        Ok(body) => Page {
            title: lang.pick("Connexion", "Log in"),
            site: &idp.config.name,
            body,
            lang,
            here: None,
        }
        .into_response(),
        Err(_) => IdpError::Storage.into_response(),
    }
}

async fn load_login(
    idp: &PasswordProvider,
    headers: &HeaderMap,
) -> Result<Session<LoginSession>, IdpError> {
    match idp.sessions.load::<LoginSession>(headers).await? {
        Some(session) if session.data.request.is_some() => Ok(session),
        _ => Err(IdpError::NoLogin),
    }
}

/// `GET /login`.
pub async fn page(State(idp): State<Arc<PasswordProvider>>, headers: HeaderMap) -> Response {
    match load_login(&idp, &headers).await {
        Ok(session) => render_login(&idp, &session, "", None),
        Err(error) => error.into_response(),
    }
}

/// `POST /login`.
pub async fn submit(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match check_login(&idp, &headers, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// The message for any wrong identifier or password: it never tells which.
/// What the login form says back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Notice {
    /// The identifier has the wrong shape.
    Malformed(LoginKind),
    /// Unknown identifier or wrong password: the same words for both.
    WrongCredentials,
    /// Too many failures: the account waits.
    Locked,
}

impl Notice {
    fn text(self, lang: Lang) -> &'static str {
        match self {
            Notice::Malformed(LoginKind::TaxNumber) => lang.pick(
                "Le numéro fiscal doit comporter 13 chiffres.",
                "The tax number has 13 digits.",
            ),
            Notice::Malformed(LoginKind::Nir) => lang.pick(
                "Le numéro de sécurité sociale doit comporter 13 chiffres, sans la clé.",
                "The social security number has 13 digits, without its key.",
            ),
            Notice::Malformed(LoginKind::Email) => lang.pick(
                "L'adresse électronique doit être de la forme nom@domaine.fr.",
                "The email address reads like name@domain.fr.",
            ),
            Notice::WrongCredentials => lang.pick(
                "Identifiant ou mot de passe incorrect.",
                "Wrong identifier or password.",
            ),
            Notice::Locked => lang.pick(
                "Trop de tentatives. Votre compte est temporairement bloqué : réessayez dans 15 minutes.",
                "Too many attempts. Your account is locked for a while: try again in 15 minutes.",
            ),
        }
    }
}

async fn check_login(
    idp: &PasswordProvider,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, IdpError> {
    let session = load_login(idp, headers).await?;
    let form = Params::parse(body).map_err(|_| IdpError::Csrf)?;
    if !session.check_csrf(form.get("csrf")) {
        return Err(IdpError::Csrf);
    }
    let identifier: String = form
        .get("identifier")
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let password = form.get("password").unwrap_or_default().to_owned();
    let identifier = match idp.config.login {
        LoginKind::Email => identifier.to_lowercase(),
        LoginKind::TaxNumber | LoginKind::Nir => identifier,
    };
    if malformed(idp.config.login, &identifier) {
        let notice = Notice::Malformed(idp.config.login);
        return Ok(render_login(idp, &session, &identifier, Some(notice)));
    }
    let now = idp.clock.now();
    let throttle_key = format!("login-failures:{identifier}");
    let account = idp.stores.accounts.find_by_login(&identifier).await?;
    // The hash is checked even for an unknown identifier (against a hash of
    // nothing), so that timing does not tell whether an account exists.
    let exists = account.is_some();
    let stored_hash = account.as_ref().map_or_else(
        || idp.dummy_hash.clone(),
        |account| account.password_hash.clone(),
    );
    let password_ok = tokio::task::spawn_blocking(move || verify_password(&password, &stored_hash))
        .await
        .unwrap_or(false)
        && exists;
    let account = account.filter(|account| password_ok && account.status == AccountStatus::Active);
    let Some(account) = account else {
        let failures = idp
            .stores
            .rate_limits
            .hit(&throttle_key, FAILURE_WINDOW_SECS, now)
            .await?;
        tracing::info!(provider = %idp.config.id, failures, "login failed");
        let notice = if failures > MAX_FAILURES {
            Notice::Locked
        } else {
            Notice::WrongCredentials
        };
        return Ok(render_login(idp, &session, &identifier, Some(notice)));
    };
    // Over the limit, even the right password waits for the window to end.
    let recent_failures = idp
        .stores
        .rate_limits
        .hit(&throttle_key, FAILURE_WINDOW_SECS, now)
        .await?;
    if recent_failures > MAX_FAILURES {
        return Ok(render_login(
            idp,
            &session,
            &identifier,
            Some(Notice::Locked),
        ));
    }
    idp.stores.rate_limits.reset(&throttle_key).await?;
    let identity: Identity =
        serde_json::from_str(&account.identity).map_err(|_| IdpError::Storage)?;
    let Some(request) = session.data.request.clone() else {
        return Err(IdpError::NoLogin);
    };
    let grant = Grant {
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scopes: request.scopes.clone(),
        nonce: request.nonce.clone(),
        acr: idp.config.acr,
        auth_time: now,
        sub: account.id.clone(),
        claims: identity.claims_for(&request.scopes, &request.claims),
        pkce: request.pkce.clone(),
    };
    let location = idp
        .provider
        .issue_code(&grant, &request.state)
        .await
        .map_err(|error| {
            tracing::error!(%error, "code could not be issued");
            IdpError::Storage
        })?;
    let logged_in = Session::new(LoginSession {
        request: None,
        account_id: Some(account.id),
    });
    let (_, cookie) = (
        idp.sessions.destroy(&session).await?,
        idp.sessions.save(&logged_in).await?,
    );
    tracing::info!(provider = %idp.config.id, "login succeeded");
    Ok(see_other(&location, Some(cookie)))
}

fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// `GET /session/end`: RP-initiated logout from the hub.
pub async fn end_session(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(params) = Params::parse(query.unwrap_or_default().as_bytes()) else {
        return IdpError::BadLogout.into_response();
    };
    let end = match idp.provider.check_end_session(&params) {
        Ok(end) => end,
        Err(error) => {
            tracing::info!(%error, "logout refused");
            return IdpError::BadLogout.into_response();
        }
    };
    let mut clear = None;
    if let Ok(Some(session)) = idp.sessions.load::<LoginSession>(&headers).await {
        match idp.sessions.destroy(&session).await {
            Ok(cookie) => clear = Some(cookie),
            Err(error) => return IdpError::from(error).into_response(),
        }
    }
    tracing::info!(provider = %idp.config.id, "logged out");
    match end.redirect_to {
        Some(location) => see_other(&location, clear),
        None => {
            let lang = Lang::of(&headers, None);
            Page {
                title: lang.pick("Déconnexion", "Logged out"),
                site: &idp.config.name,
                body: format!(
                    "<h1>{}</h1>",
                    lang.pick("Vous êtes déconnecté", "You are logged out")
                ),
                lang,
                here: None,
            }
            .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomeTemplate<'a> {
    lang: Lang,
    name: &'a str,
    issuer: &'a str,
    accounts: u64,
}

/// `GET /`.
pub async fn home(State(idp): State<Arc<PasswordProvider>>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers, None);
    let accounts = idp.stores.accounts.count().await.unwrap_or(0);
    let template = HomeTemplate {
        lang,
        name: &idp.config.name,
        issuer: idp.provider.issuer(),
        accounts,
    };
    match template.render() {
        Ok(body) => Page {
            title: &idp.config.name,
            site: &idp.config.name,
            body,
            lang,
            here: Some("/"),
        }
        .into_response(),
        Err(_) => IdpError::Storage.into_response(),
    }
}

/// Whether an identifier has the wrong shape (checked before any lookup).
fn malformed(kind: LoginKind, identifier: &str) -> bool {
    match kind {
        LoginKind::TaxNumber | LoginKind::Nir => {
            identifier.len() != 13 || !identifier.bytes().all(|b| b.is_ascii_digit())
        }
        LoginKind::Email => {
            let well_formed = identifier.len() <= 254
                && identifier.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && domain.contains('.') && !domain.contains('@')
                });
            !well_formed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identifier_of_the_wrong_shape_is_named_before_any_lookup() {
        assert!(!malformed(LoginKind::TaxNumber, "1102030405061"));
        assert!(malformed(LoginKind::TaxNumber, "110203040506"));
        assert!(malformed(LoginKind::Nir, "28503751150a2"));
        assert!(!malformed(LoginKind::Email, "marie.dupont.1@example.fr"));
        for bad in [
            "",
            "marie",
            "@example.fr",
            "marie@example",
            "a@b@example.fr",
        ] {
            assert!(malformed(LoginKind::Email, bad), "{bad}");
        }
        let long = format!("{}@example.fr", "a".repeat(250));
        assert!(malformed(LoginKind::Email, &long));
    }
}
