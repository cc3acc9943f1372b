//! The browser's side of a login: the hub's request, the QR code page, its
//! polling, the code for the hub, logout.

use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use oidc::op::Params;
use serde_json::json;
use web::{ClientAddress, Lang, see_other};

use crate::WalletProvider;
use crate::config::LOGINS_PER_MINUTE;
use crate::errors::WalletError;
use crate::flow::{Status, Transaction};

/// The browser's login cookie.
fn cookie_name(idp: &WalletProvider) -> String {
    format!("passerelle_wallet_{}", idp.config.id)
}

fn browser_token(idp: &WalletProvider, headers: &HeaderMap) -> Option<String> {
    web::cookie_value(headers, &cookie_name(idp))
}

fn cookie(idp: &WalletProvider, value: &str, max_age: i64) -> HeaderValue {
    let secure = if idp.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        cookie_name(idp)
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A short description of the browser, for the app to show ("Firefox sur
/// Windows"); nothing else of the user agent is kept.
fn browser_of(headers: &HeaderMap) -> String {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(marker, _)| agent.contains(marker))
    .map_or("un navigateur", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| agent.contains(marker))
    .map_or("un système inconnu", |(_, name)| name);
    format!("{browser} sur {system}")
}

fn is_mobile(headers: &HeaderMap) -> bool {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|agent| agent.contains("Mobile") || agent.contains("Android"))
}

/// `GET /authorize`: a login from the hub starts, bound to this browser.
pub async fn authorize(
    State(idp): State<Arc<WalletProvider>>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, WalletError> {
    let Ok(params) = Params::parse(query.unwrap_or_default().as_bytes()) else {
        return Err(WalletError::UnknownClient);
    };
    let request = match idp.provider.parse_authorize(&params) {
        Ok(request) => request,
        Err(refused) => {
            return Ok(web::answer_refused_authorize(
                &idp.provider,
                refused,
                |check| {
                    if check == "check_client" {
                        WalletError::UnknownClient.into_response()
                    } else {
                        WalletError::BadRedirectUri.into_response()
                    }
                },
            ));
        }
    };
    let now = idp.clock.now();
    let within = idp
        .stores
        .rate_limits
        .within(
            &format!("wallet-logins:{address}"),
            LOGINS_PER_MINUTE,
            60,
            now,
        )
        .await?;
    if !within {
        return Err(WalletError::TooMany);
    }
    let txn = Transaction {
        request,
        created_at: now,
        qr_ref: String::new(),
        qr_expires_at: 0,
        browser: browser_of(&headers),
        address,
        status: Status::Pending,
    };
    let token = idp.transactions.start(txn, now).await?;
    let max_age = crate::config::LOGIN_TTL_SECS;
    Ok(see_other("/login", Some(cookie(&idp, &token, max_age))))
}

/// The app link a QR code carries.
pub fn qr_url(idp: &WalletProvider, qr_ref: &str) -> String {
    format!("{}/q/{qr_ref}", idp.config.public_url)
}

/// The login page: the QR code, or the app link on a phone.
#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    lang: Lang,
    title: &'a str,
    /// A phone: the app link, no QR code.
    mobile: bool,
    /// The app link ([`qr_url`]).
    url: &'a str,
    qr_ref: &'a str,
    /// Where the login stands ([`state_text`]).
    waiting: String,
}

/// `GET /login`: the QR code, or the app link on a phone.
pub async fn page(
    State(idp): State<Arc<WalletProvider>>,
    headers: HeaderMap,
) -> Result<Response, WalletError> {
    let now = idp.clock.now();
    let token = browser_token(&idp, &headers).ok_or(WalletError::NoLogin)?;
    let txn = idp
        .transactions
        .for_browser(&token, now)
        .await?
        .ok_or(WalletError::NoLogin)?;
    if let Some(location) = collect(&idp, &token, &txn).await? {
        return Ok(see_other(&location, Some(cookie(&idp, "", 0))));
    }
    let lang = Lang::of(&headers, txn.request.ui_locales.as_deref());
    let title = format!(
        "{} {}",
        lang.pick("Connexion avec", "Log in with"),
        idp.config.name
    );
    let body = LoginPage {
        lang,
        title: &title,
        mobile: is_mobile(&headers),
        url: &qr_url(&idp, &txn.qr_ref),
        qr_ref: &txn.qr_ref,
        waiting: state_text(&txn.status, lang),
    };
    Ok(crate::render_page(&idp.config.name, &title, lang, &body))
}

fn state_text(status: &Status, lang: Lang) -> String {
    match status {
        Status::Pending => lang.pick("En attente du scan…", "Waiting for the scan…"),
        Status::Claimed { .. } => lang.pick(
            "QR code scanné : poursuivez dans l'application.",
            "QR code scanned: go on in the app.",
        ),
        Status::Approved { .. } => lang.pick("Connexion acceptée.", "Login accepted."),
        Status::Refused => lang.pick(
            "Connexion refusée dans l'application.",
            "Login refused in the app.",
        ),
    }
    .to_owned()
}

