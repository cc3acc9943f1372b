//! The driving licence register (ANTS-like): who holds which licence.
//!
//! A licence is a pure function of its holder, drawn from a stream seeded by the NIR, so
//! adding the register changed no citizen and a citizen's licence never depends on who else
//! is in the population. About 85 % of adults hold one; 2 % of those are suspended and 1 %
//! cancelled. Licences obtained before 16 September 2013 were pink paper licences; some of
//! them have since been exchanged for the card format. The notables' licences are fixed (see
//! [`driving_licence`]).
//!
//! Numbers are fictional: the year of issue (2 digits), the first two characters of the
//! département, and the citizen's id on 8 digits, so they are unique in a population.

use serde::{Deserialize, Serialize};

use crate::random::SplitMix64;
use crate::{Citizen, Date};

/// Paper licences are replaced by the card; EU directive 2006/126 (art. 3) ends the validity
/// of every licence issued before 19 January 2013 on 19 January 2033.
pub const PAPER_LICENCES_END: Date = Date {
    year: 2033,
    month: 1,
    day: 19,
};

/// The day the card format replaced the pink paper licence in France.
const CARD_FORMAT_SINCE: Date = Date {
    year: 2013,
    month: 9,
    day: 16,
};

/// The register is as of this day: nobody passed a test after it. A pure function has no
/// clock, and the people drawn are born up to 2008.
const REGISTER_DATE: Date = Date {
    year: 2026,
    month: 1,
    day: 1,
};

/// A card licence is valid 15 years (article R. 221-1-1 of the French highway code, for the
/// A and B categories).
const CARD_YEARS: u16 = 15;

/// One entry of the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrivingLicence {
    /// 12 characters, unique in the population.
    pub number: String,
    pub format: LicenceFormat,
    pub status: LicenceStatus,
    /// When this document was issued (the exchange date for a card that replaced a paper
    /// licence).
    pub issue_date: Date,
    /// When this document stops being valid: 15 years for a card,
    /// [`PAPER_LICENCES_END`] for a paper licence.
    pub expiry_date: Date,
    /// Who issued it, e.g. `"Préfecture de Paris"` or `"ANTS"`.
    pub issuing_authority: String,
    /// The categories the holder may drive, in the order of the licence.
    pub categories: Vec<Category>,
}

/// A category of vehicles, as ISO 18013-5's `driving_privileges` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// `"AM"`, `"A2"`, `"A"`, `"B"`, `"BE"`, `"C"`…
    pub code: String,
    /// When the holder passed it.
    pub issue_date: Date,
    /// When it lapses, if sooner than the document (heavy vehicles need a medical check).
    pub expiry_date: Option<Date>,
    /// EU harmonised codes (directive 2006/126 annex I): `"01"` corrective lenses, `"78"`
    /// automatic gearbox only.
    pub restrictions: Vec<String>,
}

/// The licence's physical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceFormat {
    /// The pink three-flap paper licence, issued until 15 September 2013.
    PinkPaper,
    /// The credit-card format, since 16 September 2013.
    Card,
}

/// Whether the holder may drive on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceStatus {
    Valid,
    /// Taken away for a time (all points lost, a judge's or a prefect's decision).
    Suspended,
    /// Annulled: the holder must pass the test again.
    Cancelled,
}

impl LicenceStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Suspended => "suspended",
            Self::Cancelled => "cancelled",
        }
    }
}

/// The register's entry for `citizen`, if they hold a licence. The notables' entries are
/// fixed: Marie DUPONT (1) a card that replaced a paper licence, B with corrective lenses;
/// Youssef EL AMRANI (2) a card with A and B; Jacques MARTIN (3) a paper licence; Laetitia
/// SANTONI (4) a suspended card licence; Marie-Hélène LE GALL (5) a cancelled pink paper licence;
/// Loïc MÜLLER (6), just 18, none.
pub fn driving_licence(citizen: &Citizen) -> Option<DrivingLicence> {
    let fixed = |format, status, issue: (u16, u8, u8), categories: &[(&str, (u16, u8, u8))]| {
        let date = |(year, month, day)| Date { year, month, day };
        let categories = categories
            .iter()
            .map(|(code, since)| Category {
                code: (*code).to_owned(),
                issue_date: date(*since),
                expiry_date: None,
                restrictions: Vec::new(),
            })
            .collect();
        Some(entry(citizen, format, status, date(issue), categories))
    };
    let mut licence = match citizen.id {
        1 => fixed(
            LicenceFormat::Card,
            LicenceStatus::Valid,
            (2019, 4, 2),
            &[("B", (2003, 6, 12))],
        ),
        2 => fixed(
            LicenceFormat::Card,
            LicenceStatus::Valid,
            (2016, 11, 8),
            &[("A", (2005, 5, 30)), ("B", (1998, 2, 17))],
        ),
        3 => fixed(
            LicenceFormat::PinkPaper,
            LicenceStatus::Valid,
            (1957, 3, 4),
            &[("B", (1957, 3, 4))],
        ),
        4 => fixed(
            LicenceFormat::Card,
            LicenceStatus::Suspended,
            (2015, 1, 20),
            &[("B", (2015, 1, 20))],
        ),
        5 => fixed(
            LicenceFormat::PinkPaper,
            LicenceStatus::Cancelled,
            (2000, 9, 25),
            &[("B", (2000, 9, 25))],
        ),
        6 => None,
        _ => drawn(citizen),
    }?;
    if let (1, Some(b)) = (citizen.id, licence.categories.first_mut()) {
        b.restrictions.push("01".to_owned());
    }
    Some(licence)
}

