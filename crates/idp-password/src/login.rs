//! The login: authorize request, login form, password check, code.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oidc::op::{Grant, Params};
use store::AccountStatus;
use web::{ClientAddress, Lang, Page, Session, see_other};

use crate::config::LoginKind;
use crate::errors::IdpError;
use crate::form::{Field, Form};
use crate::one_time::{self, Purpose};
use crate::profile::Profile;
use crate::session::{self, IdpSession};
use crate::throttle::{Failure, Verdict};
use crate::{PasswordProvider, mails};

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
    let session = Session::new(IdpSession {
        request: Some(request),
        ..IdpSession::default()
    });
    match idp.sessions.save(&session).await {
        Ok(cookie) => see_other("/login", Some(cookie)),
        Err(error) => IdpError::from(error).into_response(),
    }
}

/// The login form's labels for this provider's identifier.
pub(crate) fn identifier_field(kind: LoginKind, lang: Lang) -> Field {
    let (label, hint, input_mode) = match kind {
        LoginKind::TaxNumber => (
            lang.pick("Numéro fiscal", "Tax number"),
            lang.pick(
                "13 chiffres, sur votre dernière déclaration de revenus",
                "13 digits, on your last income tax return",
            ),
            "numeric",
        ),
        LoginKind::Nir => (
            lang.pick("Numéro de sécurité sociale", "Social security number"),
            lang.pick("13 chiffres, sans la clé", "13 digits, without the key"),
            "numeric",
        ),
        LoginKind::Email => (
            lang.pick("Adresse électronique", "Email address"),
            lang.pick("Format attendu : nom@domaine.fr", "Format: name@domain.fr"),
            "email",
        ),
        LoginKind::Assigned => (
            lang.pick("Identifiant", "Identifier"),
            lang.pick(
                "Celui que vous avez reçu par courriel à la création de votre compte",
                "The one you received by email when your account was created",
            ),
            "text",
        ),
    };
    Field::text("identifier", label, input_mode, "username").hint(hint)
}

/// What the provider calls the secret: ameli's "code personnel", else a
/// password.
pub(crate) fn password_label(kind: LoginKind, lang: Lang) -> &'static str {
    match kind {
        LoginKind::Nir => lang.pick("Code personnel", "Personal code"),
        LoginKind::TaxNumber | LoginKind::Email | LoginKind::Assigned => {
            lang.pick("Mot de passe", "Password")
        }
    }
}

fn render_login(
    idp: &PasswordProvider,
    session: &Session<IdpSession>,
    lang: Lang,
    identifier: &str,
    notice: Option<Notice>,
) -> Response {
    let title = format!(
        "{} {}",
        lang.pick("Connexion à votre compte", "Log in to your account"),
        idp.config.name
    );
    let mut form = Form::new(
        lang,
        &title,
        "/login",
        session.csrf_token(),
        lang.pick("Se connecter", "Log in"),
    );
    form.lead.push(
        lang.pick(
            "Service de démonstration : les comptes sont fictifs.",
            "A demonstration service: the accounts are fictional.",
        )
        .to_owned(),
    );
    form.error = notice.map(|notice| (Some("identifier"), notice.text(lang)));
    form.fields = vec![
        identifier_field(idp.config.login, lang).value(identifier),
        Field::password(
            "password",
            password_label(idp.config.login, lang),
            "current-password",
        ),
    ];
    if idp.config.login.signup().is_some() {
        form.links.push((
            "/inscription".into(),
            lang.pick("Créer mon espace", "Create my account").into(),
        ));
    }
    form.links.push((
        "/mot-de-passe-oublie".into(),
        lang.pick("Mot de passe oublié ?", "Forgotten password?")
            .into(),
    ));
    form.render(&idp.config.name)
}

/// `GET /login`: the login of a hub's request, or of the account page.
pub async fn page(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
) -> Result<Response, IdpError> {
    let session = session::load(&idp, &headers).await?;
    let lang = session.data.lang(&headers);
    let page = render_login(&idp, &session, lang, "", None);
    session::respond(&idp, &session, page).await
}

