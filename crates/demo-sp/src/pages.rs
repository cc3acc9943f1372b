//! The portal's own pages: the home page and the developer's view of
//! the identity received.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use web::rp::SignedIn;
use web::{Lang, Session};

use crate::state::{DemoService, SessionData};

pub(crate) fn page(
    service: &DemoService,
    title: &str,
    template: &impl Template,
    lang: Lang,
    here: Option<&str>,
) -> Response {
    web::render_page(&service.config.name, title, lang, here, template)
}

/// A démarche on the home page.
pub(crate) struct DemarcheLink {
    path: &'static str,
    name: &'static str,
    summary: &'static str,
    level: &'static str,
    platform: String,
}

/// A login button of the home page.
pub(crate) struct HubButton<'a> {
    id: &'a str,
    label: &'a str,
    acr: &'a str,
}

#[derive(Template)]
#[template(path = "home.html")]
pub(crate) struct HomeTemplate<'a> {
    lang: Lang,
    name: &'a str,
    hubs: Vec<HubButton<'a>>,
    person: Option<String>,
    csrf: String,
    demarches: Vec<DemarcheLink>,
    rental: Option<&'a str>,
}

pub(crate) async fn home(State(service): State<Arc<DemoService>>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers, None);
    let session: Session<SessionData> = service.rp.visit(&headers).await;
    let person = session.data.user.as_ref().map(SignedIn::name);
    let template = HomeTemplate {
        lang,
        name: &service.config.name,
        hubs: service
            .config
            .hubs
            .iter()
            .map(|hub| HubButton {
                id: &hub.id,
                label: &hub.label,
                acr: hub.acr.as_str(),
            })
            .collect(),
        person,
        csrf: session.csrf_token(),
        rental: service
            .config
            .rental
            .as_ref()
            .map(|rental| rental.name.as_str()),
        demarches: service
            .demarches
            .iter()
            .map(|demarche| DemarcheLink {
                path: demarche.service.path,
                name: demarche.service.name,
                summary: demarche.service.summary,
                level: demarche.service.level.as_str(),
                platform: demarche.settings.label.clone(),
            })
            .collect(),
    };
    page(&service, &service.config.name, &template, lang, Some("/"))
}

pub(crate) async fn jwks(State(service): State<Arc<DemoService>>) -> Response {
    axum::Json(service.jwks.clone()).into_response()
}

#[derive(Template)]
#[template(path = "me.html")]
pub(crate) struct MeTemplate<'a> {
    lang: Lang,
    hub: &'a str,
    encrypted: bool,
    acr: &'a str,
    sub: &'a str,
    claims: Vec<(String, String)>,
    id_token_claims: String,
    id_token: &'a str,
    userinfo: &'a str,
    csrf: String,
}

pub(crate) async fn me(State(service): State<Arc<DemoService>>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers, None);
    let session: Session<SessionData> = service.rp.visit(&headers).await;
    let Some(user) = &session.data.user else {
        return Redirect::to("/").into_response();
    };
    let received = &user.extra;
    let claims = user
        .claims
        .keys()
        .map(|name| (name.clone(), user.claim(name).unwrap_or_default()))
        .collect();
    let template = MeTemplate {
        lang,
        hub: service
            .rp
            .connection(&user.connection)
            .map_or("Passerelle", |hub| hub.label.as_str()),
        encrypted: received.id_token.split('.').count() == 5,
        acr: user.acr.as_str(),
        sub: user.sub.as_str(),
        claims,
        id_token_claims: serde_json::to_string_pretty(&received.id_claims).unwrap_or_default(),
        id_token: &received.id_token,
        userinfo: &received.userinfo_raw,
        csrf: session.csrf_token(),
    };
    let title = lang.pick("Identité reçue", "Identity received");
    page(&service, title, &template, lang, Some("/me"))
}
