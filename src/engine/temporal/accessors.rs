//! Components of temporal values as properties: `d.year`, `t.offsetMinutes`,
//! `dt.epochMillis`, `dur.minutesOfHour`, ... Names are matched case-insensitively.

use super::calendar::{self, NANOS_PER_SECOND};
use super::duration::total_nanos;
use super::parts::Parts;
use super::zone::format_offset;
use crate::engine::EngineError;
use crate::value::{Duration, TimeZone, Value};

/// `value.key` for temporal values and durations; `None` when `value` is neither.
pub fn property(value: &Value, key: &str) -> Option<Result<Value, EngineError>> {
    let k = key.to_ascii_lowercase();
    let found = if let Value::Duration(d) = value {
        duration(d, &k)
    } else {
        instant(&Parts::of(value)?, value, &k)
    };
    Some(found.ok_or_else(|| {
        EngineError::client(format!(
            "Invalid property lookup .{key} on a {}: it has no such component.",
            value.type_name()
        ))
    }))
}

fn instant(p: &Parts, value: &Value, k: &str) -> Option<Value> {
    let int = |i: i64| Some(Value::Int(i));
    if let Some(days) = p.days {
        let d = calendar::ymd_from_days(days);
        match k {
            "year" => return int(d.year),
            "quarter" => return int(calendar::quarter(d.month).into()),
            "month" => return int(d.month.into()),
            "week" => return int(calendar::iso_week(days).1.into()),
            "weekyear" => return int(calendar::iso_week(days).0),
            "day" => return int(d.day.into()),
            "ordinalday" => return int(calendar::ordinal_day(days).into()),
            "dayofweek" | "weekday" => return int(calendar::day_of_week(days).into()),
            "dayofquarter" => return int(calendar::day_of_quarter(days).into()),
            _ => {}
        }
    }
    if let Some(nanos) = p.nanos {
        let secs = nanos / NANOS_PER_SECOND;
        let frac = nanos % NANOS_PER_SECOND;
        match k {
            "hour" => return int(secs / 3600),
            "minute" => return int(secs / 60 % 60),
            "second" => return int(secs % 60),
            "millisecond" => return int(frac / 1_000_000),
            "microsecond" => return int(frac / 1_000),
            "nanosecond" => return int(frac),
            _ => {}
        }
    }
    if let (Some(zone), Some(offset)) = (&p.zone, p.offset) {
        match k {
            "timezone" => {
                return Some(Value::String(match zone {
                    TimeZone::Named(n) => n.clone(),
                    TimeZone::Offset(o) => format_offset(*o),
                }))
            }
            "offset" => return Some(Value::String(format_offset(offset))),
            "offsetminutes" => return int(i64::from(offset / 60)),
            "offsetseconds" => return int(i64::from(offset)),
            _ => {}
        }
    }
    if let Value::DateTime { seconds, nanos, .. } = value {
        match k {
            "epochseconds" => return int(*seconds),
            "epochmillis" => return int(seconds * 1000 + i64::from(nanos / 1_000_000)),
            _ => {}
        }
    }
    None
}

/// A duration's components: `years`, `months`, `days`, `hours`, ..., `nanoseconds` are the
/// whole duration in that unit within its group (months, days, seconds are kept apart);
/// `...OfYear`, `...OfHour`, `...OfSecond` are what is left below the next larger unit.
/// Memgraph's singular names (`d.day`, `d.hour`, ... `d.nanosecond`) are kept as the plural
/// ones, for clients written against Memgraph.
fn duration(d: &Duration, k: &str) -> Option<Value> {
    let total = total_nanos(d);
    let v = match k {
        "years" => d.months / 12,
        "quarters" => d.months / 3,
        "months" => d.months,
        "weeks" => d.days / 7,
        "days" | "day" => d.days,
        "hours" | "hour" => d.seconds / 3600,
        "minutes" | "minute" => d.seconds / 60,
        "seconds" | "second" => d.seconds,
        "milliseconds" | "millisecond" => i64::try_from(total.div_euclid(1_000_000)).ok()?,
        "microseconds" | "microsecond" => i64::try_from(total.div_euclid(1_000)).ok()?,
        "nanoseconds" | "nanosecond" => i64::try_from(total).ok()?,
        "quartersofyear" => d.months % 12 / 3,
        "monthsofquarter" => d.months % 3,
        "monthsofyear" => d.months % 12,
        "daysofweek" => d.days % 7,
        "minutesofhour" => d.seconds / 60 % 60,
        "secondsofminute" => d.seconds % 60,
        "millisecondsofsecond" => d.nanos / 1_000_000,
        "microsecondsofsecond" => d.nanos / 1_000,
        "nanosecondsofsecond" => d.nanos,
        _ => return None,
    };
    Some(Value::Int(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::temporal::parse;

    fn get(v: &Value, k: &str) -> Value {
        property(v, k).unwrap().unwrap()
    }

    #[test]
    fn date_components() {
        let d = Value::Date(parse::date("1984-01-01").unwrap());
        assert_eq!(get(&d, "weekYear"), Value::Int(1983));
        assert_eq!(get(&d, "week"), Value::Int(52));
        assert_eq!(get(&d, "dayOfWeek"), Value::Int(7));
        assert_eq!(get(&d, "quarter"), Value::Int(1));
        assert!(property(&d, "hour").unwrap().is_err());
        assert!(property(&Value::Int(1), "year").is_none());
    }

    #[test]
    fn duration_components() {
        let d = Value::Duration(parse::duration("P1Y4M10DT1H1M1.111111111S").unwrap());
        assert_eq!(get(&d, "quarters"), Value::Int(5));
        assert_eq!(get(&d, "minutes"), Value::Int(61));
        assert_eq!(get(&d, "minute"), Value::Int(61));
        assert_eq!(get(&d, "milliseconds"), Value::Int(3_661_111));
        assert_eq!(get(&d, "monthsOfQuarter"), Value::Int(1));
        assert_eq!(get(&d, "daysOfWeek"), Value::Int(3));
        assert_eq!(get(&d, "nanosecondsOfSecond"), Value::Int(111_111_111));
        let neg = Value::Duration(parse::duration("PT-0.4S").unwrap());
        assert_eq!(get(&neg, "seconds"), Value::Int(-1));
        assert_eq!(get(&neg, "nanosecondsOfSecond"), Value::Int(600_000_000));
    }
}
