//! Dates as a French reader expects them, in Paris time (CET/CEST, by the
//! European rule: summer time from the last Sunday of March to the last
//! Sunday of October, changing at 01:00 UTC).

const DAY: i64 = 86_400;

const WEEKDAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

const WEEKDAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `Monday 23 November 2026 at 11:56 (Paris time)`.
pub fn english_datetime(unix: i64) -> String {
    let local = Local::at(unix);
    format!(
        "{} {} {} {} at {}:{:02} (Paris time)",
        pick(&WEEKDAYS_EN, local.weekday),
        local.day,
        pick(&MONTHS_EN, local.month),
        local.year,
        local.hour,
        local.minute
    )
}

/// `lundi 23 novembre 2026 à 11 h 56 (heure de Paris)`.
pub fn french_datetime(unix: i64) -> String {
    let local = Local::at(unix);
    format!(
        "{} {} {} {} à {} h {:02} (heure de Paris)",
        pick(&WEEKDAYS, local.weekday),
        local.day,
        pick(&MONTHS, local.month),
        local.year,
        local.hour,
        local.minute
    )
}

/// `mercredi 26 mai 2027`: the day, in Paris time.
pub fn french_date(unix: i64) -> String {
    let local = Local::at(unix);
    format!(
        "{} {} {} {}",
        pick(&WEEKDAYS, local.weekday),
        local.day,
        pick(&MONTHS, local.month),
        local.year
    )
}

/// The year in Paris at that instant.
pub fn paris_year(unix: i64) -> i64 {
    Local::at(unix).year
}

/// The instant of a Paris wall-clock time (month 1–12). In the hour the
/// clocks go back, the later of the two instants.
pub fn paris_instant(year: i64, month: i64, day: i64, hour: i64, minute: i64) -> i64 {
    let wall = days_from_civil(year, month, day) * DAY + hour * 3600 + minute * 60;
    let summer = wall - 7200;
    if paris_offset(summer) == 7200 {
        summer
    } else {
        wall - 3600
    }
}

/// A moment in Paris time.
struct Local {
    year: i64,
    /// 0 for January.
    month: i64,
    day: i64,
    /// 0 for Monday.
    weekday: i64,
    hour: i64,
    minute: i64,
}

impl Local {
    fn at(unix: i64) -> Self {
        let local = unix + paris_offset(unix);
        let days = local.div_euclid(DAY);
        let seconds = local.rem_euclid(DAY);
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month: month - 1,
            day,
            // 1970-01-01 was a Thursday.
            weekday: (days + 3).rem_euclid(7),
            hour: seconds / 3600,
            minute: seconds % 3600 / 60,
        }
    }
}

fn pick<'a>(names: &[&'a str], index: i64) -> &'a str {
    usize::try_from(index)
        .ok()
        .and_then(|index| names.get(index))
        .copied()
        .unwrap_or_default()
}

/// Paris's offset from UTC at that instant, in seconds.
fn paris_offset(unix: i64) -> i64 {
    let (year, _, _) = civil_from_days(unix.div_euclid(DAY));
    let summer_starts = last_sunday(year, 3) * DAY + 3600;
    let summer_ends = last_sunday(year, 10) * DAY + 3600;
    if (summer_starts..summer_ends).contains(&unix) {
        7200
    } else {
        3600
    }
}

/// Days since 1970-01-01 of the last Sunday of a month.
fn last_sunday(year: i64, month: i64) -> i64 {
    let next_month = if month == 12 {
        days_from_civil(year + 1, 1, 1)
    } else {
        days_from_civil(year, month + 1, 1)
    };
    let last = next_month - 1;
    // 1970-01-01 was a Thursday: Sunday is (days + 4) % 7 == 0.
    last - (last + 4).rem_euclid(7)
}

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Day count since 1970-01-01 of a civil date.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_in_paris_time_winter_and_summer() {
        // 2026-11-23 10:56:32 UTC: winter, UTC+1.
        assert_eq!(
            french_datetime(1_795_431_392),
            "lundi 23 novembre 2026 à 11 h 56 (heure de Paris)"
        );
        // 2026-07-14 08:00 UTC: summer, UTC+2.
        assert_eq!(
            french_datetime(1_784_016_000),
            "mardi 14 juillet 2026 à 10 h 00 (heure de Paris)"
        );
        assert_eq!(
            english_datetime(1_784_016_000),
            "Tuesday 14 July 2026 at 10:00 (Paris time)"
        );
    }

    #[test]
    fn wall_clock_times_in_paris_become_instants() {
        let deadline = paris_instant(2027, 5, 26, 23, 59);
        assert_eq!(
            french_datetime(deadline),
            "mercredi 26 mai 2027 à 23 h 59 (heure de Paris)"
        );
        assert_eq!(french_date(deadline), "mercredi 26 mai 2027");
        let winter = paris_instant(2027, 1, 15, 9, 30);
        assert_eq!(
            french_datetime(winter),
            "vendredi 15 janvier 2027 à 9 h 30 (heure de Paris)"
        );
        assert_eq!(paris_year(paris_instant(2027, 1, 1, 0, 30)), 2027);
    }

    #[test]
    fn summer_time_changes_at_one_utc_on_the_last_sundays() {
        // 2026: 29 March and 25 October.
        let march = days_from_civil(2026, 3, 29) * DAY + 3600;
        assert_eq!(paris_offset(march - 1), 3600);
        assert_eq!(paris_offset(march), 7200);
        let october = days_from_civil(2026, 10, 25) * DAY + 3600;
        assert_eq!(paris_offset(october - 1), 7200);
        assert_eq!(paris_offset(october), 3600);
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
    }
}
