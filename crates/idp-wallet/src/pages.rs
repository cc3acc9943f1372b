//! How the provider's pages are framed: an askama template per page
//! (templates/), rendered into `web::Page`.

/// A page of the provider: `body`, an askama template, rendered into the
/// frame.
pub(crate) fn render_page(
    site: &str,
    title: &str,
    lang: web::Lang,
    body: &impl askama::Template,
) -> axum::response::Response {
    web::render_page(site, title, lang, None, body)
}
