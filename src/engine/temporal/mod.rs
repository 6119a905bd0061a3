//! Temporal values as openCypher defines them: the constructors `date()`, `time()`,
//! `localtime()`, `localdatetime()`, `datetime()` and `duration()`; the namespaced functions
//! (`datetime.statement()`, `date.truncate()`, `datetime.fromepoch()`, `duration.between()`...);
//! their arithmetic, ordering, components and text.
//!
//! Values keep the Bolt-shaped forms of [`crate::value`], which storage and Bolt depend on; the
//! files here take them apart into wall-clock fields ([`parts`]) and put them back:
//!
//! * [`calendar`]: Gregorian dates on integers (years ±999,999,999), ISO weeks, quarters.
//! * [`zone`]: offsets and IANA zones (chrono-tz), local time ↔ instant.
//! * [`parse`]: ISO 8601 text; [`format`]: `toString()`.
//! * [`construct`]: the constructors (strings, maps, other values, epochs);
//!   [`duration`]: building and normalising durations.
//! * [`clock`]: the transaction's and statement's instants.
//! * [`arith`]: `+`, `-`, `*`, `/`, ordering; [`truncate`]; [`between`]; [`accessors`].
//!
//! Nothing here touches the graph or the environment beyond the [`Clock`] it is handed.

pub mod accessors;
pub mod arith;
pub mod between;
pub mod calendar;
pub mod clock;
pub mod construct;
pub mod duration;
pub mod format;
pub mod parse;
pub mod parts;
pub mod truncate;
pub mod zone;

use std::cmp::Ordering;

pub use accessors::property;
pub use clock::Clock;

use super::EngineError;
use crate::value::Value;
use between::Span;
use parts::Kind;

/// The client error for bad input to `function`, saying what was wrong.
pub(crate) fn bad(function: &str, what: impl std::fmt::Display) -> EngineError {
    EngineError::client(format!("Invalid argument for {function}(): {what}."))
}

fn arity(function: &str, args: &[Value], min: usize, max: usize) -> Result<(), EngineError> {
    if args.len() < min || args.len() > max {
        let expected = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(EngineError::client(format!(
            "Function {function}() takes {expected} arguments, got {}.",
            args.len()
        )));
    }
    Ok(())
}

/// Calls the temporal function `name` (case-insensitive); `None` when `name` is not one, so
/// that the caller tries the other functions. `toString()` of a temporal value is answered here
/// too.
pub fn call(name: &str, args: &[Value], clock: &Clock) -> Option<Result<Value, EngineError>> {
    // Other functions leave here without allocating: this runs before every scalar function.
    let head = name.split('.').next().unwrap_or(name);
    let ours = [
        "date",
        "time",
        "localtime",
        "localdatetime",
        "datetime",
        "duration",
        "tostring",
    ];
    if !ours.iter().any(|f| f.eq_ignore_ascii_case(head)) {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let (head, tail) = match lower.split_once('.') {
        Some((h, t)) => (h, Some(t)),
        None => (lower.as_str(), None),
    };
    if head == "tostring" && tail.is_none() {
        return match args {
            [v] => format::to_string(v).map(|s| Ok(Value::String(s))),
            _ => None,
        };
    }
    if head == "duration" {
        let span = match tail {
            None => {
                return Some(
                    arity("duration", args, 1, 1).and_then(|_| construct::duration(&args[0])),
                )
            }
            Some("between") => Span::All,
            Some("inmonths") => Span::Months,
            Some("indays") => Span::Days,
            Some("inseconds") => Span::Seconds,
            Some(_) => return None,
        };
        return Some(
            arity(span.function(), args, 2, 2)
                .and_then(|_| between::between(span, &args[0], &args[1])),
        );
    }
    let kind = Kind::from_name(head)?;
    let function = kind.function();
    Some(match tail {
        None => arity(function, args, 0, 1).and_then(|_| match args.first() {
            None => clock::current(kind, clock.statement.into(), None),
            Some(arg) => construct::construct(kind, arg, clock),
        }),
        Some(which @ ("transaction" | "statement" | "realtime")) => {
            let instant = match which {
                "transaction" => clock.transaction.into(),
                "statement" => clock.statement.into(),
                _ => clock::now_nanos(),
            };
            let full = format!("{function}.{which}");
            arity(&full, args, 0, 1).and_then(|_| match args.first() {
                None => clock::current(kind, instant, None),
                Some(Value::Null) => Ok(Value::Null),
                Some(z) => {
                    let zone = construct::timezone(&full, z)?;
                    clock::current(kind, instant, Some(zone))
                }
            })
        }
        Some("truncate") => truncate::truncate(kind, args),
        Some("fromepoch") if kind == Kind::DateTime => {
            arity("datetime.fromepoch", args, 2, 2).and_then(|_| construct::from_epoch(args, false))
        }
        Some("fromepochmillis") if kind == Kind::DateTime => {
            arity("datetime.fromepochmillis", args, 1, 1)
                .and_then(|_| construct::from_epoch(args, true))
        }
        Some(_) => return None,
    })
}

/// `a op b` for temporal operands; `None` when no temporal rule applies.
pub fn apply(
    op: crate::cypher::ast::BinaryOp,
    a: &Value,
    b: &Value,
) -> Option<Result<Value, EngineError>> {
    arith::apply(op, a, b)
}

/// `-d` for a duration.
pub fn negate(d: &crate::value::Duration) -> Result<Value, EngineError> {
    arith::negate(d)
}

/// `<` between two zoned times.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (
            Value::Time {
                nanos: x,
                offset_seconds: ox,
            },
            Value::Time {
                nanos: y,
                offset_seconds: oy,
            },
        ) => Some(arith::compare_times((*x, *ox), (*y, *oy))),
        _ => None,
    }
}

/// The `ORDER BY` order of two durations.
pub fn order_durations(a: &crate::value::Duration, b: &crate::value::Duration) -> Ordering {
    arith::order_durations(a, b)
}
#[cfg(test)]
mod engine_tests;
