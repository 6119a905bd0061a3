//! Arithmetic and ordering of temporal values: instant ± duration, duration ± duration,
//! duration × and ÷ number, unary minus, the ordering of times (by instant) and durations
//! (for `ORDER BY` only: openCypher leaves `<` on durations null).

use std::cmp::Ordering;

use super::calendar::{self, NANOS_PER_DAY, NANOS_PER_SECOND, SECONDS_PER_DAY};
use super::duration::{self, total_nanos, AVG_SECONDS_PER_MONTH};
use super::parts::{self, Parts};
use crate::cypher::ast::BinaryOp;
use crate::engine::EngineError;
use crate::value::{Duration, Value};

fn overflow(op: BinaryOp) -> EngineError {
    EngineError::client(format!(
        "Temporal overflow in '{}': the result is outside the supported range (years \
         -999,999,999 to 999,999,999).",
        op.symbol()
    ))
}

/// `a op b` when a temporal value or duration takes part; `None` to let the caller report the
/// type error.
pub fn apply(op: BinaryOp, a: &Value, b: &Value) -> Option<Result<Value, EngineError>> {
    use Value::{Float, Int};
    let dur = |r: Option<Duration>| Some(r.map(Value::Duration).ok_or_else(|| overflow(op)));
    match (op, a, b) {
        (BinaryOp::Add, Value::Duration(x), Value::Duration(y)) => dur(duration::add(x, y, 1)),
        (BinaryOp::Sub, Value::Duration(x), Value::Duration(y)) => dur(duration::add(x, y, -1)),
        (BinaryOp::Add, t, Value::Duration(d)) | (BinaryOp::Add, Value::Duration(d), t) => {
            Parts::kind_of(t)?;
            Some(shift(t, d, 1).ok_or_else(|| overflow(op)))
        }
        (BinaryOp::Sub, t, Value::Duration(d)) => {
            Parts::kind_of(t)?;
            Some(shift(t, d, -1).ok_or_else(|| overflow(op)))
        }
        (BinaryOp::Mul, Value::Duration(d), Int(k))
        | (BinaryOp::Mul, Int(k), Value::Duration(d)) => dur(duration::multiply(d, *k)),
        (BinaryOp::Mul, Value::Duration(d), Float(f))
        | (BinaryOp::Mul, Float(f), Value::Duration(d)) => dur(duration::scale(d, *f)),
        (BinaryOp::Div, Value::Duration(d), n @ (Int(_) | Float(_))) => {
            let k = match n {
                Int(i) => *i as f64,
                Float(f) => *f,
                _ => return None,
            };
            if k == 0.0 {
                return Some(Err(EngineError::client("Division of a duration by zero.")));
            }
            dur(duration::divide(d, k))
        }
        _ => None,
    }
}

/// `-d`.
pub fn negate(d: &Duration) -> Result<Value, EngineError> {
    duration::negate(d)
        .map(Value::Duration)
        .ok_or_else(|| EngineError::client("Temporal overflow in unary minus."))
}

/// `t + sign * d`: months first (clamping the day to the end of a shorter month), then days,
/// then seconds and nanoseconds; units the type lacks are ignored (a date takes only the whole
/// days of the seconds, a time neither months nor days). A zoned datetime moves its wall clock
/// by months and days and its instant by the rest.
fn shift(t: &Value, d: &Duration, sign: i64) -> Option<Value> {
    let d = if sign < 0 { duration::negate(d)? } else { *d };
    let p = Parts::of(t)?;
    let calendar_shift =
        |days: i64| -> Option<i64> { calendar::add_months(days, d.months)?.checked_add(d.days) };
    let nanos = total_nanos(&d);
    let in_range = |days: i64| {
        let y = calendar::ymd_from_days(days).year;
        (calendar::MIN_YEAR..=calendar::MAX_YEAR).contains(&y)
    };
    match t {
        Value::Date(days) => {
            // Java's `seconds / 86400`: whole days, truncated toward zero.
            let whole_days = d.seconds / SECONDS_PER_DAY;
            let out = calendar_shift(*days)?.checked_add(whole_days)?;
            in_range(out).then_some(parts::date(out))
        }
        Value::LocalTime(n) => Some(parts::local_time(
            (i128::from(*n) + nanos).rem_euclid(i128::from(NANOS_PER_DAY)) as i64,
        )),
        Value::Time {
            nanos: n,
            offset_seconds,
        } => Some(parts::time(
            (i128::from(*n) + nanos).rem_euclid(i128::from(NANOS_PER_DAY)) as i64,
            *offset_seconds,
        )),
        Value::LocalDateTime { .. } => {
            let days = calendar_shift(p.days?)?;
            let local = i128::from(days) * i128::from(NANOS_PER_DAY) + i128::from(p.nanos?) + nanos;
            let out = parts::local_date_time(local)?;
            in_range(Parts::of(&out)?.days?).then_some(out)
        }
        Value::DateTime { zone, .. } => {
            let days = calendar_shift(p.days?)?;
            let local = i128::from(days) * i128::from(NANOS_PER_DAY) + i128::from(p.nanos?);
            let moved = parts::date_time_local(local, zone.clone(), p.offset)?;
            let instant = Parts::of(&moved)?.instant_nanos()? + nanos;
            let out = parts::date_time_at(instant, zone.clone())?;
            in_range(Parts::of(&out)?.days?).then_some(out)
        }
        _ => None,
    }
}

