//! Temporal functions (`date()`, `localtime()`, `localdatetime()`, `datetime()`, `duration()`) and
//! the properties of temporal values (`d.year`, `t.hour`, ...).
//!
//! Values are built with chrono and stored in the Bolt-shaped forms of [`crate::value`]; zoned
//! datetimes keep their zone (an IANA name or an offset) so that clients get back what they sent.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone as _,
    Timelike, Utc,
};
use chrono_tz::Tz;

use super::EngineError;
use crate::value::{Duration, Map, TimeZone, Value};

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
}

fn bad(function: &str, what: impl std::fmt::Display) -> EngineError {
    EngineError::client(format!("Invalid argument for {function}(): {what}."))
}

/// Dispatches a temporal constructor; `None` when `name` is not one.
pub fn call(name: &str, args: &[Value]) -> Option<Result<Value, EngineError>> {
    let lower = name.to_ascii_lowercase();
    let f = match lower.as_str() {
        "date" => date,
        "localtime" => local_time,
        "localdatetime" => local_date_time,
        "datetime" => date_time,
        "duration" => duration,
        _ => return None,
    };
    Some(match args {
        [] => f(None),
        [Value::Null] => Ok(Value::Null),
        [arg] => f(Some(arg)),
        _ => Err(EngineError::client(format!(
            "Function {name}() takes 0 or 1 arguments."
        ))),
    })
}

fn date_value(d: NaiveDate) -> Value {
    Value::Date((d - epoch()).num_days())
}

fn time_nanos(t: NaiveTime) -> i64 {
    i64::from(t.num_seconds_from_midnight()) * NANOS_PER_SECOND + i64::from(t.nanosecond())
}

fn local_date_time_value(dt: NaiveDateTime) -> Value {
    let utc = dt.and_utc();
    Value::LocalDateTime {
        seconds: utc.timestamp(),
        nanos: utc.timestamp_subsec_nanos(),
    }
}

fn int_field(map: &Map, key: &str, default: i64, function: &str) -> Result<i64, EngineError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Int(i)) => Ok(*i),
        Some(other) => Err(bad(
            function,
            format!("{key} must be an INTEGER, got {other}"),
        )),
    }
}

fn date_from_map(map: &Map, function: &str) -> Result<NaiveDate, EngineError> {
    let year = int_field(map, "year", 1970, function)?;
    let month = int_field(map, "month", 1, function)?;
    let day = int_field(map, "day", 1, function)?;
    i32::try_from(year)
        .ok()
        .zip(u32::try_from(month).ok())
        .zip(u32::try_from(day).ok())
        .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d))
        .ok_or_else(|| bad(function, format!("no date {year}-{month}-{day}")))
}

fn time_from_map(map: &Map, function: &str) -> Result<NaiveTime, EngineError> {
    let h = int_field(map, "hour", 0, function)?;
    let m = int_field(map, "minute", 0, function)?;
    let s = int_field(map, "second", 0, function)?;
    let nanos = int_field(map, "millisecond", 0, function)? * 1_000_000
        + int_field(map, "microsecond", 0, function)? * 1_000
        + int_field(map, "nanosecond", 0, function)?;
    u32::try_from(h)
        .ok()
        .zip(u32::try_from(m).ok())
        .zip(u32::try_from(s).ok())
        .zip(u32::try_from(nanos).ok().filter(|n| *n < 1_000_000_000))
        .and_then(|(((h, m), s), n)| NaiveTime::from_hms_nano_opt(h, m, s, n))
        .ok_or_else(|| bad(function, format!("no time {h}:{m}:{s}.{nanos}")))
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
        .ok()
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    ["%H:%M:%S%.f", "%H:%M", "%H%M%S%.f", "%H%M"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(s, f).ok())
}

fn parse_local_date_time(s: &str) -> Option<NaiveDateTime> {
    let (d, t) = s.split_once('T')?;
    Some(parse_date(d)?.and_time(parse_time(t)?))
}

fn date(arg: Option<&Value>) -> Result<Value, EngineError> {
    match arg {
        None => Ok(date_value(Utc::now().date_naive())),
        Some(Value::String(s)) => parse_date(s)
            .map(date_value)
            .ok_or_else(|| bad("date", format!("'{s}' is not an ISO date (YYYY-MM-DD)"))),
        Some(Value::Map(m)) => date_from_map(m, "date").map(date_value),
        Some(v @ Value::Date(_)) => Ok(v.clone()),
        Some(Value::LocalDateTime { seconds, .. }) => {
            Ok(Value::Date(seconds.div_euclid(SECONDS_PER_DAY)))
        }
        Some(other) => Err(bad("date", format!("cannot take a {}", other.type_name()))),
    }
}

