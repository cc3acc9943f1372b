//! The mDL's data (§7.2): its document type, its namespace and the data
//! elements this project issues, with their CBOR types.

use card::Date;

use crate::MdocError;
use crate::cbor::{self, Fields, FullDate, Value, text_map};
use crate::issuer::Elements;

/// The mDL's document type (§7.1).
pub const MDL_DOCTYPE: &str = "org.iso.18013.5.1.mDL";
/// The namespace of the mDL's data elements (§7.1).
pub const MDL_NAMESPACE: &str = "org.iso.18013.5.1";

/// A restriction or condition on a driving privilege (§7.2.4 `codes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub code: String,
    pub sign: Option<String>,
    pub value: Option<String>,
}

/// One vehicle category the holder may drive (§7.2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrivingPrivilege {
    pub vehicle_category_code: String,
    pub issue_date: Option<Date>,
    pub expiry_date: Option<Date>,
    pub codes: Vec<Code>,
}

impl DrivingPrivilege {
    /// Reads a `driving_privileges` element: its categories with their
    /// dates and codes.
    pub fn list_from_value(value: &Value) -> Result<Vec<Self>, MdocError> {
        const WHAT: &str = "driving_privileges";
        let date = |fields: &Fields<'_>, key: &str| {
            fields
                .get(key)
                .map(|value| FullDate::from_value(value, WHAT).map(|date| date.0))
                .transpose()
        };
        cbor::array(value, WHAT)?
            .iter()
            .map(|privilege| {
                let fields = Fields::of(privilege, WHAT)?;
                let codes = match fields.get("codes") {
                    Some(codes) => cbor::array(codes, WHAT)?
                        .iter()
                        .map(|code| {
                            let code = Fields::of(code, WHAT)?;
                            let optional = |key| {
                                code.get(key)
                                    .map(|v| cbor::text(v, WHAT).map(str::to_owned))
                                    .transpose()
                            };
                            Ok(Code {
                                code: code.text("code")?.to_owned(),
                                sign: optional("sign")?,
                                value: optional("value")?,
                            })
                        })
                        .collect::<Result<_, MdocError>>()?,
                    None => Vec::new(),
                };
                Ok(Self {
                    vehicle_category_code: fields.text("vehicle_category_code")?.to_owned(),
                    issue_date: date(&fields, "issue_date")?,
                    expiry_date: date(&fields, "expiry_date")?,
                    codes,
                })
            })
            .collect()
    }

    fn to_value(&self) -> Value {
        let mut map = vec![(
            "vehicle_category_code",
            Value::Text(self.vehicle_category_code.clone()),
        )];
        if let Some(date) = self.issue_date {
            map.push(("issue_date", FullDate(date).to_value()));
        }
        if let Some(date) = self.expiry_date {
            map.push(("expiry_date", FullDate(date).to_value()));
        }
        if !self.codes.is_empty() {
            let codes = self
                .codes
                .iter()
                .map(|code| {
                    let mut map = vec![("code", Value::Text(code.code.clone()))];
                    map.extend(code.sign.clone().map(|s| ("sign", Value::Text(s))));
                    map.extend(code.value.clone().map(|v| ("value", Value::Text(v))));
                    text_map(map)
                })
                .collect();
            map.push(("codes", Value::Array(codes)));
        }
        text_map(map)
    }
}

/// `B`, or `B (01, 78)` with its codes.
impl std::fmt::Display for DrivingPrivilege {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.vehicle_category_code)?;
        if !self.codes.is_empty() {
            let codes: Vec<&str> = self.codes.iter().map(|code| code.code.as_str()).collect();
            write!(f, " ({})", codes.join(", "))?;
        }
        Ok(())
    }
}

/// The mandatory elements of §7.2.1 (the portrait optional here), with
/// `un_distinguishing_sign` and the `age_over_18` and `age_over_21`
/// attestations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Licence {
    pub family_name: String,
    pub given_name: String,
    pub birth_date: Date,
    pub issue_date: Date,
    pub expiry_date: Date,
    /// ISO 3166-1 alpha-2, "FR".
    pub issuing_country: String,
    pub issuing_authority: String,
    pub document_number: String,
    /// JPEG bytes.
    pub portrait: Option<Vec<u8>>,
    pub driving_privileges: Vec<DrivingPrivilege>,
    /// The UN distinguishing sign of the issuing state: "F".
    pub un_distinguishing_sign: String,
}

