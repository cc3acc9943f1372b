//! Drawing a population from a seed.

use std::collections::HashSet;

use crate::cog::{self, Commune, Country};
use crate::names::{FAMILY_NAMES, FEMALE_GIVEN_NAMES, MALE_GIVEN_NAMES, email_part};
use crate::nir::{build_nir, nir_key};
use crate::notables::notables;
use crate::random::SplitMix64;
use crate::{Citizen, Date, Gender, Pivot};

/// The seed of the demo population.
pub const DEFAULT_SEED: u64 = 2026;

/// The size of the demo population.
pub const DEFAULT_SIZE: usize = 1000;

/// Earliest birthdate drawn.
const BORN_FROM: Date = Date {
    year: 1935,
    month: 1,
    day: 1,
};

/// Latest birthdate drawn.
const BORN_UNTIL: Date = Date {
    year: 2008,
    month: 12,
    day: 31,
};

/// The day the population is described as of: deaths fall on or before it, and ages that
/// decide usage names and incomes are counted on it. Fixed, not read from a clock, so a
/// population never changes with the date it is generated on.
const AS_OF: Date = Date {
    year: 2025,
    month: 12,
    day: 31,
};

/// Earliest death date drawn.
const DEATHS_FROM: Date = Date {
    year: 1995,
    month: 1,
    day: 1,
};

/// Percentage of people born abroad.
const BORN_ABROAD_PERCENT: u64 = 10;

/// Percentage of deceased people.
const DECEASED_PERCENT: u64 = 2;

/// Stand-ins for an empty table; never taken, because the tables are constant and non-empty.
const NO_COMMUNE: Commune = Commune {
    code: "75101",
    name: "Paris 1er Arrondissement",
    department: "75",
};
const NO_COUNTRY: Country = Country {
    code: "99134",
    name: "Espagne",
};

/// `size` fictional citizens drawn from `seed`: the same seed and size give the same people,
/// whatever the version of any dependency, because the generator is this crate's own.
///
/// A population of `n` is the first `n` citizens of any larger one with the same seed.
/// About 10% are born abroad and 2% are deceased. No two citizens share an identity pivot, a
/// NIR, a tax number or an e-mail address.
///
/// The first six citizens are fixed, whatever the seed, so the demo and the tests can name
/// them:
///
/// | id | who | birth | why |
/// |---|---|---|---|
/// | 1 | Marie DUPONT, female | 1985-03-14, Paris 15e (`75115`) | an ordinary adult |
/// | 2 | Youssef EL AMRANI, male | 1979-07-22, Maroc (`99350`), birthplace empty | born abroad |
/// | 3 | Jacques Henri MARTIN, male | 1938-11-02, Lyon 3e (`69383`) | deceased on 2023-05-17 |
/// | 4 | Laetitia Marie SANTONI, female | 1990-08-21, Ajaccio (`2A004`) | Corsican NIR `2A` |
/// | 5 | Marie-Hélène Anaïs LE GALL, usage name N'DIAYE, female | 1982-12-05, Brest (`29019`) | accented compound given names, usage name |
/// | 6 | Loïc MÜLLER, male | 2008-10-03, Strasbourg (`67482`) | young: reference income 0, a minor until 2026-10-03 |
///
/// Their numbers are fixed too (the population's integration test checks this table):
///
/// | id | NIR + key | tax number | online access number | reference income | e-mail |
/// |---|---|---|---|---|---|
/// | 1 | `2 85 03 75 115 042` `63` | `1102030405061` | `1234567` | 32 450 € | `marie.dupont.1@example.fr` |
/// | 2 | `1 79 07 99 350 118` `69` | `2203040506072` | `2345678` | 41 800 € | `youssef.el-amrani.2@example.fr` |
/// | 3 | `1 38 11 69 383 007` `36` | `0304050607083` | `3456789` | 18 900 € | `jacques.martin.3@example.fr` |
/// | 4 | `2 90 08 2A 004 023` `06` | `3405060708094` | `4567890` | 27 300 € | `laetitia.santoni.4@example.fr` |
/// | 5 | `2 82 12 29 019 154` `96` | `1506070809105` | `5678901` | 52 100 € | `marie-helene.le-gall.5@example.fr` |
/// | 6 | `1 08 10 67 482 091` `42` | `2607080910116` | `6789012` | 0 € | `loic.muller.6@example.fr` |
pub fn generate(seed: u64, size: usize) -> Vec<Citizen> {
    let mut random = SplitMix64::new(seed);
    let mut taken = Taken::default();
    let mut citizens: Vec<Citizen> = notables().into_iter().take(size).collect();
    for citizen in &citizens {
        taken.claim(citizen);
    }
    while citizens.len() < size {
        let id = u32::try_from(citizens.len() + 1).unwrap_or(u32::MAX);
        let citizen = draw_citizen(&mut random, id, &mut taken);
        taken.claim(&citizen);
        citizens.push(citizen);
    }
    citizens
}

