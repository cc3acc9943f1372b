//! Calendar dates as the identity pivot writes them (`YYYY-MM-DD`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::PopulationError;

/// A day of the proleptic Gregorian calendar.
///
/// Ordered chronologically (the fields are compared year, then month, then day). Serialised as
/// the `YYYY-MM-DD` string of the identity pivot's `birthdate` (franceconnect.md §3), so a
/// citizen in JSON reads the way a provider sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    /// Year, e.g. 1985.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, 1 to 28, 29, 30 or 31.
    pub day: u8,
}

impl Date {
    /// The date, if it exists in the calendar (no 30 February, no month 13, no year 0).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let date = Self { year, month, day };
        date.is_valid().then_some(date)
    }

    /// Reads a `YYYY-MM-DD` date: exactly ten characters, four-digit year, two-digit month and
    /// day, a real calendar day. Presumed dates such as `1950-00-00` are refused: the register
    /// holds only complete dates.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes.iter().enumerate().all(|(at, byte)| match at {
                4 | 7 => *byte == b'-',
                _ => byte.is_ascii_digit(),
            });
        if !shape_ok {
            return None;
        }
        let year = text.get(0..4)?.parse().ok()?;
        let month = text.get(5..7)?.parse().ok()?;
        let day = text.get(8..10)?.parse().ok()?;
        Self::new(year, month, day)
    }

    /// Whether the fields name a real day.
    pub fn is_valid(&self) -> bool {
        self.year >= 1
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
    }

    /// The same month and day `years` later; 29 February becomes 1 March in a common year.
    pub fn years_later(&self, years: u16) -> Self {
        let year = self.year.saturating_add(years);
        match Self::new(year, self.month, self.day) {
            Some(date) => date,
            None => Self {
                year,
                month: 3,
                day: 1,
            },
        }
    }

    /// Days since 0001-01-01 (that day is 0); used to draw a day between two dates.
    pub(crate) fn day_number(&self) -> u32 {
        let years_before = u32::from(self.year.saturating_sub(1));
        let mut days =
            years_before * 365 + years_before / 4 - years_before / 100 + years_before / 400;
        for month in 1..self.month {
            days += u32::from(days_in_month(self.year, month));
        }
        days + u32::from(self.day) - 1
    }

    /// The date `day_number` days after 0001-01-01.
    pub(crate) fn from_day_number(day_number: u32) -> Self {
        let mut remaining = day_number;
        let mut year: u16 = 1;
        loop {
            let length = if is_leap_year(year) { 366 } else { 365 };
            if remaining < length {
                break;
            }
            remaining -= length;
            year = year.saturating_add(1);
        }
        let mut month: u8 = 1;
        loop {
            let length = u32::from(days_in_month(year, month));
            if remaining < length || month == 12 {
                break;
            }
            remaining -= length;
            month += 1;
        }
        Self {
            year,
            month,
            day: u8::try_from(remaining + 1).unwrap_or(1),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl From<Date> for String {
    fn from(date: Date) -> Self {
        date.to_string()
    }
}

impl TryFrom<String> for Date {
    type Error = PopulationError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text).ok_or(PopulationError::InvalidDate(text))
    }
}

/// Gregorian leap years: every fourth year, except centuries not divisible by 400.
pub(crate) fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Length of a month; 0 for a month that does not exist.
pub(crate) fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_displays_as_yyyy_mm_dd() {
        assert_eq!(Date::new(1985, 3, 4).unwrap().to_string(), "1985-03-04");
    }

    #[test]
    fn february_30_and_month_13_do_not_exist() {
        assert!(Date::new(2000, 2, 30).is_none());
        assert!(Date::new(2001, 13, 1).is_none());
        assert!(Date::new(2001, 4, 31).is_none());
        assert!(Date::new(2001, 1, 0).is_none());
    }

    #[test]
    fn february_29_exists_only_in_leap_years() {
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(2004, 2, 29).is_some());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2001, 2, 29).is_none());
    }

    #[test]
    fn parse_accepts_only_complete_iso_dates() {
        assert_eq!(Date::parse("1990-08-21"), Date::new(1990, 8, 21));
        for bad in [
            "1990-8-21",
            "1990/08/21",
            "1990-08-21 ",
            "90-08-21",
            "1990-00-00",
            "1990-02-30",
            "abcd-ef-gh",
            "",
            "+990-08-21",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_order_chronologically() {
        assert!(Date::new(1999, 12, 31) < Date::new(2000, 1, 1));
        assert!(Date::new(2000, 1, 31) < Date::new(2000, 2, 1));
    }

    #[test]
    fn day_numbers_round_trip_over_a_century() {
        let start = Date::new(1930, 1, 1).unwrap().day_number();
        let end = Date::new(2030, 12, 31).unwrap().day_number();
        let mut previous: Option<Date> = None;
        for number in start..=end {
            let date = Date::from_day_number(number);
            assert!(date.is_valid(), "{date}");
            assert_eq!(date.day_number(), number);
            if let Some(previous) = previous {
                assert!(previous < date);
            }
            previous = Some(date);
        }
    }

    #[test]
    fn a_leap_day_birthday_falls_on_march_first_in_a_common_year() {
        let leap = Date::new(2004, 2, 29).unwrap();
        assert_eq!(leap.years_later(18), Date::new(2022, 3, 1).unwrap());
        assert_eq!(leap.years_later(20), Date::new(2024, 2, 29).unwrap());
    }

    #[test]
    fn a_date_serialises_as_its_iso_string() {
        let date = Date::new(2008, 10, 3).unwrap();
        assert_eq!(serde_json::to_string(&date).unwrap(), "\"2008-10-03\"");
        let back: Date = serde_json::from_str("\"2008-10-03\"").unwrap();
        assert_eq!(back, date);
        assert!(serde_json::from_str::<Date>("\"2008-02-30\"").is_err());
    }
}
