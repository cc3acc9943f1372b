//! The one check of a redirect target that comes from a request (the
//! language switch's `retour`, a démarche's page to come back to after
//! logging in…): a path of this site, or nothing.
//!
//! Browsers follow the URL Standard (<https://url.spec.whatwg.org/>): they
//! drop tabs and newlines anywhere in a URL and leading spaces and controls,
//! read `\` as `/`, and take `//host` as another site. So
//! `Location: /<TAB>/evil.example` lands on `http://evil.example/`. Rather
//! than guess what a browser will make of a string, the candidate is refused
//! when it holds anything a browser would rewrite, then resolved with the
//! `url` crate (an implementation of that standard) against a fixed base,
//! and kept only when it stays on the base's origin. What goes into
//! `Location` is `url`'s canonical serialisation, never the request's bytes.
//! OAuth redirect URIs are not this: they are matched exactly against the
//! registered ones (`oidc::RedirectUri`).

use axum::http::HeaderValue;
use axum::response::Response;
use url::Url;

/// The base every candidate is resolved against: a name that cannot be
/// registered (RFC 2606 §2), so no candidate can name it by chance.
const BASE: &str = "http://site.invalid/";

/// A path of this site (with its query, if any), safe to put in `Location`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalPath(String);

/// Why a redirect target was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotLocal {
    /// Nothing given.
    #[error("the return address is empty")]
    Empty,
    /// A control character, a space or a backslash, which browsers drop or
    /// read as `/`.
    #[error("the return address holds a control character, a space or a backslash")]
    Character,
    /// A percent-encoded `/`, `\` or control character, which a server or
    /// a proxy may decode into one.
    #[error("the return address holds a percent-encoded slash, backslash or control character")]
    Encoded,
    /// An `@` in the path (`/@host`, `user@host`): none of our paths has
    /// one, and it reads as another site's address in a mail.
    #[error("the return address holds an @ in its path")]
    At,
    /// Not a path beginning with exactly one `/` (an absolute URL, `//host`,
    /// `javascript:`, a relative path).
    #[error("the return address is not a path of this site")]
    NotAPath,
    /// A path that resolves to another origin (`/.//host`).
    #[error("the return address resolves to another site")]
    OtherSite,
}

impl LocalPath {
    /// The site's home, `/`.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// A path of this site from a request's value, or why not.
    pub fn parse(candidate: &str) -> Result<Self, NotLocal> {
        if candidate.is_empty() {
            return Err(NotLocal::Empty);
        }
        if candidate
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err(NotLocal::Character);
        }
        if has_encoded_separator(candidate) {
            return Err(NotLocal::Encoded);
        }
        let path = candidate.split(['?', '#']).next().unwrap_or_default();
        if path.contains('@') {
            return Err(NotLocal::At);
        }
        if !path.starts_with('/') || path.starts_with("//") {
            return Err(NotLocal::NotAPath);
        }
        let base = Url::parse(BASE).map_err(|_| NotLocal::OtherSite)?;
        let resolved = base.join(candidate).map_err(|_| NotLocal::NotAPath)?;
        // `/.//host` resolves to the path `//host`, which a browser would
        // read as another site once alone in `Location`.
        if resolved.origin() != base.origin() || resolved.path().starts_with("//") {
            return Err(NotLocal::OtherSite);
        }
        let mut local = resolved.path().to_owned();
        if let Some(query) = resolved.query() {
            local.push('?');
            local.push_str(query);
        }
        if let Some(fragment) = resolved.fragment() {
            local.push('#');
            local.push_str(fragment);
        }
        Ok(Self(local))
    }

    /// The path, canonical (what `Location` gets).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the path is `dir` (ending in `/`) or below it: a démarche
    /// sends back only to its own pages.
    pub fn is_under(&self, dir: &str) -> bool {
        self.0.starts_with(dir) || Some(self.0.as_str()) == dir.strip_suffix('/')
    }

    /// A 303 to this path, with a cookie when given.
    pub fn see_other(&self, cookie: Option<HeaderValue>) -> Response {
        crate::see_other(&self.0, cookie)
    }
}

