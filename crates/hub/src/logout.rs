//! Logout through the federation: `/api/v2/session/end` from a service ends
//! the hub session, logs out at the identity provider when it can, and
//! returns to the service (franceconnect.md §2.3).

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use oidc::op::Params;
use oidc::types::random_token;
use web::Lang;

use crate::authorize::{see_other, see_other_saving};
use crate::backchannel;
use crate::errors::HubError;
use crate::flow::SessionData;
use crate::pages::render;
use crate::state::Hub;

/// `GET /api/v2/session/end`.
pub async fn end_session_get(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    end_session(&hub, &headers, query.unwrap_or_default().as_bytes())
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `POST /api/v2/session/end`.
pub async fn end_session_post(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    end_session(&hub, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn end_session(
    hub: &Arc<Hub>,
    headers: &HeaderMap,
    raw: &[u8],
) -> Result<Response, HubError> {
    let params = Params::parse(raw).map_err(|_| HubError::BadLogout)?;
    let end = hub.provider.check_end_session(&params).map_err(|error| {
        tracing::info!(%error, "logout refused");
        HubError::BadLogout
    })?;
    let session = hub.sessions.load::<SessionData>(headers).await?;
    let Some(mut session) = session else {
        return Ok(finish(
            end.redirect_to.as_deref(),
            None,
            hub,
            Lang::of(headers, None),
        ));
    };
    backchannel::notify(hub, &session.data.signed_in, &end.client_id).await;
    let provider_logout = match &session.data.verified {
        Some(verified) => match hub.identity_provider(&verified.provider) {
            Some(idp) => {
                let callback = format!("{}/api/v2/client/logout-callback", hub.config.public_url);
                idp.rp
                    .end_session_url(&verified.provider_id_token, &callback, &random_token(16))
                    .await
                    .unwrap_or_else(|error| {
                        tracing::warn!(%error, "provider logout unavailable");
                        None
                    })
            }
            None => None,
        },
        None => None,
    };
    tracing::info!(client_id = %end.client_id, provider_logout = provider_logout.is_some(), "logout");
    match provider_logout {
        Some(url) => {
            // Keep only where to go back; the identity is dropped now.
            session.data = SessionData {
                logout_redirect: end.redirect_to,
                ..SessionData::default()
            };
            Ok(see_other_saving(hub, &session, &url).await)
        }
        None => {
            let cookie = hub.sessions.destroy(&session).await?;
            Ok(finish(
                end.redirect_to.as_deref(),
                Some(cookie),
                hub,
                Lang::of(headers, None),
            ))
        }
    }
}

/// `GET /api/v2/client/logout-callback`: the provider has logged out.
pub async fn provider_logged_out(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Response {
    let session = match hub.sessions.load::<SessionData>(&headers).await {
        Ok(session) => session,
        Err(error) => return HubError::from(error).into_response(),
    };
    let Some(session) = session else {
        return finish(None, None, &hub, Lang::of(&headers, None));
    };
    match hub.sessions.destroy(&session).await {
        Ok(cookie) => finish(
            session.data.logout_redirect.as_deref(),
            Some(cookie),
            &hub,
            Lang::of(&headers, None),
        ),
        Err(error) => HubError::from(error).into_response(),
    }
}

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOutTemplate<'a> {
    lang: Lang,
    name: &'a str,
}

fn finish(
    redirect_to: Option<&str>,
    cookie: Option<axum::http::HeaderValue>,
    hub: &Hub,
    lang: Lang,
) -> Response {
    match redirect_to {
        Some(location) => see_other(location, cookie),
        None => {
            let mut response = render(
                &LoggedOutTemplate {
                    lang,
                    name: &hub.config.name,
                },
                lang.pick("Déconnexion", "Logged out"),
                lang,
                None,
            );
            if let Some(cookie) = cookie {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
    }
}
