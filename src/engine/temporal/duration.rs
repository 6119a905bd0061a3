//! Building durations: from whole or fractional components (maps, ISO strings, products and
//! quotients), normalised the way openCypher prints and compares them.
//!
//! A duration keeps months, days and seconds apart (a month is not a fixed number of days, nor a
//! day of seconds, once zones are involved). Fractions cascade downwards using the average
//! Gregorian month (30.436875 days) and 86,400-second days; nanoseconds are kept in
//! `0..1_000_000_000` with the sign carried by the seconds.

use super::calendar::{NANOS_PER_SECOND, SECONDS_PER_DAY};
use crate::value::Duration;

/// The average Gregorian month in seconds: 365.2425 days / 12.
pub const AVG_SECONDS_PER_MONTH: i64 = 2_629_746;

/// A component's amount: whole amounts stay exact, fractional ones are approximated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    Whole(i64),
    Fraction(f64),
}

/// A duration's components, in the units openCypher names (maps and ISO strings use them).
#[derive(Debug, Clone, Copy, Default)]
pub struct Components {
    pub months: Option<Amount>,
    pub days: Option<Amount>,
    pub seconds: Option<Amount>,
    pub nanos: Option<Amount>,
}

impl Components {
    /// Adds `amount` of `unit` × `scale` (years are 12 months, hours 3,600 seconds...).
    /// `false` on overflow.
    pub fn add(&mut self, unit: Unit, amount: Amount) -> bool {
        let (slot, scale) = match unit {
            Unit::Years => (&mut self.months, 12),
            Unit::Quarters => (&mut self.months, 3),
            Unit::Months => (&mut self.months, 1),
            Unit::Weeks => (&mut self.days, 7),
            Unit::Days => (&mut self.days, 1),
            Unit::Hours => (&mut self.seconds, 3600),
            Unit::Minutes => (&mut self.seconds, 60),
            Unit::Seconds => (&mut self.seconds, 1),
            Unit::Milliseconds => (&mut self.nanos, 1_000_000),
            Unit::Microseconds => (&mut self.nanos, 1_000),
            Unit::Nanoseconds => (&mut self.nanos, 1),
        };
        let scaled = match amount {
            Amount::Whole(n) => match n.checked_mul(scale) {
                Some(v) => Amount::Whole(v),
                None => return false,
            },
            Amount::Fraction(f) => Amount::Fraction(f * scale as f64),
        };
        *slot = Some(match (*slot, scaled) {
            (None, s) => s,
            (Some(Amount::Whole(a)), Amount::Whole(b)) => match a.checked_add(b) {
                Some(v) => Amount::Whole(v),
                None => return false,
            },
            (Some(a), b) => Amount::Fraction(as_f64(a) + as_f64(b)),
        });
        true
    }

    /// The duration these components make; `None` when it does not fit.
    pub fn build(&self) -> Option<Duration> {
        let all = [self.months, self.days, self.seconds, self.nanos];
        if all.iter().all(|a| !matches!(a, Some(Amount::Fraction(_)))) {
            let whole = |a: Option<Amount>| match a {
                Some(Amount::Whole(n)) => n,
                _ => 0,
            };
            return exact(
                whole(self.months),
                whole(self.days),
                i128::from(whole(self.seconds)),
                i128::from(whole(self.nanos)),
            );
        }
        let f = |a: Option<Amount>| a.map_or(0.0, as_f64);
        approximate(f(self.months), f(self.days), f(self.seconds), f(self.nanos))
    }
}

fn as_f64(a: Amount) -> f64 {
    match a {
        Amount::Whole(n) => n as f64,
        Amount::Fraction(f) => f,
    }
}

/// The units of duration maps (`{days: 2}`) and ISO strings (`P2D`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Years,
    Quarters,
    Months,
    Weeks,
    Days,
    Hours,
    Minutes,
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

impl Unit {
    /// A duration map's key, case-insensitively.
    pub fn from_key(key: &str) -> Option<Unit> {
        Some(match key.to_ascii_lowercase().as_str() {
            "years" => Unit::Years,
            "quarters" => Unit::Quarters,
            "months" => Unit::Months,
            "weeks" => Unit::Weeks,
            "days" => Unit::Days,
            "hours" => Unit::Hours,
            "minutes" => Unit::Minutes,
            "seconds" => Unit::Seconds,
            "milliseconds" => Unit::Milliseconds,
            "microseconds" => Unit::Microseconds,
            "nanoseconds" => Unit::Nanoseconds,
            _ => return None,
        })
    }
}

/// A duration from whole components, with nanoseconds folded into seconds.
pub fn exact(months: i64, days: i64, seconds: i128, nanos: i128) -> Option<Duration> {
    let total = seconds
        .checked_mul(i128::from(NANOS_PER_SECOND))?
        .checked_add(nanos)?;
    from_total_nanos(months, days, total)
}

/// A duration of `months`, `days` and `total` nanoseconds.
pub fn from_total_nanos(months: i64, days: i64, total: i128) -> Option<Duration> {
    let per = i128::from(NANOS_PER_SECOND);
    Some(Duration {
        months,
        days,
        seconds: i64::try_from(total.div_euclid(per)).ok()?,
        nanos: total.rem_euclid(per) as i64,
    })
}

