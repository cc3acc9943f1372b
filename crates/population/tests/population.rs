//! The population as its users see it: the promises of `generate` on a large draw.

use std::collections::HashSet;

use population::{Date, Gender, cog, generate, nir_key, parse_csv, to_csv};

const LARGE: usize = 5_000;

#[test]
fn no_two_citizens_share_a_pivot_nir_tax_number_or_email() {
    let citizens = generate(population::DEFAULT_SEED, LARGE);
    let pivots: HashSet<_> = citizens.iter().map(|c| c.pivot()).collect();
    let nirs: HashSet<_> = citizens.iter().map(|c| &c.nir).collect();
    let tax_numbers: HashSet<_> = citizens.iter().map(|c| &c.tax_number).collect();
    let emails: HashSet<_> = citizens.iter().map(|c| &c.email).collect();
    assert_eq!(pivots.len(), LARGE);
    assert_eq!(nirs.len(), LARGE);
    assert_eq!(tax_numbers.len(), LARGE);
    assert_eq!(emails.len(), LARGE);
}

#[test]
fn about_a_tenth_are_born_abroad_and_a_fiftieth_are_deceased() {
    let citizens = generate(population::DEFAULT_SEED, LARGE);
    let abroad = citizens.iter().filter(|c| c.birthplace.is_none()).count();
    let deceased = citizens.iter().filter(|c| c.deceased_on.is_some()).count();
    let women = citizens
        .iter()
        .filter(|c| c.gender == Gender::Female)
        .count();
    let with_usage_name = citizens.iter().filter(|c| c.usage_name.is_some()).count();
    let without_income = citizens.iter().filter(|c| c.reference_income == 0).count();
    assert!((400..=600).contains(&abroad), "{abroad} born abroad");
    assert!((60..=160).contains(&deceased), "{deceased} deceased");
    assert!((2_300..=2_700).contains(&women), "{women} women");
    assert!(with_usage_name > 300, "{with_usage_name} usage names");
    assert!(without_income > 20, "{without_income} without income");
}

#[test]
fn every_birthplace_is_in_the_cog_table_and_agrees_with_the_nir() {
    for citizen in generate(population::DEFAULT_SEED, LARGE) {
        let nir = citizen.nir.as_str();
        assert_eq!(nir.len(), 13, "{citizen:?}");
        match &citizen.birthplace {
            Some(code) => {
                let commune = cog::commune(code).unwrap_or_else(|| panic!("{code} not in COG"));
                assert_eq!(citizen.birthcountry, cog::FRANCE);
                // NIR positions 6–10: département (2A/2B in Corsica) and commune digits.
                assert_eq!(&nir[5..7], &commune.code[..2], "{citizen:?}");
                assert_eq!(&nir[7..10], &commune.code[2..], "{citizen:?}");
            }
            None => {
                let country = cog::country(&citizen.birthcountry).expect("country in COG");
                assert_ne!(country.code, cog::FRANCE);
                assert_eq!(&nir[5..7], "99");
                assert_eq!(&nir[7..10], &country.code[2..]);
            }
        }
    }
}

#[test]
fn every_nir_starts_with_sex_year_and_month_and_has_its_key() {
    for citizen in generate(population::DEFAULT_SEED, LARGE) {
        let sex = match citizen.gender {
            Gender::Male => "1",
            Gender::Female => "2",
        };
        let born = citizen.birthdate;
        let prefix = format!("{sex}{:02}{:02}", born.year % 100, born.month);
        assert!(citizen.nir.starts_with(&prefix), "{citizen:?}");
        assert_eq!(nir_key(&citizen.nir), Some(citizen.nir_key.clone()));
    }
}

#[test]
fn every_value_has_its_documented_shape() {
    let first_birth = Date::new(1935, 1, 1).unwrap();
    let last_birth = Date::new(2008, 12, 31).unwrap();
    for citizen in generate(population::DEFAULT_SEED, LARGE) {
        assert!(citizen.birthdate.is_valid());
        assert!((first_birth..=last_birth).contains(&citizen.birthdate));
        if let Some(died) = citizen.deceased_on {
            assert!(died.is_valid() && died > citizen.birthdate, "{citizen:?}");
        }
        assert!((1..=3).contains(&citizen.given_names.len()));
        assert_eq!(citizen.family_name, citizen.family_name.to_uppercase());
        if let Some(usage) = &citizen.usage_name {
            assert_eq!(*usage, usage.to_uppercase());
            assert_ne!(*usage, citizen.family_name);
        }
        assert!(citizen.email.ends_with("@example.fr"));
        assert!(
            citizen
                .email
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.@".contains(&b))
        );
        assert_eq!(citizen.phone.len(), 10);
        assert!(citizen.phone.starts_with("06") || citizen.phone.starts_with("07"));
        assert!(citizen.phone.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(citizen.tax_number.len(), 13);
        assert!(citizen.tax_number.bytes().all(|b| b.is_ascii_digit()));
        assert!(b"0123".contains(&citizen.tax_number.as_bytes()[0]));
        assert_eq!(citizen.online_access_number.len(), 7);
        assert!(
            cog::COMMUNES
                .iter()
                .any(|c| c.department == citizen.residence_department)
        );
    }
}

#[test]
fn the_notable_citizens_keep_their_documented_identities() {
    // The tables of `generate`'s documentation, whatever the seed.
    let citizens = generate(987_654, 6);
    let summary: Vec<String> = citizens
        .iter()
        .map(|c| {
            format!(
                "{} {} | {} | {} | {} {} | {} | {}{} | {} | {} | {} | {}",
                c.id,
                c.given_name(),
                c.family_name,
                c.usage_name.as_deref().unwrap_or("-"),
                c.gender,
                c.birthdate,
                c.pivot().birthplace,
                c.nir,
                c.nir_key,
                c.tax_number,
                c.online_access_number,
                c.reference_income,
                c.email,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "1 Marie | DUPONT | - | female 1985-03-14 | 75115 | 285037511504263 | 1102030405061 | 1234567 | 32450 | marie.dupont.1@example.fr",
            "2 Youssef | EL AMRANI | - | male 1979-07-22 |  | 179079935011869 | 2203040506072 | 2345678 | 41800 | youssef.el-amrani.2@example.fr",
            "3 Jacques Henri | MARTIN | - | male 1938-11-02 | 69383 | 138116938300736 | 0304050607083 | 3456789 | 18900 | jacques.martin.3@example.fr",
            "4 Laetitia Marie | SANTONI | - | female 1990-08-21 | 2A004 | 290082A00402306 | 3405060708094 | 4567890 | 27300 | laetitia.santoni.4@example.fr",
            "5 Marie-Hélène Anaïs | LE GALL | N'DIAYE | female 1982-12-05 | 29019 | 282122901915496 | 1506070809105 | 5678901 | 52100 | marie-helene.le-gall.5@example.fr",
            "6 Loïc | MÜLLER | - | male 2008-10-03 | 67482 | 108106748209142 | 2607080910116 | 6789012 | 0 | loic.muller.6@example.fr",
        ]
    );
    assert_eq!(citizens[1].birthcountry, "99350");
    assert_eq!(citizens[2].deceased_on, Date::new(2023, 5, 17));
    assert!(
        citizens
            .iter()
            .enumerate()
            .all(|(at, c)| (at == 2) == c.deceased_on.is_some())
    );
}

#[test]
fn the_default_population_round_trips_through_csv() {
    let citizens = generate(population::DEFAULT_SEED, population::DEFAULT_SIZE);
    assert_eq!(parse_csv(&to_csv(&citizens)).unwrap(), citizens);
}
