//! The fixed citizens at the head of every population.
//!
//! They are written out by hand, not drawn, so the demo, the documentation and the tests of
//! every crate can name them and rely on them whatever the seed (see [`crate::generate`]).

use crate::names::email_part;
use crate::nir::{build_nir, nir_key};
use crate::{Citizen, Date, Gender};

/// The notable citizens, ids 1 to 6.
pub(crate) fn notables() -> Vec<Citizen> {
    vec![
        Notable {
            id: 1,
            given_names: &["Marie"],
            family_name: "DUPONT",
            usage_name: None,
            gender: Gender::Female,
            birthdate: (1985, 3, 14),
            birthplace: Some("75115"),
            birthcountry: "99100",
            phone: "0612345678",
            deceased_on: None,
            nir_order: 42,
            tax_number: "1102030405061",
            online_access_number: "1234567",
            reference_income: 32_450,
            residence_department: "75",
        },
        Notable {
            id: 2,
            given_names: &["Youssef"],
            family_name: "EL AMRANI",
            usage_name: None,
            gender: Gender::Male,
            birthdate: (1979, 7, 22),
            birthplace: None,
            birthcountry: "99350",
            phone: "0623456789",
            deceased_on: None,
            nir_order: 118,
            tax_number: "2203040506072",
            online_access_number: "2345678",
            reference_income: 41_800,
            residence_department: "13",
        },
        Notable {
            id: 3,
            given_names: &["Jacques", "Henri"],
            family_name: "MARTIN",
            usage_name: None,
            gender: Gender::Male,
            birthdate: (1938, 11, 2),
            birthplace: Some("69383"),
            birthcountry: "99100",
            phone: "0634567890",
            deceased_on: Some((2023, 5, 17)),
            nir_order: 7,
            tax_number: "0304050607083",
            online_access_number: "3456789",
            reference_income: 18_900,
            residence_department: "69",
        },
        Notable {
            id: 4,
            given_names: &["Laetitia", "Marie"],
            family_name: "SANTONI",
            usage_name: None,
            gender: Gender::Female,
            birthdate: (1990, 8, 21),
            birthplace: Some("2A004"),
            birthcountry: "99100",
            phone: "0645678901",
            deceased_on: None,
            nir_order: 23,
            tax_number: "3405060708094",
            online_access_number: "4567890",
            reference_income: 27_300,
            residence_department: "2A",
        },
        Notable {
            id: 5,
            given_names: &["Marie-Hélène", "Anaïs"],
            family_name: "LE GALL",
            usage_name: Some("N'DIAYE"),
            gender: Gender::Female,
            birthdate: (1982, 12, 5),
            birthplace: Some("29019"),
            birthcountry: "99100",
            phone: "0756789012",
            deceased_on: None,
            nir_order: 154,
            tax_number: "1506070809105",
            online_access_number: "5678901",
            reference_income: 52_100,
            residence_department: "35",
        },
        Notable {
            id: 6,
            given_names: &["Loïc"],
            family_name: "MÜLLER",
            usage_name: None,
            gender: Gender::Male,
            birthdate: (2008, 10, 3),
            birthplace: Some("67482"),
            birthcountry: "99100",
            phone: "0767890123",
            deceased_on: None,
            nir_order: 91,
            tax_number: "2607080910116",
            online_access_number: "6789012",
            reference_income: 0,
            residence_department: "67",
        },
    ]
    .into_iter()
    .map(Notable::into_citizen)
    .collect()
}

/// A notable citizen as written in the table above.
struct Notable {
    id: u32,
    given_names: &'static [&'static str],
    family_name: &'static str,
    usage_name: Option<&'static str>,
    gender: Gender,
    birthdate: (u16, u8, u8),
    birthplace: Option<&'static str>,
    birthcountry: &'static str,
    phone: &'static str,
    deceased_on: Option<(u16, u8, u8)>,
    nir_order: u16,
    tax_number: &'static str,
    online_access_number: &'static str,
    reference_income: u32,
    residence_department: &'static str,
}

impl Notable {
    fn into_citizen(self) -> Citizen {
        let date = |(year, month, day): (u16, u8, u8)| Date { year, month, day };
        let birthdate = date(self.birthdate);
        let place = self.birthplace.unwrap_or(self.birthcountry);
        let nir = build_nir(self.gender, birthdate, place, self.nir_order);
        let first = self.given_names.first().copied().unwrap_or_default();
        Citizen {
            id: self.id,
            given_names: self
                .given_names
                .iter()
                .map(|&name| name.to_owned())
                .collect(),
            family_name: self.family_name.to_owned(),
            usage_name: self.usage_name.map(str::to_owned),
            gender: self.gender,
            birthdate,
            birthplace: self.birthplace.map(str::to_owned),
            birthcountry: self.birthcountry.to_owned(),
            email: format!(
                "{}.{}.{}@example.fr",
                email_part(first),
                email_part(self.family_name),
                self.id
            ),
            phone: self.phone.to_owned(),
            deceased_on: self.deceased_on.map(date),
            nir_key: nir_key(&nir).unwrap_or_default(),
            nir,
            tax_number: self.tax_number.to_owned(),
            online_access_number: self.online_access_number.to_owned(),
            reference_income: self.reference_income,
            residence_department: self.residence_department.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cog;

    #[test]
    fn the_notables_are_what_generate_promises() {
        let notables = notables();
        assert_eq!(notables.len(), 6);
        let today = Date::new(2026, 1, 1).unwrap();

        let [first, abroad, deceased, corsican, compound, young] = notables.as_slice() else {
            panic!("six notables");
        };
        assert!(first.is_adult_on(today) && first.deceased_on.is_none());
        assert!(first.birthplace.as_deref().unwrap().starts_with("751"));

        assert_eq!(abroad.birthplace, None);
        assert_ne!(abroad.birthcountry, cog::FRANCE);
        assert!(abroad.nir[5..7] == *"99");

        assert!(deceased.deceased_on.is_some());

        assert_eq!(&corsican.nir[5..7], "2A");

        assert!(compound.given_names.iter().any(|name| name.contains('-')));
        assert!(!compound.given_name().is_ascii());
        assert!(compound.usage_name.is_some());

        assert_eq!(young.reference_income, 0);
        assert!(!young.is_adult_on(today));
        assert!(young.is_adult_on(Date::new(2026, 10, 3).unwrap()));
    }

    #[test]
    fn every_notable_has_a_valid_nir_key_and_dates() {
        for citizen in notables() {
            assert_eq!(nir_key(&citizen.nir).as_deref(), Some(&*citizen.nir_key));
            assert!(citizen.birthdate.is_valid());
            assert!(citizen.deceased_on.is_none_or(|date| date.is_valid()));
        }
    }
}
