//! Reading an identity query: the JSON body of `POST /api/v1/identities/match`.
//!
//! The body is the identity pivot exactly as the hub received it from the identity provider
//! (franceconnect.md §3). It is checked here, once, into an [`IdentityQuery`] that cannot hold
//! a bad value; the checks are the FranceConnect IdP-input rules (franceconnect.md §3,
//! "IdP input validation"), each a small function below, run in the order of
//! [`parse_query`].

use population::{Date, Gender, cog};
use serde_json::{Map, Value};

use crate::RegisterError;

/// Longest name accepted, in characters (FranceConnect: names are 1–256 characters).
const NAME_MAX_CHARS: usize = 256;

/// A checked identity query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdentityQuery {
    /// First names as sent (compared after normalisation).
    pub(crate) given_name: String,
    /// Birth name as sent (compared after normalisation).
    pub(crate) family_name: String,
    pub(crate) birthdate: Date,
    pub(crate) gender: Gender,
    /// COG commune code, `""` when born abroad.
    pub(crate) birthplace: String,
    /// COG country code.
    pub(crate) birthcountry: String,
}

/// Reads and checks a request body. Members other than the six of the pivot are ignored.
pub(crate) fn parse_query(body: &[u8]) -> Result<IdentityQuery, RegisterError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| invalid(&format!("the body is not valid JSON: {error}")))?;
    let Value::Object(members) = value else {
        return Err(invalid("the body must be a JSON object"));
    };
    let given_name = check_name(&members, "given_name")?;
    let family_name = check_name(&members, "family_name")?;
    let birthdate = check_birthdate(&members)?;
    let gender = check_gender(&members)?;
    let birthcountry = check_birthcountry(&members)?;
    let birthplace = check_birthplace(&members, &birthcountry)?;
    Ok(IdentityQuery {
        given_name,
        family_name,
        birthdate,
        gender,
        birthplace,
        birthcountry,
    })
}

/// A name: a string of 1 to 256 characters, not only spaces (FranceConnect IdP input rule).
fn check_name(members: &Map<String, Value>, member: &'static str) -> Result<String, RegisterError> {
    let name = string_member(members, member)?;
    let length = name.chars().count();
    if name.trim().is_empty() || length > NAME_MAX_CHARS {
        return Err(invalid(&format!(
            "{member} must have 1 to {NAME_MAX_CHARS} characters"
        )));
    }
    Ok(name.to_owned())
}

/// `birthdate`: a real calendar day written `YYYY-MM-DD` (the pivot format; the register
/// holds complete dates only, so presumed dates such as `1950-00-00` are refused).
fn check_birthdate(members: &Map<String, Value>) -> Result<Date, RegisterError> {
    let text = string_member(members, "birthdate")?;
    Date::parse(text).ok_or_else(|| invalid("birthdate must be a YYYY-MM-DD calendar date"))
}

/// `gender`: `"female"` or `"male"`, lower case (the pivot's enum).
fn check_gender(members: &Map<String, Value>) -> Result<Gender, RegisterError> {
    let text = string_member(members, "gender")?;
    Gender::parse(text).ok_or_else(|| invalid("gender must be \"female\" or \"male\""))
}

/// `birthcountry`: a COG country code, `99` and three digits (`99100` for France).
fn check_birthcountry(members: &Map<String, Value>) -> Result<String, RegisterError> {
    let code = string_member(members, "birthcountry")?;
    let well_formed =
        code.len() == 5 && code.starts_with("99") && code.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return Err(invalid(
            "birthcountry must be a COG country code: 99 followed by three digits",
        ));
    }
    Ok(code.to_owned())
}

/// `birthplace`: a 5-character COG commune code when born in France (two département
/// characters, digits or `2A`/`2B`, then three digits), and empty when born abroad: the pivot
/// has a birthplace only when `birthcountry` is `99100` (franceconnect.md §3).
fn check_birthplace(
    members: &Map<String, Value>,
    birthcountry: &str,
) -> Result<String, RegisterError> {
    let code = string_member(members, "birthplace")?;
    if birthcountry == cog::FRANCE {
        if !is_commune_code(code) {
            return Err(invalid(
                "birthplace must be a 5-character COG commune code when birthcountry is 99100",
            ));
        }
    } else if !code.is_empty() {
        return Err(invalid(
            "birthplace must be empty when birthcountry is not 99100 (born abroad)",
        ));
    }
    Ok(code.to_owned())
}

