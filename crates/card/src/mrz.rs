//! The TD1 machine-readable zone of an ID-1 card (ICAO 9303 part 5): three
//! lines of 30 characters, with check digits.

use serde::{Deserialize, Serialize};

use crate::CardError;

/// A calendar date (no time zone: the MRZ has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// A date, if it exists in the Gregorian calendar.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days)
            .contains(&day)
            .then_some(Self { year, month, day })
    }

    /// Parses `YYYYMMDD`.
    pub fn parse_compact(text: &str) -> Option<Self> {
        if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Self::new(
            text.get(..4)?.parse().ok()?,
            text.get(4..6)?.parse().ok()?,
            text.get(6..)?.parse().ok()?,
        )
    }

    /// `YYYYMMDD`.
    pub fn compact(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// How many whole years from `self` to `on`.
    pub fn years_until(&self, on: Date) -> u16 {
        let years = on.year.saturating_sub(self.year);
        if (on.month, on.day) < (self.month, self.day) {
            years.saturating_sub(1)
        } else {
            years
        }
    }

    /// The UTC date of a Unix time in signed seconds (as clocks give them);
    /// times before 1970 count as 1970-01-01.
    pub fn from_time(seconds: i64) -> Self {
        Self::from_unix(u64::try_from(seconds).unwrap_or_default())
    }

    /// The UTC date of a Unix time.
    pub fn from_unix(seconds: u64) -> Self {
        // Howard Hinnant's days-to-civil.
        let days = (seconds / 86_400) as i64 + 719_468;
        let era = days.div_euclid(146_097);
        let day_of_era = days.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (year_of_era + era * 400 + i64::from(month <= 2)) as u16;
        Self { year, month, day }
    }

    /// Unix time of this date's midnight UTC.
    pub fn to_unix(&self) -> u64 {
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month = i64::from(self.month);
        let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5
            + i64::from(self.day)
            - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era * 146_097 + day_of_era - 719_468;
        u64::try_from(days * 86_400).unwrap_or_default()
    }

    fn yymmdd(&self) -> String {
        format!("{:02}{:02}{:02}", self.year % 100, self.month, self.day)
    }
}

/// What the three lines say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mrz {
    pub document_code: String,
    pub issuing_state: String,
    pub document_number: String,
    pub birth_date: Date,
    /// `M`, `F` or `<` (unspecified).
    pub sex: char,
    pub expiry_date: Date,
    pub nationality: String,
    /// The primary identifier (family name), as transliterated.
    pub primary: String,
    /// The secondary identifier (given names), as transliterated.
    pub secondary: String,
}

/// The ICAO check digit: weights 7, 3, 1 over digits, letters (A = 10) and
/// fillers (0).
pub fn check_digit(field: &str) -> char {
    let sum: u32 = field
        .bytes()
        .zip([7u32, 3, 1].into_iter().cycle())
        .map(|(b, weight)| {
            let value = match b {
                b'0'..=b'9' => u32::from(b - b'0'),
                b'A'..=b'Z' => u32::from(b - b'A') + 10,
                _ => 0,
            };
            value * weight
        })
        .sum();
    char::from(b'0' + (sum % 10) as u8)
}

/// Upper-case Latin letters with `<` for spaces, hyphens and apostrophes,
/// accents removed (ICAO 9303 part 3, section 6).
pub fn transliterate(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let mapped: &str = match c {
                'à' | 'â' | 'ä' | 'á' | 'À' | 'Â' | 'Ä' | 'Á' => "A",
                'ç' | 'Ç' => "C",
                'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => "E",
                'î' | 'ï' | 'í' | 'Î' | 'Ï' | 'Í' => "I",
                'ô' | 'ö' | 'ó' | 'Ô' | 'Ö' | 'Ó' => "O",
                'ù' | 'û' | 'ü' | 'ú' | 'Ù' | 'Û' | 'Ü' | 'Ú' => "U",
                'ÿ' | 'Ÿ' => "Y",
                'ñ' | 'Ñ' => "N",
                'œ' | 'Œ' => "OE",
                'æ' | 'Æ' => "AE",
                ' ' | '-' | '\'' | '’' => "<",
                _ => "",
            };
            let owned = if mapped.is_empty() && c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase().to_string()
            } else {
                mapped.to_string()
            };
            owned.chars().collect::<Vec<_>>()
        })
        .collect()
}

fn pad(text: &str, width: usize) -> String {
    let mut out: String = text.chars().take(width).collect();
    while out.len() < width {
        out.push('<');
    }
    out
}

impl Mrz {
    /// The 90 characters, lines concatenated.
    pub fn encode(&self) -> String {
        let number = pad(&self.document_number, 9);
        let line1 = format!(
            "{}{}{}{}{}",
            pad(&self.document_code, 2),
            pad(&self.issuing_state, 3),
            number,
            check_digit(&number),
            pad("", 15)
        );
        let birth = self.birth_date.yymmdd();
        let expiry = self.expiry_date.yymmdd();
        let head = format!(
            "{birth}{}{}{expiry}{}{}{}",
            check_digit(&birth),
            self.sex,
            check_digit(&expiry),
            pad(&self.nationality, 3),
            pad("", 11)
        );
        let composite = format!(
            "{}{}{}{}",
            line1.get(5..30).unwrap_or_default(),
            head.get(0..7).unwrap_or_default(),
            head.get(8..15).unwrap_or_default(),
            head.get(18..29).unwrap_or_default()
        );
        let line2 = format!("{head}{}", check_digit(&composite));
        let names = format!(
            "{}<<{}",
            transliterate(&self.primary),
            transliterate(&self.secondary)
        );
        format!("{line1}{line2}{}", pad(&names, 30))
    }

