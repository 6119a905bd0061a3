//! Scalar functions. Names are case-insensitive, as in Cypher.

use super::EngineError;
use crate::value::Value;

/// Lists longer than this are refused when a function would build them in memory; `UNWIND
/// range(...)` streams instead and has no such limit.
pub const MAX_MATERIALIZED_LIST: i64 = 10_000_000;

/// Every function the engine answers, as written in the docs; `mg.functions()` and
/// `dbms.functions()` list these. A function added to the engine is added here too.
pub const NAMES: &[&str] = &[
    "abs",
    "assert",
    "avg",
    "ceil",
    "coalesce",
    "collect",
    "count",
    "date",
    "datetime",
    "duration",
    "endNode",
    "exists",
    "floor",
    "head",
    "id",
    "keys",
    "labels",
    "last",
    "left",
    "length",
    "localdatetime",
    "localtime",
    "ltrim",
    "max",
    "min",
    "nodes",
    "properties",
    "rand",
    "range",
    "relationships",
    "replace",
    "reverse",
    "right",
    "round",
    "rtrim",
    "sign",
    "size",
    "split",
    "sqrt",
    "startNode",
    "substring",
    "sum",
    "tail",
    "timestamp",
    "toBoolean",
    "toFloat",
    "toInteger",
    "toLower",
    "toString",
    "toUpper",
    "trim",
    "type",
];

/// Aggregates: evaluated by the projection (WITH/RETURN), never as scalar functions.
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
        "rand" => {
            arity(name, &args, 0, 0)?;
            Ok(Value::Float(random_unit()))
        }
        "assert" => {
            arity(name, &args, 1, 2)?;
            match args.as_slice() {
                [Value::Bool(true), ..] => Ok(Value::Bool(true)),
                [Value::Bool(false) | Value::Null] => Err(EngineError::client("Assertion failed!")),
                [Value::Bool(false) | Value::Null, Value::String(message)] => {
                    Err(EngineError::client(format!("Assertion failed: {message}")))
                }
                [other, ..] => Err(wrong(name, other)),
                [] => Err(unknown(name)),
            }
        }
        "split" => {
            arity(name, &args, 2, 2)?;
            match (&args[0], &args[1]) {
                (Value::Null, _) | (_, Value::Null) => Ok(Value::Null),
                (Value::String(s), Value::String(d)) => {
                    Ok(Value::List(s.split(d.as_str()).map(Value::from).collect()))
                }
                (a, _) => Err(wrong(name, a)),
            }
        }
        "substring" => {
            arity(name, &args, 2, 3)?;
            let s = match &args[0] {
                Value::Null => return Ok(Value::Null),
                Value::String(s) => s,
                other => return Err(wrong(name, other)),
            };
            let count = |v: &Value| match v {
                Value::Int(i) if *i >= 0 => Ok(usize::try_from(*i).unwrap_or(usize::MAX)),
                other => Err(EngineError::client(format!(
                    "Function substring() needs non-negative INTEGER positions, got {other}."
                ))),
            };
            let start = count(&args[1])?;
            let len = args.get(2).map(count).transpose()?.unwrap_or(usize::MAX);
            Ok(Value::String(s.chars().skip(start).take(len).collect()))
        }
        "replace" => {
            arity(name, &args, 3, 3)?;
            match (&args[0], &args[1], &args[2]) {
                (Value::String(s), Value::String(from), Value::String(to)) => {
                    if from.is_empty() {
                        return Ok(Value::String(s.clone()));
                    }
                    Ok(Value::String(s.replace(from.as_str(), to)))
                }
                (a, b, c) if a.is_null() || b.is_null() || c.is_null() => Ok(Value::Null),
                (a, _, _) => Err(wrong(name, a)),
            }
        }
        "left" | "right" => {
            arity(name, &args, 2, 2)?;
            match (&args[0], &args[1]) {
                (Value::Null, _) => Ok(Value::Null),
                (Value::String(s), Value::Int(n)) if *n >= 0 => {
                    let n = usize::try_from(*n).unwrap_or(usize::MAX);
                    let chars: Vec<char> = s.chars().collect();
                    let k = n.min(chars.len());
                    Ok(Value::String(if lower == "left" {
                        chars[..k].iter().collect()
                    } else {
                        chars[chars.len() - k..].iter().collect()
                    }))
                }
                (a, _) => Err(wrong(name, a)),
            }
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
            | "floor" | "round" | "sign" | "reverse" | "id" | "labels" | "type" | "properties"
            | "nodes" | "relationships" | "length" => Ok(Value::Null),
            _ => Err(unknown(name)),
        };
    }
    Ok(match (n, arg) {
        ("tostring", Value::Null) => Value::Null,
        ("id", Value::Node(n)) => Value::Int(n.id),
        ("id", Value::Relationship(r)) => Value::Int(r.id),
        ("labels", Value::Node(n)) => {
            Value::List(n.labels.into_iter().map(Value::String).collect())
        }
        ("type", Value::Relationship(r)) => Value::String(r.rel_type),
        ("properties", Value::Node(n)) => Value::Map(n.properties),
        ("properties", Value::Relationship(r)) => Value::Map(r.properties),
        ("properties", Value::Map(m)) => Value::Map(m),
        ("keys", Value::Node(n)) => {
            Value::List(n.properties.into_keys().map(Value::String).collect())
        }
        ("keys", Value::Relationship(r)) => {
            Value::List(r.properties.into_keys().map(Value::String).collect())
        }
        ("nodes", Value::Path(p)) => Value::List(p.nodes.into_iter().map(Value::Node).collect()),
        ("relationships", Value::Path(p)) => Value::List(
            p.relationships
                .into_iter()
                .map(Value::Relationship)
                .collect(),
        ),
        ("length", Value::Path(p)) => Value::Int(p.relationships.len() as i64),
        ("length" | "size", Value::List(l)) => Value::Int(l.len() as i64),
        ("length", Value::String(s)) => Value::Int(s.chars().count() as i64),
        ("size", Value::Path(p)) => Value::Int(p.relationships.len() as i64),
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
            | "tolower" | "trim" | "ltrim" | "rtrim" | "reverse" | "id" | "labels" | "type"
            | "properties" | "nodes" | "relationships" | "length",
            other,
        ) => return Err(wrong(name, &other)),
        _ => return Err(unknown(name)),
    })
}

/// `text =~ pattern`: the whole string must match, as in Cypher.
pub fn regex_match(text: &str, pattern: &str) -> Result<bool, EngineError> {
    let anchored = format!("^(?:{pattern})$");
    let re = regex::RegexBuilder::new(&anchored)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| EngineError::client(format!("Invalid regular expression '{pattern}': {e}")))?;
    Ok(re.is_match(text))
}

/// A float in [0, 1) from the standard library's randomly keyed hasher, which is all `rand()`
/// needs (it is not for cryptography).
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
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