fn local_time(arg: Option<&Value>) -> Result<Value, EngineError> {
    match arg {
        None => Ok(Value::LocalTime(time_nanos(Utc::now().time()))),
        Some(Value::String(s)) => parse_time(s)
            .map(|t| Value::LocalTime(time_nanos(t)))
            .ok_or_else(|| bad("localtime", format!("'{s}' is not an ISO time (hh:mm:ss)"))),
        Some(Value::Map(m)) => {
            time_from_map(m, "localtime").map(|t| Value::LocalTime(time_nanos(t)))
        }
        Some(v @ Value::LocalTime(_)) => Ok(v.clone()),
        Some(other) => Err(bad(
            "localtime",
            format!("cannot take a {}", other.type_name()),
        )),
    }
}

fn local_date_time(arg: Option<&Value>) -> Result<Value, EngineError> {
    match arg {
        None => Ok(local_date_time_value(Utc::now().naive_utc())),
        Some(Value::String(s)) => parse_local_date_time(s)
            .map(local_date_time_value)
            .ok_or_else(|| {
                bad(
                    "localdatetime",
                    format!("'{s}' is not an ISO date and time (YYYY-MM-DDThh:mm:ss)"),
                )
            }),
        Some(Value::Map(m)) => {
            let d = date_from_map(m, "localdatetime")?;
            let t = time_from_map(m, "localdatetime")?;
            Ok(local_date_time_value(d.and_time(t)))
        }
        Some(v @ Value::LocalDateTime { .. }) => Ok(v.clone()),
        Some(other) => Err(bad(
            "localdatetime",
            format!("cannot take a {}", other.type_name()),
        )),
    }
}

