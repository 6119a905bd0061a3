//! openCypher's text for temporal values (what `toString()` returns and the temporal functions
//! read back): `1984-10-11`, `12:31:14.645876123+01:00`, `12:31`, `1984-10-11T12:31:14Z`,
//! `...+02:00[Europe/Stockholm]`, `P1Y2M10DT12H45M30.25S`.
//!
//! Seconds are left out when they and the fraction are zero, and a fraction is written in
//! groups of three digits (milli-, micro-, nanoseconds), as Java's ISO formatter does.

use std::fmt::Write as _;

use super::calendar::{self, NANOS_PER_SECOND};
use super::duration::total_nanos;
use super::parts::Parts;
use super::zone::format_offset;
use crate::value::{Duration, TimeZone, Value};

/// `toString()` of a temporal value or duration; `None` for any other value.
pub fn to_string(v: &Value) -> Option<String> {
    if let Value::Duration(d) = v {
        return Some(duration(d));
    }
    let p = Parts::of(v)?;
    let mut out = String::new();
    if let Some(days) = p.days {
        date(&mut out, days);
    }
    if let Some(nanos) = p.nanos {
        if p.days.is_some() {
            out.push('T');
        }
        time(&mut out, nanos);
    }
    if let Some(offset) = p.offset {
        out.push_str(&format_offset(offset));
    }
    if let Some(TimeZone::Named(name)) = &p.zone {
        let _ = write!(out, "[{name}]");
    }
    Some(out)
}

/// `yyyy-mm-dd`; years beyond four digits get a sign, as ISO 8601's expanded form.
fn date(out: &mut String, days: i64) {
    let d = calendar::ymd_from_days(days);
    let y = d.year;
    let _ = if y > 9999 {
        write!(out, "+{y}")
    } else if y < 0 {
        write!(out, "-{:04}", y.unsigned_abs())
    } else {
        write!(out, "{y:04}")
    };
    let _ = write!(out, "-{:02}-{:02}", d.month, d.day);
}

fn time(out: &mut String, nanos: i64) {
    let secs = nanos / NANOS_PER_SECOND;
    let frac = nanos % NANOS_PER_SECOND;
    let _ = write!(out, "{:02}:{:02}", secs / 3600, secs / 60 % 60);
    if secs % 60 != 0 || frac != 0 {
        let _ = write!(out, ":{:02}", secs % 60);
    }
    if frac != 0 {
        let _ = if frac % 1_000_000 == 0 {
            write!(out, ".{:03}", frac / 1_000_000)
        } else if frac % 1_000 == 0 {
            write!(out, ".{:06}", frac / 1_000)
        } else {
            write!(out, ".{frac:09}")
        };
    }
}

/// `P[nY][nM][nD][T[nH][nM][n.nS]]`, each part signed on its own (`P1M-14DT-0.001S`); the
/// seconds are split into hours and minutes, the days are not folded into months. `PT0S` for
/// zero.
pub fn duration(d: &Duration) -> String {
    let mut out = String::from("P");
    let (years, months) = (d.months / 12, d.months % 12);
    for (n, unit) in [(years, 'Y'), (months, 'M'), (d.days, 'D')] {
        if n != 0 {
            let _ = write!(out, "{n}{unit}");
        }
    }
    let total = total_nanos(d);
    if total == 0 {
        if out.len() == 1 {
            out.push_str("T0S");
        }
        return out;
    }
    out.push('T');
    let sign = if total < 0 { "-" } else { "" };
    let abs = total.unsigned_abs();
    let per = NANOS_PER_SECOND as u128;
    let (secs, frac) = (abs / per, abs % per);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h != 0 {
        let _ = write!(out, "{sign}{h}H");
    }
    if m != 0 {
        let _ = write!(out, "{sign}{m}M");
    }
    if s != 0 || frac != 0 {
        let _ = write!(out, "{sign}{s}");
        if frac != 0 {
            let digits = format!("{frac:09}");
            let _ = write!(out, ".{}", digits.trim_end_matches('0'));
        }
        out.push('S');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::temporal::parse;

    fn dur(s: &str) -> String {
        duration(&parse::duration(s).unwrap())
    }

    #[test]
    fn durations_print_as_opencypher_does() {
        assert_eq!(dur("P12Y5M14DT16H12M70S"), "P12Y5M14DT16H13M10S");
        assert_eq!(dur("PT0.75M"), "PT45S");
        assert_eq!(dur("P0.75M"), "P22DT19H51M49.5S");
        assert_eq!(dur("PT-2S"), "PT-2S");
        assert_eq!(dur("PT-60.001S"), "PT-1M-0.001S");
        assert_eq!(dur("P1DT-0.001S"), "P1DT-0.001S");
        assert_eq!(dur("PT0S"), "PT0S");
        assert_eq!(dur("P1M-14D"), "P1M-14D");
        // What toString() writes, the parser reads back unchanged.
        for s in [
            "P12Y5M-14DT16H",
            "PT-1.999S",
            "PT59.999S",
            "P-6M-15DT-17H-45M-3.500000002S",
        ] {
            assert_eq!(dur(s), s);
        }
    }

    #[test]
    fn instants() {
        let s = |v: &Value| to_string(v).unwrap();
        let day = |y, m, d| Value::Date(calendar::days_from_ymd(calendar::ymd(y, m, d).unwrap()));
        assert_eq!(s(&day(1984, 10, 11)), "1984-10-11");
        assert_eq!(s(&day(21, 1, 1)), "0021-01-01");
        assert_eq!(s(&day(-21, 1, 1)), "-0021-01-01");
        assert_eq!(s(&day(999_999_999, 12, 31)), "+999999999-12-31");
        assert_eq!(s(&Value::LocalTime(12 * 3600 * NANOS_PER_SECOND)), "12:00");
        assert_eq!(
            s(&Value::Time {
                nanos: 45_074 * NANOS_PER_SECOND + 645_876_000,
                offset_seconds: 3600
            }),
            "12:31:14.645876+01:00"
        );
        assert_eq!(
            s(&Value::LocalDateTime {
                seconds: 3,
                nanos: 3
            }),
            "1970-01-01T00:00:03.000000003"
        );
        assert_eq!(
            s(&Value::DateTime {
                seconds: 0,
                nanos: 0,
                zone: TimeZone::Named("Europe/Stockholm".into())
            }),
            "1970-01-01T01:00+01:00[Europe/Stockholm]"
        );
        assert_eq!(
            s(&Value::DateTime {
                seconds: 0,
                nanos: 0,
                zone: TimeZone::Offset(0)
            }),
            "1970-01-01T00:00Z"
        );
    }
}
