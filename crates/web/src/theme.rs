//! Page themes. Every page links `/static/passerelle.css` (Passerelle's own
//! look) then `/static/theme.css`: empty for the default theme; for the
//! DSFR (the French state's design system, `theme = "dsfr"`), an import of
//! the DSFR stylesheet served from the npm package `@gouvfr/dsfr` (installed
//! with `npm ci --ignore-scripts` in themes/, never copied into git) and the
//! DSFR's colours and font given to Passerelle's classes.
//!
//! The DSFR is for the French State's own sites: an operator who is not one
//! keeps the default theme.

use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::Constant;

/// `[web]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeConfig {
    /// `passerelle` (default) or `dsfr`.
    #[serde(default)]
    pub theme: ThemeKind,
    /// The DSFR package's `dist` folder (default
    /// `themes/node_modules/@gouvfr/dsfr/dist`, from the working directory).
    #[serde(default = "default_dsfr_dir")]
    pub dsfr_dir: PathBuf,
}

fn default_dsfr_dir() -> PathBuf {
    PathBuf::from("themes/node_modules/@gouvfr/dsfr/dist")
}

/// Which look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeKind {
    /// Passerelle's own.
    #[default]
    Passerelle,
    /// The DSFR.
    Dsfr,
}

/// Where the theme's stylesheet is.
pub const THEME_PATH: &str = "/static/theme.css";

/// The DSFR's look for Passerelle's classes, after its own stylesheet.
const DSFR_MAPPING: &str = r#"@import url("/static/dsfr/dsfr.min.css");
:root {
  --pa-ink: #161616;
  --pa-muted: #3a3a3a;
  --pa-paper: #ffffff;
  --pa-wash: #f6f6f6;
  --pa-accent: #000091;
  --pa-accent-ink: #f5f5fe;
  --pa-danger: #ce0500;
  --pa-ok: #18753c;
  --pa-line: #dddddd;
  --pa-focus: #0a76f6;
}
html { font-family: Marianne, arial, sans-serif; }
.pa-main, .pa-button, button, .pa-providers button, input, textarea, fieldset { border-radius: 0; }
.pa-header { border-bottom: 0; box-shadow: 0 8px 8px 0 rgba(0, 0, 18, .16); }
/* The DSFR resets buttons after ours: Passerelle's buttons again, in DSFR colours. */
.pa-button, button { background-color: var(--pa-accent); color: var(--pa-accent-ink); border: 2px solid var(--pa-accent); padding: .5rem 1.5rem; font-weight: 500; }
.pa-button-secondary, button.pa-button-secondary { background-color: var(--pa-paper); color: var(--pa-accent); }
.pa-providers button { background-color: var(--pa-paper); color: var(--pa-ink); border: 2px solid var(--pa-line); }
.pa-providers button:hover { border-color: var(--pa-accent); }
.pa-providers button[disabled] { color: var(--pa-muted); background-color: var(--pa-wash); }
"#;

/// The theme routes every app serves (`/static/theme.css`, and the DSFR's
/// files under `/static/dsfr/`). A DSFR theme whose package is missing is a
/// bad setting, named at start.
pub fn theme_routes(config: &ThemeConfig) -> Result<Router, String> {
    match config.theme {
        ThemeKind::Passerelle => Ok(Router::new().route(THEME_PATH, get(|| async { css("") }))),
        ThemeKind::Dsfr => {
            let dir = config.dsfr_dir.clone();
            if !dir.join("dsfr.min.css").is_file() {
                return Err(format!(
                    "web.dsfr_dir: no dsfr.min.css in {} (run `npm ci --ignore-scripts` in themes/)",
                    dir.display()
                ));
            }
            Ok(Router::new()
                .route(THEME_PATH, get(|| async { css(DSFR_MAPPING) }))
                .route(
                    "/static/dsfr/{*file}",
                    get(move |UrlPath(file): UrlPath<String>| {
                        let dir = dir.clone();
                        async move { serve_file(&dir, &file).await }
                    }),
                ))
        }
    }
}

/// A stylesheet's answer, the same for everyone: kept by `serve`.
pub(crate) fn css(body: &'static str) -> Response {
    Constant::mark(
        (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            body,
        )
            .into_response(),
    )
}

/// A file of the package, by a path that stays inside it.
async fn serve_file(dir: &Path, file: &str) -> Response {
    let relative = Path::new(file);
    let inside = relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    let content_type = match relative.extension().and_then(|ext| ext.to_str()) {
        Some("css") => "text/css; charset=utf-8",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    if !inside {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(dir.join(relative)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
