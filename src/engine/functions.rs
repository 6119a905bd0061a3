//! Scalar functions. Names are case-insensitive, as in Cypher.

use super::EngineError;
use crate::value::Value;

/// Lists longer than this are refused when a function would build them in memory; `UNWIND
/// range(...)` streams instead and has no such limit.
pub const MAX_MATERIALIZED_LIST: i64 = 10_000_000;

/// Aggregates, which this slice recognises only to refuse clearly.
pub fn is_aggregate(name: &str) -> bool {
    ["count", "collect", "sum", "avg", "min", "max"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(name))
}

fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), EngineError> {
    if args.len() < min || args.len() > max {
        let expected = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(EngineError::client(format!(
            "Function {name}() takes {expected} arguments, got {}.",
            args.len()
        )));
    }
    Ok(())
}

fn wrong(name: &str, v: &Value) -> EngineError {
    EngineError::client(format!(
        "Function {name}() cannot take a {} argument.",
        v.type_name()
    ))
}

/// The bounds of `range(start, end[, step])`, checked.
pub fn range_args(args: &[Value]) -> Result<(i64, i64, i64), EngineError> {
    arity("range", args, 2, 3)?;
    let int = |v: &Value| match v {
        Value::Int(i) => Ok(*i),
        other => Err(wrong("range", other)),
    };
    let start = int(&args[0])?;
    let end = int(&args[1])?;
    let step = match args.get(2) {
        Some(v) => int(v)?,
        None => 1,
    };
    if step == 0 {
        return Err(EngineError::client(
            "Function range() cannot have a step of 0.",
        ));
    }
    Ok((start, end, step))
}

/// How many values `range` yields.
pub fn range_len(start: i64, end: i64, step: i64) -> i128 {
    let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
    if (step > 0 && start > end) || (step < 0 && start < end) {
        0
    } else {
        (end - start) / step + 1
    }
}

/// A lazy `range`, for UNWIND.
pub fn range_iter(start: i64, end: i64, step: i64) -> impl Iterator<Item = i64> {
    let count = range_len(start, end, step);
    (0..count).map(move |i| (i128::from(start) + i * i128::from(step)) as i64)
}

/// Calls scalar function `name`.
pub fn call(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    let lower = name.to_ascii_lowercase();
    let n = lower.as_str();
    match n {
        "range" => {
            let (start, end, step) = range_args(&args)?;
            let len = range_len(start, end, step);
            if len > i128::from(MAX_MATERIALIZED_LIST) {
                return Err(EngineError::client(format!(
                    "range() would build a list of {len} elements (the limit is \
                     {MAX_MATERIALIZED_LIST}); use UNWIND range(...) AS x, which streams."
                )));
            }
            Ok(Value::List(
                range_iter(start, end, step).map(Value::Int).collect(),
            ))
        }
        "coalesce" => Ok(args
            .into_iter()
            .find(|v| !v.is_null())
            .unwrap_or(Value::Null)),
        "timestamp" => {
            arity(name, &args, 0, 0)?;
            timestamp()
        }
        _ => {
            arity(name, &args, 1, 1)?;
            let arg = args.into_iter().next().unwrap_or(Value::Null);
            unary(name, n, arg)
        }
    }
}

