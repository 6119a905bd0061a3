//! Building temporal values from what the constructors take: ISO strings, maps of fields
//! (calendar, week, ordinal and quarter dates; `{date: .., time: ..}`, `{datetime: ..}` with
//! fields overriding the other value's; `timezone`; `epochSeconds`/`epochMillis`), other
//! temporal values (conversion), and durations from maps and strings.

use super::bad;
use super::calendar::{self, NANOS_PER_DAY, NANOS_PER_SECOND};
use super::clock;
use super::duration::{Amount, Components, Unit};
use super::parse;
use super::parts::{self, Kind, Parts};
use super::zone;
use crate::engine::EngineError;
use crate::value::{Map, TimeZone, Value};

/// How a map's `timezone` and sub-second fields combine with the value they modify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Constructors: a new `timezone` converts a zoned value (same instant, other zone);
    /// `millisecond`/`microsecond`/`nanosecond` replace the fraction of the second.
    Construct,
    /// `truncate()`: a new `timezone` replaces the zone of the truncated wall-clock time, and
    /// the sub-second fields are added to what truncation left.
    Truncate,
}

/// The numeric fields and the zone a map names.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    week: Option<i64>,
    week_year: Option<i64>,
    day_of_week: Option<i64>,
    ordinal_day: Option<i64>,
    quarter: Option<i64>,
    day_of_quarter: Option<i64>,
    hour: Option<i64>,
    minute: Option<i64>,
    second: Option<i64>,
    millisecond: Option<i64>,
    microsecond: Option<i64>,
    nanosecond: Option<i64>,
    epoch_seconds: Option<i64>,
    epoch_millis: Option<i64>,
    pub timezone: Option<TimeZone>,
}

impl Fields {
    fn is_empty(&self) -> bool {
        let Fields { timezone, .. } = self;
        timezone.is_none() && self.numbers().iter().all(Option::is_none)
    }

    fn numbers(&self) -> [Option<i64>; 17] {
        [
            self.year,
            self.month,
            self.day,
            self.week,
            self.week_year,
            self.day_of_week,
            self.ordinal_day,
            self.quarter,
            self.day_of_quarter,
            self.hour,
            self.minute,
            self.second,
            self.millisecond,
            self.microsecond,
            self.nanosecond,
            self.epoch_seconds,
            self.epoch_millis,
        ]
    }
}

/// Reads a constructor's map into the value it starts from (`date`, `time`, `datetime` keys)
/// and the fields that override it.
pub fn read_map(kind: Kind, map: &Map) -> Result<(Parts, Fields), EngineError> {
    let function = kind.function();
    let mut base = Parts {
        days: None,
        nanos: None,
        zone: None,
        offset: None,
    };
    let mut f = Fields::default();
    for (key, value) in map {
        let lower = key.to_ascii_lowercase();
        if value.is_null() {
            continue;
        }
        let source = |needs_date: bool, needs_time: bool| -> Result<Parts, EngineError> {
            let p = Parts::of(value)
                .filter(|p| (!needs_date || p.days.is_some()) && (!needs_time || p.nanos.is_some()))
                .ok_or_else(|| {
                    bad(
                        function,
                        format!("'{key}' cannot take a {} value", value.type_name()),
                    )
                })?;
            Ok(p)
        };
        match lower.as_str() {
            "date" if kind.has_date() => base.days = source(true, false)?.days,
            "time" if kind.has_time() => {
                let p = source(false, true)?;
                base.nanos = p.nanos;
                base.zone = p.zone;
                base.offset = p.offset;
            }
            "datetime" if kind.has_date() && kind.has_time() => {
                let p = source(true, false)?;
                base.days = p.days;
                base.nanos = Some(p.nanos.unwrap_or(0));
                base.zone = p.zone;
                base.offset = p.offset;
            }
            // Every type takes a zone for "now" (`date({timezone: 'Asia/Tokyo'})`); `build`
            // refuses it where the type has none.
            "timezone" => {
                f.timezone = Some(timezone(function, value)?);
            }
            _ => {
                let slot = match lower.as_str() {
                    "year" if kind.has_date() => &mut f.year,
                    "month" if kind.has_date() => &mut f.month,
                    "day" if kind.has_date() => &mut f.day,
                    "week" if kind.has_date() => &mut f.week,
                    "weekyear" if kind.has_date() => &mut f.week_year,
                    "dayofweek" if kind.has_date() => &mut f.day_of_week,
                    "ordinalday" if kind.has_date() => &mut f.ordinal_day,
                    "quarter" if kind.has_date() => &mut f.quarter,
                    "dayofquarter" if kind.has_date() => &mut f.day_of_quarter,
                    "hour" if kind.has_time() => &mut f.hour,
                    "minute" if kind.has_time() => &mut f.minute,
                    "second" if kind.has_time() => &mut f.second,
                    "millisecond" if kind.has_time() => &mut f.millisecond,
                    "microsecond" if kind.has_time() => &mut f.microsecond,
                    "nanosecond" if kind.has_time() => &mut f.nanosecond,
                    "epochseconds" if kind == Kind::DateTime => &mut f.epoch_seconds,
                    "epochmillis" if kind == Kind::DateTime => &mut f.epoch_millis,
                    _ => {
                        return Err(bad(
                            function,
                            format!("'{key}' is not a field of a {function} value"),
                        ))
                    }
                };
                match value {
                    Value::Int(i) => *slot = Some(*i),
                    other => {
                        return Err(bad(
                            function,
                            format!("'{key}' must be an INTEGER, got {other}"),
                        ))
                    }
                }
            }
        }
    }
    Ok((base, f))
}

