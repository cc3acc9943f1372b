//! The reference data of the administrations behind the password providers:
//! the tax records (tax number, online access number, reference income per
//! household) and the health insurance records (NIR and its key), each
//! linked to a person of the population, against which a new account is
//! checked before it is created.
//!
//! The records come from the population: generated from its seed, or read
//! from its CSV (`[population] csv`). A refusal says what is wrong with the
//! shape of an input, but never whether a tax number or a NIR exists: an
//! unknown number and a known one with the wrong income get the same words.

use std::collections::HashMap;
use std::sync::Arc;

use population::{Citizen, Date};
use web::Lang;

/// Why the records do not let a person create an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The tax number is not 13 digits.
    TaxNumberShape,
    /// The online access number is not 7 digits.
    AccessNumberShape,
    /// The reference income is not a whole number of euros.
    IncomeShape,
    /// The NIR is not 13 characters (digits, or 2A/2B for Corsica).
    NirShape,
    /// The key is not 2 digits.
    KeyShape,
    /// The key does not verify the NIR (97 − NIR mod 97).
    KeyMismatch,
    /// The birth date is not a date.
    BirthdateShape,
    /// No record matches everything typed (or the person is deceased).
    NoMatch,
}

impl Refusal {
    /// What the citizen reads.
    pub fn message(self) -> &'static str {
        self.text(Lang::Fr)
    }

    /// What the citizen reads, in their language.
    pub fn text(self, lang: Lang) -> &'static str {
        match self {
            Refusal::TaxNumberShape => lang.pick(
                "Le numéro fiscal doit comporter 13 chiffres.",
                "The tax number has 13 digits.",
            ),
            Refusal::AccessNumberShape => lang.pick(
                "Le numéro d'accès en ligne doit comporter 7 chiffres : il figure sur votre dernière déclaration de revenus.",
                "The online access number has 7 digits: it is on your last income tax return.",
            ),
            Refusal::IncomeShape => lang.pick(
                "Le revenu fiscal de référence s'écrit en euros, sans centimes (0 si vous êtes rattaché au foyer fiscal de vos parents).",
                "The reference tax income is written in whole euros (0 if you are attached to your parents' tax household).",
            ),
            Refusal::NirShape => lang.pick(
                "Le numéro de sécurité sociale doit comporter 13 caractères, sans la clé.",
                "The social security number has 13 characters, without the key.",
            ),
            Refusal::KeyShape => lang.pick(
                "La clé du numéro de sécurité sociale doit comporter 2 chiffres.",
                "The key of the social security number has 2 digits.",
            ),
            Refusal::KeyMismatch => lang.pick(
                "La clé ne correspond pas au numéro de sécurité sociale : vérifiez les deux sur votre carte Vitale.",
                "The key does not match the social security number: check both on your Vitale card.",
            ),
            Refusal::BirthdateShape => lang.pick(
                "La date de naissance doit être une date réelle, au format JJ/MM/AAAA.",
                "The birth date must be a real date, as DD/MM/YYYY.",
            ),
            Refusal::NoMatch => lang.pick(
                "Les informations saisies ne permettent pas de vous identifier. Vérifiez-les sur vos documents et recommencez.",
                "What you typed does not identify you. Check it against your papers and try again.",
            ),
        }
    }
}

/// The records, indexed.
#[derive(Clone, Debug)]
pub struct Registry {
    citizens: Arc<Vec<Citizen>>,
    by_tax_number: HashMap<String, usize>,
    by_nir: HashMap<String, usize>,
}

impl Registry {
    /// The records of a population.
    pub fn new(citizens: Arc<Vec<Citizen>>) -> Self {
        let by_tax_number = citizens
            .iter()
            .enumerate()
            .map(|(index, citizen)| (citizen.tax_number.clone(), index))
            .collect();
        let by_nir = citizens
            .iter()
            .enumerate()
            .map(|(index, citizen)| (citizen.nir.clone(), index))
            .collect();
        Self {
            citizens,
            by_tax_number,
            by_nir,
        }
    }

    fn living(&self, index: Option<&usize>) -> Option<&Citizen> {
        index
            .and_then(|index| self.citizens.get(*index))
            .filter(|citizen| citizen.deceased_on.is_none())
    }

