//! Temporal values taken apart into wall-clock fields (local date, local time of day, zone) and
//! put back together. Every other file works on these fields, so that each operation is written
//! once for all five temporal types.

use super::calendar::{NANOS_PER_DAY, NANOS_PER_SECOND, SECONDS_PER_DAY};
use super::zone;
use crate::value::{TimeZone, Value};

/// Which of the five temporal types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Date,
    Time,
    LocalTime,
    LocalDateTime,
    DateTime,
}

impl Kind {
    pub fn has_date(self) -> bool {
        matches!(self, Kind::Date | Kind::LocalDateTime | Kind::DateTime)
    }

    pub fn has_time(self) -> bool {
        !matches!(self, Kind::Date)
    }

    pub fn has_zone(self) -> bool {
        matches!(self, Kind::Time | Kind::DateTime)
    }

    /// The function that builds this type, for messages.
    pub fn function(self) -> &'static str {
        match self {
            Kind::Date => "date",
            Kind::Time => "time",
            Kind::LocalTime => "localtime",
            Kind::LocalDateTime => "localdatetime",
            Kind::DateTime => "datetime",
        }
    }

    /// `date`, `datetime`, ... (any case) as a kind.
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "date" => Kind::Date,
            "time" => Kind::Time,
            "localtime" => Kind::LocalTime,
            "localdatetime" => Kind::LocalDateTime,
            "datetime" => Kind::DateTime,
            _ => return None,
        })
    }
}

/// The wall-clock fields of a temporal value.
#[derive(Debug, Clone, PartialEq)]
pub struct Parts {
    /// The local date, in days since 1970-01-01.
    pub days: Option<i64>,
    /// The local time of day, in nanoseconds since midnight.
    pub nanos: Option<i64>,
    /// The zone of a time (always an offset) or a datetime.
    pub zone: Option<TimeZone>,
    /// The offset in effect at this date and time (for a named zone, the one that applies then).
    pub offset: Option<i32>,
}

impl Parts {
    /// The fields of `v`; `None` when it is not a temporal instant (durations are not).
    pub fn of(v: &Value) -> Option<Parts> {
        Some(match v {
            Value::Date(days) => Parts {
                days: Some(*days),
                nanos: None,
                zone: None,
                offset: None,
            },
            Value::LocalTime(nanos) => Parts {
                days: None,
                nanos: Some(*nanos),
                zone: None,
                offset: None,
            },
            Value::Time {
                nanos,
                offset_seconds,
            } => Parts {
                days: None,
                nanos: Some(*nanos),
                zone: Some(TimeZone::Offset(*offset_seconds)),
                offset: Some(*offset_seconds),
            },
            Value::LocalDateTime { seconds, nanos } => Parts {
                days: Some(seconds.div_euclid(SECONDS_PER_DAY)),
                nanos: Some(
                    seconds.rem_euclid(SECONDS_PER_DAY) * NANOS_PER_SECOND + i64::from(*nanos),
                ),
                zone: None,
                offset: None,
            },
            Value::DateTime {
                seconds,
                nanos,
                zone,
            } => {
                let offset = zone::offset_at(zone, *seconds);
                let local = seconds + i64::from(offset);
                Parts {
                    days: Some(local.div_euclid(SECONDS_PER_DAY)),
                    nanos: Some(
                        local.rem_euclid(SECONDS_PER_DAY) * NANOS_PER_SECOND + i64::from(*nanos),
                    ),
                    zone: Some(zone.clone()),
                    offset: Some(offset),
                }
            }
            _ => return None,
        })
    }

    pub fn kind_of(v: &Value) -> Option<Kind> {
        Some(match v {
            Value::Date(_) => Kind::Date,
            Value::Time { .. } => Kind::Time,
            Value::LocalTime(_) => Kind::LocalTime,
            Value::LocalDateTime { .. } => Kind::LocalDateTime,
            Value::DateTime { .. } => Kind::DateTime,
            _ => return None,
        })
    }

    /// Wall-clock nanoseconds since the epoch of the local date and time (midnight when there
    /// is no time, the epoch's date when there is no date).
    pub fn local_nanos(&self) -> i128 {
        i128::from(self.days.unwrap_or(0)) * i128::from(NANOS_PER_DAY)
            + i128::from(self.nanos.unwrap_or(0))
    }

    /// The UTC instant in nanoseconds, when the value has a zone.
    pub fn instant_nanos(&self) -> Option<i128> {
        let offset = self.offset?;
        Some(self.local_nanos() - i128::from(offset) * i128::from(NANOS_PER_SECOND))
    }
}

/// A `DATE`.
pub fn date(days: i64) -> Value {
    Value::Date(days)
}

/// A `LOCAL TIME`; `nanos` is taken modulo a day.
pub fn local_time(nanos: i64) -> Value {
    Value::LocalTime(nanos.rem_euclid(NANOS_PER_DAY))
}

/// A `ZONED TIME`; `nanos` is taken modulo a day.
pub fn time(nanos: i64, offset: i32) -> Value {
    Value::Time {
        nanos: nanos.rem_euclid(NANOS_PER_DAY),
        offset_seconds: offset,
    }
}

/// A `LOCAL DATETIME` from wall-clock nanoseconds since the epoch.
pub fn local_date_time(local: i128) -> Option<Value> {
    let per = i128::from(NANOS_PER_SECOND);
    Some(Value::LocalDateTime {
        seconds: i64::try_from(local.div_euclid(per)).ok()?,
        nanos: local.rem_euclid(per) as u32,
    })
}

/// A `ZONED DATETIME` from a UTC instant in nanoseconds.
pub fn date_time_at(instant: i128, zone: TimeZone) -> Option<Value> {
    let per = i128::from(NANOS_PER_SECOND);
    Some(Value::DateTime {
        seconds: i64::try_from(instant.div_euclid(per)).ok()?,
        nanos: instant.rem_euclid(per) as u32,
        zone,
    })
}

/// A `ZONED DATETIME` from wall-clock nanoseconds in `zone`; see [`zone::offset_for_local`]
/// for times that happen twice or never.
pub fn date_time_local(local: i128, zone: TimeZone, preferred: Option<i32>) -> Option<Value> {
    let local_seconds = i64::try_from(local.div_euclid(i128::from(NANOS_PER_SECOND))).ok()?;
    let offset = zone::offset_for_local(&zone, local_seconds, preferred);
    date_time_at(
        local - i128::from(offset) * i128::from(NANOS_PER_SECOND),
        zone,
    )
}