impl std::fmt::Display for LocalPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `candidate` holds `%2F`, `%5C` (either case) or a
/// percent-encoded control character.
fn has_encoded_separator(candidate: &str) -> bool {
    candidate
        .as_bytes()
        .windows(3)
        .filter_map(|window| match window {
            [b'%', high, low] => {
                let hex = |digit: u8| char::from(digit).to_digit(16);
                Some(hex(*high)? * 16 + hex(*low)?)
            }
            _ => None,
        })
        .any(|byte| {
            byte == u32::from(b'/') || byte == u32::from(b'\\') || byte < 0x20 || byte == 0x7f
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trick_to_leave_the_site_is_refused_and_paths_of_the_site_are_kept_canonical() {
        use NotLocal::*;
        let cases: &[(&str, Result<&str, NotLocal>)] = &[
            // Paths of the site, kept (and made canonical).
            ("/", Ok("/")),
            ("/compte", Ok("/compte")),
            ("/ants/dossier/42?etape=2", Ok("/ants/dossier/42?etape=2")),
            ("/reception/abc?cle=x-y_z", Ok("/reception/abc?cle=x-y_z")),
            ("/a/../b", Ok("/b")),
            ("/../../etc", Ok("/etc")),
            ("/d%C3%A9marche", Ok("/d%C3%A9marche")),
            ("/démarche", Ok("/d%C3%A9marche")),
            ("/page#haut", Ok("/page#haut")),
            ("/?mail=a@b.example", Ok("/?mail=a@b.example")),
            ("/%2509/evil.example", Ok("/%2509/evil.example")),
            // Nothing.
            ("", Err(Empty)),
            // What browsers drop or turn into `/`.
            ("/\t/evil.example", Err(Character)),
            ("/\n/evil.example", Err(Character)),
            ("/\r/evil.example", Err(Character)),
            ("/\0/evil.example", Err(Character)),
            ("/\u{7f}/evil.example", Err(Character)),
            ("/\u{85}/evil.example", Err(Character)),
            (" //evil.example", Err(Character)),
            ("\t//evil.example", Err(Character)),
            ("//evil.example ", Err(Character)),
            ("/\u{3000}/evil.example", Err(Character)),
            ("/\\evil.example", Err(Character)),
            ("\\\\evil.example", Err(Character)),
            ("/page\\..\\..\\evil", Err(Character)),
            // Encoded separators and controls.
            ("%2F%2Fevil.example", Err(Encoded)),
            ("/%2F/evil.example", Err(Encoded)),
            ("/%2f/evil.example", Err(Encoded)),
            ("/%5Cevil.example", Err(Encoded)),
            ("/%5cevil.example", Err(Encoded)),
            ("/%09/evil.example", Err(Encoded)),
            ("/%0a/evil.example", Err(Encoded)),
            ("/%0D/evil.example", Err(Encoded)),
            ("/%00", Err(Encoded)),
            ("/%7F", Err(Encoded)),
            // Userinfo tricks.
            ("/@evil.example", Err(At)),
            ("@evil.example", Err(At)),
            ("http://site.invalid@evil.example/", Err(At)),
            ("https://user:pass@evil.example/", Err(At)),
            // Not a path of ours.
            ("//evil.example", Err(NotAPath)),
            ("//evil.example/path", Err(NotAPath)),
            ("///evil.example", Err(NotAPath)),
            ("http://evil.example/", Err(NotAPath)),
            ("https://evil.example", Err(NotAPath)),
            ("HTTPS://evil.example", Err(NotAPath)),
            ("http:evil.example", Err(NotAPath)),
            ("http://site.invalid/compte", Err(NotAPath)),
            ("javascript:alert(1)", Err(NotAPath)),
            ("data:text/html,<script>alert(1)</script>", Err(NotAPath)),
            ("evil.example", Err(NotAPath)),
            ("compte", Err(NotAPath)),
            ("?retour=//evil.example", Err(NotAPath)),
            ("#//evil.example", Err(NotAPath)),
            // Paths that resolve to `//host`.
            ("/.//evil.example", Err(OtherSite)),
            ("/a/..//evil.example", Err(OtherSite)),
            ("/%2e//evil.example", Err(OtherSite)),
            ("/%2E%2E//evil.example", Err(OtherSite)),
        ];
        for (candidate, verdict) in cases {
            let got = LocalPath::parse(candidate);
            assert_eq!(
                got.as_ref().map(LocalPath::as_str).map_err(|error| *error),
                *verdict,
                "{candidate:?}"
            );
        }
    }

    #[test]
    fn a_path_is_under_a_directory_only_when_it_resolves_below_it() {
        let path = |text: &str| LocalPath::parse(text).unwrap();
        assert!(path("/ants/dossier/1").is_under("/ants/"));
        assert!(path("/ants").is_under("/ants/"));
        assert!(path("/ants/").is_under("/ants/"));
        assert!(!path("/antsx").is_under("/ants/"));
        assert!(!path("/ants/../impots/").is_under("/ants/"));
    }
}
