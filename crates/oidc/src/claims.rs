//! The identity pivot and FranceConnect's scopes and claims.
//!
//! The table is FranceConnect v2's (franceconnect.md §3): `profile`, `birth`,
//! `identite_pivot`, one scope per claim, `email`, `preferred_username`,
//! `idp_id`, `idp_birthdate`, `amr`, and FranceConnect+'s `rnipp_*` scopes.
//! Which of them a platform offers is its provider's setting
//! ([`crate::op::ProviderSettings::scopes`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::types::Scopes;

/// The country code of France in the INSEE COG.
pub const FRANCE: &str = "99100";

/// Every scope we know and the claims each one releases.
pub const SCOPES: &[(&str, &[&str])] = &[
    ("openid", &["sub"]),
    (
        "profile",
        &[
            "given_name",
            "given_name_array",
            "family_name",
            "birthdate",
            "gender",
            "preferred_username",
        ],
    ),
    ("birth", &["birthplace", "birthcountry"]),
    (
        "identite_pivot",
        &[
            "given_name",
            "given_name_array",
            "family_name",
            "birthdate",
            "gender",
            "birthplace",
            "birthcountry",
        ],
    ),
    ("given_name", &["given_name", "given_name_array"]),
    ("family_name", &["family_name"]),
    ("birthdate", &["birthdate"]),
    ("gender", &["gender"]),
    ("birthplace", &["birthplace"]),
    ("birthcountry", &["birthcountry"]),
    ("email", &["email"]),
    ("preferred_username", &["preferred_username"]),
    // The provider the person logged in with (FranceConnect's `idp_id`):
    // not part of the identity, the hub adds it.
    ("idp_id", &["idp_id"]),
    // How the person authenticated (FranceConnect's `amr`), in the ID
    // token: not part of the identity.
    ("amr", &["amr"]),
    // The birth date as the provider wrote it, a presumed `1970-00-00`
    // included (FranceConnect's, standard platform only).
    ("idp_birthdate", &["idp_birthdate"]),
    // FranceConnect+: the identity as the national register spells it,
    // beside the provider's own; each scope releases both.
    (
        "rnipp_identite_pivot",
        &[
            "given_name",
            "given_name_array",
            "family_name",
            "birthdate",
            "gender",
            "birthplace",
            "birthcountry",
            "rnipp_given_name",
            "rnipp_given_name_array",
            "rnipp_family_name",
            "rnipp_birthdate",
            "rnipp_gender",
            "rnipp_birthplace",
            "rnipp_birthcountry",
        ],
    ),
    (
        "rnipp_profile",
        &[
            "given_name",
            "given_name_array",
            "family_name",
            "birthdate",
            "gender",
            "preferred_username",
            "rnipp_given_name",
            "rnipp_given_name_array",
            "rnipp_family_name",
            "rnipp_birthdate",
            "rnipp_gender",
        ],
    ),
    (
        "rnipp_birth",
        &[
            "birthplace",
            "birthcountry",
            "rnipp_birthplace",
            "rnipp_birthcountry",
        ],
    ),
    (
        "rnipp_given_name",
        &[
            "given_name",
            "given_name_array",
            "rnipp_given_name",
            "rnipp_given_name_array",
        ],
    ),
    ("rnipp_family_name", &["family_name", "rnipp_family_name"]),
    ("rnipp_birthdate", &["birthdate", "rnipp_birthdate"]),
    ("rnipp_gender", &["gender", "rnipp_gender"]),
    ("rnipp_birthplace", &["birthplace", "rnipp_birthplace"]),
    (
        "rnipp_birthcountry",
        &["birthcountry", "rnipp_birthcountry"],
    ),
];

/// The scopes only FranceConnect+ has: the register's identity beside the
/// provider's.
pub const RNIPP_SCOPES: &[&str] = &[
    "rnipp_identite_pivot",
    "rnipp_profile",
    "rnipp_birth",
    "rnipp_given_name",
    "rnipp_family_name",
    "rnipp_birthdate",
    "rnipp_gender",
    "rnipp_birthplace",
    "rnipp_birthcountry",
];