/// An approved login gives its code, to this browser only, once.
async fn collect(
    idp: &WalletProvider,
    token: &str,
    txn: &Transaction,
) -> Result<Option<String>, WalletError> {
    let location = match &txn.status {
        Status::Approved { grant } => idp
            .provider
            .issue_code(grant, &txn.request.state)
            .await
            .map_err(|error| {
                tracing::error!(%error, "code could not be issued");
                WalletError::Storage
            })?,
        Status::Refused => idp.provider.error_redirect(
            &txn.request.redirect_uri,
            Some(&txn.request.state),
            &oidc::OAuthError::new(
                oidc::ErrorCode::AccessDenied,
                "the holder refused the login in the app",
            ),
        ),
        Status::Pending | Status::Claimed { .. } => return Ok(None),
    };
    idp.transactions.finish(token).await?;
    Ok(Some(location))
}

/// `GET /login/etat`: where the login stands, for this browser only.
pub async fn state(State(idp): State<Arc<WalletProvider>>, headers: HeaderMap) -> Response {
    let now = idp.clock.now();
    let lang = Lang::of(&headers, None);
    let gone = || {
        let body = json!({ "status": "expired", "message": lang.pick("La connexion a expiré. Recommencez depuis le site du service.", "The login expired. Start again from the service's site.") });
        (web::no_store(), Json(body)).into_response()
    };
    let Some(token) = browser_token(&idp, &headers) else {
        return gone();
    };
    let txn = match idp.transactions.for_browser(&token, now).await {
        Ok(Some(txn)) => txn,
        Ok(None) => return gone(),
        Err(error) => return WalletError::from(error).into_response(),
    };
    let status = match &txn.status {
        Status::Pending => "pending",
        Status::Claimed { .. } => "claimed",
        Status::Approved { .. } => "approved",
        Status::Refused => "refused",
    };
    // A refusal is shown on the page; the page then goes back to the
    // service with access_denied when reloaded.
    let location = if matches!(txn.status, Status::Approved { .. }) {
        match collect(&idp, &token, &txn).await {
            Ok(location) => location,
            Err(error) => return error.into_response(),
        }
    } else {
        None
    };
    let body = json!({
        "status": status,
        "message": state_text(&txn.status, lang),
        "qr": txn.qr_ref,
        "location": location,
    });
    (web::no_store(), Json(body)).into_response()
}

/// `GET /login/qr.svg`: the QR code of this browser's login.
pub async fn qr_image(State(idp): State<Arc<WalletProvider>>, headers: HeaderMap) -> Response {
    let now = idp.clock.now();
    let Some(token) = browser_token(&idp, &headers) else {
        return WalletError::NoLogin.into_response();
    };
    let Ok(Some(txn)) = idp.transactions.for_browser(&token, now).await else {
        return WalletError::NoLogin.into_response();
    };
    let Some(image) = web::qr_svg(&qr_url(&idp, &txn.qr_ref), 240) else {
        return WalletError::Storage.into_response();
    };
    ([(header::CONTENT_TYPE, "image/svg+xml")], image).into_response()
}

/// `GET /login.js`: polls the state every 1.5 s, renews the QR image, goes
/// on to the hub when the app approved.
pub async fn script() -> Response {
    const SCRIPT: &str = r#"(function () {
  var state = document.getElementById('state');
  var qr = document.getElementById('qr');
  var link = document.getElementById('app-link');
  var shown = qr ? new URL(qr.src).searchParams.get('r') : null;
  function tick() {
    fetch('/login/etat', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.message && state.textContent !== s.message) { state.textContent = s.message; }
        if (s.location) { window.location.assign(s.location); return; }
        if (s.status === 'refused' || s.status === 'expired') { return; }
        if (qr && s.qr && s.qr !== shown) {
          shown = s.qr;
          qr.src = '/login/qr.svg?r=' + encodeURIComponent(s.qr);
          if (link) { link.href = link.href.replace(/\/q\/[^/]*$/, '/q/' + s.qr); }
        }
        setTimeout(tick, 1500);
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  setTimeout(tick, 1500);
})();
"#;
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

/// `GET /session/end`: logout from the hub. The provider keeps no browser
/// session beyond a login, so there is nothing to end but the redirect.
pub async fn end_session(
    State(idp): State<Arc<WalletProvider>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match web::check_end_session(&idp.provider, query) {
        Some(end) => web::logged_out(end, &idp.config.name, &headers, None),
        None => WalletError::BadLogout.into_response(),
    }
}