/// Parses `+02:00`, `-0530`, `Z` or an IANA name.
fn parse_zone(s: &str) -> Option<TimeZone> {
    if s == "Z" || s == "z" {
        return Some(TimeZone::Offset(0));
    }
    if let Some(sign) = s.chars().next().filter(|c| *c == '+' || *c == '-') {
        let digits: String = s[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 && digits.len() != 2 {
            return None;
        }
        let h: i32 = digits.get(0..2)?.parse().ok()?;
        let m: i32 = digits.get(2..4).map_or(Some(0), |m| m.parse().ok())?;
        let total = (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 };
        return (total.abs() <= 18 * 3600).then_some(TimeZone::Offset(total));
    }
    s.parse::<Tz>().ok().map(|_| TimeZone::Named(s.to_owned()))
}

/// The UTC instant of a wall-clock time in `zone`. A wall-clock time that a named zone passes
/// twice (when clocks go back) is the earlier instant, unless `offset` names the other one:
/// `2024-10-27T02:30:00+01:00[Europe/Zagreb]` is the second 02:30, which is how `DUMP DATABASE`
/// writes such a value so that it comes back unchanged.
fn to_utc(local: NaiveDateTime, zone: &TimeZone, offset: Option<i32>) -> Option<DateTime<Utc>> {
    match zone {
        TimeZone::Offset(o) => FixedOffset::east_opt(*o)?
            .from_local_datetime(&local)
            .earliest()
            .map(|d| d.with_timezone(&Utc)),
        TimeZone::Named(name) => {
            let candidates = name.parse::<Tz>().ok()?.from_local_datetime(&local);
            let preferred = candidates
                .earliest()
                .into_iter()
                .chain(candidates.latest())
                .find(|d| Some(d.offset().fix().local_minus_utc()) == offset);
            preferred
                .or_else(|| candidates.earliest())
                .map(|d| d.with_timezone(&Utc))
        }
    }
}

fn zoned(local: NaiveDateTime, zone: TimeZone, offset: Option<i32>) -> Result<Value, EngineError> {
    let utc = to_utc(local, &zone, offset)
        .ok_or_else(|| bad("datetime", format!("{local} does not exist in {zone:?}")))?;
    Ok(Value::DateTime {
        seconds: utc.timestamp(),
        nanos: utc.timestamp_subsec_nanos(),
        zone,
    })
}

fn date_time(arg: Option<&Value>) -> Result<Value, EngineError> {
    match arg {
        None => zoned(Utc::now().naive_utc(), TimeZone::Offset(0), None),
        Some(Value::String(s)) => {
            let invalid = || {
                bad(
                    "datetime",
                    format!(
                        "'{s}' is not an ISO datetime (YYYY-MM-DDThh:mm:ss±hh:mm or [Zone/Name])"
                    ),
                )
            };
            let (body, named) = match s.split_once('[') {
                Some((body, rest)) => (body, Some(rest.trim_end_matches(']'))),
                None => (s.as_str(), None),
            };
            let (date_part, time_part) = body.split_once('T').ok_or_else(invalid)?;
            let cut = time_part
                .find(['+', '-', 'Z', 'z'])
                .unwrap_or(time_part.len());
            let local = parse_date(date_part)
                .zip(parse_time(&time_part[..cut]))
                .map(|(d, t)| d.and_time(t))
                .ok_or_else(invalid)?;
            let (zone, offset) = match (named, &time_part[cut..]) {
                (Some(name), "") => (parse_zone(name).ok_or_else(invalid)?, None),
                (Some(name), offset) => match parse_zone(offset) {
                    Some(TimeZone::Offset(o)) => (parse_zone(name).ok_or_else(invalid)?, Some(o)),
                    _ => return Err(invalid()),
                },
                (None, "") => (TimeZone::Offset(0), None),
                (None, offset) => (parse_zone(offset).ok_or_else(invalid)?, None),
            };
            zoned(local, zone, offset)
        }
        Some(Value::Map(m)) => {
            let zone = match m.get("timezone") {
                None | Some(Value::Null) => TimeZone::Offset(0),
                Some(Value::String(z)) => parse_zone(z).ok_or_else(|| {
                    bad(
                        "datetime",
                        format!("unknown time zone '{z}' (use an IANA name or ±hh:mm)"),
                    )
                })?,
                Some(other) => return Err(bad("datetime", format!("timezone {other}"))),
            };
            let d = date_from_map(m, "datetime")?;
            let t = time_from_map(m, "datetime")?;
            zoned(d.and_time(t), zone, None)
        }
        Some(v @ Value::DateTime { .. }) => Ok(v.clone()),
        Some(other) => Err(bad(
            "datetime",
            format!("cannot take a {}", other.type_name()),
        )),
    }
}

fn duration(arg: Option<&Value>) -> Result<Value, EngineError> {
    match arg {
        Some(Value::String(s)) => parse_duration(s).map(Value::Duration).ok_or_else(|| {
            bad(
                "duration",
                format!("'{s}' is not an ISO 8601 duration such as P1DT2H"),
            )
        }),
        Some(Value::Map(m)) => {
            let f = |k: &str| -> Result<f64, EngineError> {
                match m.get(k) {
                    None | Some(Value::Null) => Ok(0.0),
                    Some(Value::Int(i)) => Ok(*i as f64),
                    Some(Value::Float(x)) => Ok(*x),
                    Some(other) => Err(bad(
                        "duration",
                        format!("{k} must be a number, got {other}"),
                    )),
                }
            };
            let months = f("years")? * 12.0 + f("months")?;
            let days = f("weeks")? * 7.0 + f("days")?;
            let seconds = f("hours")? * 3600.0 + f("minutes")? * 60.0 + f("seconds")?;
            let nanos = f("milliseconds")? * 1e6 + f("microseconds")? * 1e3 + f("nanoseconds")?;
            Ok(Value::Duration(normalise(months, days, seconds, nanos)))
        }
        Some(v @ Value::Duration(_)) => Ok(v.clone()),
        None => Err(bad("duration", "it needs a map or an ISO 8601 string")),
        Some(other) => Err(bad(
            "duration",
            format!("cannot take a {}", other.type_name()),
        )),
    }
}

/// Folds fractional units down: fractional months become days (30.436875 each), fractional days
/// seconds, fractional seconds nanoseconds.
fn normalise(months: f64, days: f64, seconds: f64, nanos: f64) -> Duration {
    let whole_months = months.trunc();
    let days = days + (months - whole_months) * 30.436875;
    let whole_days = days.trunc();
    let seconds = seconds + (days - whole_days) * SECONDS_PER_DAY as f64;
    let total_nanos = (seconds.fract() * 1e9 + nanos).round() as i64;
    let seconds = seconds.trunc() as i64 + total_nanos.div_euclid(NANOS_PER_SECOND);
    Duration {
        months: whole_months as i64,
        days: whole_days as i64,
        seconds,
        nanos: total_nanos.rem_euclid(NANOS_PER_SECOND),
    }
}

/// `P[nY][nM][nW][nD][T[nH][nM][n[.f]S]]`, optionally negative.
fn parse_duration(s: &str) -> Option<Duration> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let s = s.strip_prefix('P').or_else(|| s.strip_prefix('p'))?;
    let (date_part, time_part) = match s.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let (mut months, mut days, mut seconds) = (0.0, 0.0, 0.0);
    let date_units = units(date_part)?;
    let time_units = units(time_part.unwrap_or(""))?;
    if date_units.is_empty() && time_units.is_empty() {
        return None;
    }
    for (n, unit) in date_units {
        match unit {
            'Y' => months += n * 12.0,
            'M' => months += n,
            'W' => days += n * 7.0,
            'D' => days += n,
            _ => return None,
        }
    }
    for (n, unit) in time_units {
        match unit {
            'H' => seconds += n * 3600.0,
            'M' => seconds += n * 60.0,
            'S' => seconds += n,
            _ => return None,
        }
    }
    let sign = if negative { -1.0 } else { 1.0 };
    Some(normalise(months * sign, days * sign, seconds * sign, 0.0))
}