/// A zone given as a string (`'+01:00'`, `'Europe/Stockholm'`).
pub fn timezone(function: &str, v: &Value) -> Result<TimeZone, EngineError> {
    match v {
        Value::String(s) => zone::parse_zone(s).ok_or_else(|| {
            bad(
                function,
                format!("unknown time zone '{s}' (use an offset such as '+01:00' or an IANA name such as 'Europe/Stockholm')"),
            )
        }),
        other => Err(bad(
            function,
            format!("a time zone must be a STRING, got {other}"),
        )),
    }
}

/// `kind(arg)` for a string, a map or another temporal value.
pub fn construct(kind: Kind, arg: &Value, clock: &clock::Clock) -> Result<Value, EngineError> {
    let function = kind.function();
    match arg {
        Value::Null => Ok(Value::Null),
        Value::String(s) => from_string(kind, s),
        Value::Map(m) => {
            let (base, f) = read_map(kind, m)?;
            let empty_base = base.days.is_none() && base.nanos.is_none();
            let only_zone = Fields {
                timezone: None,
                ..f.clone()
            }
            .is_empty();
            if empty_base && f.timezone.is_some() && only_zone {
                // `datetime({timezone: 'Europe/Stockholm'})`: now, in that zone.
                return clock::current(kind, clock.statement.into(), f.timezone);
            }
            build(kind, base, &f, Mode::Construct)
        }
        other => match Parts::of(other) {
            Some(p) => {
                // A date-based type needs the other's date (its time defaults to midnight); a
                // time needs the other's time.
                let fits = if kind.has_date() {
                    p.days.is_some()
                } else {
                    p.nanos.is_some()
                };
                if !fits {
                    return Err(bad(
                        function,
                        format!("cannot take its value from a {}", other.type_name()),
                    ));
                }
                build(kind, p, &Fields::default(), Mode::Construct)
            }
            None => Err(bad(
                function,
                format!(
                    "cannot take a {} (give a STRING, a MAP or a temporal value)",
                    other.type_name()
                ),
            )),
        },
    }
}

