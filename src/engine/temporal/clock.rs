//! The clock behind `date()`, `datetime.transaction()`, `.statement()` and `.realtime()`.
//!
//! openCypher fixes two instants: the transaction's (the same for every statement of one
//! transaction) and the statement's (the same for every row of one statement, so that
//! `datetime()` in a `WHERE` does not drift while the query runs). The engine takes them once,
//! puts them in the evaluation environment, and only `.realtime()` reads the system clock.

use std::time::{SystemTime, UNIX_EPOCH};

use super::calendar::{NANOS_PER_DAY, NANOS_PER_SECOND};
use super::parts::{self, Kind};
use super::zone;
use crate::engine::EngineError;
use crate::value::{TimeZone, Value};

/// The instants a statement's temporal functions see, in nanoseconds since the Unix epoch
/// (an `i64` reaches the year 2262; the environment that carries this is copied for every row,
/// so it stays small).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub transaction: i64,
    pub statement: i64,
}

impl Clock {
    /// A statement that is its own transaction, starting now.
    pub fn now() -> Clock {
        let now = clamp(now_nanos());
        Clock {
            transaction: now,
            statement: now,
        }
    }

    /// A statement starting now in a transaction that began at `started` (nanoseconds since the
    /// epoch, as [`transaction_start`] gives).
    pub fn in_transaction(started: i64) -> Clock {
        Clock {
            transaction: started,
            statement: clamp(now_nanos()),
        }
    }
}

/// The instant a transaction begins, as [`Clock::in_transaction`] takes it: converted once, not
/// for each of its statements.
pub fn transaction_start() -> i64 {
    clamp(now_nanos())
}

impl Default for Clock {
    fn default() -> Self {
        Clock::now()
    }
}

fn nanos_since_epoch(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

fn clamp(nanos: i128) -> i64 {
    nanos.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The system clock now.
pub fn now_nanos() -> i128 {
    nanos_since_epoch(SystemTime::now())
}

/// The value of `kind` at `instant` in `zone` (UTC when none is given).
pub fn current(kind: Kind, instant: i128, zone: Option<TimeZone>) -> Result<Value, EngineError> {
    let zone = zone.unwrap_or(TimeZone::Offset(0));
    let per = i128::from(NANOS_PER_SECOND);
    let seconds = i64::try_from(instant.div_euclid(per)).unwrap_or(0);
    let offset = zone::offset_at(&zone, seconds);
    let local = instant + i128::from(offset) * per;
    let day = i128::from(NANOS_PER_DAY);
    let (days, nanos) = (local.div_euclid(day) as i64, local.rem_euclid(day) as i64);
    let value = match kind {
        Kind::Date => Some(parts::date(days)),
        Kind::LocalTime => Some(parts::local_time(nanos)),
        Kind::Time => Some(parts::time(nanos, offset)),
        Kind::LocalDateTime => parts::local_date_time(local),
        Kind::DateTime => parts::date_time_at(instant, zone),
    };
    value.ok_or_else(|| EngineError::database("the system clock is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transaction_instant_is_the_one_it_began_at() {
        let started = (86_400 + 3_600) * 1_000_000_000;
        assert!(transaction_start() > started);
        let clock = Clock::in_transaction(started);
        assert_eq!(clock.transaction, (86_400 + 3_600) * 1_000_000_000);
        assert!(clock.statement > clock.transaction);
        let named = TimeZone::Named("Europe/Stockholm".into());
        assert_eq!(
            current(Kind::Date, clock.transaction.into(), None).unwrap(),
            Value::Date(1)
        );
        // 01:00 UTC on 1970-01-02 is 02:00 in Stockholm (+01:00).
        assert_eq!(
            current(Kind::Time, clock.transaction.into(), Some(named)).unwrap(),
            Value::Time {
                nanos: 2 * 3_600 * NANOS_PER_SECOND,
                offset_seconds: 3_600
            }
        );
    }
}