/// Splits `1Y2.5M` into `[(1, 'Y'), (2.5, 'M')]` (units upper-cased); `None` when a number has
/// no unit or a unit no number.
fn units(part: &str) -> Option<Vec<(f64, char)>> {
    let mut out = Vec::new();
    let mut number = String::new();
    for c in part.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        out.push((number.parse().ok()?, c.to_ascii_uppercase()));
        number.clear();
    }
    number.is_empty().then_some(out)
}

fn local_parts(v: &Value) -> Option<NaiveDateTime> {
    match v {
        Value::Date(days) => Some(
            epoch()
                .checked_add_signed(chrono::Duration::days(*days))?
                .into(),
        ),
        Value::LocalDateTime { seconds, nanos } => {
            DateTime::from_timestamp(*seconds, *nanos).map(|d| d.naive_utc())
        }
        Value::DateTime {
            seconds,
            nanos,
            zone,
        } => {
            let utc = DateTime::from_timestamp(*seconds, *nanos)?;
            Some(match zone {
                TimeZone::Offset(o) => utc.with_timezone(&FixedOffset::east_opt(*o)?).naive_local(),
                TimeZone::Named(n) => utc.with_timezone(&n.parse::<Tz>().ok()?).naive_local(),
            })
        }
        Value::LocalTime(nanos) | Value::Time { nanos, .. } => {
            let t = NaiveTime::from_num_seconds_from_midnight_opt(
                u32::try_from(nanos / NANOS_PER_SECOND).ok()?,
                u32::try_from(nanos % NANOS_PER_SECOND).ok()?,
            )?;
            Some(epoch().and_time(t))
        }
        _ => None,
    }
}

