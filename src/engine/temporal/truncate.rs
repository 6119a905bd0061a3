//! `date.truncate(unit, value[, fields])` and the same for the other types: the value cut down
//! to the start of its millennium, century, decade, year, week-year, quarter, month, week, day,
//! hour, minute, second, millisecond or microsecond, then adjusted by `fields` (`{day: 2}`,
//! `{timezone: 'Europe/Stockholm'}`, which replaces the zone of the truncated wall clock).

use super::bad;
use super::calendar::{self, NANOS_PER_SECOND};
use super::construct::{self, Mode};
use super::parts::{Kind, Parts};
use crate::engine::EngineError;
use crate::value::Value;

pub fn truncate(kind: Kind, args: &[Value]) -> Result<Value, EngineError> {
    let function = format!("{}.truncate", kind.function());
    let (unit, value, fields) = match args {
        [u, v] => (u, v, None),
        [u, v, f] => (u, v, Some(f)),
        _ => {
            return Err(bad(
                &function,
                "it takes a unit, a temporal value and optionally a map",
            ))
        }
    };
    if value.is_null() || unit.is_null() {
        return Ok(Value::Null);
    }
    let Value::String(unit) = unit else {
        return Err(bad(
            &function,
            format!("the unit must be a STRING, got {unit}"),
        ));
    };
    let p = Parts::of(value)
        .filter(|p| {
            (!kind.has_date() || p.days.is_some()) && (kind.has_date() || p.nanos.is_some())
        })
        .ok_or_else(|| {
            bad(
                &function,
                format!(
                    "cannot truncate a {} to a {}",
                    value.type_name(),
                    kind.function()
                ),
            )
        })?;
    let days = p.days.unwrap_or(0);
    let date = calendar::ymd_from_days(days);
    let floor_year = |n: i64| calendar::from_ordinal(date.year.div_euclid(n) * n, 1);
    let nanos = p.nanos.unwrap_or(0);
    let keep = |unit_nanos: i64| Some(nanos - nanos.rem_euclid(unit_nanos));
    let lower = unit.to_ascii_lowercase();
    let date_unit = !matches!(
        lower.as_str(),
        "hour" | "minute" | "second" | "millisecond" | "microsecond" | "nanosecond"
    );
    if date_unit && !kind.has_date() && lower != "day" {
        return Err(bad(
            &function,
            format!("a {} cannot be truncated to a {unit}", kind.function()),
        ));
    }
    let (new_days, new_nanos) = match lower.as_str() {
        "millennium" => (floor_year(1000), Some(0)),
        "century" => (floor_year(100), Some(0)),
        "decade" => (floor_year(10), Some(0)),
        "year" => (floor_year(1), Some(0)),
        "weekyear" => (
            calendar::from_week_date(calendar::iso_week(days).0, 1, 1),
            Some(0),
        ),
        "quarter" => (
            calendar::from_quarter(date.year, calendar::quarter(date.month).into(), 1),
            Some(0),
        ),
        "month" => (
            calendar::ymd(date.year, date.month.into(), 1).map(calendar::days_from_ymd),
            Some(0),
        ),
        "week" => (
            Some(days - i64::from(calendar::day_of_week(days)) + 1),
            Some(0),
        ),
        "day" => (Some(days), Some(0)),
        "hour" => (Some(days), keep(3600 * NANOS_PER_SECOND)),
        "minute" => (Some(days), keep(60 * NANOS_PER_SECOND)),
        "second" => (Some(days), keep(NANOS_PER_SECOND)),
        "millisecond" => (Some(days), keep(1_000_000)),
        "microsecond" => (Some(days), keep(1_000)),
        "nanosecond" => (Some(days), Some(nanos)),
        _ => {
            return Err(bad(
                &function,
                format!(
                    "'{unit}' is not a unit (millennium, century, decade, year, weekYear, \
                     quarter, month, week, day, hour, minute, second, millisecond, microsecond)"
                ),
            ))
        }
    };
    let base = Parts {
        days: new_days,
        nanos: new_nanos,
        zone: p.zone,
        offset: p.offset,
    };
    let fields = match fields {
        None | Some(Value::Null) => construct::Fields::default(),
        Some(Value::Map(m)) => {
            let (from, f) = construct::read_map(kind, m)?;
            if from.days.is_some() || from.nanos.is_some() {
                return Err(bad(
                    &function,
                    "the map of a truncation adjusts fields; it cannot name another value",
                ));
            }
            f
        }
        Some(other) => {
            return Err(bad(
                &function,
                format!("the fields must be a MAP, got {other}"),
            ))
        }
    };
    construct::build(kind, base, &fields, Mode::Truncate)
}
