//! The authorization endpoint and the provider choice page.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use oidc::op::Params;
use web::{Lang, Session, SessionError};

use crate::errors::HubError;
use crate::flow::{AtProvider, SessionData};
use crate::pages::render;
use crate::state::Hub;
use crate::{consent, level, policy};

/// `GET /api/v2/authorize`.
pub async fn get(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = query.unwrap_or_default();
    authorize(&hub, &headers, raw.as_bytes(), Method::Get).await
}

/// `POST /api/v2/authorize` (form), as FranceConnect accepts.
pub async fn post(State(hub): State<Arc<Hub>>, headers: HeaderMap, body: Bytes) -> Response {
    authorize(&hub, &headers, &body, Method::Post).await
}

/// How the authorization request came: in single sign-on, a `GET` is
/// answered with the consent page itself (one round trip fewer; a reload
/// runs the request again, every rule checked again), a form's `POST` with
/// a 303 to it, which a reload does not post again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

async fn authorize(hub: &Hub, headers: &HeaderMap, raw: &[u8], method: Method) -> Response {
    let Ok(params) = Params::parse(raw) else {
        return HubError::BadRequest.into_response();
    };
    let request = match hub.provider.parse_authorize(&params) {
        Ok(request) => request,
        Err(refused) => {
            return web::answer_refused_authorize(&hub.provider, refused, |check| {
                let page = if check == "check_client" {
                    HubError::UnknownClient
                } else {
                    HubError::BadRedirectUri
                };
                page.into_response()
            });
        }
    };
    let loaded = match hub.sessions.load::<SessionData>(headers).await {
        Ok(session) => session,
        Err(error) => return HubError::from(error).into_response(),
    };
    let mut session = loaded.unwrap_or_else(|| Session::new(SessionData::default()));
    // Single sign-on: the verified person goes straight to the consent page
    // when every rule of a fresh login holds for this request (policy).
    let refusal = match &session.data.verified {
        Some(verified) => Some(
            policy::check_reuse(hub, &request, verified, hub.clock.now())
                .await
                .map_err(|refusal| {
                    let banner = refusal.banner(hub, &verified.provider, request.acr);
                    tracing::info!(?refusal, provider = %verified.provider, "session not reused");
                    banner
                }),
        ),
        None => None,
    };
    let reuse = matches!(refusal, Some(Ok(())));
    let banner = match refusal {
        Some(Err(banner)) => banner,
        _ => None,
    };
    if !reuse {
        session.data.verified = None;
    }
    tracing::info!(client_id = %request.client_id, acr = %request.acr, sso = reuse, "authorize accepted");
    session.data.interaction = Some(request);
    session.data.sso = reuse;
    session.data.at_provider = None;
    session.data.banner = banner;
    // idp_hint goes straight to the named provider, when the service may
    // name it; it is ignored under single sign-on (FranceConnect).
    let hint = session
        .data
        .interaction
        .as_ref()
        .and_then(|request| request.idp_hint.clone());
    if let (Some(hint), false) = (hint, reuse) {
        return follow_hint(hub, session, &hint).await;
    }
    if reuse && method == Method::Get {
        let page = consent::consent_page(hub, headers, &session);
        return answer_saving(hub, &session, page).await;
    }
    let next = if reuse {
        "/interaction/consent"
    } else {
        "/interaction"
    };
    see_other_saving(hub, &session, next).await
}

/// `idp_hint`: the named provider when the service may name it (its
/// `idp_hints`, FranceConnect `allowedIdpHints`, or the platform's);
/// else `invalid_idp_hint` back to the service.
async fn follow_hint(hub: &Hub, mut session: Session<SessionData>, hint: &str) -> Response {
    let allowed = session
        .data
        .interaction
        .as_ref()
        .and_then(|request| hub.service(&request.client_id))
        .is_some_and(|policy| policy.may_hint(hint, &hub.config.idp_hints));
    if allowed {
        return send_to_provider(hub, session, hint)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    let Some(request) = session.data.interaction.take() else {
        return HubError::NoInteraction.into_response();
    };
    let error = oidc::OAuthError::new(
        oidc::ErrorCode::InvalidIdpHint,
        "idp_hint names a provider this client may not use",
    );
    Redirect::to(
        &hub.provider
            .error_redirect(&request.redirect_uri, Some(&request.state), &error),
    )
    .into_response()
}

/// Saves the session and sends the browser on with 303 See Other.
pub async fn see_other_saving(
    hub: &Hub,
    session: &Session<SessionData>,
    location: &str,
) -> Response {
    answer_saving(hub, session, see_other(location, None)).await
}

/// Saves the session and answers `response` with its cookie, or the error
/// page when the session cannot be saved.
async fn answer_saving(hub: &Hub, session: &Session<SessionData>, response: Response) -> Response {
    answer_saved(hub.sessions.save(session).await, response)
}

/// `response` with the cookie of the session `saved`, or the error page
/// when it could not be saved.
pub fn answer_saved(saved: Result<HeaderValue, SessionError>, response: Response) -> Response {
    match saved {
        Ok(cookie) => web::with_cookie(response, Some(cookie)),
        Err(error) => HubError::from(error).into_response(),
    }
}

pub use web::see_other;

/// Loads the session of a login in progress, or the page that says there is none.
pub async fn load_interaction(
    hub: &Hub,
    headers: &HeaderMap,
) -> Result<Session<SessionData>, HubError> {
    match hub.sessions.load::<SessionData>(headers).await? {
        Some(session) if session.data.interaction.is_some() => Ok(session),
        _ => Err(HubError::NoInteraction),
    }
}

/// Reads a posted form and checks its CSRF token.
pub fn parse_form(session: &Session<SessionData>, body: &[u8]) -> Result<Params, HubError> {
    let params = Params::parse(body).map_err(|_| HubError::BadRequest)?;
    if !session.check_csrf(params.get("csrf")) {
        return Err(HubError::Csrf);
    }
    Ok(params)
}

/// The cookie that remembers the last provider used (no personal data: a
/// provider id), so that it comes first on the choice page.
const LAST_PROVIDER_COOKIE: &str = "passerelle_last_provider";

/// The last provider used in this browser.
pub fn last_provider(headers: &HeaderMap) -> Option<String> {
    web::cookie_value(headers, LAST_PROVIDER_COOKIE)
}

/// The `Set-Cookie` remembering the provider for a year.
pub fn last_provider_cookie(provider: &str, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{LAST_PROVIDER_COOKIE}={provider}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}")).ok()
}