/// The seconds and nanoseconds of `d` as one number of nanoseconds.
pub fn total_nanos(d: &Duration) -> i128 {
    i128::from(d.seconds) * i128::from(NANOS_PER_SECOND) + i128::from(d.nanos)
}

/// Fractional components cascaded downwards: the fraction of a month becomes days (by the
/// average month), the fraction of a day seconds, the fraction of a second nanoseconds.
pub fn approximate(months: f64, days: f64, seconds: f64, nanos: f64) -> Option<Duration> {
    let whole = |x: f64| -> Option<i64> {
        let t = x.trunc();
        (t.is_finite() && t.abs() < 9.2e18).then_some(t as i64)
    };
    let m = whole(months)?;
    let days = days + (months - m as f64) * AVG_SECONDS_PER_MONTH as f64 / SECONDS_PER_DAY as f64;
    let d = whole(days)?;
    let seconds = seconds + (days - d as f64) * SECONDS_PER_DAY as f64;
    let s = whole(seconds)?;
    let nanos = nanos + (seconds - s as f64) * NANOS_PER_SECOND as f64;
    // Float noise (49.4999999 for 49.5) must not lose a nanosecond; a real half is dropped.
    let rounded = nanos.round();
    let n = if (nanos - rounded).abs() < 1e-3 {
        rounded
    } else {
        nanos.trunc()
    };
    if !n.is_finite() || n.abs() > 9.2e18 {
        return None;
    }
    exact(m, d, i128::from(s), n as i128)
}

/// `-d`.
pub fn negate(d: &Duration) -> Option<Duration> {
    from_total_nanos(
        d.months.checked_neg()?,
        d.days.checked_neg()?,
        -total_nanos(d),
    )
}

/// `a + b` (or `a - b` when `sign` is -1), component by component.
pub fn add(a: &Duration, b: &Duration, sign: i64) -> Option<Duration> {
    let b = if sign < 0 { negate(b)? } else { *b };
    from_total_nanos(
        a.months.checked_add(b.months)?,
        a.days.checked_add(b.days)?,
        total_nanos(a) + total_nanos(&b),
    )
}

/// `d * k` for a whole `k`: exact.
pub fn multiply(d: &Duration, k: i64) -> Option<Duration> {
    from_total_nanos(
        d.months.checked_mul(k)?,
        d.days.checked_mul(k)?,
        total_nanos(d).checked_mul(i128::from(k))?,
    )
}

/// `d * f` for a fractional `f` (division is multiplication by the reciprocal).
pub fn scale(d: &Duration, f: f64) -> Option<Duration> {
    approximate(
        d.months as f64 * f,
        d.days as f64 * f,
        d.seconds as f64 * f,
        d.nanos as f64 * f,
    )
}

/// `d / k`.
pub fn divide(d: &Duration, k: f64) -> Option<Duration> {
    approximate(
        d.months as f64 / k,
        d.days as f64 / k,
        d.seconds as f64 / k,
        d.nanos as f64 / k,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(parts: &[(Unit, Amount)]) -> Duration {
        let mut c = Components::default();
        for (u, a) in parts {
            assert!(c.add(*u, *a));
        }
        c.build().unwrap()
    }

    #[test]
    fn fractions_cascade_by_the_average_month() {
        // 0.75 months = 22 days 19:51:49.5.
        let d = build(&[(Unit::Months, Amount::Fraction(0.75))]);
        assert_eq!(
            d,
            Duration {
                months: 0,
                days: 22,
                seconds: 19 * 3600 + 51 * 60 + 49,
                nanos: 500_000_000
            }
        );
        let d = build(&[(Unit::Weeks, Amount::Fraction(2.5))]);
        assert_eq!((d.days, d.seconds), (17, 43_200));
    }

    #[test]
    fn nanoseconds_carry_the_sign_in_seconds() {
        let d = build(&[
            (Unit::Seconds, Amount::Whole(-2)),
            (Unit::Milliseconds, Amount::Whole(1)),
        ]);
        assert_eq!((d.seconds, d.nanos), (-2, 1_000_000));
        let n = negate(&d).unwrap();
        assert_eq!((n.seconds, n.nanos), (1, 999_000_000));
        assert_eq!(add(&d, &d, -1).unwrap(), Duration::default());
    }

    #[test]
    fn products_and_quotients() {
        let d = build(&[
            (Unit::Years, Amount::Whole(12)),
            (Unit::Months, Amount::Whole(5)),
            (Unit::Days, Amount::Whole(14)),
            (Unit::Seconds, Amount::Whole(58_390)),
            (Unit::Nanoseconds, Amount::Whole(1)),
        ]);
        let half = scale(&d, 0.5).unwrap();
        assert_eq!(half, divide(&d, 2.0).unwrap());
        // 74.5 months: the half month is 15.2184375 days.
        assert_eq!(
            (half.months, half.days, half.seconds, half.nanos),
            (74, 22, 48_068, 0)
        );
        assert_eq!(multiply(&d, 2).unwrap().nanos, 2);
        assert!(multiply(&d, i64::MAX).is_none());
    }
}