/// `value.key` for temporal values; `None` when `value` is not temporal.
pub fn property(value: &Value, key: &str) -> Option<Result<Value, EngineError>> {
    if let Value::Duration(d) = value {
        let k = key.to_ascii_lowercase();
        let v = match k.as_str() {
            "years" => d.months / 12,
            "months" => d.months,
            "day" | "days" => d.days,
            "hour" | "hours" => d.seconds / 3600,
            "minute" | "minutes" => d.seconds / 60,
            "second" | "seconds" => d.seconds,
            "millisecond" | "milliseconds" => d.seconds * 1000 + d.nanos / 1_000_000,
            "microsecond" | "microseconds" => d.seconds * 1_000_000 + d.nanos / 1000,
            "nanosecond" | "nanoseconds" => d.seconds * NANOS_PER_SECOND + d.nanos,
            _ => return Some(Err(no_property(value, key))),
        };
        return Some(Ok(Value::Int(v)));
    }
    let local = local_parts(value)?;
    let has_date = !matches!(value, Value::LocalTime(_) | Value::Time { .. });
    let has_time = !matches!(value, Value::Date(_));
    let k = key.to_ascii_lowercase();
    let v = match k.as_str() {
        "year" if has_date => Value::Int(i64::from(local.year())),
        "month" if has_date => Value::Int(i64::from(local.month())),
        "day" if has_date => Value::Int(i64::from(local.day())),
        "dayofweek" | "weekday" if has_date => {
            Value::Int(i64::from(local.weekday().number_from_monday()))
        }
        "hour" if has_time => Value::Int(i64::from(local.hour())),
        "minute" if has_time => Value::Int(i64::from(local.minute())),
        "second" if has_time => Value::Int(i64::from(local.second())),
        "millisecond" if has_time => Value::Int(i64::from(local.nanosecond() / 1_000_000)),
        "microsecond" if has_time => Value::Int(i64::from(local.nanosecond() / 1000)),
        "nanosecond" if has_time => Value::Int(i64::from(local.nanosecond())),
        "timezone" => match value {
            Value::DateTime { zone, .. } => Value::String(match zone {
                TimeZone::Named(n) => n.clone(),
                TimeZone::Offset(o) => {
                    let off = FixedOffset::east_opt(*o).map(|f| f.fix().to_string());
                    off.unwrap_or_default()
                }
            }),
            _ => return Some(Err(no_property(value, key))),
        },
        "epochseconds" => match value {
            Value::DateTime { seconds, .. } => Value::Int(*seconds),
            _ => return Some(Err(no_property(value, key))),
        },
        _ => return Some(Err(no_property(value, key))),
    };
    Some(Ok(v))
}

fn no_property(value: &Value, key: &str) -> EngineError {
    EngineError::client(format!(
        "Invalid property name {key} for a {}.",
        value.type_name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, arg: Value) -> Value {
        call(name, &[arg]).unwrap().unwrap()
    }

    #[test]
    fn constructors_and_properties() {
        let d = run("date", Value::from("2024-02-29"));
        assert_eq!(property(&d, "month").unwrap().unwrap(), Value::Int(2));
        assert_eq!(property(&d, "day").unwrap().unwrap(), Value::Int(29));
        assert!(call("date", &[Value::from("2023-02-29")]).unwrap().is_err());

        let t = run("localtime", Value::from("12:34:56.789"));
        assert_eq!(
            t,
            Value::LocalTime((12 * 3600 + 34 * 60 + 56) * NANOS_PER_SECOND + 789_000_000)
        );
        assert_eq!(
            property(&t, "millisecond").unwrap().unwrap(),
            Value::Int(789)
        );

        let dt = run(
            "datetime",
            Value::from("2024-06-01T12:00:00[Europe/Zagreb]"),
        );
        let Value::DateTime { seconds, zone, .. } = &dt else {
            panic!("{dt:?}")
        };
        // 12:00 in Zagreb in summer is 10:00 UTC.
        assert_eq!(*seconds, 1_717_236_000);
        assert_eq!(*zone, TimeZone::Named("Europe/Zagreb".into()));
        assert_eq!(property(&dt, "hour").unwrap().unwrap(), Value::Int(12));

        let mut m = Map::new();
        m.insert("year".into(), Value::Int(2024));
        m.insert("hour".into(), Value::Int(1));
        m.insert("timezone".into(), Value::from("+02:00"));
        let Value::DateTime { seconds, zone, .. } = run("datetime", Value::Map(m)) else {
            panic!()
        };
        // 01:00 at +02:00 on 2024-01-01 is 23:00 UTC the day before.
        assert_eq!(seconds, 1_704_067_200 - 3600);
        assert_eq!(zone, TimeZone::Offset(7200));
    }

    #[test]
    fn durations() {
        assert_eq!(
            run("duration", Value::from("P1Y2M3DT4H5M6.5S")),
            Value::Duration(Duration {
                months: 14,
                days: 3,
                seconds: 4 * 3600 + 5 * 60 + 6,
                nanos: 500_000_000
            })
        );
        let mut m = Map::new();
        m.insert("days".into(), Value::Float(1.5));
        assert_eq!(
            run("duration", Value::Map(m)),
            Value::Duration(Duration {
                months: 0,
                days: 1,
                seconds: 43_200,
                nanos: 0
            })
        );
        assert!(call("duration", &[Value::from("1 day")]).unwrap().is_err());
        assert!(call("duration", &[Value::from("P")]).unwrap().is_err());
    }
}
