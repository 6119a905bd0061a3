//! List and container functions: `range`, `coalesce`, `size`, `length`, `head`, `last`,
//! `tail`, `reverse` (lists and strings), `keys` and `isEmpty`.

use super::{arity, single, wrong, Function};
use crate::engine::EngineError;
use crate::value::Value;

/// Lists longer than this are refused when a function would build them in memory; `UNWIND
/// range(...)` streams instead and has no such limit.
pub const MAX_MATERIALIZED_LIST: i64 = 10_000_000;

pub(super) fn lookup(n: &str) -> Option<Function> {
    let f: Function = match n {
        "range" => range,
        "coalesce" => |_, args| {
            Ok(args
                .into_iter()
                .find(|v| !v.is_null())
                .unwrap_or(Value::Null))
        },
        "size" => size,
        "length" => length,
        "head" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::List(l) => Ok(l.into_iter().next().unwrap_or(Value::Null)),
            other => Err(wrong(name, &other)),
        },
        "last" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::List(l) => Ok(l.into_iter().last().unwrap_or(Value::Null)),
            other => Err(wrong(name, &other)),
        },
        "tail" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::List(l) => Ok(Value::List(l.into_iter().skip(1).collect())),
            other => Err(wrong(name, &other)),
        },
        "reverse" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::List(mut l) => {
                l.reverse();
                Ok(Value::List(l))
            }
            Value::String(s) => Ok(Value::String(s.chars().rev().collect())),
            other => Err(wrong(name, &other)),
        },
        "keys" => keys,
        "isempty" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::List(l) => Ok(Value::Bool(l.is_empty())),
            Value::Map(m) => Ok(Value::Bool(m.is_empty())),
            Value::String(s) => Ok(Value::Bool(s.is_empty())),
            other => Err(wrong(name, &other)),
        },
        _ => return None,
    };
    Some(f)
}

/// `size()` of a list, string or map. Paths have a `length()`, not a size, as openCypher says.
fn size(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    match single(name, args)? {
        Value::Null => Ok(Value::Null),
        Value::List(l) => Ok(Value::Int(l.len() as i64)),
        Value::String(s) => Ok(Value::Int(s.chars().count() as i64)),
        Value::Map(m) => Ok(Value::Int(m.len() as i64)),
        other => Err(wrong(name, &other)),
    }
}

/// `length()` of a path (its relationships); of strings and lists too, as older Cypher allowed.
fn length(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    match single(name, args)? {
        Value::Null => Ok(Value::Null),
        Value::Path(p) => Ok(Value::Int(p.relationships.len() as i64)),
        Value::List(l) => Ok(Value::Int(l.len() as i64)),
        Value::String(s) => Ok(Value::Int(s.chars().count() as i64)),
        other => Err(wrong(name, &other)),
    }
}

fn keys(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    let props = match single(name, args)? {
        Value::Null => return Ok(Value::Null),
        Value::Node(n) => n.properties().to_map(),
        Value::Relationship(r) => r.properties,
        Value::Map(m) => m,
        other => return Err(wrong(name, &other)),
    };
    Ok(Value::List(props.into_keys().map(Value::String).collect()))
}

fn range(_name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
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

#[cfg(test)]
mod tests {
    use super::super::call;
    use super::*;

    fn ints(v: &[i64]) -> Value {
        Value::List(v.iter().map(|i| Value::Int(*i)).collect())
    }

    #[test]
    fn range_semantics() {
        assert_eq!(range_iter(1, 5, 2).collect::<Vec<_>>(), vec![1, 3, 5]);
        assert_eq!(range_iter(5, 1, -2).collect::<Vec<_>>(), vec![5, 3, 1]);
        assert_eq!(range_iter(5, 1, 1).count(), 0);
        assert_eq!(range_len(i64::MIN, i64::MAX, 1), (1i128 << 64));
        assert!(call("range", vec![Value::Int(0), Value::Int(1), Value::Int(0)]).is_err());
        assert!(call("range", vec![Value::Int(0), Value::Int(i64::MAX)]).is_err());
        assert_eq!(
            call("range", vec![Value::Int(0), Value::Int(2)]).unwrap(),
            ints(&[0, 1, 2])
        );
    }

    #[test]
    fn container_functions() {
        assert_eq!(call("size", vec!["héllo".into()]).unwrap(), Value::Int(5));
        assert_eq!(call("head", vec![ints(&[])]).unwrap(), Value::Null);
        assert_eq!(call("last", vec![ints(&[1, 2])]).unwrap(), Value::Int(2));
        assert_eq!(call("tail", vec![ints(&[1, 2])]).unwrap(), ints(&[2]));
        assert_eq!(call("reverse", vec![ints(&[1, 2])]).unwrap(), ints(&[2, 1]));
        assert_eq!(
            call("reverse", vec!["abc".into()]).unwrap(),
            Value::from("cba")
        );
        assert_eq!(call("isEmpty", vec![ints(&[])]).unwrap(), Value::Bool(true));
        assert_eq!(
            call("isEmpty", vec!["a".into()]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(call("isEmpty", vec![Value::Null]).unwrap(), Value::Null);
        assert!(call("isEmpty", vec![Value::Int(1)]).is_err());
        assert_eq!(
            call("coalesce", vec![Value::Null, Value::Int(2)]).unwrap(),
            Value::Int(2)
        );
        let path = Value::Path(crate::value::Path {
            nodes: vec![],
            relationships: vec![],
        });
        assert!(call("size", vec![path.clone()]).is_err());
        assert_eq!(call("length", vec![path]).unwrap(), Value::Int(0));
        assert!(call("size", vec![Value::Int(1)]).is_err());
    }
}
