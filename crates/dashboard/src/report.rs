//! `/signalement`: « ce n'était pas moi ».

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use store::Trace;
use web::{Lang, LocalPath, see_other};

use crate::errors::DashboardError;
use crate::history::{Entry, end_sessions, load_settings, posted_form, trail};
use crate::pages::{Row, page, refuse, row, unavailable};
use crate::state::{Dashboard, load};

#[derive(Template)]
#[template(path = "report.html")]
pub(crate) struct ReportTemplate {
    lang: Lang,
    connections: Vec<Row>,
    csrf: String,
}

pub(crate) async fn report_form(
    State(dashboard): State<Arc<Dashboard>>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers, None);
    let mut session = load(&dashboard, &headers).await;
    let Some(person) = &session.data.user else {
        // The mail's link: log in first, then come back here.
        session
            .data
            .come_back_to(&LocalPath::parse("/signalement").unwrap_or_else(|_| LocalPath::root()));
        return see_other("/login", dashboard.rp.sessions().save(&session).await.ok());
    };
    let Ok(traces) = trail(&dashboard, person).await else {
        return unavailable(&dashboard, lang);
    };
    let template = ReportTemplate {
        lang,
        connections: connections(&traces)
            .rev()
            .map(|trace| row(trace, lang))
            .collect(),
        csrf: session.csrf_token(),
    };
    let title = lang.pick("Signaler une connexion", "Report a login");
    page(&dashboard, title, &template, lang, Some("/signalement"))
}

pub(crate) fn connections(traces: &[Trace]) -> impl DoubleEndedIterator<Item = &Trace> {
    traces.iter().filter(|trace| {
        matches!(
            serde_json::from_slice::<Entry>(&trace.body),
            Ok(Entry::Connection { .. })
        )
    })
}

#[derive(Template)]
#[template(path = "reported.html")]
pub(crate) struct ReportedTemplate<'a> {
    lang: Lang,
    hub: &'a str,
    when: String,
    service: String,
    provider: String,
}

pub(crate) async fn report(
    State(dashboard): State<Arc<Dashboard>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (lang, person, pairs) = match posted_form(&dashboard, &headers, &body, "/signalement").await
    {
        Ok(form) => form,
        Err(response) => return response,
    };
    let person = &person;
    let field = |wanted: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.clone())
    };
    let Ok(traces) = trail(&dashboard, person).await else {
        return unavailable(&dashboard, lang);
    };
    let about = field("seq")
        .and_then(|seq| seq.parse::<i64>().ok())
        .and_then(|seq| connections(&traces).find(|trace| trace.seq == seq));
    let Some(about) = about else {
        return refuse(&dashboard, lang, DashboardError::UnknownConnection);
    };
    let comment: String = field("comment")
        .unwrap_or_default()
        .chars()
        .take(1000)
        .collect();
    let entry = Entry::Report {
        about_seq: about.seq,
        comment,
    };
    let trail_keys = dashboard.trail_keys.get();
    let written = match (serde_json::to_vec(&entry), trail_keys.first()) {
        (Ok(bytes), Some(key)) => dashboard
            .traces
            .append(person.sub.as_str(), dashboard.clock.now(), &bytes, key)
            .await
            .is_ok(),
        _ => false,
    };
    if !written {
        return unavailable(&dashboard, lang);
    }
    if let Ok(Entry::Connection { provider_id, .. }) = serde_json::from_slice(&about.body)
        && !provider_id.is_empty()
    {
        let Some(mut settings) = load_settings(&dashboard, person).await else {
            return unavailable(&dashboard, lang);
        };
        if !end_sessions(&dashboard, person, &mut settings, &[provider_id]).await {
            return unavailable(&dashboard, lang);
        }
    }
    tracing::warn!(target: "security", event = "connection_reported", about = about.seq, "« ce n'était pas moi »: connection reported");
    let about = row(about, lang);
    let template = ReportedTemplate {
        lang,
        hub: &dashboard.config.hub_name,
        when: about.when,
        service: about.what,
        provider: about.provider,
    };
    let title = lang.pick("Signalement enregistré", "Report recorded");
    page(&dashboard, title, &template, lang, None)
}
