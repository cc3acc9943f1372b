//! The page layout. Every page is its own template for the `<main>` part;
//! [`Page`] wraps it in the shared frame. A theme replaces the stylesheet
//! (and may replace this frame): the markup uses plain semantic elements and
//! a few `pa-` classes, nothing tied to our look.

use axum::response::{Html, IntoResponse, Response};

use crate::lang::Lang;
use crate::theme::THEME_PATH;

/// Where every app serves the stylesheet.
pub const STYLESHEET_PATH: &str = "/static/passerelle.css";

/// Our own look: sober, high-contrast, readable; no external resource.
pub const STYLESHEET: &str = include_str!("../static/passerelle.css");

/// Serves the stylesheet.
pub async fn stylesheet() -> Response {
    crate::theme::css(STYLESHEET)
}

/// `/favicon.ico`: none, said without an error (browsers ask for it).
pub async fn no_favicon() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

/// A page of an app: its template (the `<main>`) rendered into the frame.
/// Every app renders its pages this way. A template that does not render
/// is the technical error page, never a blank or half page.
pub fn render_page(
    site: &str,
    title: &str,
    lang: Lang,
    here: Option<&str>,
    body: &impl askama::Template,
) -> Response {
    match body.render() {
        Ok(body) => Page {
            title,
            site,
            body,
            lang,
            here,
        }
        .into_response(),
        Err(error) => {
            tracing::error!(%error, "page not rendered");
            crate::ErrorPage::technical(site).respond(lang)
        }
    }
}

/// A page ready to be framed.
#[derive(Debug)]
pub struct Page<'a> {
    /// The `<title>`, also the page's first heading context.
    pub title: &'a str,
    /// Who serves the page ("Passerelle", "impots.gouv (démo)"…), in the banner.
    pub site: &'a str,
    /// The rendered `<main>` content (already escaped HTML).
    pub body: String,
    /// Its language.
    pub lang: Lang,
    /// The page's own path and query, for the language switch to come back
    /// to; no switch without it.
    pub here: Option<&'a str>,
}

impl Page<'_> {
    /// The full HTML document.
    pub fn render(&self) -> String {
        let title = escape(self.title);
        let site = escape(self.site);
        let lang = self.lang;
        let switch = match self.here {
            Some(here) => {
                let other = lang.other();
                let back: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
                format!(
                    "<a class=\"pa-lang\" href=\"/langue/{other}?retour={back}\" lang=\"{other}\" hreflang=\"{other}\">{}</a>",
                    other.name()
                )
            }
            None => String::new(),
        };
        format!(
            "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title} – {site}</title>\n<link rel=\"stylesheet\" href=\"{STYLESHEET_PATH}\">\n\
             <link rel=\"stylesheet\" href=\"{THEME_PATH}\">\n</head>\n<body>\n\
             <a class=\"pa-skip\" href=\"#contenu\">{skip}</a>\n\
             <header class=\"pa-header\"><p class=\"pa-site\">{site}</p>{switch}</header>\n\
             <main id=\"contenu\" class=\"pa-main\" tabindex=\"-1\">\n{body}\n</main>\n\
             <footer class=\"pa-footer\"><p>{footer}</p></footer>\n</body>\n</html>\n",
            body = self.body,
            skip = lang.pick("Aller au contenu", "Skip to content"),
            footer = lang.pick(
                "Passerelle – fédération d'identité de démonstration. Aucune donnée réelle.",
                "Passerelle – a demonstration identity federation. No real data."
            ),
        )
    }
}

impl IntoResponse for Page<'_> {
    fn into_response(self) -> Response {
        Html(self.render()).into_response()
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_escapes_its_title_and_is_french() {
        let page = Page {
            title: "<script>",
            site: "Passerelle",
            body: String::new(),
            lang: Lang::Fr,
            here: None,
        }
        .render();
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("<html lang=\"fr\">"));
    }
}
