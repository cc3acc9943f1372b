//! What the provider remembers of a browser: a login in progress (the
//! hub's request), the account logged in, an account creation in progress,
//! the captcha shown.

use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use oidc::op::{AuthorizationRequest, Params};
use serde::{Deserialize, Serialize};
use web::{Lang, Session};

use crate::PasswordProvider;
use crate::captcha::{self, Challenge};
use crate::errors::IdpError;
use crate::profile::Profile;

/// The session's data.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IdpSession {
    /// The hub's authorization request, while its login goes on.
    pub request: Option<AuthorizationRequest>,
    /// The account logged in.
    pub account_id: Option<String>,
    /// An account creation in progress.
    pub signup: Option<Signup>,
    /// The random bytes of the captcha shown (hex), whose image and answer
    /// are derived from them.
    pub captcha: Option<String>,
}

/// An account creation in progress, step by step.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Signup {
    /// The login found in the records (tax number, NIR).
    pub login: String,
    /// The person, as the records hold them.
    pub profile: Option<Profile>,
    /// Set by the details step.
    pub password_hash: Option<String>,
    /// The SMS code sent, hashed.
    pub sms: Option<SmsCode>,
}

/// A 6-digit code sent by text message: only its salted hash is kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SmsCode {
    /// Random salt.
    pub salt: String,
    /// SHA-256 of salt and code, hex.
    pub hash: String,
    /// When it stops working.
    pub expires_at: i64,
    /// Wrong codes allowed before the creation starts over.
    pub attempts_left: u8,
}

impl IdpSession {
    /// The captcha shown, if any.
    pub fn captcha(&self) -> Option<Challenge> {
        let hex = self.captcha.as_deref()?;
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|at| {
                hex.get(at..at + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            })
            .collect::<Option<_>>()?;
        let random: [u8; 32] = bytes.try_into().ok()?;
        Some(captcha::challenge(&random))
    }

    /// Shows a new captcha.
    pub fn new_captcha(&mut self) {
        use rand::RngCore as _;
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        self.captcha = Some(random.iter().map(|byte| format!("{byte:02x}")).collect());
    }

    /// The language of the pages: the hub's `ui_locales` when a login goes
    /// on, then the cookie.
    pub fn lang(&self, headers: &HeaderMap) -> Lang {
        let ui_locales = self
            .request
            .as_ref()
            .and_then(|request| request.ui_locales.as_deref());
        Lang::of(headers, ui_locales)
    }
}

/// The browser's session, or a new one (not saved yet).
pub async fn load(
    idp: &PasswordProvider,
    headers: &HeaderMap,
) -> Result<Session<IdpSession>, IdpError> {
    Ok(idp
        .sessions
        .load::<IdpSession>(headers)
        .await?
        .unwrap_or_else(|| Session::new(IdpSession::default())))
}

/// The session of a form post, whose CSRF token must be the session's.
pub async fn posted(
    idp: &PasswordProvider,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Session<IdpSession>, Params), IdpError> {
    let session = idp
        .sessions
        .load::<IdpSession>(headers)
        .await?
        .ok_or(IdpError::Csrf)?;
    let form = Params::parse(body).map_err(|_| IdpError::Csrf)?;
    if !session.check_csrf(form.get("csrf")) {
        return Err(IdpError::Csrf);
    }
    Ok((session, form))
}

/// A field of a posted form, trimmed.
pub fn field(form: &Params, name: &str) -> String {
    form.get(name).unwrap_or_default().trim().to_owned()
}

/// Logs an account in: the browser's session ends (and with it any login or
/// creation in progress) and a new one, of this account, begins, under a
/// new cookie (no fixation).
pub async fn log_in(
    idp: &PasswordProvider,
    old: &Session<IdpSession>,
    account_id: String,
) -> Result<HeaderValue, IdpError> {
    let _ = idp.sessions.destroy(old).await?;
    let logged_in = Session::new(IdpSession {
        account_id: Some(account_id),
        ..IdpSession::default()
    });
    Ok(idp.sessions.save(&logged_in).await?)
}

/// Saves the session and sets its cookie on the response.
pub async fn respond(
    idp: &PasswordProvider,
    session: &Session<IdpSession>,
    mut response: Response,
) -> Result<Response, IdpError> {
    let cookie: HeaderValue = idp.sessions.save(session).await?;
    response.headers_mut().append(SET_COOKIE, cookie);
    Ok(response)
}