fn from_string(kind: Kind, s: &str) -> Result<Value, EngineError> {
    let function = kind.function();
    let invalid = || {
        let form = match kind {
            Kind::Date => "an ISO 8601 date such as 2015-07-21, 2015-W30-2 or 2015-202",
            Kind::LocalTime => "an ISO 8601 time such as 21:40:32.142",
            Kind::Time => "an ISO 8601 time with an offset such as 21:40:32.142+01:00",
            Kind::LocalDateTime => "an ISO 8601 date and time such as 2015-07-21T21:40:32",
            Kind::DateTime => {
                "an ISO 8601 date and time such as 2015-07-21T21:40:32+01:00 or \
                 2015-07-21T21:40[Europe/Stockholm]"
            }
        };
        bad(function, format!("'{s}' is not {form}"))
    };
    let value = match kind {
        Kind::Date => parse::date(s).map(parts::date),
        Kind::LocalTime => parse::local_time(s).map(parts::local_time),
        Kind::Time => parse::time(s).and_then(|p| {
            let offset = match (p.offset, &p.zone) {
                (Some(o), _) => o,
                (None, Some(z)) => zone::offset_at(z, (clock::now_nanos() / 1_000_000_000) as i64),
                (None, None) => 0,
            };
            Some(parts::time(p.nanos?, offset))
        }),
        Kind::LocalDateTime => parse::date_time(s)
            .filter(|p| p.offset.is_none() && p.zone.is_none())
            .and_then(|p| parts::local_date_time(local(p.days?, p.nanos?))),
        Kind::DateTime => parse::date_time(s).and_then(|p| {
            let l = local(p.days?, p.nanos?);
            match (p.offset, p.zone) {
                (_, Some(z)) => parts::date_time_local(l, z, p.offset),
                (Some(o), None) => parts::date_time_local(l, TimeZone::Offset(o), None),
                (None, None) => parts::date_time_local(l, TimeZone::Offset(0), None),
            }
        }),
    };
    value.ok_or_else(invalid)
}

fn local(days: i64, nanos: i64) -> i128 {
    i128::from(days) * i128::from(NANOS_PER_DAY) + i128::from(nanos)
}

/// The value of `kind` that `base` with the fields `f` describes.
pub fn build(kind: Kind, base: Parts, f: &Fields, mode: Mode) -> Result<Value, EngineError> {
    let function = kind.function();
    let overflow = || bad(function, "the value is out of range");
    if f.timezone.is_some() && !kind.has_zone() {
        return Err(bad(
            function,
            format!("a {function} value has no time zone; use {function}({{timezone: ..}}) alone for the current {function} in a zone"),
        ));
    }
    if kind == Kind::DateTime && (f.epoch_seconds.is_some() || f.epoch_millis.is_some()) {
        let sub = sub_second(function, f, 0, Mode::Construct)?;
        let instant = match (f.epoch_seconds, f.epoch_millis) {
            (Some(s), None) => i128::from(s) * i128::from(NANOS_PER_SECOND) + i128::from(sub),
            (None, Some(ms)) => i128::from(ms) * 1_000_000 + i128::from(sub),
            _ => return Err(bad(function, "give epochSeconds or epochMillis, not both")),
        };
        let zone = f.timezone.clone().unwrap_or(TimeZone::Offset(0));
        return parts::date_time_at(instant, zone).ok_or_else(overflow);
    }
    let days = if kind.has_date() {
        Some(build_date(function, base.days, f)?)
    } else {
        None
    };
    let nanos = if kind.has_time() {
        build_time(function, base.nanos, f, mode)?
    } else {
        0
    };
    let value = match kind {
        Kind::Date => Some(parts::date(days.unwrap_or(0))),
        Kind::LocalTime => Some(parts::local_time(nanos)),
        Kind::LocalDateTime => parts::local_date_time(local(days.unwrap_or(0), nanos)),
        Kind::Time => {
            let now = (clock::now_nanos() / 1_000_000_000) as i64;
            let fixed = |z: &TimeZone| zone::offset_at(z, now);
            let (nanos, offset) = match (&f.timezone, base.offset) {
                (Some(to), Some(from)) if mode == Mode::Construct => {
                    let to = fixed(to);
                    (nanos + i64::from(to - from) * NANOS_PER_SECOND, to)
                }
                (Some(to), _) => (nanos, fixed(to)),
                (None, Some(from)) => (nanos, from),
                (None, None) => (nanos, 0),
            };
            Some(parts::time(nanos, offset))
        }
        Kind::DateTime => {
            let l = local(days.unwrap_or(0), nanos);
            match (&f.timezone, &base.zone) {
                (Some(to), Some(from)) if mode == Mode::Construct => {
                    let secs = i64::try_from(l.div_euclid(i128::from(NANOS_PER_SECOND)))
                        .map_err(|_| overflow())?;
                    let offset = zone::offset_for_local(from, secs, base.offset);
                    let instant = l - i128::from(offset) * i128::from(NANOS_PER_SECOND);
                    parts::date_time_at(instant, to.clone())
                }
                (Some(to), _) => parts::date_time_local(l, to.clone(), None),
                (None, Some(from)) => parts::date_time_local(l, from.clone(), base.offset),
                (None, None) => parts::date_time_local(l, TimeZone::Offset(0), None),
            }
        }
    };
    value.ok_or_else(overflow)
}