impl Licence {
    /// The data elements in the order of §7.2.1's table, the ages as of
    /// `today`.
    pub fn elements(&self, today: Date) -> Elements {
        let text = |s: &String| Value::Text(s.clone());
        let age = self.birth_date.years_until(today);
        let mut elements = vec![
            ("family_name", text(&self.family_name)),
            ("given_name", text(&self.given_name)),
            ("birth_date", FullDate(self.birth_date).to_value()),
            ("issue_date", FullDate(self.issue_date).to_value()),
            ("expiry_date", FullDate(self.expiry_date).to_value()),
            ("issuing_country", text(&self.issuing_country)),
            ("issuing_authority", text(&self.issuing_authority)),
            ("document_number", text(&self.document_number)),
        ];
        if let Some(portrait) = &self.portrait {
            elements.push(("portrait", Value::Bytes(portrait.clone())));
        }
        elements.extend([
            (
                "driving_privileges",
                Value::Array(
                    self.driving_privileges
                        .iter()
                        .map(DrivingPrivilege::to_value)
                        .collect(),
                ),
            ),
            ("un_distinguishing_sign", text(&self.un_distinguishing_sign)),
            ("age_over_18", Value::Bool(age >= 18)),
            ("age_over_21", Value::Bool(age >= 21)),
        ]);
        Elements::from([(
            MDL_NAMESPACE.to_string(),
            elements
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor;

    fn licence() -> Licence {
        Licence {
            family_name: "Martin".into(),
            given_name: "Camille".into(),
            birth_date: Date::new(2005, 6, 15).unwrap(),
            issue_date: Date::new(2024, 1, 10).unwrap(),
            expiry_date: Date::new(2039, 1, 10).unwrap(),
            issuing_country: "FR".into(),
            issuing_authority: "Préfecture TEST".into(),
            document_number: "24AB12345".into(),
            portrait: None,
            driving_privileges: vec![DrivingPrivilege {
                vehicle_category_code: "B".into(),
                issue_date: Some(Date::new(2024, 1, 10).unwrap()),
                expiry_date: None,
                codes: vec![Code {
                    code: "01".into(),
                    sign: None,
                    value: None,
                }],
            }],
            un_distinguishing_sign: "F".into(),
        }
    }

    #[test]
    fn the_ages_are_attested_as_of_the_issue_day() {
        let elements = licence().elements(Date::new(2025, 6, 14).unwrap());
        let mdl = &elements[MDL_NAMESPACE];
        let value = |name: &str| mdl.iter().find(|(k, _)| k == name).unwrap().1.clone();
        assert_eq!(value("age_over_18"), Value::Bool(true));
        assert_eq!(value("age_over_21"), Value::Bool(false));
        assert_eq!(mdl.first().unwrap().0, "family_name");
    }

    #[test]
    fn a_driving_privilege_is_a_map_of_category_dates_and_codes() {
        let bytes = cbor::encode(&licence().driving_privileges[0].to_value()).unwrap();
        let value = cbor::decode(&bytes).unwrap();
        let fields = cbor::Fields::of(&value, "privilege").unwrap();
        assert_eq!(fields.text("vehicle_category_code").unwrap(), "B");
        assert!(fields.get("expiry_date").is_none());
        assert_eq!(
            FullDate::from_value(fields.required("issue_date").unwrap(), "date").unwrap(),
            FullDate(Date::new(2024, 1, 10).unwrap())
        );
        let codes = cbor::array(fields.required("codes").unwrap(), "codes").unwrap();
        assert_eq!(codes.len(), 1);
    }

    #[test]
    fn driving_privileges_read_back_as_written() {
        let privileges = licence().driving_privileges;
        let value = Value::Array(privileges.iter().map(DrivingPrivilege::to_value).collect());
        let read = DrivingPrivilege::list_from_value(&value).unwrap();
        assert_eq!(read, privileges);
        assert_eq!(read[0].to_string(), "B (01)");
        assert!(DrivingPrivilege::list_from_value(&Value::Text("B".into())).is_err());
        let no_category = Value::Array(vec![text_map([("codes", Value::Array(vec![]))])]);
        assert!(DrivingPrivilege::list_from_value(&no_category).is_err());
    }
}
