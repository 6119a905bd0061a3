//! Values written as Cypher text that evaluates back to the same value, for `DUMP DATABASE`.
//!
//! Everything written here must parse with [`crate::cypher`] and evaluate, on this engine, to a
//! value structurally equal to the original: floats keep their type (`1.0`, not `1`), integers
//! their full range, strings every character, and temporal values go through the constructor
//! functions of `temporal.rs` in the forms it parses. A value with no such constructor (zoned
//! times, points, byte arrays) is refused with a reason rather than written as something else.

use std::fmt::{self, Write as _};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use chrono_tz::Tz;

use crate::value::{Duration, TimeZone, Value};

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Why a value cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwritable(String);

impl fmt::Display for Unwritable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn unwritable(what: impl Into<String>) -> Unwritable {
    Unwritable(what.into())
}

/// A label, relationship type or property name, always backquoted (as Memgraph's dump does) so
/// that keywords, spaces and other characters need no thought; a backquote inside is doubled.
pub fn name(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Appends `value` as a Cypher expression.
pub fn write(out: &mut String, value: &Value) -> Result<(), Unwritable> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // The lexer reads the digits before the minus, and 9223372036854775808 is too large.
        Value::Int(i64::MIN) => out.push_str("(-9223372036854775807 - 1)"),
        Value::Int(i) => push(out, format_args!("{i}")),
        Value::Float(f) => float(out, *f),
        Value::String(s) => string(out, s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(out, item)?;
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&name(k));
                out.push_str(": ");
                write(out, v)?;
            }
            out.push('}');
        }
        Value::Date(days) => date(out, *days)?,
        Value::LocalTime(nanos) => {
            let t = time_of_day(*nanos)
                .ok_or_else(|| unwritable(format!("local time of {nanos} ns is out of range")))?;
            push(
                out,
                format_args!("LOCALTIME(\"{}\")", t.format("%H:%M:%S%.f")),
            );
        }
        Value::LocalDateTime { seconds, nanos } => {
            let dt = DateTime::from_timestamp(*seconds, *nanos)
                .ok_or_else(|| unwritable("local datetime out of range"))?
                .naive_utc();
            local_date_time(out, "LOCALDATETIME", dt, None);
        }
        Value::DateTime {
            seconds,
            nanos,
            zone,
        } => zoned(out, *seconds, *nanos, zone)?,
        Value::Duration(d) => duration(out, d)?,
        other @ (Value::Bytes(_)
        | Value::Time { .. }
        | Value::Point2D { .. }
        | Value::Point3D { .. }
        | Value::Node(_)
        | Value::Relationship(_)
        | Value::Path(_)) => {
            return Err(unwritable(format!(
                "boltd has no Cypher function that builds a {} value, so the dump could not \
                 restore it",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn push(out: &mut String, args: fmt::Arguments<'_>) {
    // Writing to a String cannot fail.
    let _ = out.write_fmt(args);
}

/// Rust's `{:?}` is the shortest text that parses back to the same bits and always reads as a
/// float (`1.0`, `1e300`). NaN and the infinities have no literal; these expressions make them.
fn float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("(0.0 / 0.0)");
    } else if f == f64::INFINITY {
        out.push_str("(1.0 / 0.0)");
    } else if f == f64::NEG_INFINITY {
        out.push_str("(-1.0 / 0.0)");
    } else {
        push(out, format_args!("{f:?}"));
    }
}

/// A double-quoted string with the escapes the lexer reads; other control characters as `\u`.
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => push(out, format_args!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `temporal.rs` parses four-digit years; others are written as a map of fields.
fn four_digit_year(year: i32) -> bool {
    (0..=9999).contains(&year)
}

fn date(out: &mut String, days: i64) -> Result<(), Unwritable> {
    let d = NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::try_days(days)?))
        .ok_or_else(|| unwritable(format!("date {days} days from 1970 is out of range")))?;
    if four_digit_year(d.year()) {
        push(out, format_args!("DATE(\"{}\")", d.format("%Y-%m-%d")));
    } else {
        push(
            out,
            format_args!(
                "DATE({{year: {}, month: {}, day: {}}})",
                d.year(),
                d.month(),
                d.day()
            ),
        );
    }
    Ok(())
}

fn time_of_day(nanos: i64) -> Option<NaiveTime> {
    if !(0..86_400 * NANOS_PER_SECOND).contains(&nanos) {
        return None;
    }
    NaiveTime::from_num_seconds_from_midnight_opt(
        u32::try_from(nanos / NANOS_PER_SECOND).ok()?,
        u32::try_from(nanos % NANOS_PER_SECOND).ok()?,
    )
}

/// `function("YYYY-MM-DDThh:mm:ss[.f]<suffix>")`, or the map form (with `timezone` when given)
/// for years the string form cannot hold.
fn local_date_time(
    out: &mut String,
    function: &str,
    dt: NaiveDateTime,
    zone: Option<(&str, &str)>,
) {
    if four_digit_year(dt.year()) {
        let suffix = zone.map_or(String::new(), |(_, suffix)| suffix.to_owned());
        push(
            out,
            format_args!(
                "{function}(\"{}{suffix}\")",
                dt.format("%Y-%m-%dT%H:%M:%S%.f")
            ),
        );
        return;
    }
    push(
        out,
        format_args!(
            "{function}({{year: {}, month: {}, day: {}, hour: {}, minute: {}, second: {}, \
             nanosecond: {}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.nanosecond()
        ),
    );
    if let Some((timezone, _)) = zone {
        out.push_str(", timezone: ");
        string(out, timezone);
    }
    out.push_str("})");
}

/// `+hh:mm`, the offset form `temporal.rs` parses.
fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A zoned datetime as its wall-clock time with the offset and, for a named zone, the name:
/// Memgraph's `2024-01-02T10:00:00+01:00[Europe/Zagreb]`. The offset tells `datetime()` which of
/// two equal wall-clock times a zone passes twice is meant.
fn zoned(out: &mut String, seconds: i64, nanos: u32, zone: &TimeZone) -> Result<(), Unwritable> {
    let instant = DateTime::from_timestamp(seconds, nanos)
        .ok_or_else(|| unwritable("datetime out of range"))?;
    match zone {
        TimeZone::Offset(o) => {
            if o % 60 != 0 {
                return Err(unwritable(format!(
                    "datetime offset of {o} s is not whole minutes, which datetime() cannot \
                     take"
                )));
            }
            let fixed = FixedOffset::east_opt(*o)
                .ok_or_else(|| unwritable(format!("datetime offset of {o} s is out of range")))?;
            let text = offset_text(*o);
            let local = instant.with_timezone(&fixed).naive_local();
            local_date_time(out, "DATETIME", local, Some((&text, &text)));
        }
        TimeZone::Named(n) => {
            let tz: Tz = n
                .parse()
                .map_err(|_| unwritable(format!("unknown time zone '{n}'")))?;
            let there = instant.with_timezone(&tz);
            let offset = chrono::Offset::fix(there.offset()).local_minus_utc();
            let suffix = format!("{}[{n}]", offset_text(offset));
            local_date_time(out, "DATETIME", there.naive_local(), Some((n, &suffix)));
        }
    }
    Ok(())
}

/// The map form, the only one that keeps each of the four parts (which may differ in sign)
/// exactly: `duration()` reads its fields as floats, exact up to 2^53.
fn duration(out: &mut String, d: &Duration) -> Result<(), Unwritable> {
    const EXACT: i64 = 1 << 53;
    let parts = [d.months, d.days, d.seconds, d.nanos];
    if parts.iter().any(|p| !(-EXACT..=EXACT).contains(p)) {
        return Err(unwritable(
            "duration has a part beyond 2^53, which duration() cannot take exactly",
        ));
    }
    push(
        out,
        format_args!(
            "DURATION({{months: {}, days: {}, seconds: {}, nanoseconds: {}}})",
            d.months, d.days, d.seconds, d.nanos
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &Value) -> String {
        let mut out = String::new();
        write(&mut out, v).unwrap();
        out
    }

    #[test]
    fn shapes() {
        assert_eq!(text(&Value::Float(1.0)), "1.0");
        assert_eq!(text(&Value::Float(1e300)), "1e300");
        assert_eq!(text(&"a\"b\\\u{1}".into()), "\"a\\\"b\\\\\\u0001\"");
        assert_eq!(name("we`ird"), "`we``ird`");
        assert_eq!(text(&Value::Date(19_724)), "DATE(\"2024-01-02\")");
        assert_eq!(
            text(&Value::LocalTime(45_296_000_000_123)),
            "LOCALTIME(\"12:34:56.000000123\")"
        );
        assert_eq!(
            text(&Value::DateTime {
                seconds: 1_704_164_645,
                nanos: 0,
                zone: TimeZone::Named("Europe/Zagreb".into())
            }),
            "DATETIME(\"2024-01-02T04:04:05+01:00[Europe/Zagreb]\")"
        );
        assert_eq!(
            text(&Value::DateTime {
                seconds: 0,
                nanos: 0,
                zone: TimeZone::Offset(-9000)
            }),
            "DATETIME(\"1969-12-31T21:30:00-02:30\")"
        );
        assert!(write(&mut String::new(), &Value::Bytes(vec![1])).is_err());
    }
}