fn build_date(function: &str, base: Option<i64>, f: &Fields) -> Result<i64, EngineError> {
    let week = f.week.is_some() || f.week_year.is_some() || f.day_of_week.is_some();
    let ordinal = f.ordinal_day.is_some();
    let quarter = f.quarter.is_some() || f.day_of_quarter.is_some();
    let calendar_date = f.month.is_some() || f.day.is_some();
    if [week, ordinal, quarter, calendar_date]
        .iter()
        .filter(|b| **b)
        .count()
        > 1
    {
        return Err(bad(
            function,
            "a date is given by one of year/month/day, year/week/dayOfWeek, year/ordinalDay or \
             year/quarter/dayOfQuarter; these fields mix them",
        ));
    }
    if base.is_none() && f.year.is_none() && f.week_year.is_none() {
        return Err(bad(
            function,
            "a date needs a year (or a 'date' to start from)",
        ));
    }
    let b = base.map(calendar::ymd_from_days);
    let year = || f.year.or(b.map(|d| d.year)).unwrap_or(1970);
    let invalid = |what: String| bad(function, format!("{what} is not a valid date"));
    if week {
        let (base_week_year, base_week) = base.map(calendar::iso_week).unzip();
        let wy = f.week_year.or(f.year).or(base_week_year).unwrap_or(1970);
        let w = f.week.or(base_week.map(i64::from)).unwrap_or(1);
        let dow = f
            .day_of_week
            .or(base.map(|d| i64::from(calendar::day_of_week(d))))
            .unwrap_or(1);
        return calendar::from_week_date(wy, w, dow)
            .ok_or_else(|| invalid(format!("week {w}, day {dow} of week-year {wy}")));
    }
    if ordinal {
        let (y, od) = (year(), f.ordinal_day.unwrap_or(1));
        return calendar::from_ordinal(y, od)
            .ok_or_else(|| invalid(format!("day {od} of year {y}")));
    }
    if quarter {
        let y = year();
        let q = f
            .quarter
            .or(b.map(|d| i64::from(calendar::quarter(d.month))))
            .unwrap_or(1);
        let dq = match (f.day_of_quarter, base) {
            (Some(dq), _) => dq,
            // Moving to another quarter keeps the day of the quarter, clamped to its end.
            (None, Some(d)) => (1..=i64::from(calendar::day_of_quarter(d)))
                .rev()
                .find(|dq| calendar::from_quarter(y, q, *dq).is_some())
                .unwrap_or(1),
            (None, None) => 1,
        };
        return calendar::from_quarter(y, q, dq)
            .ok_or_else(|| invalid(format!("day {dq} of quarter {q} of {y}")));
    }
    let y = year();
    let m = f.month.or(b.map(|d| i64::from(d.month))).unwrap_or(1);
    let d = match (f.day, b) {
        (Some(d), _) => d,
        // A day taken from the base value is clamped to the end of a shorter month.
        (None, Some(bd)) if (1..=12).contains(&m) && calendar::ymd(y, 1, 1).is_some() => {
            i64::from(bd.day.min(calendar::days_in_month(y, m as u32)))
        }
        (None, Some(bd)) => i64::from(bd.day),
        (None, None) => 1,
    };
    calendar::ymd(y, m, d)
        .map(calendar::days_from_ymd)
        .ok_or_else(|| invalid(format!("{y}-{m:02}-{d:02}")))
}

