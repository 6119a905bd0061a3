//! String functions: `left`, `right`, `substring`, `replace`, `split`, the trims and the case
//! changes. Positions and lengths count characters (Unicode scalar values), not bytes.

use super::{arity, pair, single, wrong, Function};
use crate::engine::EngineError;
use crate::value::Value;

pub(super) fn lookup(n: &str) -> Option<Function> {
    let f: Function = match n {
        "left" => |name, args| left_right(name, args, true),
        "right" => |name, args| left_right(name, args, false),
        "substring" => substring,
        "replace" => replace,
        "split" => split,
        "trim" | "btrim" => |name, args| trim(name, args, true, true),
        "ltrim" => |name, args| trim(name, args, true, false),
        "rtrim" => |name, args| trim(name, args, false, true),
        "toupper" | "upper" => |name, args| map_str(name, args, |s| s.to_uppercase()),
        "tolower" | "lower" => |name, args| map_str(name, args, |s| s.to_lowercase()),
        _ => return None,
    };
    Some(f)
}

fn map_str(name: &str, args: Vec<Value>, f: fn(&str) -> String) -> Result<Value, EngineError> {
    match single(name, args)? {
        Value::Null => Ok(Value::Null),
        Value::String(s) => Ok(Value::String(f(&s))),
        other => Err(wrong(name, &other)),
    }
}

/// `trim(s)` drops white space; `trim(s, chars)` (as Neo4j allows) drops any of `chars`.
fn trim(name: &str, args: Vec<Value>, start: bool, end: bool) -> Result<Value, EngineError> {
    arity(name, &args, 1, 2)?;
    let s = match &args[0] {
        Value::Null => return Ok(Value::Null),
        Value::String(s) => s.as_str(),
        other => return Err(wrong(name, other)),
    };
    let out = match args.get(1) {
        None => match (start, end) {
            (true, true) => s.trim(),
            (true, false) => s.trim_start(),
            _ => s.trim_end(),
        },
        Some(Value::Null) => return Ok(Value::Null),
        Some(Value::String(chars)) => {
            let strip = |c: char| chars.contains(c);
            match (start, end) {
                (true, true) => s.trim_matches(strip),
                (true, false) => s.trim_start_matches(strip),
                _ => s.trim_end_matches(strip),
            }
        }
        Some(other) => return Err(wrong(name, other)),
    };
    Ok(Value::String(out.to_owned()))
}

fn split(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    let (s, d) = pair(name, args)?;
    let s = match s {
        Value::Null => return Ok(Value::Null),
        Value::String(s) => s,
        other => return Err(wrong(name, &other)),
    };
    let parts: Vec<Value> = match d {
        Value::Null => return Ok(Value::Null),
        // An empty delimiter splits into characters.
        Value::String(d) if d.is_empty() => s.chars().map(|c| Value::String(c.into())).collect(),
        Value::String(d) => s.split(d.as_str()).map(Value::from).collect(),
        // Several delimiters, as Neo4j allows: split at any of them.
        Value::List(ds) => {
            let mut delims = Vec::with_capacity(ds.len());
            for d in ds {
                match d {
                    Value::String(d) if !d.is_empty() => delims.push(d),
                    Value::String(_) => {}
                    Value::Null => return Ok(Value::Null),
                    other => return Err(wrong(name, &other)),
                }
            }
            split_any(&s, &delims)
        }
        other => return Err(wrong(name, &other)),
    };
    Ok(Value::List(parts))
}

