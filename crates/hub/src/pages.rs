//! How the hub's pages are framed: an askama template per page
//! (templates/), rendered into `web::Page`.

use askama::Template;
use axum::response::Response;
use web::Lang;

/// Renders a page template in the frame; `here` is the page's path, for
/// the language switch.
pub fn render(template: &impl Template, title: &str, lang: Lang, here: Option<&str>) -> Response {
    web::render_page("Passerelle", title, lang, here, template)
}