    /// The tax record: the three identifiers of impots.gouv's account
    /// creation. Spaces are ignored; the income may end with `€`.
    pub fn check_tax(
        &self,
        tax_number: &str,
        access_number: &str,
        reference_income: &str,
    ) -> Result<&Citizen, Refusal> {
        let tax_number = compact(tax_number);
        let access_number = compact(access_number);
        let income = compact(reference_income);
        let income = income.strip_suffix('€').unwrap_or(&income);
        if !digits(&tax_number, 13) {
            return Err(Refusal::TaxNumberShape);
        }
        if !digits(&access_number, 7) {
            return Err(Refusal::AccessNumberShape);
        }
        let income: u32 = (!income.is_empty() && income.len() <= 9)
            .then(|| income.parse().ok())
            .flatten()
            .ok_or(Refusal::IncomeShape)?;
        self.living(self.by_tax_number.get(&tax_number))
            .filter(|citizen| {
                citizen.online_access_number == access_number && citizen.reference_income == income
            })
            .ok_or(Refusal::NoMatch)
    }

    /// The health insurance record: the NIR and its key, which must verify,
    /// and the birth date the record holds (`JJ/MM/AAAA` or `AAAA-MM-JJ`).
    pub fn check_health(&self, nir: &str, key: &str, birthdate: &str) -> Result<&Citizen, Refusal> {
        let nir = compact(nir).to_ascii_uppercase();
        let key = compact(key);
        let well_formed = nir.len() == 13
            && nir.char_indices().all(|(position, c)| {
                c.is_ascii_digit() || ((5..7).contains(&position) && matches!(c, 'A' | 'B'))
            });
        if !well_formed {
            return Err(Refusal::NirShape);
        }
        if !digits(&key, 2) {
            return Err(Refusal::KeyShape);
        }
        if population::nir_key(&nir).as_deref() != Some(key.as_str()) {
            return Err(Refusal::KeyMismatch);
        }
        let birthdate = parse_date(birthdate).ok_or(Refusal::BirthdateShape)?;
        self.living(self.by_nir.get(&nir))
            .filter(|citizen| citizen.birthdate == birthdate)
            .ok_or(Refusal::NoMatch)
    }
}

