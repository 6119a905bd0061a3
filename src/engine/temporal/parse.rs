//! ISO 8601 text as openCypher reads it: calendar (`2015-07-21`, `20150721`, `2015-07`), week
//! (`2015-W30-2`, `2015W302`), quarter (`2015-Q3-21`), ordinal (`2015-202`) and year-only dates;
//! times to the nanosecond in extended or basic form with reduced precision (`21:40:32.142`,
//! `214032`, `21`); offsets `Z`, `±hh[:mm[:ss]]`; a `[Zone/Name]` suffix; durations
//! (`P1Y2M3W4DT5H6M7.5S`, signed parts, and the `P2012-02-02T14:37:21.545` form).
//!
//! Parsers return `None` for text that is not one of these forms or names a day or time that
//! does not exist; the caller words the error.

use super::calendar::{self, NANOS_PER_SECOND};
use super::duration::{Amount, Components, Unit};
use super::zone;
use crate::value::{Duration, TimeZone};

/// A parsed date and/or time, with what the text said about its zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub days: Option<i64>,
    pub nanos: Option<i64>,
    pub offset: Option<i32>,
    pub zone: Option<TimeZone>,
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn num(s: &str) -> Option<i64> {
    if digits(s) {
        s.parse().ok()
    } else {
        None
    }
}

