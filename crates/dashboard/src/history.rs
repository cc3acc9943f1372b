//! The home page: the connections of the last six months, and the
//! providers the person blocks.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use oidc::Acr;
use serde::{Deserialize, Serialize};
use store::Trace;
use web::{Lang, Session};

use crate::pages::{Row, form_expired, page, row, unavailable};
use crate::state::{Dashboard, HISTORY_SECS, Person, SessionData, load};

/// An entry of the trail, as the hub and the dashboard write it.
#[derive(Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Entry {
    Connection {
        platform: String,
        service: String,
        #[serde(default)]
        provider_id: String,
        provider: String,
        acr: Acr,
    },
    Report {
        about_seq: i64,
        #[serde(default)]
        comment: String,
    },
}

/// What a person set here (read by the hubs).
#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct Settings {
    #[serde(default)]
    pub(crate) blocked_providers: Vec<String>,
    /// By provider: when the person last ended its sessions (the hubs
    /// refuse any session verified before).
    #[serde(default)]
    pub(crate) sessions_ended: std::collections::BTreeMap<String, i64>,
}

pub(crate) async fn trail(
    dashboard: &Dashboard,
    person: &Person,
) -> Result<Vec<Trace>, store::StoreError> {
    let since = dashboard.clock.now() - HISTORY_SECS;
    dashboard.traces.trail(person.sub.as_str(), since).await
}

/// The person's settings; `None` when they cannot be read (never
/// overwritten then: what the person ended must stay ended).
pub(crate) async fn load_settings(dashboard: &Dashboard, person: &Person) -> Option<Settings> {
    match dashboard.preferences.load(person.sub.as_str()).await {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes)
            .inspect_err(|error| tracing::error!(%error, "settings unreadable"))
            .ok(),
        Ok(None) => Some(Settings::default()),
        Err(error) => {
            tracing::error!(%error, "settings unreadable");
            None
        }
    }
}

pub(crate) struct ProviderChoice<'a> {
    id: &'a str,
    name: &'a str,
    blocked: bool,
}

#[derive(Template)]
#[template(path = "home.html")]
pub(crate) struct HomeTemplate<'a> {
    lang: Lang,
    hub: &'a str,
    person: Option<&'a str>,
    entries: Vec<Row>,
    providers: Vec<ProviderChoice<'a>>,
    csrf: String,
}

pub(crate) async fn home(State(dashboard): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers, None);
    let title = lang.pick("Mon tableau de bord", "My dashboard");
    let session = load(&dashboard, &headers).await;
    let Some(person) = &session.data.user else {
        let template = HomeTemplate {
            lang,
            hub: &dashboard.config.hub_name,
            person: None,
            entries: Vec::new(),
            providers: Vec::new(),
            csrf: String::new(),
        };
        return page(&dashboard, title, &template, lang, Some("/"));
    };
    let Ok(traces) = trail(&dashboard, person).await else {
        return unavailable(&dashboard, lang);
    };
    let blocked = load_settings(&dashboard, person)
        .await
        .unwrap_or_default()
        .blocked_providers;
    let template = HomeTemplate {
        lang,
        hub: &dashboard.config.hub_name,
        person: Some(&person.name()),
        entries: traces.iter().rev().map(|trace| row(trace, lang)).collect(),
        providers: dashboard
            .providers
            .iter()
            .map(|(id, name)| ProviderChoice {
                id,
                name,
                blocked: blocked.contains(id),
            })
            .collect(),
        csrf: session.csrf_token(),
    };
    page(&dashboard, title, &template, lang, Some("/"))
}

/// The form's pairs (repeated names allowed, as checkboxes send).
pub(crate) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// A form posted by a logged-in person: the page language, the person and
/// the form's pairs; else where to go (`anonymous_to` when nobody is
/// logged in, the expired-form page without the session's CSRF token).
pub(crate) async fn posted_form(
    dashboard: &Dashboard,
    headers: &HeaderMap,
    body: &[u8],
    anonymous_to: &str,
) -> Result<(Lang, Person, Vec<(String, String)>), Response> {
    let lang = Lang::of(headers, None);
    let session = load(dashboard, headers).await;
    let Some(person) = session.data.user.clone() else {
        return Err(Redirect::to(anonymous_to).into_response());
    };
    let pairs = form_pairs(body);
    if !csrf_ok(&session, &pairs) {
        return Err(form_expired(dashboard, lang));
    }
    Ok((lang, person, pairs))
}

pub(crate) fn csrf_ok(session: &Session<SessionData>, pairs: &[(String, String)]) -> bool {
    let token = pairs
        .iter()
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.as_str());
    session.check_csrf(token)
}

pub(crate) async fn set_providers(
    State(dashboard): State<Arc<Dashboard>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (lang, person, pairs) = match posted_form(&dashboard, &headers, &body, "/").await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let person = &person;
    let blocked: Vec<String> = dashboard
        .providers
        .iter()
        .filter(|(id, _)| {
            pairs
                .iter()
                .any(|(name, value)| name == "blocked" && value == id)
        })
        .map(|(id, _)| id.clone())
        .collect();
    let Some(mut settings) = load_settings(&dashboard, person).await else {
        return unavailable(&dashboard, lang);
    };
    let newly_blocked: Vec<String> = blocked
        .iter()
        .filter(|id| !settings.blocked_providers.contains(id))
        .cloned()
        .collect();
    settings.blocked_providers = blocked;
    if !end_sessions(&dashboard, person, &mut settings, &newly_blocked).await {
        return unavailable(&dashboard, lang);
    }
    tracing::info!(
        target: "security",
        event = "providers_blocked",
        blocked = settings.blocked_providers.len(),
        newly = newly_blocked.len(),
        "providers set"
    );
    Redirect::to("/").into_response()
}

/// Saves the settings with the sessions opened through `providers` ended
/// now, and asks every hub to end them at once and tell their services
/// (docs/dashboard.md). A block or a report ends the sessions already
/// open, not only the next logins: a stolen account stops working
/// everywhere. Returns whether it was saved.
pub(crate) async fn end_sessions(
    dashboard: &Dashboard,
    person: &Person,
    settings: &mut Settings,
    providers: &[String],
) -> bool {
    let now = dashboard.clock.now();
    for provider in providers {
        settings.sessions_ended.insert(provider.clone(), now);
    }
    let Ok(bytes) = serde_json::to_vec(&settings) else {
        return false;
    };
    // The settings first: from now on every hub refuses those sessions at
    // their next use, whatever becomes of the queue.
    if let Err(error) = dashboard
        .preferences
        .save(person.sub.as_str(), &bytes)
        .await
    {
        tracing::error!(%error, "settings not saved");
        return false;
    }
    for provider in providers {
        if let Err(error) = dashboard
            .revocations
            .push(person.sub.as_str(), provider, now)
            .await
        {
            tracing::error!(%error, "sessions' end not queued");
        }
    }
    true
}