/// A date as people type it: `JJ/MM/AAAA`, or `AAAA-MM-JJ` (a date field).
pub fn parse_date(text: &str) -> Option<Date> {
    let text = compact(text);
    if let Some(date) = Date::parse(&text) {
        return Some(date);
    }
    let mut parts = text.split('/');
    let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || day.len() != 2 || month.len() != 2 || year.len() != 4 {
        return None;
    }
    Date::new(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
}

/// Without spaces (typed ones, or the non-breaking ones of a copied number).
fn compact(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
        .collect()
}

fn digits(text: &str, count: usize) -> bool {
    text.len() == count && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn french(date: &Date) -> String {
        format!("{:02}/{:02}/{}", date.day, date.month, date.year)
    }

    fn registry() -> Registry {
        Registry::new(Arc::new(population::generate(
            population::DEFAULT_SEED,
            200,
        )))
    }

    fn person(registry: &Registry, id: u32) -> Citizen {
        registry
            .citizens
            .iter()
            .find(|citizen| citizen.id == id)
            .cloned()
            .unwrap()
    }

    #[test]
    fn the_three_tax_identifiers_find_the_person_and_nothing_else() {
        let registry = registry();
        let marie = person(&registry, 1);
        let income = marie.reference_income.to_string();
        let found = registry
            .check_tax(&marie.tax_number, &marie.online_access_number, &income)
            .unwrap();
        assert_eq!(found.id, 1);
        // Spaces and a euro sign, as people type them.
        let spaced = format!("{} {} €", &income[..1], &income[1..]);
        let tax = format!("{} {}", &marie.tax_number[..2], &marie.tax_number[2..]);
        assert_eq!(
            registry
                .check_tax(&tax, &marie.online_access_number, &spaced)
                .map(|c| c.id),
            Ok(1)
        );
        let wrong_income = (marie.reference_income + 1).to_string();
        for (tax, access, income, refusal) in [
            ("110203040506", "1234567", "0", Refusal::TaxNumberShape),
            ("11020304050a1", "1234567", "0", Refusal::TaxNumberShape),
            (
                marie.tax_number.as_str(),
                "123456",
                "0",
                Refusal::AccessNumberShape,
            ),
            (
                marie.tax_number.as_str(),
                marie.online_access_number.as_str(),
                "12,50",
                Refusal::IncomeShape,
            ),
            (
                marie.tax_number.as_str(),
                marie.online_access_number.as_str(),
                "",
                Refusal::IncomeShape,
            ),
            (
                marie.tax_number.as_str(),
                marie.online_access_number.as_str(),
                &wrong_income,
                Refusal::NoMatch,
            ),
            (
                marie.tax_number.as_str(),
                "0000000",
                income.as_str(),
                Refusal::NoMatch,
            ),
            (
                "3999999999999",
                marie.online_access_number.as_str(),
                income.as_str(),
                Refusal::NoMatch,
            ),
        ] {
            assert_eq!(
                registry.check_tax(tax, access, income).map(|c| c.id),
                Err(refusal),
                "{tax} {access} {income}"
            );
        }
    }

    #[test]
    fn a_reference_income_of_zero_is_a_person_attached_to_their_parents() {
        let registry = registry();
        let loic = person(&registry, 6);
        assert_eq!(loic.reference_income, 0);
        assert_eq!(
            registry
                .check_tax(&loic.tax_number, &loic.online_access_number, "0")
                .map(|c| c.id),
            Ok(6)
        );
    }

    #[test]
    fn the_nir_key_must_verify_corsica_included() {
        let registry = registry();
        let marie = person(&registry, 1);
        assert_eq!(
            registry
                .check_health(&marie.nir, &marie.nir_key, &marie.birthdate.to_string())
                .map(|c| c.id),
            Ok(1)
        );
        let corsican = person(&registry, 4);
        assert!(corsican.nir.contains("2A"), "{}", corsican.nir);
        assert_eq!(
            registry
                .check_health(
                    &corsican.nir.to_lowercase(),
                    &corsican.nir_key,
                    &french(&corsican.birthdate),
                )
                .map(|c| c.id),
            Ok(4)
        );
        let other_key = format!("{:02}", (marie.nir_key.parse::<u8>().unwrap() + 1) % 97);
        let born = marie.birthdate.to_string();
        let other_day = marie.birthdate.years_later(1).to_string();
        for (nir, key, birthdate, refusal) in [
            ("285037511504", "42", born.as_str(), Refusal::NirShape),
            ("28503751150X2", "42", &born, Refusal::NirShape),
            ("2A50375115042", "42", &born, Refusal::NirShape),
            (marie.nir.as_str(), "4", &born, Refusal::KeyShape),
            (&marie.nir, &other_key, &born, Refusal::KeyMismatch),
            (
                &marie.nir,
                &marie.nir_key,
                "31/02/1985",
                Refusal::BirthdateShape,
            ),
            (&marie.nir, &marie.nir_key, "1985", Refusal::BirthdateShape),
            (&marie.nir, &marie.nir_key, &other_day, Refusal::NoMatch),
        ] {
            assert_eq!(
                registry.check_health(nir, key, birthdate).map(|c| c.id),
                Err(refusal),
                "{nir} {key} {birthdate}"
            );
        }
        // A well-formed NIR with its right key, of nobody.
        let nobody = "1999999999901";
        let key = population::nir_key(nobody).unwrap();
        assert_eq!(
            registry.check_health(nobody, &key, &born).map(|c| c.id),
            Err(Refusal::NoMatch)
        );
    }

    #[test]
    fn a_deceased_person_cannot_create_an_account() {
        let registry = registry();
        let jacques = person(&registry, 3);
        assert!(jacques.deceased_on.is_some());
        assert_eq!(
            registry
                .check_health(&jacques.nir, &jacques.nir_key, &french(&jacques.birthdate))
                .map(|c| c.id),
            Err(Refusal::NoMatch)
        );
    }

    #[test]
    fn every_refusal_has_its_own_french_words() {
        let all = [
            Refusal::TaxNumberShape,
            Refusal::AccessNumberShape,
            Refusal::IncomeShape,
            Refusal::NirShape,
            Refusal::KeyShape,
            Refusal::KeyMismatch,
            Refusal::BirthdateShape,
            Refusal::NoMatch,
        ];
        let mut messages: Vec<&str> = all.iter().map(|refusal| refusal.message()).collect();
        messages.sort_unstable();
        messages.dedup();
        assert_eq!(messages.len(), all.len());
    }
}