fn unary(name: &str, n: &str, arg: Value) -> Result<Value, EngineError> {
    if arg.is_null() && n != "tostring" {
        return match n {
            "size" | "head" | "last" | "tail" | "keys" | "tointeger" | "tofloat" | "toboolean"
            | "abs" | "toupper" | "tolower" | "trim" | "ltrim" | "rtrim" | "sqrt" | "ceil"
            | "floor" | "round" | "sign" | "reverse" => Ok(Value::Null),
            _ => Err(unknown(name)),
        };
    }
    Ok(match (n, arg) {
        ("tostring", Value::Null) => Value::Null,
        ("size", Value::List(l)) => Value::Int(l.len() as i64),
        ("size", Value::String(s)) => Value::Int(s.chars().count() as i64),
        ("size", Value::Map(m)) => Value::Int(m.len() as i64),
        ("head", Value::List(l)) => l.into_iter().next().unwrap_or(Value::Null),
        ("last", Value::List(l)) => l.into_iter().last().unwrap_or(Value::Null),
        ("tail", Value::List(l)) => Value::List(l.into_iter().skip(1).collect()),
        ("reverse", Value::List(mut l)) => {
            l.reverse();
            Value::List(l)
        }
        ("reverse", Value::String(s)) => Value::String(s.chars().rev().collect()),
        ("keys", Value::Map(m)) => Value::List(m.into_keys().map(Value::String).collect()),
        ("tostring", Value::String(s)) => Value::String(s),
        ("tostring", Value::Int(i)) => Value::String(i.to_string()),
        ("tostring", Value::Float(f)) => Value::String(format!("{f:?}")),
        ("tostring", Value::Bool(b)) => Value::String(b.to_string()),
        ("tointeger", Value::Int(i)) => Value::Int(i),
        ("tointeger", Value::Float(f)) => {
            if f.is_finite() && f.abs() < 9.2e18 {
                Value::Int(f.trunc() as i64)
            } else {
                Value::Null
            }
        }
        ("tointeger", Value::String(s)) => {
            let t = s.trim();
            t.parse::<i64>()
                .map(Value::Int)
                .or_else(|_| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite() && f.abs() < 9.2e18)
                        .map(|f| Value::Int(f.trunc() as i64))
                        .ok_or(())
                })
                .unwrap_or(Value::Null)
        }
        ("tointeger", Value::Bool(b)) => Value::Int(i64::from(b)),
        ("tofloat", Value::Int(i)) => Value::Float(i as f64),
        ("tofloat", Value::Float(f)) => Value::Float(f),
        ("tofloat", Value::String(s)) => s.trim().parse::<f64>().map_or(Value::Null, Value::Float),
        ("toboolean", Value::Bool(b)) => Value::Bool(b),
        ("toboolean", Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::Null,
        },
        ("toboolean", Value::Int(i)) => Value::Bool(i != 0),
        ("abs", Value::Int(i)) => Value::Int(
            i.checked_abs()
                .ok_or_else(|| EngineError::client("Integer overflow in abs()."))?,
        ),
        ("abs", Value::Float(f)) => Value::Float(f.abs()),
        ("sign", Value::Int(i)) => Value::Int(i.signum()),
        ("sign", Value::Float(f)) => Value::Int(if f > 0.0 {
            1
        } else if f < 0.0 {
            -1
        } else {
            0
        }),
        ("sqrt", Value::Int(i)) => Value::Float((i as f64).sqrt()),
        ("sqrt", Value::Float(f)) => Value::Float(f.sqrt()),
        ("ceil", Value::Int(i)) => Value::Float(i as f64),
        ("ceil", Value::Float(f)) => Value::Float(f.ceil()),
        ("floor", Value::Int(i)) => Value::Float(i as f64),
        ("floor", Value::Float(f)) => Value::Float(f.floor()),
        ("round", Value::Int(i)) => Value::Float(i as f64),
        ("round", Value::Float(f)) => Value::Float(f.round()),
        ("toupper", Value::String(s)) => Value::String(s.to_uppercase()),
        ("tolower", Value::String(s)) => Value::String(s.to_lowercase()),
        ("trim", Value::String(s)) => Value::String(s.trim().to_owned()),
        ("ltrim", Value::String(s)) => Value::String(s.trim_start().to_owned()),
        ("rtrim", Value::String(s)) => Value::String(s.trim_end().to_owned()),
        (
            "size" | "head" | "last" | "tail" | "keys" | "tostring" | "tointeger" | "tofloat"
            | "toboolean" | "abs" | "sign" | "sqrt" | "ceil" | "floor" | "round" | "toupper"
            | "tolower" | "trim" | "ltrim" | "rtrim" | "reverse",
            other,
        ) => return Err(wrong(name, &other)),
        _ => return Err(unknown(name)),
    })
}

fn unknown(name: &str) -> EngineError {
    EngineError::client(format!("Function '{name}' doesn't exist."))
}

fn timestamp() -> Result<Value, EngineError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| EngineError::database(format!("clock error: {e}")))?;
    Ok(Value::Int(now.as_millis() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_semantics() {
        assert_eq!(range_iter(1, 5, 2).collect::<Vec<_>>(), vec![1, 3, 5]);
        assert_eq!(range_iter(5, 1, -2).collect::<Vec<_>>(), vec![5, 3, 1]);
        assert_eq!(range_iter(5, 1, 1).count(), 0);
        assert_eq!(range_len(i64::MIN, i64::MAX, 1), (1i128 << 64));
        assert!(call("range", vec![Value::Int(0), Value::Int(1), Value::Int(0)]).is_err());
        assert!(call("range", vec![Value::Int(0), Value::Int(i64::MAX)]).is_err());
    }

    #[test]
    fn conversions_and_strings() {
        assert_eq!(
            call("toInteger", vec!["42".into()]).unwrap(),
            Value::Int(42)
        );
        assert_eq!(
            call("toInteger", vec!["4.7".into()]).unwrap(),
            Value::Int(4)
        );
        assert_eq!(call("toInteger", vec!["x".into()]).unwrap(), Value::Null);
        assert_eq!(
            call("TOUPPER", vec!["ab".into()]).unwrap(),
            Value::from("AB")
        );
        assert_eq!(call("size", vec!["héllo".into()]).unwrap(), Value::Int(5));
        assert_eq!(
            call("coalesce", vec![Value::Null, Value::Int(2)]).unwrap(),
            Value::Int(2)
        );
        assert!(call("nope", vec![Value::Int(1)])
            .unwrap_err()
            .message
            .contains("nope"));
        assert!(call("size", vec![Value::Int(1)]).is_err());
        assert!(call("abs", vec![Value::Int(i64::MIN)]).is_err());
    }
}
