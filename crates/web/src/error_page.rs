//! Error pages for people and JSON errors for clients.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use oidc::OAuthError;

use crate::layout::{Page, escape};

/// An error page: a stable code (catalogued in docs/errors.md), a French
/// title and message, and optionally a way back.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `HUB-AUTHZ-REDIRECT-URI`.
    pub code: &'static str,
    /// Title.
    pub title: &'static str,
    /// What happened and what to do, in French.
    pub message: String,
    /// Link back (URL, label), when there is a safe place to go.
    pub back: Option<(String, String)>,
    /// Which site shows the page.
    pub site: &'static str,
}

/// An app's error catalogue: error, stable code, HTTP status, French title
/// and message. docs/errors.md is generated from the catalogues.
pub type Catalogue<E> = [(E, &'static str, u16, &'static str, &'static str)];

impl ErrorPage {
    /// The page of `error` in `catalogue`; an error missing from it (a bug)
    /// shows a generic technical error rather than nothing.
    pub fn from_catalogue<E: PartialEq>(
        catalogue: &Catalogue<E>,
        error: &E,
        site: &'static str,
    ) -> Self {
        let (code, status, title, message) =
            catalogue.iter().find(|entry| entry.0 == *error).map_or(
                (
                    "ERREUR-TECHNIQUE",
                    500,
                    "Erreur technique",
                    "Une erreur technique est survenue.",
                ),
                |entry| (entry.1, entry.2, entry.3, entry.4),
            );
        ErrorPage {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            title,
            message: message.to_owned(),
            back: None,
            site,
        }
    }

    /// The page as HTML.
    pub fn render(&self) -> String {
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
             <p class=\"pa-code\">Code d'erreur : <code>{code}</code></p>\n{back}",
            title = escape(self.title),
            message = escape(&self.message),
            code = self.code,
        );
        Page {
            title: self.title,
            site: self.site,
            body,
            lang: crate::Lang::Fr,
            here: None,
        }
        .render()
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        tracing::info!(
            code = self.code,
            status = self.status.as_u16(),
            "error page"
        );
        (
            self.status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            self.render(),
        )
            .into_response()
    }
}

/// An RFC 6749 §5.2 JSON error, logged with its private detail.
pub fn oauth_json_error(error: &OAuthError) -> Response {
    tracing::info!(error = error.code.as_str(), detail = %error.detail, "{}", error.description);
    let status = StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, crate::no_store(), axum::Json(error.to_json())).into_response();
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
