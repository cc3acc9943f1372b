//! Error pages for people and JSON errors for clients.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use oidc::OAuthError;

use crate::Lang;
use crate::layout::{Page, escape};

/// An error page: a stable code (catalogued in docs/errors.md), a title
/// and message in French and English, and optionally a way back. It is
/// rendered in French; the request's frame (`Frame`) renders it again in the
/// request's language.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `HUB-AUTHZ-REDIRECT-URI`.
    pub code: &'static str,
    /// Title: French, English.
    pub title: [&'static str; 2],
    /// What happened and what to do: French, English.
    pub message: [&'static str; 2],
    /// Link back (URL, label), when there is a safe place to go.
    pub back: Option<(String, String)>,
    /// Which site shows the page.
    pub site: String,
}

/// One error of an app's catalogue.
#[derive(Clone, Copy, Debug)]
pub struct Entry<E> {
    /// The app's error.
    pub error: E,
    /// Its stable code.
    pub code: &'static str,
    /// Its HTTP status.
    pub status: u16,
    /// Title: French, English.
    pub title: [&'static str; 2],
    /// Message: French, English.
    pub message: [&'static str; 2],
}

/// An app's error catalogue. docs/errors.md is generated from the
/// catalogues.
pub type Catalogue<E> = [Entry<E>];

impl ErrorPage {
    /// The page of `error` in `catalogue`; an error missing from it (a bug)
    /// shows the technical error page rather than nothing.
    pub fn from_catalogue<E: PartialEq>(
        catalogue: &Catalogue<E>,
        error: &E,
        site: impl Into<String>,
    ) -> Self {
        let Some(entry) = catalogue.iter().find(|entry| entry.error == *error) else {
            return Self::technical(site);
        };
        ErrorPage {
            status: StatusCode::from_u16(entry.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: entry.code,
            title: entry.title,
            message: entry.message,
            back: None,
            site: site.into(),
        }
    }

    /// The technical error page (500): something of ours failed.
    pub fn technical(site: impl Into<String>) -> Self {
        ErrorPage {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "ERREUR-TECHNIQUE",
            title: ["Erreur technique", "Technical error"],
            message: [
                "Une erreur technique est survenue.",
                "A technical error occurred.",
            ],
            back: None,
            site: site.into(),
        }
    }

    /// The page with the way back to the app's `home`, labelled in `lang`.
    pub fn with_way_home(mut self, home: impl Into<String>, lang: Lang) -> Self {
        let label = lang.pick("Retour à l'accueil", "Back to the home page");
        self.back = Some((home.into(), label.to_owned()));
        self
    }

    /// The page as HTML, in French.
    pub fn render(&self) -> String {
        self.render_in(Lang::Fr)
    }

    /// The page as HTML, in a language.
    pub fn render_in(&self, lang: Lang) -> String {
        let pick = |texts: [&'static str; 2]| lang.pick(texts[0], texts[1]);
        let back = self
            .back
            .as_ref()
            .map(|(url, label)| {
                format!(
                    "<p><a class=\"pa-button\" href=\"{}\">{}</a></p>",
                    escape(url),
                    escape(label)
                )
            })
            .unwrap_or_default();
        let body = format!(
            "<h1>{title}</h1>\n<div class=\"pa-alert\" role=\"alert\"><p>{message}</p></div>\n\
             <p class=\"pa-code\">{label} <code>{code}</code></p>\n{back}",
            title = escape(pick(self.title)),
            message = escape(pick(self.message)),
            label = lang.pick("Code d'erreur :", "Error code:"),
            code = self.code,
        );
        Page {
            title: pick(self.title),
            site: &self.site,
            body,
            lang,
            here: None,
        }
        .render()
    }
}

/// `response` with its error page, if it is one, rendered again in the
/// language `lang` reads (the language switch's cookie), read only then:
/// apps answer errors without knowing who asked.
pub(crate) fn in_language(response: Response, lang: impl FnOnce() -> Lang) -> Response {
    let Some(page) = response.extensions().get::<ErrorPage>() else {
        return response;
    };
    match lang() {
        Lang::Fr => response,
        lang => {
            let page = page.clone();
            let (mut parts, _) = response.into_parts();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(page.render_in(lang)))
        }
    }
}

impl ErrorPage {
    /// The response, the page in `lang`.
    pub fn respond(self, lang: Lang) -> Response {
        tracing::info!(
            code = self.code,
            status = self.status.as_u16(),
            "error page"
        );
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            self.render_in(lang),
        )
            .into_response();
        response.extensions_mut().insert(self);
        response
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        self.respond(Lang::Fr)
    }
}

/// An RFC 6749 §5.2 JSON error, logged with its private detail.
pub fn oauth_json_error(error: &OAuthError) -> Response {
    tracing::info!(error = error.code.as_str(), detail = %error.detail, "{}", error.description);
    let status = StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, crate::no_store(), axum::Json(error.to_json())).into_response();
    response
        .extensions_mut()
        .insert(crate::OAuthErrorCode(error.code.as_str()));
    if status == StatusCode::UNAUTHORIZED {
        let scheme = if error.code == oidc::ErrorCode::InvalidToken {
            format!("Bearer error=\"{}\"", error.code.as_str())
        } else {
            "Bearer".to_owned()
        };
        if let Ok(value) = scheme.parse() {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}