fn entry(
    citizen: &Citizen,
    format: LicenceFormat,
    status: LicenceStatus,
    issue_date: Date,
    categories: Vec<Category>,
) -> DrivingLicence {
    let department: String = citizen.residence_department.chars().take(2).collect();
    let (expiry_date, issuing_authority) = match format {
        LicenceFormat::PinkPaper => (PAPER_LICENCES_END, format!("Préfecture ({department})")),
        LicenceFormat::Card => (issue_date.years_later(CARD_YEARS), "ANTS".to_owned()),
    };
    DrivingLicence {
        number: format!(
            "{:02}{department:0>2}{:08}",
            issue_date.year % 100,
            citizen.id
        ),
        format,
        status,
        issue_date,
        expiry_date,
        issuing_authority,
        categories,
    }
}

/// A drawn licence: B passed between 18 and 25, sometimes A; before the card format, a paper
/// licence that 40 % have exchanged for a card since.
fn drawn(citizen: &Citizen) -> Option<DrivingLicence> {
    let mut random = SplitMix64::new(seed_of(&citizen.nir));
    if !random.percent(85) {
        return None;
    }
    let passed = after(citizen.birthdate.years_later(18), &mut random, 0, 7 * 365);
    if passed.day_number() >= REGISTER_DATE.day_number() {
        return None;
    }
    let mut categories = Vec::new();
    if random.percent(20) {
        let a = after(passed, &mut random, 30, 5 * 365);
        if a.day_number() < REGISTER_DATE.day_number() {
            categories.push(category("A", a, &mut random));
        }
    }
    categories.push(category("B", passed, &mut random));
    let exchanged = random.percent(40);
    let (format, issue_date) = if passed.day_number() >= CARD_FORMAT_SINCE.day_number() {
        (LicenceFormat::Card, passed)
    } else if exchanged {
        (
            LicenceFormat::Card,
            after(CARD_FORMAT_SINCE, &mut random, 100, 12 * 365),
        )
    } else {
        (LicenceFormat::PinkPaper, passed)
    };
    let status = match random.below(100) {
        0 | 1 => LicenceStatus::Suspended,
        2 => LicenceStatus::Cancelled,
        _ => LicenceStatus::Valid,
    };
    Some(entry(citizen, format, status, issue_date, categories))
}

/// A day drawn between `low` and `high` days after `date`.
fn after(date: Date, random: &mut SplitMix64, low: u64, high: u64) -> Date {
    let days = u32::try_from(random.between(low, high)).unwrap_or(0);
    Date::from_day_number(date.day_number().saturating_add(days))
}

fn category(code: &str, issue_date: Date, random: &mut SplitMix64) -> Category {
    let mut restrictions = Vec::new();
    if random.percent(30) {
        restrictions.push("01".to_owned());
    }
    if code == "B" && random.percent(5) {
        restrictions.push("78".to_owned());
    }
    Category {
        code: code.to_owned(),
        issue_date,
        expiry_date: None,
        restrictions,
    }
}

/// FNV-1a of the NIR: a stream of the citizen's own.
fn seed_of(nir: &str) -> u64 {
    nir.bytes().fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DEFAULT_SEED, generate};

    #[test]
    fn the_notables_hold_the_licences_the_documentation_names() {
        let people = generate(DEFAULT_SEED, 6);
        let licences: Vec<_> = people.iter().map(driving_licence).collect();
        let marie = licences.first().cloned().flatten().unwrap();
        assert_eq!(marie.format, LicenceFormat::Card);
        assert_eq!(marie.number, "197500000001");
        assert_eq!(marie.categories.first().unwrap().restrictions, ["01"]);
        let status = |n: usize| licences.get(n).cloned().flatten().map(|l| l.status);
        assert_eq!(status(3), Some(LicenceStatus::Suspended));
        assert_eq!(status(4), Some(LicenceStatus::Cancelled));
        assert_eq!(
            licences
                .get(4)
                .cloned()
                .flatten()
                .map(|l| (l.format, l.expiry_date)),
            Some((LicenceFormat::PinkPaper, PAPER_LICENCES_END))
        );
        assert_eq!(licences.get(5), Some(&None), "Loïc has none");
    }

    #[test]
    fn drawn_licences_are_stable_unique_and_follow_the_rules() {
        let people = generate(DEFAULT_SEED, 2000);
        let licences: Vec<_> = people.iter().filter_map(driving_licence).collect();
        let again: Vec<_> = people.iter().filter_map(driving_licence).collect();
        assert_eq!(licences, again, "a pure function of the citizen");
        let share = licences.len() * 100 / people.len();
        assert!((70..=90).contains(&share), "{share} % hold a licence");
        let mut numbers: Vec<_> = licences.iter().map(|l| l.number.clone()).collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), licences.len(), "numbers are unique");
        for licence in &licences {
            assert_eq!(licence.number.len(), 12, "{licence:?}");
            assert!(licence.categories.iter().any(|c| c.code == "B"));
            let paper = licence.format == LicenceFormat::PinkPaper;
            assert_eq!(
                paper,
                licence.issue_date.day_number() < CARD_FORMAT_SINCE.day_number()
            );
            assert!(licence.expiry_date.day_number() > licence.issue_date.day_number());
            assert!(licence.issue_date.day_number() < REGISTER_DATE.day_number());
        }
        let count = |status| licences.iter().filter(|l| l.status == status).count();
        assert!(count(LicenceStatus::Suspended) > 0);
        assert!(count(LicenceStatus::Cancelled) > 0);
        assert!(
            licences
                .iter()
                .any(|l| l.format == LicenceFormat::PinkPaper)
        );
    }
}
