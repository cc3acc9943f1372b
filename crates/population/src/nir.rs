//! The NIR ("numéro de sécurité sociale") and its control key.
//!
//! A NIR is 13 characters: sex (1 man, 2 woman), the last two digits of the birth year, the
//! birth month, then five characters naming the place of birth, then a 3-digit order number
//! that tells apart people born the same month in the same place. The place is the COG code of
//! the birth commune (`"2A004"` for Ajaccio, `"75115"` for Paris 15th, `"97411"` overseas) or,
//! for a birth abroad, `99` and the last three digits of the country's COG code.
//! The 2-digit control key is `97 − (NIR mod 97)`; for Corsica, whose département codes are
//! not numbers, `2A` counts as 19 and `2B` as 18 (the same thing as reading them as 20 and
//! subtracting 1 000 000 or 2 000 000).
//!
//! Simplification: people born in Corsica before 1976, when the island was département 20,
//! really have `20` in their NIR; this population always writes `2A`/`2B`.

use crate::{Date, Gender};

/// The 2-digit control key of a 13-character NIR, or `None` if `nir` is not a well-formed NIR
/// (13 ASCII digits, except `2A`/`2B` in the département positions 6 and 7).
///
/// ```
/// // Worked by hand: 2 550 814 168 025 = 97 × 26 297 053 278 + 59, and 97 − 59 = 38.
/// assert_eq!(population::nir_key("2550814168025").as_deref(), Some("38"));
/// ```
pub fn nir_key(nir: &str) -> Option<String> {
    if nir.len() != 13 || !nir.is_ascii() {
        return None;
    }
    let numeric = match nir.get(5..7)? {
        // Corsica: 2A counts as 19, 2B as 18 (INSEE's rule for the key).
        "2A" => format!("{}19{}", nir.get(..5)?, nir.get(7..)?),
        "2B" => format!("{}18{}", nir.get(..5)?, nir.get(7..)?),
        _ => nir.to_owned(),
    };
    if !numeric.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: u64 = numeric.parse().ok()?;
    Some(format!("{:02}", 97 - number % 97))
}

/// The 13-character NIR of a person of `gender` born on `birthdate` at `place` (a commune or
/// country COG code), with order number `order` (1 to 999).
pub(crate) fn build_nir(gender: Gender, birthdate: Date, place: &str, order: u16) -> String {
    let sex = match gender {
        Gender::Male => '1',
        Gender::Female => '2',
    };
    let place_digits = if place.starts_with("99") {
        // Born abroad: département 99, then the country's last three digits.
        format!("99{}", place.get(2..).unwrap_or_default())
    } else {
        place.to_owned()
    };
    format!(
        "{sex}{:02}{:02}{place_digits}{order:03}",
        birthdate.year % 100,
        birthdate.month
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nir_key_is_97_minus_the_number_mod_97() {
        // 2 550 814 168 025 mod 97 = 59 (checked by hand); 97 − 59 = 38.
        assert_eq!(nir_key("2550814168025").as_deref(), Some("38"));
        // Born abroad (Guinée, 99330): 1 780 599 330 108 mod 97 = 80; 97 − 80 = 17.
        assert_eq!(nir_key("1780599330108").as_deref(), Some("17"));
    }

    #[test]
    fn a_corsica_2a_nir_counts_2a_as_19() {
        // 1 90 08 2A 004 023 → 1 900 819 004 023, whose remainder mod 97 is 41; 97 − 41 = 56.
        assert_eq!(nir_key("190082A004023").as_deref(), Some("56"));
        assert_eq!(nir_key("190082A004023"), nir_key("1900819004023"));
        // The equivalent statement of the rule: read 2A as 20 and subtract 1 000 000.
        let as_twenty: u64 = 1_900_820_004_023 - 1_000_000;
        assert_eq!(
            nir_key("190082A004023"),
            Some(format!("{:02}", 97 - as_twenty % 97))
        );
    }

    #[test]
    fn a_corsica_2b_nir_counts_2b_as_18() {
        assert_eq!(nir_key("175022B033001"), nir_key("1750218033001"));
        let as_twenty: u64 = 1_750_220_033_001 - 2_000_000;
        assert_eq!(
            nir_key("175022B033001"),
            Some(format!("{:02}", 97 - as_twenty % 97))
        );
    }

    #[test]
    fn a_key_is_always_two_digits_between_01_and_97() {
        // 97 divides 0000000000097, so its key is 97; 0000000000096 leaves 96 → key 01.
        assert_eq!(nir_key("0000000000097").as_deref(), Some("97"));
        assert_eq!(nir_key("0000000000096").as_deref(), Some("01"));
    }

    #[test]
    fn a_malformed_nir_has_no_key() {
        for bad in [
            "",
            "255081416802",
            "25508141680255",
            "2550814168O25",
            "25508A4168025",
            "255082C004023",
            "2A50814168025",
            "25508é416802",
        ] {
            assert_eq!(nir_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_nir_is_built_from_sex_birth_month_and_place() {
        let born = Date::new(1985, 3, 14).unwrap();
        assert_eq!(
            build_nir(Gender::Female, born, "75115", 42),
            "2850375115042"
        );
        assert_eq!(build_nir(Gender::Male, born, "2A004", 7), "185032A004007");
        assert_eq!(build_nir(Gender::Male, born, "99350", 118), "1850399350118");
        let young = Date::new(2008, 10, 3).unwrap();
        assert_eq!(build_nir(Gender::Male, young, "97411", 1), "1081097411001");
    }
}