fn build_time(
    function: &str,
    base: Option<i64>,
    f: &Fields,
    mode: Mode,
) -> Result<i64, EngineError> {
    let b = base.unwrap_or(0);
    let secs = b / NANOS_PER_SECOND;
    let h = f.hour.unwrap_or(secs / 3600);
    let m = f.minute.unwrap_or(secs / 60 % 60);
    let s = f.second.unwrap_or(secs % 60);
    let check = |v: i64, max: i64, name: &str| {
        if (0..=max).contains(&v) {
            Ok(v)
        } else {
            Err(bad(
                function,
                format!("{name} {v} is out of range (0 to {max})"),
            ))
        }
    };
    check(h, 23, "hour")?;
    check(m, 59, "minute")?;
    check(s, 59, "second")?;
    let sub = sub_second(function, f, b % NANOS_PER_SECOND, mode)?;
    Ok(((h * 60 + m) * 60 + s) * NANOS_PER_SECOND + sub)
}

/// The fraction of the second from `millisecond`, `microsecond` and `nanosecond`, which add up
/// (`{millisecond: 123, microsecond: 456}` is .123456); each is bounded by the next coarser
/// one given.
fn sub_second(function: &str, f: &Fields, base: i64, mode: Mode) -> Result<i64, EngineError> {
    let (ms, us, ns) = (f.millisecond, f.microsecond, f.nanosecond);
    if ms.is_none() && us.is_none() && ns.is_none() {
        return Ok(base);
    }
    let check = |v: Option<i64>, max: i64, name: &str| match v {
        Some(v) if !(0..=max).contains(&v) => Err(bad(
            function,
            format!("{name} {v} is out of range (0 to {max})"),
        )),
        v => Ok(v.unwrap_or(0)),
    };
    let ms = check(ms, 999, "millisecond")?;
    let us_max = if f.millisecond.is_some() {
        999
    } else {
        999_999
    };
    let us = check(us, us_max, "microsecond")?;
    let ns_max = if f.microsecond.is_some() {
        999
    } else if f.millisecond.is_some() {
        999_999
    } else {
        999_999_999
    };
    let ns = check(ns, ns_max, "nanosecond")?;
    let given = ms * 1_000_000 + us * 1_000 + ns;
    let total = match mode {
        Mode::Construct => given,
        Mode::Truncate => base + given,
    };
    if total >= NANOS_PER_SECOND {
        return Err(bad(function, "the fraction of the second is out of range"));
    }
    Ok(total)
}

/// `duration(map)` or `duration(string)`.
pub fn duration(arg: &Value) -> Result<Value, EngineError> {
    match arg {
        Value::Null => Ok(Value::Null),
        Value::String(s) => parse::duration(s).map(Value::Duration).ok_or_else(|| {
            bad(
                "duration",
                format!("'{s}' is not an ISO 8601 duration such as P1Y2M10DT12H45M30.25S"),
            )
        }),
        Value::Map(m) => {
            let mut c = Components::default();
            for (key, value) in m {
                let unit = Unit::from_key(key).ok_or_else(|| {
                    bad(
                        "duration",
                        format!(
                            "'{key}' is not a duration field (years, quarters, months, weeks, \
                             days, hours, minutes, seconds, milliseconds, microseconds, \
                             nanoseconds)"
                        ),
                    )
                })?;
                let amount = match value {
                    Value::Null => continue,
                    Value::Int(i) => Amount::Whole(*i),
                    Value::Float(x) if x.is_finite() => Amount::Fraction(*x),
                    other => {
                        return Err(bad(
                            "duration",
                            format!("'{key}' must be a number, got {other}"),
                        ))
                    }
                };
                if !c.add(unit, amount) {
                    return Err(bad("duration", "the duration is out of range"));
                }
            }
            c.build()
                .map(Value::Duration)
                .ok_or_else(|| bad("duration", "the duration is out of range"))
        }
        v @ Value::Duration(_) => Ok(v.clone()),
        other => Err(bad(
            "duration",
            format!(
                "cannot take a {} (give a MAP or a STRING)",
                other.type_name()
            ),
        )),
    }
}

