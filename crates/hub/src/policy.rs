//! Which logins may serve a service's request: the one place where the
//! rules of the provider choice are decided.
//!
//! A verified person reaches a service by three paths: a fresh login (the
//! provider's callback), single sign-on (a session reused at authorize), and
//! the code itself (the consent page's form, which may be posted long after
//! either). Each path calls the same checks, in this order:
//!
//! 1. [`check_service_accepts`]: the service lists the provider and does
//!    not block it (`providers`, `blocked_providers`; FranceConnect
//!    `isBlackListed` / `isWhiteListed`);
//! 2. [`check_level`]: the provider can prove the level asked, and the
//!    session proved it (FranceConnect `checkIfAcrIsValid`; the rules of
//!    the level are [`crate::level`]'s);
//! 3. [`check_person_allows`]: the person has not blocked the provider on
//!    the dashboard, nor ended the sessions opened with it since this one
//!    was verified (docs/dashboard.md).
//!
//! Reuse adds [`check_fresh_enough`] in front: `prompt=login`, `max_age`
//! and the platform's single sign-on ceiling (OpenID Connect Core §3.1.2.1,
//! FranceConnect+ `connexion-sso-fcp-high`).

use oidc::op::AuthorizationRequest;
use oidc::{Acr, UnixSeconds};

use crate::flow::{Banner, Verified};
use crate::level;
use crate::state::{Hub, IdentityProvider};
use crate::trail::{self, Settings};

/// Why a provider, or a session opened with it, may not serve a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The provider is unknown to this hub.
    UnknownProvider,
    /// The service does not accept the provider.
    NotAccepted,
    /// The provider, or the session, is below the level asked.
    Level,
    /// The person blocked the provider on the dashboard.
    BlockedByPerson,
    /// The person ended the sessions opened with the provider after this
    /// one was verified.
    Ended,
    /// The service asks for a new authentication.
    NotFresh,
}

impl Refusal {
    /// Its name in the metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Refusal::UnknownProvider => "unknown_provider",
            Refusal::NotAccepted => "not_accepted",
            Refusal::Level => "level",
            Refusal::BlockedByPerson => "blocked_by_person",
            Refusal::Ended => "sessions_ended",
            Refusal::NotFresh => "not_fresh",
        }
    }

    /// What the choice page says; `None` where a new login is simply what
    /// the service asked for.
    pub fn banner(&self, hub: &Hub, provider: &str, requested: Acr) -> Option<Banner> {
        let name = hub
            .identity_provider(provider)
            .map_or_else(|| provider.to_owned(), |idp| idp.config.name.clone());
        match self {
            Refusal::UnknownProvider | Refusal::NotFresh => None,
            Refusal::NotAccepted => Some(Banner::ProviderNotAccepted(name)),
            Refusal::Level => Some(Banner::HigherLevel(requested)),
            Refusal::BlockedByPerson => Some(Banner::ProviderBlocked(name)),
            Refusal::Ended => Some(Banner::SessionEnded(name)),
        }
    }
}

/// The provider, when this request may be sent to it: accepted by the
/// service and able to prove the level asked. The choice page, the form
/// that picks a provider and `idp_hint` go through it.
pub fn check_provider<'a>(
    hub: &'a Hub,
    request: &AuthorizationRequest,
    provider: &str,
) -> Result<&'a IdentityProvider, Refusal> {
    let idp = hub
        .identity_provider(provider)
        .ok_or(Refusal::UnknownProvider)?;
    check_service_accepts(hub, request, provider)?;
    if !level::provider_can_prove(&idp.config.acr, request.acr) {
        return Err(Refusal::Level);
    }
    Ok(idp)
}

/// Whether a verified person may serve this request: after the provider's
/// callback and before a code is issued.
pub async fn check_login(
    hub: &Hub,
    request: &AuthorizationRequest,
    verified: &Verified,
) -> Result<(), Refusal> {
    let settings = trail::settings(hub, &verified.identity).await;
    check_login_given(hub, request, verified, &settings)
}

/// [`check_login`] against the person's settings read already: the code's
/// path reads them with the trail's head ([`trail::person`]).
pub fn check_login_given(
    hub: &Hub,
    request: &AuthorizationRequest,
    verified: &Verified,
    settings: &Settings,
) -> Result<(), Refusal> {
    check_provider(hub, request, &verified.provider)?;
    check_level(request, verified)?;
    check_person_allows(settings, verified)
}

/// Whether the session's person may serve this request without a new
/// login (single sign-on).
pub async fn check_reuse(
    hub: &Hub,
    request: &AuthorizationRequest,
    verified: &Verified,
    now: UnixSeconds,
) -> Result<(), Refusal> {
    check_fresh_enough(hub, request, verified, now)?;
    check_login(hub, request, verified).await
}

/// The service accepts the provider (its `providers` and
/// `blocked_providers`; every provider when the service is not configured
/// here, as for the hub's own tests).
pub fn check_service_accepts(
    hub: &Hub,
    request: &AuthorizationRequest,
    provider: &str,
) -> Result<(), Refusal> {
    let accepted = hub
        .service(&request.client_id)
        .is_none_or(|policy| policy.accepts_provider(provider));
    if accepted {
        Ok(())
    } else {
        Err(Refusal::NotAccepted)
    }
}

/// The session proved at least the level asked ([`level::session_suffices`]).
pub fn check_level(request: &AuthorizationRequest, verified: &Verified) -> Result<(), Refusal> {
    if level::session_suffices(verified.acr, request.acr) {
        Ok(())
    } else {
        Err(Refusal::Level)
    }
}

/// The person neither blocked the provider nor ended its sessions since
/// this one was verified.
pub fn check_person_allows(settings: &Settings, verified: &Verified) -> Result<(), Refusal> {
    if settings.blocked_providers.contains(&verified.provider) {
        return Err(Refusal::BlockedByPerson);
    }
    let ended = settings
        .sessions_ended
        .get(&verified.provider)
        .is_some_and(|ended_at| verified.verified_at <= *ended_at);
    if ended {
        return Err(Refusal::Ended);
    }
    Ok(())
}

/// The session is recent enough for the request: no `prompt=login`, within
/// `max_age`, and at most the level the platform serves by single sign-on.
pub fn check_fresh_enough(
    hub: &Hub,
    request: &AuthorizationRequest,
    verified: &Verified,
    now: UnixSeconds,
) -> Result<(), Refusal> {
    let fresh = !request.prompt.login
        && level::sso_allows(hub.config.platform, request.acr)
        && request
            .max_age
            .is_none_or(|max_age| now - verified.auth_time <= max_age);
    if fresh {
        Ok(())
    } else {
        Err(Refusal::NotFresh)
    }
}