/// What earlier citizens already hold and a new one must not repeat.
#[derive(Debug, Default)]
struct Taken {
    pivots: HashSet<Pivot>,
    nirs: HashSet<String>,
    tax_numbers: HashSet<String>,
    emails: HashSet<String>,
}

impl Taken {
    fn claim(&mut self, citizen: &Citizen) {
        self.pivots.insert(citizen.pivot());
        self.nirs.insert(citizen.nir.clone());
        self.tax_numbers.insert(citizen.tax_number.clone());
        self.emails.insert(citizen.email.clone());
    }
}

fn draw_citizen(random: &mut SplitMix64, id: u32, taken: &mut Taken) -> Citizen {
    let gender = if random.percent(50) {
        Gender::Female
    } else {
        Gender::Male
    };
    let birthdate = draw_day(random, BORN_FROM, BORN_UNTIL);
    let (birthplace, birthcountry) = if random.percent(BORN_ABROAD_PERCENT) {
        let foreign = cog::COUNTRIES.get(1..).unwrap_or_default();
        (None, random.pick(foreign, &NO_COUNTRY).code)
    } else {
        let commune = random.pick(cog::COMMUNES, &NO_COMMUNE);
        (Some(commune), cog::FRANCE)
    };

    // Names are drawn again until the pivot is new: two people may share names, or a birth
    // day and place, but never all six pivot claims (franceconnect.md §3, §8: the register
    // must find one person per pivot).
    let (given_names, family_name) = loop {
        let given_names = draw_given_names(random, gender);
        let family_name = random.pick(FAMILY_NAMES, &"MARTIN").to_string();
        let pivot = Pivot {
            given_name: given_names.join(" "),
            family_name: family_name.clone(),
            birthdate: birthdate.to_string(),
            gender: gender.as_str().to_owned(),
            birthplace: birthplace.map(|c| c.code.to_owned()).unwrap_or_default(),
            birthcountry: birthcountry.to_owned(),
        };
        if !taken.pivots.contains(&pivot) {
            break (given_names, family_name);
        }
    };

    let age = years_between(birthdate, AS_OF);
    let usage_name = draw_usage_name(random, gender, age, &family_name);

    let place = birthplace.map_or(birthcountry, |commune| commune.code);
    let nir = loop {
        let order = u16::try_from(random.between(1, 999)).unwrap_or(1);
        let nir = build_nir(gender, birthdate, place, order);
        if !taken.nirs.contains(&nir) {
            break nir;
        }
    };

    let tax_number = loop {
        // A SPI starts with 0 to 3 (DGFiP); the other twelve digits are free.
        let tax_number = format!("{}{}", random.below(4), random.digits(12));
        if !taken.tax_numbers.contains(&tax_number) {
            break tax_number;
        }
    };

    let first_name = given_names.first().map(String::as_str).unwrap_or_default();
    // The id makes the address unique; the check guards against a future change of format.
    let mut email = format!(
        "{}.{}.{id}@example.fr",
        email_part(first_name),
        email_part(&family_name)
    );
    while taken.emails.contains(&email) {
        email = format!("x{email}");
    }

    let phone = format!("0{}{}", random.between(6, 7), random.digits(8));
    let deceased_on = random
        .percent(DECEASED_PERCENT)
        .then(|| draw_day(random, birthdate.max(DEATHS_FROM), AS_OF));
    let online_access_number = random.digits(7);
    let reference_income = draw_reference_income(random, age);
    let residence_department = match birthplace {
        Some(commune) if random.percent(65) => commune.department.to_owned(),
        _ => draw_department(random),
    };

    Citizen {
        id,
        given_names,
        family_name,
        usage_name,
        gender,
        birthdate,
        birthplace: birthplace.map(|commune| commune.code.to_owned()),
        birthcountry: birthcountry.to_owned(),
        email,
        phone,
        deceased_on,
        nir_key: nir_key(&nir).unwrap_or_default(),
        nir,
        tax_number,
        online_access_number,
        reference_income,
        residence_department,
    }
}

