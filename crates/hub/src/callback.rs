//! `GET /api/v2/oidc-callback/{provider}`: back from an identity provider.
//!
//! One callback per provider, so that an answer can only be read as coming
//! from the provider the browser was sent to (mix-up defence, RFC 9700 §4.4).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use oidc::Identity;
use oidc::op::Params;
use oidc::rp::RpError;

use crate::authorize::{last_provider_cookie, load_interaction, see_other, see_other_saving};
use crate::errors::HubError;
use crate::flow::{Banner, Verified};
use crate::level::{self, NotProven};
use crate::policy;
use crate::state::Hub;

/// The callback.
pub async fn provider_callback(
    State(hub): State<Arc<Hub>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match finish_login(
        &hub,
        &provider,
        &headers,
        query.unwrap_or_default().as_bytes(),
    )
    .await
    {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn finish_login(
    hub: &Hub,
    provider: &str,
    headers: &HeaderMap,
    query: &[u8],
) -> Result<Response, HubError> {
    let mut session = load_interaction(hub, headers).await?;
    let callback = Params::parse(query).map_err(|_| HubError::CallbackMismatch)?;
    let at_provider = session
        .data
        .at_provider
        .clone()
        .filter(|at| at.provider == provider)
        .ok_or(HubError::CallbackMismatch)?;
    let idp = hub
        .identity_provider(provider)
        .ok_or(HubError::CallbackMismatch)?;
    let requested = session
        .data
        .interaction
        .as_ref()
        .map(|request| request.acr)
        .ok_or(HubError::NoInteraction)?;

    let login = match idp.rp.finish(&at_provider.pending, &callback).await {
        Ok(login) => login,
        Err(RpError::Refused { error, description }) => {
            // The provider's own refusal is not passed to the service: the
            // citizen goes back to the choice page (FranceConnect `handleIdpError`).
            tracing::info!(
                provider,
                error,
                description,
                "provider answered with an error"
            );
            hub.count_login(provider, requested.as_str(), "provider_refused");
            let banner = Banner::ProviderFailed(idp.config.name.clone());
            return Ok(back_to_choice(hub, session, banner).await);
        }
        Err(error) => {
            hub.count_login(provider, requested.as_str(), "provider_answer_rejected");
            tracing::warn!(target: "security", event = "token_refused", provider, %error, "provider answer rejected");
            return Err(match error {
                RpError::State | RpError::CallbackIssuer => HubError::CallbackMismatch,
                RpError::Provider(_) => HubError::ProviderUnreachable,
                _ => HubError::ProviderTokens,
            });
        }
    };
    let acr = match level::proven(&idp.config.acr, requested, login.acr) {
        Ok(acr) => acr,
        Err(not_proven) => {
            tracing::warn!(provider, proven = ?login.acr, %requested, "provider proved the wrong level");
            hub.count_login(provider, requested.as_str(), "level_too_low");
            let banner = match not_proven {
                NotProven::TooLow(_) => Banner::LevelTooLow(idp.config.name.clone(), requested),
                NotProven::Unexpected => Banner::ProviderFailed(idp.config.name.clone()),
            };
            return Ok(back_to_choice(hub, session, banner).await);
        }
    };
    let provider_identity = Identity::from_claims(&login.userinfo).map_err(|field| {
        tracing::warn!(provider, field, "provider sent a malformed identity");
        HubError::InvalidIdentity
    })?;
    let idp_birthdate = login.text("birthdate").map(|raw| raw.trim().to_owned());
    let identity = hub
        .register
        .check(&provider_identity)
        .await
        .inspect_err(|error| {
            hub.count_login(provider, requested.as_str(), "register_refused");
            tracing::info!(
                provider,
                code = error.code(),
                "register refused the identity"
            );
        })?;
    let now = hub.clock.now();
    let verified = Verified {
        provider: provider.to_owned(),
        acr,
        auth_time: login.auth_time.unwrap_or(now),
        verified_at: now,
        identity,
        provider_identity: Some(provider_identity),
        idp_birthdate,
        provider_id_token: login.id_token_hint,
        amr: login.amr,
    };
    let request = session
        .data
        .interaction
        .as_ref()
        .ok_or(HubError::NoInteraction)?;
    if let Err(refusal) = policy::check_login(hub, request, &verified).await {
        tracing::info!(provider, ?refusal, "login refused by the rules");
        hub.count_login(provider, requested.as_str(), refusal.outcome());
        let banner = refusal
            .banner(hub, provider, requested)
            .unwrap_or_else(|| Banner::ProviderFailed(idp.config.name.clone()));
        return Ok(back_to_choice(hub, session, banner).await);
    }
    session.data.at_provider = None;
    session.data.sso = false;
    session.data.verified = Some(verified);
    // A new session id now that the person is known (no fixation).
    let (_, cookie) = hub.sessions.rotate(session).await?;
    tracing::info!(provider, %acr, "identity verified");
    let mut response = see_other("/interaction/consent", Some(cookie));
    if let Some(remember) =
        last_provider_cookie(provider, hub.config.public_url.starts_with("https://"))
    {
        response.headers_mut().append(header::SET_COOKIE, remember);
    }
    Ok(response)
}

async fn back_to_choice(
    hub: &Hub,
    mut session: web::Session<crate::flow::SessionData>,
    banner: Banner,
) -> Response {
    session.data.at_provider = None;
    session.data.banner = Some(banner);
    see_other_saving(hub, &session, "/interaction").await
}