/// A date in any of openCypher's forms.
pub fn date(s: &str) -> Option<i64> {
    // A signed year may have more than four digits (`+999999999-12-31`); then only the
    // extended form (with '-') is unambiguous.
    let (year, rest) = match s.as_bytes().first()? {
        b'+' | b'-' => {
            let end = s[1..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(s.len(), |i| i + 1);
            let y = num(&s[1..end])?;
            let y = if s.starts_with('-') { -y } else { y };
            if end < s.len() && !s[end..].starts_with('-') {
                return None;
            }
            (y, &s[end..])
        }
        _ => (num(s.get(..4)?)?, &s[4..]),
    };
    let (extended, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() {
        return if extended {
            None
        } else {
            calendar::from_ordinal(year, 1)
        };
    }
    let sep = |r: &str| -> Option<String> {
        // In the extended form the two parts are separated by '-'; in the basic form not.
        if extended {
            match r.split_once('-') {
                Some((a, b)) if b.len() == 2 || b.len() == 1 => Some(format!("{a}|{b}")),
                Some(_) => None,
                None => Some(r.to_owned()),
            }
        } else {
            Some(r.to_owned())
        }
    };
    if let Some(w) = rest.strip_prefix(['W', 'w']) {
        let w = sep(w)?;
        let (week, day) = match w.split_once('|') {
            Some((a, b)) if b.len() == 1 => (a.to_owned(), Some(b.to_owned())),
            Some(_) => return None,
            None if !extended && w.len() == 3 => (w[..2].to_owned(), Some(w[2..].to_owned())),
            None => (w, None),
        };
        if week.len() != 2 {
            return None;
        }
        let day = day.map_or(Some(1), |d| num(&d))?;
        return calendar::from_week_date(year, num(&week)?, day);
    }
    if let Some(q) = rest.strip_prefix(['Q', 'q']) {
        let q = sep(q)?;
        let (quarter, day) = match q.split_once('|') {
            Some((a, b)) if b.len() == 2 => (a.to_owned(), Some(b.to_owned())),
            Some(_) => return None,
            None if !extended && q.len() == 3 => (q[..1].to_owned(), Some(q[1..].to_owned())),
            None => (q, None),
        };
        if quarter.len() != 1 {
            return None;
        }
        let day = day.map_or(Some(1), |d| num(&d))?;
        return calendar::from_quarter(year, num(&quarter)?, day);
    }
    if extended {
        return match rest.split_once('-') {
            Some((m, d)) if m.len() == 2 && d.len() == 2 => {
                calendar::ymd(year, num(m)?, num(d)?).map(calendar::days_from_ymd)
            }
            Some(_) => None,
            None if rest.len() == 2 => {
                calendar::ymd(year, num(rest)?, 1).map(calendar::days_from_ymd)
            }
            None if rest.len() == 3 => calendar::from_ordinal(year, num(rest)?),
            None => None,
        };
    }
    match rest.len() {
        2 => calendar::ymd(year, num(rest)?, 1).map(calendar::days_from_ymd),
        3 => calendar::from_ordinal(year, num(rest)?),
        4 => calendar::ymd(year, num(&rest[..2])?, num(&rest[2..])?).map(calendar::days_from_ymd),
        _ => None,
    }
}

/// `hh[:mm[:ss[.fffffffff]]]` or `hh[mm[ss[.fffffffff]]]`, in nanoseconds since midnight.
pub fn local_time(s: &str) -> Option<i64> {
    let (whole, fraction) = match s.find(['.', ',']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let parts: Vec<&str> = if whole.contains(':') {
        whole.split(':').collect()
    } else {
        if whole.len() % 2 != 0 {
            return None;
        }
        (0..whole.len() / 2)
            .map(|i| &whole[2 * i..2 * i + 2])
            .collect()
    };
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let field = |i: usize| parts.get(i).map_or(Some(0), |p| num(p));
    let (h, m, sec) = (field(0)?, field(1)?, field(2)?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let mut nanos = 0;
    if let Some(f) = fraction {
        // A fraction belongs to the seconds, and has at most nanosecond precision.
        if parts.len() != 3 || !digits(f) || f.len() > 9 {
            return None;
        }
        nanos = format!("{f:0<9}").parse::<i64>().ok()?;
    }
    Some(((h * 60 + m) * 60 + sec) * NANOS_PER_SECOND + nanos)
}

/// Splits `21:40:32+01:00[Europe/Paris]` into the time and what follows it.
fn split_zone(s: &str) -> (&str, &str) {
    let at = s.find(['+', '-', 'Z', 'z', '[']).unwrap_or(s.len());
    (&s[..at], &s[at..])
}

/// `+01:00`, `Z`, `[Europe/Paris]`, `+02:00[Europe/Paris]` or nothing.
fn zone_suffix(s: &str) -> Option<(Option<i32>, Option<TimeZone>)> {
    let (offset_text, name) = match s.find('[') {
        Some(i) => {
            let name = s[i + 1..].strip_suffix(']')?;
            (&s[..i], Some(zone::parse_zone(name)?))
        }
        None => (s, None),
    };
    let offset = if offset_text.is_empty() {
        None
    } else {
        Some(zone::parse_offset(offset_text)?)
    };
    Some((offset, name))
}

/// A time with an optional offset (`21:40:32.142+0100`, `2140-02`, `214032.142Z`).
pub fn time(s: &str) -> Option<Parsed> {
    let (t, rest) = split_zone(s);
    let (offset, zone) = zone_suffix(rest)?;
    Some(Parsed {
        days: None,
        nanos: Some(local_time(t)?),
        offset,
        zone,
    })
}

/// A date and time, `T`-separated, with an optional offset and zone name.
pub fn date_time(s: &str) -> Option<Parsed> {
    let (d, t) = match s.find(['T', 't']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let days = date(d)?;
    let Some(t) = t else {
        return Some(Parsed {
            days: Some(days),
            nanos: Some(0),
            offset: None,
            zone: None,
        });
    };
    let mut parsed = time(t)?;
    parsed.days = Some(days);
    Some(parsed)
}

/// An ISO 8601 duration.
pub fn duration(s: &str) -> Option<Duration> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let body = s.strip_prefix(['P', 'p'])?;
    let mut c = Components::default();
    if !alternative_form(body, &mut c) && !designator_form(body, &mut c)? {
        return None;
    }
    let d = c.build()?;
    if negative {
        super::duration::negate(&d)
    } else {
        Some(d)
    }
}

/// `P2012-02-02T14:37:21.545`: a duration written like a date and time.
fn alternative_form(body: &str, c: &mut Components) -> bool {
    let Some((d, t)) = body.split_once(['T', 't']) else {
        return false;
    };
    let date: Vec<&str> = d.split('-').collect();
    let (whole, fraction) = match t.split_once(['.', ',']) {
        Some((w, f)) => (w, Some(f)),
        None => (t, None),
    };
    let time: Vec<&str> = whole.split(':').collect();
    if date.len() != 3 || time.len() != 3 || !date.iter().chain(&time).all(|p| digits(p)) {
        return false;
    }
    let units = [
        Unit::Years,
        Unit::Months,
        Unit::Days,
        Unit::Hours,
        Unit::Minutes,
        Unit::Seconds,
    ];
    for (unit, text) in units.iter().zip(date.iter().chain(&time)) {
        match text.parse::<i64>() {
            Ok(n) if c.add(*unit, Amount::Whole(n)) => {}
            _ => return false,
        }
    }
    match fraction {
        None => true,
        Some(f) if digits(f) && f.len() <= 9 => match format!("{f:0<9}").parse::<i64>() {
            Ok(n) => c.add(Unit::Nanoseconds, Amount::Whole(n)),
            Err(_) => false,
        },
        Some(_) => false,
    }
}

/// `1Y2M3W4DT5H6M7.5S`, each number optionally signed and fractional. `Some(false)` when
/// nothing was given.
fn designator_form(body: &str, c: &mut Components) -> Option<bool> {
    let (date_part, time_part) = match body.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut any = false;
    for (part, in_time) in [(date_part, false), (time_part.unwrap_or(""), true)] {
        let mut number = String::new();
        for ch in part.chars() {
            if ch.is_ascii_digit() || ch == '.' || ch == ',' || (ch == '-' && number.is_empty()) {
                number.push(if ch == ',' { '.' } else { ch });
                continue;
            }
            let unit = match (ch.to_ascii_uppercase(), in_time) {
                ('Y', false) => Unit::Years,
                ('M', false) => Unit::Months,
                ('W', false) => Unit::Weeks,
                ('D', false) => Unit::Days,
                ('H', true) => Unit::Hours,
                ('M', true) => Unit::Minutes,
                ('S', true) => Unit::Seconds,
                _ => return None,
            };
            if unit == Unit::Seconds && number.contains('.') {
                // Fractional seconds are read exactly, to the nanosecond.
                if !exact_seconds(&number, c) {
                    return None;
                }
                any = true;
                number.clear();
                continue;
            }
            let amount = if number.contains('.') {
                Amount::Fraction(number.parse().ok()?)
            } else {
                Amount::Whole(number.parse().ok()?)
            };
            if !c.add(unit, amount) {
                return None;
            }
            any = true;
            number.clear();
        }
        if !number.is_empty() {
            return None;
        }
    }
    if time_part == Some("") {
        return None;
    }
    Some(any)
}

/// `-12.5` seconds as whole seconds and nanoseconds of the same sign.
fn exact_seconds(number: &str, c: &mut Components) -> bool {
    let (negative, n) = match number.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, number),
    };
    let Some((whole, fraction)) = n.split_once('.') else {
        return false;
    };
    if !(whole.is_empty() || digits(whole)) || !digits(fraction) || fraction.len() > 9 {
        return false;
    }
    let (Ok(secs), Ok(nanos)) = (
        if whole.is_empty() {
            Ok(0)
        } else {
            whole.parse::<i64>()
        },
        format!("{fraction:0<9}").parse::<i64>(),
    ) else {
        return false;
    };
    let sign = if negative { -1 } else { 1 };
    c.add(Unit::Seconds, Amount::Whole(sign * secs))
        && c.add(Unit::Nanoseconds, Amount::Whole(sign * nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::temporal::calendar::{days_from_ymd, ymd};

    fn day(y: i64, m: i64, d: i64) -> i64 {
        days_from_ymd(ymd(y, m, d).unwrap())
    }

    #[test]
    fn every_date_form() {
        let jul21 = day(2015, 7, 21);
        for s in [
            "2015-07-21",
            "20150721",
            "2015-W30-2",
            "2015W302",
            "2015-202",
            "2015202",
        ] {
            assert_eq!(date(s), Some(jul21), "{s}");
        }
        assert_eq!(date("2015-07"), Some(day(2015, 7, 1)));
        assert_eq!(date("201507"), Some(day(2015, 7, 1)));
        assert_eq!(date("2015-W30"), Some(day(2015, 7, 20)));
        assert_eq!(date("2015"), Some(day(2015, 1, 1)));
        assert_eq!(date("2015-Q3-21"), Some(jul21));
        assert_eq!(date("2015Q321"), Some(jul21));
        assert_eq!(date("2015-Q3"), Some(day(2015, 7, 1)));
        assert_eq!(date("+999999999-12-31"), Some(day(999_999_999, 12, 31)));
        assert_eq!(date("-999999999-01-01"), Some(day(-999_999_999, 1, 1)));
        for bad in [
            "2015-13-01",
            "2015-02-29",
            "2015-W54",
            "2015-",
            "15-07-21",
            "2015-7-21",
            "",
        ] {
            assert_eq!(date(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_and_offsets() {
        let t = ((21 * 60 + 40) * 60 + 32) * NANOS_PER_SECOND;
        assert_eq!(local_time("21:40:32.142"), Some(t + 142_000_000));
        assert_eq!(local_time("214032.142"), Some(t + 142_000_000));
        assert_eq!(local_time("214032"), Some(t));
        assert_eq!(local_time("21"), Some(21 * 3600 * NANOS_PER_SECOND));
        assert_eq!(
            local_time("12:31:14.645876123").map(|n| n % 1000),
            Some(123)
        );
        assert_eq!(local_time("24:00"), None);
        assert_eq!(local_time("21:40.5"), None);
        let p = time("2140-02").unwrap();
        assert_eq!(
            (p.offset, p.nanos),
            (Some(-7200), Some(78_000 * NANOS_PER_SECOND))
        );
        assert_eq!(time("22+18:00").unwrap().offset, Some(64_800));
        let p = date_time("2015-07-21T21:40:32.142+0845[Australia/Eucla]").unwrap();
        assert_eq!(p.offset, Some(31_500));
        assert_eq!(p.zone, Some(TimeZone::Named("Australia/Eucla".into())));
        let p = date_time("2015-W30T2140-00:00").unwrap();
        assert_eq!((p.days, p.offset), (Some(day(2015, 7, 20)), Some(0)));
        assert!(date_time("2015-07-21T21:40[Nowhere/Land]").is_none());
    }

    #[test]
    fn durations() {
        let d = duration("P12Y5M14DT16H12M70S").unwrap();
        assert_eq!(
            (d.months, d.days, d.seconds),
            (149, 14, 16 * 3600 + 13 * 60 + 10)
        );
        let d = duration("PT-1M-0.001S").unwrap();
        assert_eq!((d.seconds, d.nanos), (-61, 999_000_000));
        let d = duration("P2012-02-02T14:37:21.545").unwrap();
        assert_eq!((d.months, d.days, d.nanos), (2012 * 12 + 2, 2, 545_000_000));
        assert_eq!(duration("-P1D").unwrap().days, -1);
        for bad in ["P", "PT", "P1H", "PT1D", "1D", "P1.5.5D", "P1DT"] {
            assert_eq!(duration(bad), None, "{bad}");
        }
    }
}