/// `POST /login`.
pub async fn submit(
    State(idp): State<Arc<PasswordProvider>>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IdpError> {
    check_login(&idp, &address, &headers, &body).await
}

/// What the login form says back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Notice {
    /// The identifier has the wrong shape.
    Malformed(LoginKind),
    /// Unknown identifier or wrong password: the same words for both.
    WrongCredentials,
    /// Too soon after failures.
    Wait(i64),
    /// Too many failures: the identifier is locked.
    Locked,
    /// Too many failures from this address.
    Blocked,
    /// The right password, but the activation link was not followed.
    NotActivated,
}

impl Notice {
    fn text(self, lang: Lang) -> String {
        match self {
            Notice::Malformed(LoginKind::TaxNumber) => lang
                .pick(
                    "Le numéro fiscal doit comporter 13 chiffres.",
                    "The tax number has 13 digits.",
                )
                .into(),
            Notice::Malformed(LoginKind::Nir) => lang
                .pick(
                    "Le numéro de sécurité sociale doit comporter 13 chiffres, sans la clé.",
                    "The social security number has 13 digits, without its key.",
                )
                .into(),
            Notice::Malformed(LoginKind::Email) => lang
                .pick(
                    "L'adresse électronique doit être de la forme nom@domaine.fr.",
                    "The email address reads like name@domain.fr.",
                )
                .into(),
            Notice::Malformed(LoginKind::Assigned) => lang
                .pick(
                    "L'identifiant est celui reçu par courriel : des lettres, des chiffres et des points.",
                    "The identifier is the one received by email: letters, digits and dots.",
                )
                .into(),
            Notice::WrongCredentials => lang
                .pick(
                    "Identifiant ou mot de passe incorrect.",
                    "Wrong identifier or password.",
                )
                .into(),
            Notice::Wait(seconds) => match lang {
                Lang::Fr => format!(
                    "Identifiant ou mot de passe incorrect. Après plusieurs erreurs, patientez {seconds} s avant de réessayer."
                ),
                Lang::En => format!(
                    "Wrong identifier or password. After several errors, wait {seconds} s before trying again."
                ),
            },
            Notice::Locked => lang
                .pick(
                    "Trop d'essais erronés : ce compte est bloqué pour 24 heures. S'il existe, un courriel a été envoyé à son adresse pour le débloquer.",
                    "Too many failed attempts: this account is locked for 24 hours. If it exists, an email was sent to its address to unlock it.",
                )
                .into(),
            Notice::Blocked => lang
                .pick(
                    "Trop d'essais erronés depuis votre connexion : réessayez dans une heure.",
                    "Too many failed attempts from your connection: try again in an hour.",
                )
                .into(),
            Notice::NotActivated => lang
                .pick(
                    "Votre compte n'est pas encore activé : ouvrez le lien reçu par courriel.",
                    "Your account is not activated yet: open the link you received by email.",
                )
                .into(),
        }
    }
}

/// The identifier as typed, in its canonical form.
pub(crate) fn canonical(kind: LoginKind, typed: &str) -> String {
    let compact: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    match kind {
        LoginKind::Email | LoginKind::Assigned => compact.to_lowercase(),
        LoginKind::TaxNumber | LoginKind::Nir => compact,
    }
}