struct ProviderChoice {
    id: String,
    name: String,
    available: bool,
    last_used: bool,
    note: Option<String>,
}

#[derive(Template)]
#[template(path = "choice.html")]
struct ChoiceTemplate<'a> {
    lang: Lang,
    service: &'a str,
    csrf: String,
    providers: Vec<ProviderChoice>,
    banner: Option<String>,
}

/// `GET /interaction`: the provider choice page.
pub async fn choice_page(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Response {
    let session = match load_interaction(&hub, &headers).await {
        Ok(session) => session,
        Err(error) => return error.into_response(),
    };
    let Some(request) = &session.data.interaction else {
        return HubError::NoInteraction.into_response();
    };
    let service_name = hub
        .provider
        .client(&request.client_id)
        .map_or("", |client| client.name.as_str());
    let lang = page_lang(&headers, &session);
    let last = last_provider(&headers);
    let service = hub.service(&request.client_id);
    let mut providers: Vec<ProviderChoice> = hub
        .providers
        .iter()
        .filter(|idp| service.is_none_or(|service| service.lists_provider(&idp.config.id)))
        .map(|idp| {
            let verdict = policy::check_provider(&hub, request, &idp.config.id).err();
            let accepted = verdict != Some(policy::Refusal::NotAccepted);
            let strong_enough = verdict != Some(policy::Refusal::Level);
            let available = verdict.is_none();
            ProviderChoice {
                id: idp.config.id.clone(),
                name: idp.config.name.clone(),
                available,
                last_used: last.as_deref() == Some(idp.config.id.as_str()),
                note: match (accepted, strong_enough) {
                    (false, _) => Some(
                        lang.pick(
                            "Indisponible pour ce service.",
                            "Not available for this service.",
                        )
                        .to_owned(),
                    ),
                    (true, false) => Some(format!(
                        "{} ({}).",
                        lang.pick(
                            "Indisponible : ce compte ne permet pas le niveau de sécurité demandé",
                            "Not available: this account cannot give the level of assurance asked"
                        ),
                        request.acr
                    )),
                    (true, true) => None,
                },
            }
        })
        .collect();
    // The last provider used comes first (a stable sort keeps the rest in order).
    providers.sort_by_key(|choice| !choice.last_used);
    let template = ChoiceTemplate {
        lang,
        service: service_name,
        csrf: session.csrf_token(),
        providers,
        banner: session.data.banner.as_ref().map(|banner| banner.text(lang)),
    };
    render(
        &template,
        lang.pick("Choisir un compte", "Choose an account"),
        lang,
        Some("/interaction"),
    )
}

/// The page language: the switch's cookie, else the service's `ui_locales`.
pub fn page_lang(headers: &HeaderMap, session: &Session<SessionData>) -> Lang {
    let ui_locales = session
        .data
        .interaction
        .as_ref()
        .and_then(|request| request.ui_locales.as_deref());
    Lang::of(headers, ui_locales)
}

/// `POST /interaction/choose`: go to the chosen provider.
pub async fn choose(State(hub): State<Arc<Hub>>, headers: HeaderMap, body: Bytes) -> Response {
    match choose_provider(&hub, &headers, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn choose_provider(
    hub: &Hub,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, HubError> {
    let session = load_interaction(hub, headers).await?;
    let params = parse_form(&session, body)?;
    let provider = params.get("provider").unwrap_or_default().to_owned();
    send_to_provider(hub, session, &provider).await
}

/// Sends the browser to a provider the request may use: one the service
/// accepts and able to prove the level asked.
async fn send_to_provider(
    hub: &Hub,
    mut session: Session<SessionData>,
    provider: &str,
) -> Result<Response, HubError> {
    let request = session
        .data
        .interaction
        .as_ref()
        .ok_or(HubError::NoInteraction)?;
    let requested = request.acr;
    let idp = policy::check_provider(hub, request, provider)
        .map_err(|_| HubError::ProviderUnavailable)?;
    // The provider's pages speak the language the service asked for.
    let extra: Vec<(&str, &str)> = request
        .ui_locales
        .as_deref()
        .map(|locales| ("ui_locales", locales))
        .into_iter()
        .collect();
    let (url, pending) = idp
        .rp
        .start(
            Some(level::to_ask(&idp.config.acr, requested)),
            true,
            &extra,
        )
        .await
        .map_err(|error| {
            tracing::warn!(provider = %idp.config.id, %error, "provider unreachable");
            HubError::ProviderUnreachable
        })?;
    session.data.at_provider = Some(AtProvider {
        provider: idp.config.id.clone(),
        pending,
    });
    session.data.banner = None;
    tracing::info!(provider = %idp.config.id, "sent to identity provider");
    Ok(see_other_saving(hub, &session, &url).await)
}
