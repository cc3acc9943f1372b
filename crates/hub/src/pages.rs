//! How the hub's pages are framed: an askama template per page
//! (templates/), rendered into `web::Page`.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use web::{Lang, Page};

use crate::errors::HubError;

/// Renders a page template in the frame; `here` is the page's path, for
/// the language switch.
pub fn render(template: &impl Template, title: &str, lang: Lang, here: Option<&str>) -> Response {
    match template.render() {
        Ok(body) => Page {
            title,
            site: "Passerelle",
            body,
            lang,
            here,
        }
        .into_response(),
        Err(error) => {
            tracing::error!(%error, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                HubError::Internal.page().render(),
            )
                .into_response()
        }
    }
}
