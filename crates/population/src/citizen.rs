//! A fictional citizen and the identity pivot they are known by.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Date;

/// Sex as the identity pivot's `gender` claim writes it (franceconnect.md §3: `male`|`female`;
/// the register's third value, `unspecified`, does not occur in this population).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    /// `"female"`; NIR sex digit 2.
    Female,
    /// `"male"`; NIR sex digit 1.
    Male,
}

impl Gender {
    /// The claim value: `"female"` or `"male"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
        }
    }

    /// Reads a claim value; only the two lower-case words are accepted.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "female" => Some(Self::Female),
            "male" => Some(Self::Male),
            _ => None,
        }
    }
}

impl fmt::Display for Gender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One fictional French citizen, with everything the federation's services ask about them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citizen {
    /// Position in the population, from 1.
    pub id: u32,
    /// First names in civil-register order, 1 to 3, e.g. `["Marie", "Hélène"]`.
    pub given_names: Vec<String>,
    /// Birth name in capitals, e.g. `"LE GALL"`.
    pub family_name: String,
    /// Usage name (often a spouse's name), in capitals; the pivot's `preferred_username`.
    pub usage_name: Option<String>,
    /// Sex as the pivot writes it.
    pub gender: Gender,
    /// Date of birth, 1935 to 2008.
    pub birthdate: Date,
    /// COG code of the birth commune (an arrondissement code in Paris, Lyon and Marseille);
    /// `None` when born abroad.
    pub birthplace: Option<String>,
    /// COG code of the birth country, `"99100"` for France.
    pub birthcountry: String,
    /// Unique lower-case ASCII address on the reserved domain `example.fr`.
    pub email: String,
    /// French mobile number, ten digits starting `06` or `07`.
    pub phone: String,
    /// Date of death, for about 2% of the population.
    pub deceased_on: Option<Date>,
    /// 13-character social security number, without its key.
    pub nir: String,
    /// The NIR's 2-digit control key.
    pub nir_key: String,
    /// 13-digit tax number (numéro fiscal, SPI), first digit 0 to 3.
    pub tax_number: String,
    /// 7-digit online access number of the tax return (numéro d'accès en ligne).
    pub online_access_number: String,
    /// Reference tax income (revenu fiscal de référence) in euros; 0 for some young people
    /// still attached to their parents' household.
    pub reference_income: u32,
    /// Département of residence, e.g. `"75"`, `"2A"`, `"971"`.
    pub residence_department: String,
}

/// The identity pivot: the six claims that identify a person across the federation, in the
/// formats of franceconnect.md §3.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pivot {
    /// First names separated by single spaces.
    pub given_name: String,
    /// Birth name in capitals.
    pub family_name: String,
    /// `YYYY-MM-DD`.
    pub birthdate: String,
    /// `"female"` or `"male"`.
    pub gender: String,
    /// COG commune code, `""` when born abroad.
    pub birthplace: String,
    /// COG country code, `"99100"` for France.
    pub birthcountry: String,
}

impl Citizen {
    /// First names joined by one space, as the pivot's `given_name` claim carries them.
    pub fn given_name(&self) -> String {
        self.given_names.join(" ")
    }

    /// The citizen's identity pivot.
    pub fn pivot(&self) -> Pivot {
        Pivot {
            given_name: self.given_name(),
            family_name: self.family_name.clone(),
            birthdate: self.birthdate.to_string(),
            gender: self.gender.as_str().to_owned(),
            birthplace: self.birthplace.clone().unwrap_or_default(),
            birthcountry: self.birthcountry.clone(),
        }
    }

    /// Whether the citizen is 18 or older on `today`.
    ///
    /// French majority starts on the 18th birthday (Code civil, art. 414); someone born on
    /// 29 February comes of age on 1 March of a common year.
    pub fn is_adult_on(&self, today: Date) -> bool {
        self.birthdate.years_later(18) <= today
    }

    /// Whether the citizen had died on or before `today`.
    pub fn is_deceased_on(&self, today: Date) -> bool {
        self.deceased_on.is_some_and(|died| died <= today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn someone(birthdate: Date) -> Citizen {
        Citizen {
            id: 1,
            given_names: vec!["Marie".into(), "Hélène".into()],
            family_name: "DUPONT".into(),
            usage_name: None,
            gender: Gender::Female,
            birthdate,
            birthplace: None,
            birthcountry: "99134".into(),
            email: "marie.dupont.1@example.fr".into(),
            phone: "0600000000".into(),
            deceased_on: None,
            nir: "2850399134001".into(),
            nir_key: "00".into(),
            tax_number: "1000000000000".into(),
            online_access_number: "1234567".into(),
            reference_income: 0,
            residence_department: "75".into(),
        }
    }

    #[test]
    fn a_citizen_becomes_adult_on_the_18th_birthday() {
        let citizen = someone(Date::new(2008, 10, 3).unwrap());
        assert!(!citizen.is_adult_on(Date::new(2026, 10, 2).unwrap()));
        assert!(citizen.is_adult_on(Date::new(2026, 10, 3).unwrap()));
        assert!(citizen.is_adult_on(Date::new(2030, 1, 1).unwrap()));
    }

    #[test]
    fn someone_born_on_29_february_comes_of_age_on_1_march() {
        let citizen = someone(Date::new(2004, 2, 29).unwrap());
        assert!(!citizen.is_adult_on(Date::new(2022, 2, 28).unwrap()));
        assert!(citizen.is_adult_on(Date::new(2022, 3, 1).unwrap()));
    }

    #[test]
    fn the_pivot_of_someone_born_abroad_has_an_empty_birthplace() {
        let pivot = someone(Date::new(1985, 3, 14).unwrap()).pivot();
        assert_eq!(
            pivot,
            Pivot {
                given_name: "Marie Hélène".into(),
                family_name: "DUPONT".into(),
                birthdate: "1985-03-14".into(),
                gender: "female".into(),
                birthplace: String::new(),
                birthcountry: "99134".into(),
            }
        );
    }

    #[test]
    fn gender_serialises_as_the_claim_value() {
        assert_eq!(
            serde_json::to_string(&Gender::Female).unwrap(),
            "\"female\""
        );
        assert_eq!(serde_json::to_string(&Gender::Male).unwrap(), "\"male\"");
        assert_eq!(Gender::parse("male"), Some(Gender::Male));
        assert_eq!(Gender::parse("Male"), None);
        assert_eq!(Gender::parse("unspecified"), None);
    }

    #[test]
    fn a_citizen_round_trips_through_json() {
        let citizen = someone(Date::new(1985, 3, 14).unwrap());
        let json = serde_json::to_string(&citizen).unwrap();
        assert!(json.contains("\"birthdate\":\"1985-03-14\""));
        let back: Citizen = serde_json::from_str(&json).unwrap();
        assert_eq!(back, citizen);
    }
}