async fn check_login(
    idp: &PasswordProvider,
    address: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, IdpError> {
    let (session, form) = session::posted(idp, headers, body).await?;
    let lang = session.data.lang(headers);
    let identifier = canonical(idp.config.login, form.get("identifier").unwrap_or_default());
    let password = form.get("password").unwrap_or_default().to_owned();
    let refuse = |notice| Ok(render_login(idp, &session, lang, &identifier, Some(notice)));
    if malformed(idp.config.login, &identifier) {
        return refuse(Notice::Malformed(idp.config.login));
    }
    let now = idp.clock.now();
    match idp.throttle.check(&identifier, address, now).await? {
        Verdict::Go => {}
        Verdict::Wait(seconds) => return refuse(Notice::Wait(seconds)),
        Verdict::Locked => return refuse(Notice::Locked),
        Verdict::Blocked => return refuse(Notice::Blocked),
    }
    let account = idp.stores.accounts.find_by_login(&identifier).await?;
    // The hash is checked even for an unknown identifier (against a hash of
    // nothing), so that timing does not tell whether an account exists.
    let stored_hash = account.as_ref().map_or_else(
        || idp.dummy_hash.clone(),
        |account| account.password_hash.clone(),
    );
    // Busy (the pool is full) is no answer: it leaves the throttle's
    // counters as they were and the page asks to try again.
    let password_ok = idp.hasher.verify_on_pool(password, stored_hash).await?;
    let Some(account) = account.filter(|_| password_ok) else {
        tracing::info!(target: "security", event = "login_failed", provider = %idp.config.id, "login failed");
        let notice = match idp.throttle.failed(&identifier, address, now).await? {
            Failure::Counted => Notice::WrongCredentials,
            Failure::Wait(seconds) => Notice::Wait(seconds),
            Failure::JustBlocked => {
                tracing::warn!(target: "security", event = "address_blocked", provider = %idp.config.id, "an address tried too many identifiers");
                Notice::Blocked
            }
            Failure::JustLocked => {
                tracing::warn!(target: "security", event = "account_locked", provider = %idp.config.id, "account locked after repeated failures");
                send_unlock_link(idp, &identifier, now).await?;
                Notice::Locked
            }
        };
        return refuse(notice);
    };
    match account.status {
        AccountStatus::Active => {}
        AccountStatus::Pending => return refuse(Notice::NotActivated),
        AccountStatus::Locked => return refuse(Notice::Locked),
    }
    idp.throttle.succeeded(&identifier).await?;
    let profile = Profile::read(&account)?;
    let location = match &session.data.request {
        // A login to the provider's own pages.
        None => "/compte".to_owned(),
        Some(request) => {
            let grant = Grant {
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                scopes: request.scopes.clone(),
                nonce: request.nonce.clone(),
                acr: idp.config.acr,
                auth_time: now,
                sub: account.id.clone(),
                claims: profile
                    .identity
                    .claims_for(&request.scopes, &request.claims),
                pkce: request.pkce.clone(),
                amr: vec!["pwd".to_owned()],
                data: None,
                token_issued_at: None,
            };
            idp.provider
                .issue_code(&grant, &request.state)
                .await
                .map_err(|error| {
                    tracing::error!(%error, "code could not be issued");
                    IdpError::Storage
                })?
        }
    };
    let cookie = session::log_in(idp, &session, account.id).await?;
    tracing::info!(provider = %idp.config.id, "login succeeded");
    Ok(see_other(&location, Some(cookie)))
}

/// The identifier was just locked: when an account has it, its address gets
/// the unlock link.
async fn send_unlock_link(
    idp: &PasswordProvider,
    identifier: &str,
    now: i64,
) -> Result<(), IdpError> {
    let Some(account) = idp.stores.accounts.find_by_login(identifier).await? else {
        return Ok(());
    };
    let token =
        one_time::issue(idp.stores.codes.as_ref(), Purpose::Unlock, &identifier, now).await?;
    let letter = mails::unlock(&idp.config.name, &idp.link("/deverrouillage", &token));
    mails::send(idp, &account.email, letter).await;
    Ok(())
}
/// `GET /session/end`: RP-initiated logout from the hub.
pub async fn end_session(
    State(idp): State<Arc<PasswordProvider>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(end) = web::check_end_session(&idp.provider, query) else {
        return IdpError::BadLogout.into_response();
    };
    let mut clear = None;
    if let Ok(Some(session)) = idp.sessions.load::<IdpSession>(&headers).await {
        match idp.sessions.destroy(&session).await {
            Ok(cookie) => clear = Some(cookie),
            Err(error) => return IdpError::from(error).into_response(),
        }
    }
    tracing::info!(provider = %idp.config.id, "logged out");
    web::logged_out(end, &idp.config.name, &headers, clear)
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
        LoginKind::Assigned => {
            !(3..=64).contains(&identifier.len())
                || !identifier
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.')
        }
        LoginKind::Email => !oidc::claims::is_email(identifier),
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