/// Times order by the instant they name (`10:00+01:00` is before `09:30Z`), then by wall
/// clock.
pub fn compare_times(a: (i64, i32), b: (i64, i32)) -> Ordering {
    let utc = |(n, o): (i64, i32)| n - i64::from(o) * NANOS_PER_SECOND;
    utc(a).cmp(&utc(b)).then(a.0.cmp(&b.0))
}

/// The order `ORDER BY` gives durations: by their approximate length (a month as the average
/// month, a day as 86,400 seconds), then component by component so that it is total.
pub fn order_durations(a: &Duration, b: &Duration) -> Ordering {
    let approx = |d: &Duration| {
        (i128::from(d.months) * i128::from(AVG_SECONDS_PER_MONTH)
            + i128::from(d.days) * i128::from(SECONDS_PER_DAY))
            * i128::from(NANOS_PER_SECOND)
            + total_nanos(d)
    };
    approx(a).cmp(&approx(b)).then_with(|| {
        (a.months, a.days, a.seconds, a.nanos).cmp(&(b.months, b.days, b.seconds, b.nanos))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::temporal::{format, parse};

    fn dur(s: &str) -> Value {
        Value::Duration(parse::duration(s).unwrap())
    }

    fn text(v: Result<Value, EngineError>) -> String {
        format::to_string(&v.unwrap()).unwrap()
    }

    #[test]
    fn dates_move_by_months_then_days_then_whole_days_of_seconds() {
        let d = Value::Date(parse::date("1984-10-11").unwrap());
        // 12 years 5 months 14 days and 16:13:10: the seconds are less than a day.
        let x = dur("P12Y5M14DT16H13M10S");
        assert_eq!(text(apply(BinaryOp::Add, &d, &x).unwrap()), "1997-03-25");
        assert_eq!(text(apply(BinaryOp::Sub, &d, &x).unwrap()), "1972-04-27");
        let jan31 = Value::Date(parse::date("2023-01-31").unwrap());
        assert_eq!(
            text(apply(BinaryOp::Add, &jan31, &dur("P1M")).unwrap()),
            "2023-02-28"
        );
        assert_eq!(
            text(apply(BinaryOp::Add, &dur("P1M"), &jan31).unwrap()),
            "2023-02-28"
        );
    }

    #[test]
    fn times_wrap_around_midnight() {
        let t = Value::LocalTime(parse::local_time("12:31:14.000000001").unwrap());
        let x = dur("P12Y5M14DT16H13M10.000000002S");
        assert_eq!(
            text(apply(BinaryOp::Add, &t, &x).unwrap()),
            "04:44:24.000000003"
        );
        assert_eq!(
            text(apply(BinaryOp::Sub, &t, &x).unwrap()),
            "20:18:03.999999999"
        );
    }

    #[test]
    fn zoned_datetimes_keep_the_wall_clock_across_a_change_of_offset() {
        let before = crate::engine::temporal::construct::construct(
            super::super::parts::Kind::DateTime,
            &Value::from("2017-10-28T12:00[Europe/Stockholm]"),
            &super::super::clock::Clock::now(),
        )
        .unwrap();
        // A day later the clocks have gone back, but it is still 12:00 on the wall.
        assert_eq!(
            text(apply(BinaryOp::Add, &before, &dur("P1D")).unwrap()),
            "2017-10-29T12:00+01:00[Europe/Stockholm]"
        );
        // 24 hours later it is 11:00.
        assert_eq!(
            text(apply(BinaryOp::Add, &before, &dur("PT24H")).unwrap()),
            "2017-10-29T11:00+01:00[Europe/Stockholm]"
        );
    }

    #[test]
    fn durations_combine_and_scale() {
        let a = dur("P1M-14DT15H49M10S");
        assert_eq!(
            text(apply(BinaryOp::Add, &a, &a).unwrap()),
            "P2M-28DT31H38M20S"
        );
        assert_eq!(text(apply(BinaryOp::Sub, &a, &a).unwrap()), "PT0S");
        let b = dur("P12Y5M14DT16H13M10.000000001S");
        assert_eq!(
            text(apply(BinaryOp::Mul, &b, &Value::Int(2)).unwrap()),
            "P24Y10M28DT32H26M20.000000002S"
        );
        assert_eq!(
            text(apply(BinaryOp::Div, &b, &Value::Int(2)).unwrap()),
            "P6Y2M22DT13H21M8S"
        );
        assert_eq!(
            text(apply(BinaryOp::Mul, &Value::Float(0.5), &b).unwrap()),
            "P6Y2M22DT13H21M8S"
        );
        assert!(apply(BinaryOp::Div, &b, &Value::Int(0)).unwrap().is_err());
        assert!(apply(BinaryOp::Add, &Value::Int(1), &Value::Int(2)).is_none());
        assert!(apply(BinaryOp::Mul, &b, &b).is_none());
        assert!(apply(BinaryOp::Add, &Value::Date(0), &Value::Date(0)).is_none());
    }

    #[test]
    fn orders() {
        assert_eq!(
            compare_times(
                (10 * 3600 * NANOS_PER_SECOND, 3600),
                (9 * 3600 * NANOS_PER_SECOND + 1, 0)
            ),
            Ordering::Less
        );
        let (Value::Duration(a), Value::Duration(b)) = (dur("P1M"), dur("P30D")) else {
            unreachable!()
        };
        assert_eq!(order_durations(&a, &b), Ordering::Greater);
    }
}