/// The scopes only the standard platform has (FranceConnect's, not
/// FranceConnect+'s).
pub const STANDARD_ONLY_SCOPES: &[&str] = &["idp_birthdate"];

/// Whether a scope is one of ours.
pub fn is_known_scope(scope: &str) -> bool {
    SCOPES.iter().any(|(name, _)| *name == scope)
}

/// The names of every known scope, for discovery.
pub fn known_scopes() -> Vec<&'static str> {
    SCOPES.iter().map(|(name, _)| *name).collect()
}

/// Whether a claim is a user claim some scope releases.
pub fn is_user_claim(name: &str) -> bool {
    SCOPES.iter().any(|(_, claims)| claims.contains(&name))
}

/// The claims the scopes release, in table order, without repeats (a scope
/// outside the table, a data provider's, releases none).
pub fn claims_for(scopes: &Scopes) -> Vec<&'static str> {
    let mut claims: Vec<&'static str> = Vec::new();
    for (_, released) in SCOPES.iter().filter(|(name, _)| scopes.contains(name)) {
        for claim in *released {
            if !claims.contains(claim) {
                claims.push(claim);
            }
        }
    }
    claims
}

/// A person as the federation knows them: the identity pivot, plus the
/// contact data the identity provider gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// First names separated by spaces.
    pub given_name: String,
    /// Birth name.
    pub family_name: String,
    /// YYYY-MM-DD, a presumed date already written as the services read
    /// it (`1970-00-00` is `1970-01-01`, [`released_birthdate`]).
    pub birthdate: String,
    /// `female` or `male`.
    pub gender: String,
    /// INSEE COG commune code; empty when born abroad.
    pub birthplace: String,
    /// INSEE COG country code; `99100` for France.
    pub birthcountry: String,
    /// Contact email (required from identity providers, as FranceConnect).
    pub email: String,
    /// Usage name, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
}

impl Identity {
    /// Reads and checks an identity from claims (an ID token merged with a
    /// userinfo response), with FranceConnect's rules for what identity
    /// providers send (`oidc-identity.dto.ts`). The error names the field.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Self, String> {
        let text = |name: &str| -> Result<String, String> {
            match claims.get(name) {
                Some(Value::String(value)) => Ok(value.trim().to_owned()),
                Some(_) => Err(format!("{name} is not a string")),
                None => Err(format!("{name} is missing")),
            }
        };
        let name = |field: &str| -> Result<String, String> {
            let value = text(field)?;
            let length = value.chars().count();
            if !(1..=256).contains(&length) || value.chars().any(char::is_control) {
                return Err(format!("{field} must have 1 to 256 printable characters"));
            }
            Ok(value)
        };
        let birthdate = text("birthdate")?;
        let birthdate = released_birthdate(&birthdate)
            .ok_or_else(|| "birthdate must be YYYY-MM-DD, YYYY-MM-00 or YYYY-00-00".to_owned())?;
        let gender = text("gender")?;
        if gender != "female" && gender != "male" {
            return Err("gender must be female or male".to_owned());
        }
        let birthcountry = text("birthcountry")?;
        if !is_cog_country(&birthcountry) {
            return Err("birthcountry must be an INSEE COG country code".to_owned());
        }
        let birthplace = match claims.get("birthplace") {
            None | Some(Value::Null) => String::new(),
            Some(_) => text("birthplace")?,
        };
        if birthcountry == FRANCE && !is_cog_commune(&birthplace) {
            return Err(
                "birthplace must be an INSEE COG commune code for people born in France".to_owned(),
            );
        }
        if birthcountry != FRANCE && !birthplace.is_empty() {
            return Err("birthplace must be empty for people born abroad".to_owned());
        }
        let email = text("email")?;
        if !is_email(&email) {
            return Err("email is not an address".to_owned());
        }
        let preferred_username = match claims.get("preferred_username") {
            None | Some(Value::Null) => None,
            Some(Value::String(value)) if value.trim().is_empty() => None,
            Some(_) => Some(name("preferred_username")?),
        };
        Ok(Self {
            given_name: name("given_name")?,
            family_name: name("family_name")?,
            birthdate,
            gender,
            birthplace,
            birthcountry,
            email,
            preferred_username,
        })
    }

    /// The value of one claim, when this identity has it.
    pub fn claim(&self, name: &str) -> Option<Value> {
        let text = |value: &str| Some(Value::String(value.to_owned()));
        match name {
            "given_name" => text(&self.given_name),
            "given_name_array" => Some(Value::Array(
                self.given_name
                    .split(' ')
                    .filter(|part| !part.is_empty())
                    .map(|part| Value::String(part.to_owned()))
                    .collect(),
            )),
            "family_name" => text(&self.family_name),
            "birthdate" => text(&self.birthdate),
            "gender" => text(&self.gender),
            "birthplace" => text(&self.birthplace),
            "birthcountry" => text(&self.birthcountry),
            "email" => text(&self.email),
            "preferred_username" => self.preferred_username.as_deref().and_then(text),
            _ => None,
        }
    }

    /// The claims the scopes release, then those asked one by one (without
    /// `sub`).
    pub fn claims_for(&self, scopes: &Scopes, asked: &[String]) -> Map<String, Value> {
        claims_for(scopes)
            .into_iter()
            .chain(asked.iter().map(String::as_str))
            .filter_map(|name| self.claim(name).map(|value| (name.to_owned(), value)))
            .collect()
    }
}