    /// Parses and checks the 90 characters. `today` places two-digit birth
    /// years in their century.
    pub fn parse(text: &str, today: Date) -> Result<Self, CardError> {
        if text.len() != 90
            || !text
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'<')
        {
            return Err(CardError::Mrz("not 90 MRZ characters"));
        }
        let at = |range: std::ops::Range<usize>| text.get(range).unwrap_or_default();
        let digit = |i: usize| at(i..i + 1).chars().next().unwrap_or('?');
        let checks = [
            (at(5..14), digit(14), "document number"),
            (at(30..36), digit(36), "birth date"),
            (at(38..44), digit(44), "expiry date"),
        ];
        for (field, expected, name) in checks {
            if check_digit(field) != expected {
                return Err(CardError::MrzCheckDigit(name));
            }
        }
        let composite = format!("{}{}{}{}", at(5..30), at(30..37), at(38..45), at(48..59));
        if check_digit(&composite) != digit(59) {
            return Err(CardError::MrzCheckDigit("composite"));
        }
        let yymmdd = |field: &str, century: u16| -> Result<Date, CardError> {
            let number = |r: std::ops::Range<usize>| -> Option<u8> { field.get(r)?.parse().ok() };
            let (yy, mm, dd) = (number(0..2), number(2..4), number(4..6));
            let date = match (yy, mm, dd) {
                (Some(yy), Some(mm), Some(dd)) => Date::new(century + u16::from(yy), mm, dd),
                _ => None,
            };
            date.ok_or(CardError::Mrz("not a date"))
        };
        let mut birth_date = yymmdd(at(30..36), 2000)?;
        if birth_date > today {
            birth_date = yymmdd(at(30..36), 1900)?;
        }
        let expiry_date = yymmdd(at(38..44), 2000)?;
        let sex = digit(37);
        if !matches!(sex, 'M' | 'F' | '<') {
            return Err(CardError::Mrz("sex"));
        }
        let names = at(60..90);
        let (primary, secondary) = names.split_once("<<").unwrap_or((names, ""));
        let unfill = |s: &str| s.trim_end_matches('<').replace('<', " ");
        Ok(Self {
            document_code: at(0..2).trim_end_matches('<').to_string(),
            issuing_state: at(2..5).to_string(),
            document_number: at(5..14).trim_end_matches('<').to_string(),
            birth_date,
            sex,
            expiry_date,
            nationality: at(45..48).to_string(),
            primary: unfill(primary),
            secondary: unfill(secondary),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Mrz {
        Mrz {
            document_code: "ID".into(),
            issuing_state: "FRA".into(),
            document_number: "X4RTBPFW4".into(),
            birth_date: Date::new(1985, 3, 14).unwrap(),
            sex: 'F',
            expiry_date: Date::new(2034, 6, 1).unwrap(),
            nationality: "FRA".into(),
            primary: "Dubois-Léger".into(),
            secondary: "Angèle Marie".into(),
        }
    }

    #[test]
    fn unix_dates_round_trip() {
        assert_eq!(Date::from_unix(0), Date::new(1970, 1, 1).unwrap());
        assert_eq!(
            Date::from_unix(1_795_392_000),
            Date::new(2026, 11, 23).unwrap()
        );
        for date in [
            Date::new(2000, 2, 29).unwrap(),
            Date::new(2031, 12, 31).unwrap(),
        ] {
            assert_eq!(Date::from_unix(date.to_unix() + 86_399), date);
        }
    }

    #[test]
    fn icao_check_digit_examples() {
        // ICAO 9303 part 3, the worked example.
        assert_eq!(check_digit("520727"), '3');
        assert_eq!(check_digit("L898902C3"), '6');
        assert_eq!(check_digit("AB2134<<<"), '5');
    }

    #[test]
    fn encodes_three_lines_that_parse_back() {
        let text = sample().encode();
        assert_eq!(text.len(), 90);
        assert!(text.starts_with("IDFRAX4RTBPFW4"));
        assert!(text.ends_with("DUBOIS<LEGER<<ANGELE<MARIE<<<<"));
        let parsed = Mrz::parse(&text, Date::new(2026, 11, 23).unwrap()).unwrap();
        assert_eq!(parsed.document_number, "X4RTBPFW4");
        assert_eq!(parsed.birth_date, Date::new(1985, 3, 14).unwrap());
        assert_eq!(parsed.expiry_date, Date::new(2034, 6, 1).unwrap());
        assert_eq!(
            (parsed.primary.as_str(), parsed.secondary.as_str()),
            ("DUBOIS LEGER", "ANGELE MARIE")
        );
    }

    #[test]
    fn every_changed_character_in_a_checked_field_is_caught() {
        let text = sample().encode();
        let today = Date::new(2026, 11, 23).unwrap();
        for i in (5..14).chain(30..36).chain(38..44) {
            let mut bytes = text.clone().into_bytes();
            // One step within digits or letters: a difference the 7-3-1
            // weights always see (a letter swapped for a digit ten or
            // twenty apart is the known blind spot of the scheme).
            bytes[i] = match bytes[i] {
                b'9' => b'0',
                b'Z' => b'A',
                b => b + 1,
            };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(Mrz::parse(&changed, today).is_err(), "position {i}");
        }
        assert!(Mrz::parse("short", today).is_err());
    }
}