/// `datetime.fromepoch(seconds, nanoseconds)` and `datetime.fromepochmillis(millis)`.
pub fn from_epoch(args: &[Value], millis: bool) -> Result<Value, EngineError> {
    let function = if millis {
        "datetime.fromepochmillis"
    } else {
        "datetime.fromepoch"
    };
    let instant = match (args, millis) {
        ([Value::Null, ..], _) | ([_, Value::Null], false) => return Ok(Value::Null),
        ([Value::Int(ms)], true) => i128::from(*ms) * 1_000_000,
        ([Value::Int(s), Value::Int(ns)], false) => {
            i128::from(*s) * i128::from(NANOS_PER_SECOND) + i128::from(*ns)
        }
        _ => {
            let wanted = if millis {
                "one INTEGER (milliseconds)"
            } else {
                "two INTEGERs (seconds, nanoseconds)"
            };
            return Err(bad(function, format!("it takes {wanted}")));
        }
    };
    parts::date_time_at(instant, TimeZone::Offset(0))
        .ok_or_else(|| bad(function, "the instant is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::temporal::format::to_string;

    fn make(kind: Kind, arg: Value) -> String {
        let v = construct(kind, &arg, &clock::Clock::now()).unwrap_or_else(|e| panic!("{e}"));
        to_string(&v).unwrap()
    }

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn date(s: &str) -> Value {
        Value::Date(parse::date(s).unwrap())
    }

    #[test]
    fn fields_override_the_value_they_start_from_in_its_own_system() {
        // 2023-12-31 is the Sunday of ISO week 52 of 2023: week 1 keeps the Sunday.
        let base = date("2023-12-31");
        let week = map(&[("date", base.clone()), ("week", Value::Int(1))]);
        assert_eq!(make(Kind::Date, week), "2023-01-08");
        // Day 92 of the fourth quarter, moved to the second (91 days), is clamped to its end.
        let quarter = map(&[("date", base.clone()), ("quarter", Value::Int(2))]);
        assert_eq!(make(Kind::Date, quarter), "2023-06-30");
        let leap = map(&[("date", date("2024-02-29")), ("year", Value::Int(2023))]);
        assert_eq!(make(Kind::Date, leap), "2023-02-28");
        let mixed = map(&[
            ("year", Value::Int(2023)),
            ("month", Value::Int(1)),
            ("ordinalDay", Value::Int(3)),
        ]);
        assert!(construct(Kind::Date, &mixed, &clock::Clock::now()).is_err());
    }

    #[test]
    fn a_new_zone_converts_a_zoned_value_and_is_attached_to_a_local_one() {
        let zoned = Value::Time {
            nanos: 12 * 3600 * NANOS_PER_SECOND,
            offset_seconds: 3600,
        };
        let to_tokyo = map(&[("time", zoned), ("timezone", Value::from("+09:00"))]);
        assert_eq!(make(Kind::Time, to_tokyo), "20:00+09:00");
        let local = Value::LocalTime(12 * 3600 * NANOS_PER_SECOND);
        let attach = map(&[("time", local), ("timezone", Value::from("+09:00"))]);
        assert_eq!(make(Kind::Time, attach), "12:00+09:00");
        // A datetime's fields are read in its own zone before converting.
        let dt = make(
            Kind::DateTime,
            map(&[
                (
                    "datetime",
                    from_string(Kind::LocalDateTime, "2024-06-01T12:00").unwrap(),
                ),
                ("day", Value::Int(2)),
            ]),
        );
        assert_eq!(dt, "2024-06-02T12:00Z");
        assert_eq!(
            make(Kind::DateTime, Value::from("2024-06-01T12:00[Asia/Tokyo]")),
            "2024-06-01T12:00+09:00[Asia/Tokyo]"
        );
    }

    #[test]
    fn sub_second_fields_add_up_within_their_ranges() {
        let t = map(&[
            ("hour", Value::Int(1)),
            ("millisecond", Value::Int(1)),
            ("microsecond", Value::Int(2)),
            ("nanosecond", Value::Int(3)),
        ]);
        assert_eq!(make(Kind::LocalTime, t), "01:00:00.001002003");
        let too_big = map(&[
            ("millisecond", Value::Int(1)),
            ("microsecond", Value::Int(1000)),
        ]);
        assert!(construct(Kind::LocalTime, &too_big, &clock::Clock::now()).is_err());
    }
}
