//! How the dashboard's pages are framed, its refusals, and a trail's
//! entry as a row.

use askama::Template;
use axum::response::Response;
use store::Trace;
use web::rp::RpFailure;
use web::{ErrorPage, Lang};

use crate::errors::{CATALOGUE, DashboardError};
use crate::history::Entry;
use crate::state::Dashboard;

pub(crate) fn page(
    dashboard: &Dashboard,
    title: &str,
    template: &impl Template,
    lang: Lang,
    here: Option<&str>,
) -> Response {
    web::render_page(&dashboard.site(lang), title, lang, here, template)
}

/// The page of a refusal, with the way home.
pub(crate) fn refuse(dashboard: &Dashboard, lang: Lang, error: DashboardError) -> Response {
    ErrorPage::from_catalogue(CATALOGUE, &error, dashboard.site(lang))
        .with_way_home("/", lang)
        .respond(lang)
}

pub(crate) fn unavailable(dashboard: &Dashboard, lang: Lang) -> Response {
    refuse(dashboard, lang, DashboardError::Unavailable)
}
pub(crate) fn form_expired(dashboard: &Dashboard, lang: Lang) -> Response {
    dashboard.rp.failure(RpFailure::FormExpired, lang)
}
/// A trail entry as a row.
pub(crate) struct Row {
    pub(crate) seq: i64,
    pub(crate) when: String,
    pub(crate) what: String,
    pub(crate) provider: String,
    pub(crate) level: String,
    pub(crate) platform: String,
}

pub(crate) fn row(trace: &Trace, lang: Lang) -> Row {
    let when = match lang {
        Lang::Fr => mail::french_datetime(trace.at),
        Lang::En => mail::english_datetime(trace.at),
    };
    match serde_json::from_slice::<Entry>(&trace.body) {
        Ok(Entry::Connection {
            platform,
            service,
            provider,
            acr,
            ..
        }) => Row {
            seq: trace.seq,
            when,
            what: service,
            provider,
            level: acr.to_string(),
            platform,
        },
        Ok(Entry::Report { about_seq, .. }) => Row {
            seq: trace.seq,
            when,
            what: format!(
                "{} {about_seq}",
                lang.pick("Signalement de la connexion n°", "Report of login no.")
            ),
            provider: String::new(),
            level: String::new(),
            platform: String::new(),
        },
        Err(_) => Row {
            seq: trace.seq,
            when,
            what: lang.pick("Autre événement", "Other event").into(),
            provider: String::new(),
            level: String::new(),
            platform: String::new(),
        },
    }
}
