//! `duration.between(a, b)`, `duration.inMonths`, `duration.inDays` and `duration.inSeconds`:
//! the duration from one temporal value to another, in calendar months, then days, then
//! seconds (as Java's `until`, which openCypher follows).
//!
//! The two values may be of different types: a value without a date borrows the other's (so
//! only the times of day count), and a value without a zone is read in the other's zone (so a
//! local time across a change of offset counts real hours). Months and days are counted only
//! when both values have dates, on wall clocks in the first value's zone; seconds between
//! instants.

use super::bad;
use super::calendar::{self, NANOS_PER_DAY, NANOS_PER_SECOND};
use super::duration;
use super::parts::Parts;
use super::zone;
use crate::engine::EngineError;
use crate::value::{TimeZone, Value};

/// What part of the difference the function gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// `between`: months, then days, then seconds.
    All,
    Months,
    Days,
    Seconds,
}

impl Span {
    pub fn function(self) -> &'static str {
        match self {
            Span::All => "duration.between",
            Span::Months => "duration.inMonths",
            Span::Days => "duration.inDays",
            Span::Seconds => "duration.inSeconds",
        }
    }
}

/// One end: wall-clock nanoseconds since the epoch and the zone they are read in.
struct End {
    local: i128,
    zone: Option<TimeZone>,
    offset: Option<i32>,
}

impl End {
    fn instant(&self) -> i128 {
        match &self.zone {
            None => self.local,
            Some(z) => {
                let secs = self.local.div_euclid(i128::from(NANOS_PER_SECOND)) as i64;
                let o = zone::offset_for_local(z, secs, self.offset);
                self.local - i128::from(o) * i128::from(NANOS_PER_SECOND)
            }
        }
    }
}

fn split(local: i128) -> (i64, i64) {
    let day = i128::from(NANOS_PER_DAY);
    (local.div_euclid(day) as i64, local.rem_euclid(day) as i64)
}

/// Whole `unit`s from `a` to `b` on wall clocks, where a last partial day does not count
/// (Java's `LocalDateTime.until`).
fn date_until(a: i128, b: i128, months: bool) -> i64 {
    let ((ad, at), (bd, bt)) = (split(a), split(b));
    let end = if bd > ad && bt < at {
        bd - 1
    } else if bd < ad && bt > at {
        bd + 1
    } else {
        bd
    };
    if months {
        calendar::months_between(ad, end)
    } else {
        end - ad
    }
}

fn plus(local: i128, months: i64, days: i64) -> Option<i128> {
    let (d, t) = split(local);
    let d = calendar::add_months(d, months)?.checked_add(days)?;
    Some(i128::from(d) * i128::from(NANOS_PER_DAY) + i128::from(t))
}

pub fn between(span: Span, a: &Value, b: &Value) -> Result<Value, EngineError> {
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    let function = span.function();
    let parts = |v: &Value| {
        Parts::of(v).ok_or_else(|| {
            bad(
                function,
                format!("it takes two temporal values, got a {}", v.type_name()),
            )
        })
    };
    let (pa, pb) = (parts(a)?, parts(b)?);
    let dated = pa.days.is_some() && pb.days.is_some();
    let local = |p: &Parts, other: &Parts| {
        i128::from(p.days.or(other.days).unwrap_or(0)) * i128::from(NANOS_PER_DAY)
            + i128::from(p.nanos.unwrap_or(0))
    };
    let zone_a = pa.zone.clone().or_else(|| pb.zone.clone());
    let zone_b = pb.zone.clone().or_else(|| pa.zone.clone());
    let from = End {
        local: local(&pa, &pb),
        offset: pa.offset,
        zone: zone_a,
    };
    let to = End {
        local: local(&pb, &pa),
        offset: pb.offset,
        zone: zone_b,
    };
    let to_instant = to.instant();
    // The end's wall clock in the start's zone.
    let to_local = match &from.zone {
        None => to.local,
        Some(z) => {
            let secs = to_instant.div_euclid(i128::from(NANOS_PER_SECOND)) as i64;
            to_instant + i128::from(zone::offset_at(z, secs)) * i128::from(NANOS_PER_SECOND)
        }
    };
    let overflow = || bad(function, "the duration is out of range");
    let (months, days, nanos) = match span {
        Span::Months if dated => (date_until(from.local, to_local, true), 0, 0),
        Span::Days if dated => (0, date_until(from.local, to_local, false), 0),
        Span::Months | Span::Days => (0, 0, 0),
        Span::Seconds => (0, 0, to_instant - from.instant()),
        Span::All => {
            let months = if dated {
                date_until(from.local, to_local, true)
            } else {
                0
            };
            let after_months = plus(from.local, months, 0).ok_or_else(overflow)?;
            let days = if dated {
                date_until(after_months, to_local, false)
            } else {
                0
            };
            let start = End {
                local: plus(after_months, 0, days).ok_or_else(overflow)?,
                zone: from.zone.clone(),
                offset: from.offset,
            };
            (months, days, to_instant - start.instant())
        }
    };
    duration::from_total_nanos(months, days, nanos)
        .map(Value::Duration)
        .ok_or_else(overflow)
}
