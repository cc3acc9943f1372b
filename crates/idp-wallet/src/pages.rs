//! How the provider's pages are framed: an askama template per page
//! (templates/), rendered into `web::Page`.

use crate::errors;

/// A page of the provider: `body`, an askama template, rendered into the
/// frame. A template that does not render is a technical error, never a
/// blank page.
pub(crate) fn render_page(
    site: &str,
    title: &str,
    lang: web::Lang,
    body: &impl askama::Template,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match body.render() {
        Ok(body) => web::Page {
            title,
            site,
            body,
            lang,
            here: None,
        }
        .into_response(),
        Err(error) => {
            tracing::error!(%error, "page not rendered");
            errors::WalletError::Storage.into_response()
        }
    }
}
