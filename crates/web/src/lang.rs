//! The pages' language: French by default; English when the service asks
//! it by `ui_locales`, or when the citizen chooses it with the switch in
//! the page header (a cookie, which wins over `ui_locales`).

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::LocalPath;
use crate::session::cookie_value;

/// The cookie the switch sets.
pub const LANG_COOKIE: &str = "passerelle_lang";

/// A language of the pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// French, the default.
    #[default]
    Fr,
    /// English.
    En,
}

impl Lang {
    /// The BCP 47 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// A language from its code.
    pub fn parse(code: &str) -> Option<Self> {
        let primary = code.split(['-', '_']).next().unwrap_or_default();
        match primary.to_ascii_lowercase().as_str() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first language we have among space-separated `ui_locales`
    /// (OpenID Connect Core §3.1.2.1).
    pub fn from_ui_locales(ui_locales: &str) -> Option<Self> {
        ui_locales.split_whitespace().find_map(Self::parse)
    }

    /// The page language of a request: the switch's cookie, else the
    /// service's `ui_locales`, else French.
    pub fn of(headers: &HeaderMap, ui_locales: Option<&str>) -> Self {
        cookie_value(headers, LANG_COOKIE)
            .and_then(|code| Self::parse(&code))
            .or_else(|| ui_locales.and_then(Self::from_ui_locales))
            .unwrap_or_default()
    }

    /// The text in this language: `{{ lang.pick("Bonjour", "Hello") }}`.
    pub fn pick<'a>(&self, fr: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }

    /// The other language, offered by the switch.
    pub fn other(self) -> Self {
        match self {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        }
    }

    /// The other language's name, in that language.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::En => "English",
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The switch's query.
#[derive(Debug, Deserialize)]
pub struct Back {
    /// The page to go back to (a path of this site).
    #[serde(default)]
    retour: Option<String>,
}

/// `GET /langue/{code}?retour=/path`: remembers the choice for a year and
/// goes back to the page: only a path of this site ([`LocalPath`]), never
/// an open redirect; anything else goes to the home page.
pub async fn switch_language(Path(code): Path<String>, Query(back): Query<Back>) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return Redirect::to("/").into_response();
    };
    let target = match back.retour.as_deref().map(LocalPath::parse) {
        Some(Ok(path)) => path,
        Some(Err(refused)) => {
            tracing::info!(%refused, "language switch: return address refused");
            LocalPath::root()
        }
        None => LocalPath::root(),
    };
    let mut response = target.see_other(None);
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={lang}; Path=/; Max-Age=31536000; SameSite=Lax"
    )) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_comes_from_the_cookie_then_ui_locales_then_french() {
        let mut headers = HeaderMap::new();
        assert_eq!(Lang::of(&headers, None), Lang::Fr);
        assert_eq!(Lang::of(&headers, Some("de en-GB fr")), Lang::En);
        assert_eq!(Lang::of(&headers, Some("de")), Lang::Fr);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("passerelle_lang=fr"),
        );
        assert_eq!(Lang::of(&headers, Some("en")), Lang::Fr);
    }

    #[tokio::test]
    async fn the_switch_goes_back_only_to_a_path_of_this_site() {
        for (retour, location) in [
            (Some("/compte?x=1"), "/compte?x=1"),
            (Some("/\t/evil.example"), "/"),
            (Some("/.//evil.example"), "/"),
            (Some("https://evil.example"), "/"),
            (None, "/"),
        ] {
            let back = Back {
                retour: retour.map(str::to_owned),
            };
            let response = switch_language(Path("en".into()), Query(back)).await;
            assert_eq!(response.headers()[header::LOCATION], location, "{retour:?}");
            assert!(
                response.headers()[header::SET_COOKIE]
                    .to_str()
                    .unwrap()
                    .starts_with("passerelle_lang=en;")
            );
        }
    }
}
