//! Protocol values parsed at the edge: past these types, nothing is a plain
//! string that could hold a bad value.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

/// A registered redirect URI, compared by exact string match (RFC 9700 §4.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

impl RedirectUri {
    /// An absolute `http`/`https` URL with a host and no fragment
    /// (RFC 6749 §3.1.2). Plain `http` is for loopback development hosts.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = Url::parse(text).map_err(|_| format!("{text:?} is not an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "{text:?} must use https (or http for local development)"
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{text:?} has no host"));
        }
        if url.fragment().is_some() {
            return Err(format!("{text:?} must not have a fragment"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The URI as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URI with parameters appended to its query (keeping its own).
    pub fn with_params(&self, params: &[(&str, &str)]) -> String {
        match Url::parse(&self.0) {
            Ok(mut url) => {
                url.query_pairs_mut().extend_pairs(params);
                url.into()
            }
            // Unreachable for a parsed value; fall back to the bare URI.
            Err(_) => self.0.clone(),
        }
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<RedirectUri> for String {
    fn from(uri: RedirectUri) -> String {
        uri.0
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An eIDAS level of assurance, as FranceConnect names them in `acr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Acr {
    /// Low: a password account.
    Eidas1,
    /// Substantial (FranceConnect+).
    Eidas2,
    /// High.
    Eidas3,
}

impl Acr {
    /// Every level, lowest first.
    pub const ALL: [Acr; 3] = [Acr::Eidas1, Acr::Eidas2, Acr::Eidas3];

    /// The `acr` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Acr::Eidas1 => "eidas1",
            Acr::Eidas2 => "eidas2",
            Acr::Eidas3 => "eidas3",
        }
    }

    /// Parses one known value.
    pub fn parse(text: &str) -> Option<Self> {
        Acr::ALL.into_iter().find(|acr| acr.as_str() == text)
    }

    /// The lowest known level among space-separated `acr_values`; unknown
    /// values are ignored, as FranceConnect does (`acr.transform.ts`).
    pub fn lowest_of(values: &str) -> Option<Self> {
        values.split(' ').filter_map(Acr::parse).min()
    }
}

impl fmt::Display for Acr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subject identifier as a provider sends it: 1 to 255 ASCII characters
/// with no control character (OpenID Connect Core §2 bounds it at 255).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sub(String);

impl Sub {
    /// Parses a `sub`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.len() > 255 {
            return Err("sub must have 1 to 255 characters".into());
        }
        if !text.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err("sub must be printable ASCII".into());
        }
        Ok(Self(text.to_owned()))
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sub {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<Sub> for String {
    fn from(sub: Sub) -> String {
        sub.0
    }
}

impl fmt::Display for Sub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A set of scopes, kept sorted so that it prints the same way each time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    /// Splits a space-separated `scope` value. Scope tokens are printable
    /// ASCII without `"` or `\` (RFC 6749 §3.3).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for token in text.split(' ').filter(|token| !token.is_empty()) {
            let valid = token
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
            if !valid || token.len() > 64 {
                return Err("scope contains an invalid token".to_owned());
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// Whether `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The scopes for which `keep` holds.
    pub fn retain(mut self, keep: impl Fn(&str) -> bool) -> Self {
        self.0.retain(|scope| keep(scope));
        self
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined: Vec<&str> = self.iter().collect();
        f.write_str(&joined.join(" "))
    }
}

/// A PKCE code challenge; only `S256` exists here (RFC 7636 §4.2; `plain`
/// is refused, RFC 9700 §2.1.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PkceChallenge(String);

impl PkceChallenge {
    /// Parses `code_challenge` and `code_challenge_method`.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, String> {
        if method.unwrap_or("plain") != "S256" {
            return Err("code_challenge_method must be S256".to_owned());
        }
        let decoded = URL_SAFE_NO_PAD.decode(challenge).ok();
        if challenge.len() != 43 || decoded.is_none_or(|bytes| bytes.len() != 32) {
            return Err("code_challenge must be a base64url SHA-256 digest".to_owned());
        }
        Ok(Self(challenge.to_owned()))
    }

    /// The challenge for a verifier.
    pub fn of(verifier: &str) -> Self {
        Self(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())))
    }

    /// Whether `verifier` answers this challenge; the verifier must be
    /// 43–128 unreserved characters (RFC 7636 §4.1).
    pub fn is_answered_by(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        well_formed && constant_time_eq(Self::of(verifier).0.as_bytes(), self.0.as_bytes())
    }

    /// The challenge value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A random URL-safe token of `bytes` random bytes (state, nonce, verifier).
pub fn random_token(bytes: usize) -> String {
    use rand::RngCore as _;
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sub_is_one_to_255_printable_ascii_characters() {
        assert_eq!(
            Sub::parse("a1-b2").map(|sub| sub.to_string()),
            Ok("a1-b2".into())
        );
        assert!(Sub::parse(&"x".repeat(255)).is_ok());
        for bad in ["", " ", "a b", "a\nb", "é", &"x".repeat(256)] {
            assert!(Sub::parse(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<Sub>("\"\"").is_err());
    }

    #[test]
    fn a_redirect_uri_must_be_absolute_http_without_fragment() {
        assert!(RedirectUri::parse("https://sp.example/callback").is_ok());
        assert!(RedirectUri::parse("http://localhost:8000/cb?x=1").is_ok());
        for bad in [
            "/callback",
            "ftp://x/y",
            "https://sp.example/cb#f",
            "javascript:alert(1)",
            "",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_lowest_known_acr_wins_and_unknown_values_are_ignored() {
        assert_eq!(Acr::lowest_of("eidas3 eidas2"), Some(Acr::Eidas2));
        assert_eq!(Acr::lowest_of("foo eidas3"), Some(Acr::Eidas3));
        assert_eq!(Acr::lowest_of("foo bar"), None);
    }

    #[test]
    fn pkce_s256_accepts_its_verifier_and_nothing_else() {
        // The pair computed independently (Python hashlib, base64url).
        let challenge =
            PkceChallenge::parse("7tiiky7MQDXhRfaN2j1wKlH45BFkCbTLLRbr0GFdhrk", Some("S256"))
                .unwrap();
        assert!(challenge.is_answered_by("dBjftJeZ4CVP-mJ0uaiR3cZOUxqOlIvFcBRmO0xK3jE"));
        assert!(!challenge.is_answered_by("dBjftJeZ4CVP-mJ0uaiR3cZOUxqOlIvFcBRmO0xK3jF"));
        assert!(PkceChallenge::parse("7tiiky7MQDXhRfaN2j1wKlH45BFkCbTLLRbr0GFdhrk", None).is_err());
        assert!(PkceChallenge::parse("short", Some("S256")).is_err());
    }

    #[test]
    fn scopes_refuse_control_characters() {
        assert!(Scopes::parse("openid profile").unwrap().contains("profile"));
        assert!(Scopes::parse("openid\u{7f}").is_err());
        assert_eq!(Scopes::parse("b  a").unwrap().to_string(), "a b");
    }
}