/// A birth date as a provider may send it, checked, and written as the
/// services read it: a presumed date (FranceConnect's `YYYY-00-00`, born
/// some day of that year, or `YYYY-MM-00`) becomes the first day of the
/// year or month (`is-idp-birthdate.validator.ts`, franceconnect.md §3).
/// `None` when it is none of these forms.
pub fn released_birthdate(text: &str) -> Option<String> {
    let (year, month, day) = (text.get(0..4)?, text.get(5..7)?, text.get(8..10)?);
    let released = match (month, day) {
        ("00", "00") => format!("{year}-01-01"),
        (_, "00") => format!("{year}-{month}-01"),
        _ => text.to_owned(),
    };
    is_birthdate(&released).then_some(released)
}

fn is_birthdate(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let number =
        |range: std::ops::Range<usize>| text.get(range).and_then(|part| part.parse::<u32>().ok());
    bytes.len() == 10
        && digits(0..4)
        && bytes.get(4) == Some(&b'-')
        && digits(5..7)
        && bytes.get(7) == Some(&b'-')
        && digits(8..10)
        && number(5..7).is_some_and(|month| (1..=12).contains(&month))
        && number(8..10).is_some_and(|day| (1..=31).contains(&day))
}

fn is_cog_country(text: &str) -> bool {
    text.len() == 5 && text.starts_with("99") && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_cog_commune(text: &str) -> bool {
    // Five characters: digits, with "2A"/"2B" for Corsica.
    let bytes = text.as_bytes();
    bytes.len() == 5
        && !text.starts_with("99")
        && bytes.iter().enumerate().all(|(index, b)| {
            b.is_ascii_digit()
                || (index == 1 && (*b == b'A' || *b == b'B') && bytes.first() == Some(&b'2'))
        })
}

/// Whether `text` reads as an email address: one `@`, a local part, a
/// dotted domain that neither starts nor ends with a dot, no space or
/// control character, 254 bytes at most. The one check of the federation:
/// what a provider accepts at account creation, the hub accepts in a claim.
pub fn is_email(text: &str) -> bool {
    let mut parts = text.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && text.len() <= 254
                && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn an_email_address_has_one_at_and_a_dotted_domain() {
        use super::is_email;
        assert!(is_email("marie.dupont.1@example.fr"));
        for bad in [
            "",
            "marie",
            "@example.fr",
            "marie@example",
            "a@b@example.fr",
            "marie@.example.fr",
            "marie@example.fr.",
            "marie dupont@example.fr",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(!is_email(&format!("{}@example.fr", "a".repeat(250))));
    }

    use super::*;

    fn claims() -> Map<String, Value> {
        json!({
            "given_name": "Marie Hélène", "family_name": "DUPONT", "birthdate": "1980-02-29",
            "gender": "female", "birthplace": "75107", "birthcountry": "99100",
            "email": "marie@example.fr"
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn identite_pivot_releases_the_six_pivot_claims_and_the_given_name_array() {
        let scopes = Scopes::parse("openid identite_pivot").unwrap();
        let identity = Identity::from_claims(&claims()).unwrap();
        let released = identity.claims_for(&scopes, &[]);
        assert_eq!(released["given_name_array"], json!(["Marie", "Hélène"]));
        assert_eq!(released.len(), 7);
        assert!(!released.contains_key("email"));
    }

    #[test]
    fn a_person_born_abroad_has_an_empty_birthplace() {
        let mut claims = claims();
        claims.insert("birthcountry".into(), json!("99134"));
        assert!(Identity::from_claims(&claims).is_err());
        claims.insert("birthplace".into(), json!(""));
        assert_eq!(Identity::from_claims(&claims).unwrap().birthplace, "");
    }

    #[test]
    fn each_bad_field_is_named() {
        for (field, value) in [
            ("birthdate", json!("1980-13-01")),
            ("gender", json!("other")),
            ("birthcountry", json!("FR")),
            ("birthplace", json!("7510")),
            ("email", json!("nope")),
            ("given_name", json!("")),
            ("family_name", json!(42)),
        ] {
            let mut claims = claims();
            claims.insert(field.into(), value);
            let error = Identity::from_claims(&claims).unwrap_err();
            assert!(error.starts_with(field), "{field}: {error}");
        }
    }

    #[test]
    fn presumed_birth_dates_are_accepted_and_released_as_a_first_day() {
        assert_eq!(
            released_birthdate("1970-00-00").as_deref(),
            Some("1970-01-01")
        );
        assert_eq!(
            released_birthdate("1970-07-00").as_deref(),
            Some("1970-07-01")
        );
        assert_eq!(
            released_birthdate("1970-07-14").as_deref(),
            Some("1970-07-14")
        );
        for bad in [
            "1970-00-14",
            "1970-13-00",
            "1970-7-1",
            "19700101",
            "",
            "1970-01-32",
        ] {
            assert_eq!(released_birthdate(bad), None, "{bad}");
        }
        let mut claims = claims();
        claims.insert("birthdate".into(), json!("1980-00-00"));
        assert_eq!(
            Identity::from_claims(&claims).unwrap().birthdate,
            "1980-01-01"
        );
    }

    #[test]
    fn rnipp_scopes_release_the_provider_claim_and_the_register_one() {
        let scopes = Scopes::parse("openid rnipp_given_name rnipp_birth").unwrap();
        assert_eq!(
            claims_for(&scopes),
            [
                "sub",
                "birthplace",
                "birthcountry",
                "rnipp_birthplace",
                "rnipp_birthcountry",
                "given_name",
                "given_name_array",
                "rnipp_given_name",
                "rnipp_given_name_array",
            ]
        );
        assert!(RNIPP_SCOPES.iter().all(|scope| is_known_scope(scope)));
    }

    #[test]
    fn corsican_birthplaces_are_commune_codes() {
        assert!(is_cog_commune("2A004"));
        assert!(!is_cog_commune("3A004"));
        assert!(!is_cog_commune("99100"));
    }
}
