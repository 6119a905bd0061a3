//! Time zones: parsing offsets (`Z`, `+01`, `+0100`, `+01:00`, `+02:05:59`) and IANA names, and
//! the offset a zone has at an instant or at a wall-clock time, from chrono-tz's copy of the
//! IANA database.

use chrono::{DateTime, LocalResult, Offset, TimeZone as _};
use chrono_tz::Tz;

use crate::value::TimeZone;

/// chrono's instants end near year ±262,000; zone rules are looked up at the nearest instant
/// it can represent (far beyond any transition, so the offset is the zone's last one).
const CHRONO_LIMIT: i64 = 8_000_000_000_000;

/// The largest offset openCypher (and Java) allow: ±18 hours.
const MAX_OFFSET: i32 = 18 * 3600;

/// `Z`, `±hh`, `±hhmm`, `±hh:mm`, `±hhmmss` or `±hh:mm:ss`, in seconds east of UTC.
pub fn parse_offset(s: &str) -> Option<i32> {
    if s == "Z" || s == "z" {
        return Some(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &s[1..];
    let digits: String = body.chars().filter(|c| *c != ':').collect();
    let extended = body.contains(':');
    // Colons, when present, must separate every pair.
    if extended && !matches!(body.len(), 5 | 8) {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4 | 6) {
        return None;
    }
    let pair = |i: usize| {
        digits
            .get(i..i + 2)
            .map_or(Some(0), |p| p.parse::<i32>().ok())
    };
    let (h, m, sec) = (pair(0)?, pair(2)?, pair(4)?);
    if m > 59 || sec > 59 {
        return None;
    }
    let total = h * 3600 + m * 60 + sec;
    (total <= MAX_OFFSET).then_some(sign * total)
}

/// An offset or an IANA zone name (`Europe/Stockholm`, `UTC`).
pub fn parse_zone(s: &str) -> Option<TimeZone> {
    if let Some(o) = parse_offset(s) {
        return Some(TimeZone::Offset(o));
    }
    let tz = s.parse::<Tz>().ok()?;
    Some(TimeZone::Named(tz.name().to_owned()))
}

fn naive(seconds: i64) -> chrono::NaiveDateTime {
    DateTime::from_timestamp(seconds.clamp(-CHRONO_LIMIT, CHRONO_LIMIT), 0)
        .unwrap_or_default()
        .naive_utc()
}

/// The offset of `zone` at the UTC instant `utc_seconds`.
pub fn offset_at(zone: &TimeZone, utc_seconds: i64) -> i32 {
    match zone {
        TimeZone::Offset(o) => *o,
        TimeZone::Named(name) => match name.parse::<Tz>() {
            Ok(tz) => tz
                .offset_from_utc_datetime(&naive(utc_seconds))
                .fix()
                .local_minus_utc(),
            Err(_) => 0,
        },
    }
}

/// The offset that applies to the wall-clock time `local_seconds` (seconds since the epoch of
/// the wall clock) in `zone`. When clocks go back and the time happens twice, `preferred` picks
/// one of the two if it names one, else the earlier instant is taken; when clocks go forward
/// and the time never happens, the offset from before the gap is used, which moves the time
/// forward by the gap (as Java and so openCypher do).
pub fn offset_for_local(zone: &TimeZone, local_seconds: i64, preferred: Option<i32>) -> i32 {
    let TimeZone::Named(name) = zone else {
        return offset_at(zone, local_seconds);
    };
    let Ok(tz) = name.parse::<Tz>() else {
        return 0;
    };
    match tz.offset_from_local_datetime(&naive(local_seconds)) {
        LocalResult::Single(o) => o.fix().local_minus_utc(),
        LocalResult::Ambiguous(early, late) => {
            let (e, l) = (early.fix().local_minus_utc(), late.fix().local_minus_utc());
            if preferred == Some(l) {
                l
            } else {
                e
            }
        }
        LocalResult::None => offset_at(zone, local_seconds - 86_400),
    }
}

/// `+01:00`, `-02:05:59`, or `Z` for UTC: openCypher's rendering of an offset.
pub fn format_offset(offset: i32) -> String {
    if offset == 0 {
        return "Z".to_owned();
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    if s == 0 {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+0100"), Some(3600));
        assert_eq!(parse_offset("-02"), Some(-7200));
        assert_eq!(parse_offset("+02:05:59"), Some(7559));
        assert_eq!(parse_offset("-00:00"), Some(0));
        assert_eq!(parse_offset("+18:00"), Some(64800));
        assert_eq!(parse_offset("+18:01"), None);
        assert_eq!(parse_offset("+1:00"), None);
        assert_eq!(format_offset(7559), "+02:05:59");
        assert_eq!(format_offset(-5400), "-01:30");
        assert_eq!(format_offset(0), "Z");
    }

    #[test]
    fn named_zones_follow_the_iana_rules() {
        let z = parse_zone("Europe/Stockholm").unwrap();
        // 1818: local mean time, +00:53:28.
        assert_eq!(offset_at(&z, -4_767_897_600), 3208);
        // 2017-10-29T02:30 happens twice in Stockholm.
        let local = 1_509_244_200;
        assert_eq!(offset_for_local(&z, local, None), 7200);
        assert_eq!(offset_for_local(&z, local, Some(3600)), 3600);
        // 2017-03-26T02:30 never happens: the offset before the gap applies.
        assert_eq!(offset_for_local(&z, 1_490_495_400, None), 3600);
        assert!(parse_zone("Mars/Olympus").is_none());
    }
}