/// The shape of a COG commune code: `NNNNN`, `2ANNN` or `2BNNN`.
fn is_commune_code(code: &str) -> bool {
    let department_ok = match code.get(..2) {
        Some("2A" | "2B") => true,
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    };
    code.len() == 5
        && department_ok
        && code
            .get(2..)
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
}

/// A member that must be present and a string.
fn string_member<'a>(
    members: &'a Map<String, Value>,
    member: &'static str,
) -> Result<&'a str, RegisterError> {
    match members.get(member) {
        None => Err(invalid(&format!("{member} is missing"))),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(invalid(&format!("{member} must be a string"))),
    }
}

fn invalid(description: &str) -> RegisterError {
    RegisterError::InvalidRequest(description.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    fn marie() -> Value {
        json!({
            "given_name": "Marie",
            "family_name": "DUPONT",
            "birthdate": "1985-03-14",
            "gender": "female",
            "birthplace": "75115",
            "birthcountry": "99100",
        })
    }

    fn error_for(value: Value) -> String {
        match parse_query(&body(value)) {
            Err(RegisterError::InvalidRequest(description)) => description,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_complete_pivot_parses() {
        let query = parse_query(&body(marie())).unwrap();
        assert_eq!(query.birthdate, Date::new(1985, 3, 14).unwrap());
        assert_eq!(query.gender, Gender::Female);
        assert_eq!(query.birthplace, "75115");
    }

    #[test]
    fn extra_members_are_ignored() {
        let mut value = marie();
        value["email"] = json!("marie@example.fr");
        assert!(parse_query(&body(value)).is_ok());
    }

    #[test]
    fn check_name_refuses_empty_and_overlong_names() {
        let mut value = marie();
        value["given_name"] = json!("   ");
        assert_eq!(error_for(value), "given_name must have 1 to 256 characters");
        let mut value = marie();
        value["family_name"] = json!("A".repeat(257));
        assert_eq!(
            error_for(value),
            "family_name must have 1 to 256 characters"
        );
        let mut value = marie();
        value["family_name"] = json!("É".repeat(256));
        assert!(parse_query(&body(value)).is_ok());
    }

    #[test]
    fn check_birthdate_refuses_presumed_and_impossible_dates() {
        for bad in ["1985-00-00", "1985-02-30", "14/03/1985", "19850314"] {
            let mut value = marie();
            value["birthdate"] = json!(bad);
            assert_eq!(
                error_for(value),
                "birthdate must be a YYYY-MM-DD calendar date"
            );
        }
    }

    #[test]
    fn check_gender_accepts_only_female_and_male() {
        for bad in ["Female", "f", "unspecified", ""] {
            let mut value = marie();
            value["gender"] = json!(bad);
            assert_eq!(error_for(value), "gender must be \"female\" or \"male\"");
        }
    }

    #[test]
    fn check_birthcountry_wants_a_99xxx_code() {
        for bad in ["FR", "100", "98100", "9910A", "991000"] {
            let mut value = marie();
            value["birthcountry"] = json!(bad);
            assert!(error_for(value).starts_with("birthcountry must be"));
        }
    }

    #[test]
    fn check_birthplace_wants_a_commune_in_france_and_nothing_abroad() {
        for bad in ["", "7511", "751155", "2C004", "A5115", "75 15"] {
            let mut value = marie();
            value["birthplace"] = json!(bad);
            assert!(
                error_for(value).starts_with("birthplace must be a 5-character"),
                "{bad}"
            );
        }
        let mut corsican = marie();
        corsican["birthplace"] = json!("2A004");
        assert!(parse_query(&body(corsican)).is_ok());

        let mut abroad = marie();
        abroad["birthcountry"] = json!("99350");
        assert!(error_for(abroad.clone()).starts_with("birthplace must be empty"));
        abroad["birthplace"] = json!("");
        assert!(parse_query(&body(abroad)).is_ok());
    }

    #[test]
    fn missing_and_non_string_members_are_named() {
        let mut value = marie();
        value.as_object_mut().unwrap().remove("gender");
        assert_eq!(error_for(value), "gender is missing");
        let mut value = marie();
        value["birthdate"] = json!(19850314);
        assert_eq!(error_for(value), "birthdate must be a string");
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_refused() {
        assert!(
            error_for_bytes(b"{not json").starts_with("the body is not valid JSON"),
            "bad JSON"
        );
        assert_eq!(error_for_bytes(b"[1, 2]"), "the body must be a JSON object");
    }

    fn error_for_bytes(bytes: &[u8]) -> String {
        match parse_query(bytes) {
            Err(RegisterError::InvalidRequest(description)) => description,
            other => panic!("{other:?}"),
        }
    }
}