fn split_any(s: &str, delims: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut from = 0;
    let mut at = 0;
    while at < s.len() {
        if let Some(d) = delims.iter().find(|d| s[at..].starts_with(d.as_str())) {
            out.push(Value::from(&s[from..at]));
            at += d.len();
            from = at;
        } else {
            at += s[at..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push(Value::from(&s[from..]));
    out
}

fn substring(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
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

fn replace(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    arity(name, &args, 3, 3)?;
    match (&args[0], &args[1], &args[2]) {
        (Value::String(s), Value::String(from), Value::String(to)) => {
            if from.is_empty() {
                return Ok(Value::String(s.clone()));
            }
            Ok(Value::String(s.replace(from.as_str(), to)))
        }
        (a, b, c) if a.is_null() || b.is_null() || c.is_null() => Ok(Value::Null),
        (Value::String(_), Value::String(_), c) => Err(wrong(name, c)),
        (Value::String(_), b, _) => Err(wrong(name, b)),
        (a, _, _) => Err(wrong(name, a)),
    }
}

fn left_right(name: &str, args: Vec<Value>, left: bool) -> Result<Value, EngineError> {
    let (s, n) = pair(name, args)?;
    match (s, n) {
        (Value::Null, _) => Ok(Value::Null),
        (Value::String(s), Value::Int(n)) if n >= 0 => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            Ok(Value::String(if left {
                s.chars().take(n).collect()
            } else {
                let len = s.chars().count();
                s.chars().skip(len.saturating_sub(n)).collect()
            }))
        }
        (Value::String(_), Value::Int(n)) => Err(EngineError::client(format!(
            "Function {name}() needs a non-negative length, got {n}."
        ))),
        (Value::String(_), other) => Err(wrong(name, &other)),
        (other, _) => Err(wrong(name, &other)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use crate::value::Value;

    fn s(v: &str) -> Value {
        Value::from(v)
    }

    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|i| s(i)).collect())
    }

    #[test]
    fn slicing_by_characters() {
        assert_eq!(
            call("left", vec![s("héllo"), Value::Int(2)]).unwrap(),
            s("hé")
        );
        assert_eq!(
            call("right", vec![s("héllo"), Value::Int(9)]).unwrap(),
            s("héllo")
        );
        assert_eq!(
            call("right", vec![s("hello"), Value::Int(3)]).unwrap(),
            s("llo")
        );
        assert_eq!(
            call("left", vec![Value::Null, Value::Int(3)]).unwrap(),
            Value::Null
        );
        assert!(call("left", vec![s("a"), Value::Int(-1)]).is_err());
        assert!(call("left", vec![s("a"), Value::Null]).is_err());
        assert_eq!(
            call("substring", vec![s("héllo"), Value::Int(1), Value::Int(3)]).unwrap(),
            s("éll")
        );
    }

    #[test]
    fn trims_splits_and_cases() {
        assert_eq!(call("trim", vec![s("  a b  ")]).unwrap(), s("a b"));
        assert_eq!(call("ltrim", vec![s("  a ")]).unwrap(), s("a "));
        assert_eq!(call("rtrim", vec![s("  a ")]).unwrap(), s("  a"));
        assert_eq!(call("trim", vec![s("xxaxx"), s("x")]).unwrap(), s("a"));
        assert_eq!(call("toLower", vec![s("ÀB")]).unwrap(), s("àb"));
        assert_eq!(call("upper", vec![s("ab")]).unwrap(), s("AB"));
        assert_eq!(
            call("split", vec![s("a,b"), s(",")]).unwrap(),
            list(&["a", "b"])
        );
        assert_eq!(
            call("split", vec![s("ab"), s("")]).unwrap(),
            list(&["a", "b"])
        );
        assert_eq!(
            call("split", vec![s("a,b;c"), list(&[",", ";"])]).unwrap(),
            list(&["a", "b", "c"])
        );
        assert_eq!(
            call("split", vec![s("a"), Value::Null]).unwrap(),
            Value::Null
        );
        assert_eq!(
            call("replace", vec![s("aXbX"), s("X"), s("-")]).unwrap(),
            s("a-b-")
        );
        let e = call("replace", vec![s("a"), s("b"), Value::Int(1)]).unwrap_err();
        assert_eq!(
            e.message,
            "Function replace() cannot take an argument of type INTEGER."
        );
        assert!(call("toUpper", vec![Value::Int(1)]).is_err());
    }
}
