//! The proleptic Gregorian calendar on plain integers: days since 1970-01-01 to and from
//! year-month-day, ISO weeks, ordinal and quarter days, month arithmetic.
//!
//! Written on `i64` rather than chrono's `NaiveDate` because openCypher's dates span years
//! -999,999,999 to +999,999,999 and chrono stops at ±262,143. Nothing here knows about zones.

/// The widest years openCypher accepts.
pub const MIN_YEAR: i64 = -999_999_999;
pub const MAX_YEAR: i64 = 999_999_999;

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
pub const SECONDS_PER_DAY: i64 = 86_400;
pub const NANOS_PER_DAY: i64 = SECONDS_PER_DAY * NANOS_PER_SECOND;

/// A calendar date; always valid when built by this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ymd {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

pub fn is_leap(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub fn days_in_year(year: i64) -> u32 {
    if is_leap(year) {
        366
    } else {
        365
    }
}

/// Days since 1970-01-01 of a valid date (Howard Hinnant's `days_from_civil`).
pub fn days_from_ymd(d: Ymd) -> i64 {
    let y = if d.month <= 2 { d.year - 1 } else { d.year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(d.month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01.
pub fn ymd_from_days(days: i64) -> Ymd {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Ymd { year, month, day }
}

/// A checked calendar date; `None` when the month or day does not exist.
pub fn ymd(year: i64, month: i64, day: i64) -> Option<Ymd> {
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    let month = month as u32;
    if day < 1 || day > i64::from(days_in_month(year, month)) {
        return None;
    }
    Some(Ymd {
        year,
        month,
        day: day as u32,
    })
}

/// 1 for Monday to 7 for Sunday.
pub fn day_of_week(days: i64) -> u32 {
    ((days + 3).rem_euclid(7) + 1) as u32
}

/// Days since the epoch of the Monday that starts ISO week 1 of `week_year`.
fn week_one_monday(week_year: i64) -> i64 {
    let jan4 = days_from_ymd(Ymd {
        year: week_year,
        month: 1,
        day: 4,
    });
    jan4 - i64::from(day_of_week(jan4)) + 1
}

/// How many ISO weeks `week_year` has (52 or 53).
pub fn weeks_in_year(week_year: i64) -> u32 {
    ((week_one_monday(week_year + 1) - week_one_monday(week_year)) / 7) as u32
}

/// The ISO week-based year and week of a day.
pub fn iso_week(days: i64) -> (i64, u32) {
    let year = ymd_from_days(days).year;
    let mut week_year = year + 1;
    while days < week_one_monday(week_year) {
        week_year -= 1;
    }
    let week = (days - week_one_monday(week_year)) / 7 + 1;
    (week_year, week as u32)
}

/// The day of an ISO week date; `None` when the week or day is out of range.
pub fn from_week_date(week_year: i64, week: i64, day_of_week: i64) -> Option<i64> {
    if !(MIN_YEAR..=MAX_YEAR).contains(&week_year)
        || week < 1
        || week > i64::from(weeks_in_year(week_year))
        || !(1..=7).contains(&day_of_week)
    {
        return None;
    }
    Some(week_one_monday(week_year) + (week - 1) * 7 + day_of_week - 1)
}

/// 1-based day of the year.
pub fn ordinal_day(days: i64) -> u32 {
    let d = ymd_from_days(days);
    (days
        - days_from_ymd(Ymd {
            month: 1,
            day: 1,
            ..d
        })
        + 1) as u32
}

pub fn from_ordinal(year: i64, ordinal: i64) -> Option<i64> {
    if !(MIN_YEAR..=MAX_YEAR).contains(&year)
        || ordinal < 1
        || ordinal > i64::from(days_in_year(year))
    {
        return None;
    }
    Some(
        days_from_ymd(Ymd {
            year,
            month: 1,
            day: 1,
        }) + ordinal
            - 1,
    )
}

pub fn quarter(month: u32) -> u32 {
    (month - 1) / 3 + 1
}

fn quarter_start(year: i64, quarter: u32) -> i64 {
    days_from_ymd(Ymd {
        year,
        month: (quarter - 1) * 3 + 1,
        day: 1,
    })
}

/// 1-based day within the quarter.
pub fn day_of_quarter(days: i64) -> u32 {
    let d = ymd_from_days(days);
    (days - quarter_start(d.year, quarter(d.month)) + 1) as u32
}

pub fn from_quarter(year: i64, quarter: i64, day_of_quarter: i64) -> Option<i64> {
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) || !(1..=4).contains(&quarter) {
        return None;
    }
    let q = quarter as u32;
    let len = if q == 4 {
        days_from_ymd(Ymd {
            year: year + 1,
            month: 1,
            day: 1,
        })
    } else {
        quarter_start(year, q + 1)
    } - quarter_start(year, q);
    if day_of_quarter < 1 || day_of_quarter > len {
        return None;
    }
    Some(quarter_start(year, q) + day_of_quarter - 1)
}

/// `days` plus `months` calendar months, the day clamped to the end of a shorter month (as
/// Java's `plusMonths`, which openCypher follows); `None` past the supported years.
pub fn add_months(days: i64, months: i64) -> Option<i64> {
    let d = ymd_from_days(days);
    let total = (d.year * 12 + i64::from(d.month) - 1).checked_add(months)?;
    let year = total.div_euclid(12);
    let month = (total.rem_euclid(12) + 1) as u32;
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return None;
    }
    let day = d.day.min(days_in_month(year, month));
    Some(days_from_ymd(Ymd { year, month, day }))
}

/// Whole months from `from` to `to` (dates only), truncated toward zero as Java's
/// `LocalDate.until(.., MONTHS)`.
pub fn months_between(from: i64, to: i64) -> i64 {
    let (a, b) = (ymd_from_days(from), ymd_from_days(to));
    let packed = |d: Ymd| (d.year * 12 + i64::from(d.month) - 1) * 32 + i64::from(d.day);
    (packed(b) - packed(a)) / 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_across_the_whole_range() {
        for days in [-719_468, -1, 0, 1, 11_016, 19_724, 2_932_896] {
            assert_eq!(days_from_ymd(ymd_from_days(days)), days);
        }
        let far = ymd(MAX_YEAR, 12, 31).unwrap();
        assert_eq!(ymd_from_days(days_from_ymd(far)), far);
        let early = ymd(MIN_YEAR, 1, 1).unwrap();
        assert_eq!(ymd_from_days(days_from_ymd(early)), early);
        assert_eq!(days_from_ymd(ymd(2024, 1, 2).unwrap()), 19_724);
        assert!(ymd(2023, 2, 29).is_none());
        assert!(ymd(2024, 2, 29).is_some());
        assert!(ymd(2015, 13, 1).is_none());
    }

    #[test]
    fn iso_weeks() {
        // 1984-01-01 is a Sunday in week 52 of 1983.
        let d = days_from_ymd(ymd(1984, 1, 1).unwrap());
        assert_eq!((iso_week(d), day_of_week(d)), ((1983, 52), 7));
        // 1816-12-30 is the Monday of week 1 of 1817.
        let d = days_from_ymd(ymd(1816, 12, 30).unwrap());
        assert_eq!(iso_week(d), (1817, 1));
        assert_eq!(from_week_date(1817, 1, 1), Some(d));
        assert_eq!(weeks_in_year(1818), 53);
        assert!(from_week_date(1817, 53, 1).is_none());
    }

    #[test]
    fn ordinal_quarter_and_months() {
        let d = days_from_ymd(ymd(1984, 11, 11).unwrap());
        assert_eq!((ordinal_day(d), day_of_quarter(d)), (316, 42));
        assert_eq!(
            from_quarter(1984, 3, 45),
            Some(days_from_ymd(ymd(1984, 8, 14).unwrap()))
        );
        assert_eq!(
            from_ordinal(1984, 202),
            Some(days_from_ymd(ymd(1984, 7, 20).unwrap()))
        );
        let jan31 = days_from_ymd(ymd(2023, 1, 31).unwrap());
        assert_eq!(
            ymd_from_days(add_months(jan31, 1).unwrap()),
            ymd(2023, 2, 28).unwrap()
        );
        let a = days_from_ymd(ymd(1984, 10, 11).unwrap());
        let b = days_from_ymd(ymd(2015, 6, 24).unwrap());
        assert_eq!(months_between(a, b), 30 * 12 + 8);
        assert_eq!(months_between(b, a), -(30 * 12 + 8));
    }
}