/// One to three distinct first names: half the people have one, a third two, the rest three.
fn draw_given_names(random: &mut SplitMix64, gender: Gender) -> Vec<String> {
    let table = match gender {
        Gender::Female => FEMALE_GIVEN_NAMES,
        Gender::Male => MALE_GIVEN_NAMES,
    };
    let count = match random.below(100) {
        0..50 => 1,
        50..85 => 2,
        _ => 3,
    };
    let mut names: Vec<String> = Vec::with_capacity(count);
    while names.len() < count {
        let name = random.pick(table, &"Camille");
        if !names.iter().any(|taken| taken.as_str() == *name) {
            names.push((*name).to_owned());
        }
    }
    names
}

/// A usage name for some married adults: over a third of the women of 25 and more, a few men.
fn draw_usage_name(
    random: &mut SplitMix64,
    gender: Gender,
    age: u16,
    family_name: &str,
) -> Option<String> {
    let percent = match gender {
        Gender::Female => 35,
        Gender::Male => 3,
    };
    if age < 25 || !random.percent(percent) {
        return None;
    }
    loop {
        let name = random.pick(FAMILY_NAMES, &"DURAND");
        if *name != family_name {
            return Some((*name).to_owned());
        }
    }
}

/// A reference tax income in euros; under 26, almost half are still attached to their
/// parents' tax household and have none of their own.
fn draw_reference_income(random: &mut SplitMix64, age: u16) -> u32 {
    if age < 26 && random.percent(45) {
        return 0;
    }
    let mut income = random.between(6_000, 45_000);
    if random.percent(20) {
        income += random.between(0, 80_000);
    }
    u32::try_from(income).unwrap_or(u32::MAX)
}

/// A département of residence, any of the table's.
fn draw_department(random: &mut SplitMix64) -> String {
    let departments = cog::departments();
    random.pick(&departments, &"75").to_string()
}

/// A day between `from` and `until`, both included.
fn draw_day(random: &mut SplitMix64, from: Date, until: Date) -> Date {
    let number = random.between(u64::from(from.day_number()), u64::from(until.day_number()));
    Date::from_day_number(u32::try_from(number).unwrap_or(0))
}

/// Whole years from `born` to `on` (0 if `on` comes first).
fn years_between(born: Date, on: Date) -> u16 {
    let mut years = on.year.saturating_sub(born.year);
    if years > 0 && (on.month, on.day) < (born.month, born.day) {
        years -= 1;
    }
    years
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_people() {
        assert_eq!(generate(7, 300), generate(7, 300));
        assert_eq!(
            generate(DEFAULT_SEED, DEFAULT_SIZE),
            generate(DEFAULT_SEED, DEFAULT_SIZE)
        );
    }

    #[test]
    fn a_different_seed_gives_different_people_after_the_notables() {
        let one = generate(1, 50);
        let two = generate(2, 50);
        assert_eq!(one[..6], two[..6]);
        assert_ne!(one[6..], two[6..]);
    }

    #[test]
    fn a_smaller_population_is_the_head_of_a_larger_one() {
        let large = generate(DEFAULT_SEED, 200);
        assert_eq!(generate(DEFAULT_SEED, 80), large[..80]);
        assert_eq!(generate(DEFAULT_SEED, 3), large[..3]);
        assert!(generate(DEFAULT_SEED, 0).is_empty());
    }

    #[test]
    fn ids_run_from_one_to_the_size() {
        let citizens = generate(DEFAULT_SEED, 500);
        assert_eq!(citizens.len(), 500);
        for (at, citizen) in citizens.iter().enumerate() {
            assert_eq!(citizen.id as usize, at + 1);
        }
    }

    #[test]
    fn years_between_counts_whole_years() {
        let born = Date::new(2000, 6, 15).unwrap();
        assert_eq!(years_between(born, Date::new(2018, 6, 14).unwrap()), 17);
        assert_eq!(years_between(born, Date::new(2018, 6, 15).unwrap()), 18);
        assert_eq!(years_between(born, Date::new(1990, 1, 1).unwrap()), 0);
    }

    #[test]
    fn drawn_days_stay_between_their_bounds_and_are_real_dates() {
        let mut random = SplitMix64::new(3);
        for _ in 0..5_000 {
            let day = draw_day(&mut random, BORN_FROM, BORN_UNTIL);
            assert!(day.is_valid());
            assert!((BORN_FROM..=BORN_UNTIL).contains(&day));
        }
    }
}
