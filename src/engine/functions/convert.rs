//! Type conversions: `toString`, `toInteger`, `toFloat`, `toBoolean`, their `...OrNull` forms
//! (null instead of an error for a value of the wrong type) and their `...List` forms (each
//! element converted, null where it cannot be).

use super::{single, wrong, Function};
use crate::engine::EngineError;
use crate::value::Value;

pub(super) fn lookup(n: &str) -> Option<Function> {
    let f: Function = match n {
        "tostring" => to_string,
        "tointeger" => |name, args| strict(name, args, to_integer),
        "tofloat" => |name, args| strict(name, args, to_float),
        "toboolean" => |name, args| strict(name, args, to_boolean),
        "tostringornull" => |name, args| or_null(name, args, to_string_value),
        "tointegerornull" => |name, args| or_null(name, args, to_integer),
        "tofloatornull" => |name, args| or_null(name, args, to_float),
        "tobooleanornull" => |name, args| or_null(name, args, to_boolean),
        "tostringlist" => |name, args| each(name, args, to_string_value),
        "tointegerlist" => |name, args| each(name, args, to_integer),
        "tofloatlist" => |name, args| each(name, args, to_float),
        "tobooleanlist" => |name, args| each(name, args, to_boolean),
        _ => return None,
    };
    Some(f)
}

/// A conversion: `Ok(None)` when the value is of a convertible type but does not convert (the
/// string "x" to an integer), `Err(())` when its type cannot be converted at all.
type Conversion = fn(&Value) -> Result<Option<Value>, ()>;

fn strict(name: &str, args: Vec<Value>, f: Conversion) -> Result<Value, EngineError> {
    let v = single(name, args)?;
    if v.is_null() {
        return Ok(Value::Null);
    }
    match f(&v) {
        Ok(out) => Ok(out.unwrap_or(Value::Null)),
        Err(()) => Err(wrong(name, &v)),
    }
}

fn or_null(name: &str, args: Vec<Value>, f: Conversion) -> Result<Value, EngineError> {
    let v = single(name, args)?;
    Ok(f(&v).ok().flatten().unwrap_or(Value::Null))
}

fn each(name: &str, args: Vec<Value>, f: Conversion) -> Result<Value, EngineError> {
    match single(name, args)? {
        Value::Null => Ok(Value::Null),
        Value::List(items) => Ok(Value::List(
            items
                .iter()
                .map(|v| f(v).ok().flatten().unwrap_or(Value::Null))
                .collect(),
        )),
        other => Err(wrong(name, &other)),
    }
}

fn to_integer(v: &Value) -> Result<Option<Value>, ()> {
    let from_float =
        |f: f64| (f.is_finite() && f.abs() < 9.2e18).then(|| Value::Int(f.trunc() as i64));
    Ok(match v {
        Value::Int(i) => Some(Value::Int(*i)),
        Value::Float(f) => from_float(*f),
        Value::Bool(b) => Some(Value::Int(i64::from(*b))),
        Value::String(s) => {
            let t = s.trim();
            match t.parse::<i64>() {
                Ok(i) => Some(Value::Int(i)),
                Err(_) => t.parse::<f64>().ok().and_then(from_float),
            }
        }
        _ => return Err(()),
    })
}

fn to_float(v: &Value) -> Result<Option<Value>, ()> {
    Ok(match v {
        Value::Int(i) => Some(Value::Float(*i as f64)),
        Value::Float(f) => Some(Value::Float(*f)),
        Value::String(s) => s.trim().parse::<f64>().ok().map(Value::Float),
        _ => return Err(()),
    })
}

fn to_boolean(v: &Value) -> Result<Option<Value>, ()> {
    Ok(match v {
        Value::Bool(b) => Some(Value::Bool(*b)),
        Value::Int(i) => Some(Value::Bool(*i != 0)),
        Value::String(s) => {
            let t = s.trim();
            if t.eq_ignore_ascii_case("true") {
                Some(Value::Bool(true))
            } else if t.eq_ignore_ascii_case("false") {
                Some(Value::Bool(false))
            } else {
                None
            }
        }
        _ => return Err(()),
    })
}

/// The types `toString` renders itself; temporal values are rendered by the temporal module.
fn to_string_value(v: &Value) -> Result<Option<Value>, ()> {
    Ok(Some(Value::String(match v {
        Value::Null => return Ok(None),
        Value::String(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Bool(b) => b.to_string(),
        p @ (Value::Point2D { .. } | Value::Point3D { .. }) => super::spatial::render(p),
        _ => return Err(()),
    })))
}

fn to_string(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    let v = single(name, args)?;
    match to_string_value(&v) {
        Ok(out) => Ok(out.unwrap_or(Value::Null)),
        // Temporal values were rendered before this was called (see eval.rs).
        Err(()) => Err(wrong(name, &v)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use crate::value::Value;

    #[test]
    fn strict_conversions() {
        assert_eq!(
            call("toInteger", vec!["42".into()]).unwrap(),
            Value::Int(42)
        );
        assert_eq!(
            call("toInteger", vec![" 4.7 ".into()]).unwrap(),
            Value::Int(4)
        );
        assert_eq!(call("toInteger", vec!["x".into()]).unwrap(), Value::Null);
        assert_eq!(
            call("toInteger", vec![Value::Float(f64::NAN)]).unwrap(),
            Value::Null
        );
        assert_eq!(
            call("toFloat", vec!["1.5".into()]).unwrap(),
            Value::Float(1.5)
        );
        assert_eq!(
            call("toBoolean", vec!["TRUE".into()]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            call("toBoolean", vec![Value::Int(0)]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            call("toString", vec![Value::Float(1.0)]).unwrap(),
            Value::from("1.0")
        );
        assert_eq!(call("toString", vec![Value::Null]).unwrap(), Value::Null);
        let e = call("toInteger", vec![Value::List(vec![])]).unwrap_err();
        assert_eq!(
            e.message,
            "Function toInteger() cannot take an argument of type LIST."
        );
        assert!(call("toBoolean", vec![Value::Float(1.0)]).is_err());
        assert!(call("toString", vec![Value::Map(Default::default())]).is_err());
    }

    #[test]
    fn or_null_and_list_conversions() {
        assert_eq!(
            call("toIntegerOrNull", vec![Value::List(vec![])]).unwrap(),
            Value::Null
        );
        assert_eq!(
            call("toFloatOrNull", vec![Value::Bool(true)]).unwrap(),
            Value::Null
        );
        assert_eq!(
            call("toBooleanOrNull", vec!["false".into()]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            call("toStringOrNull", vec![Value::Int(7)]).unwrap(),
            Value::from("7")
        );
        assert_eq!(
            call("toStringOrNull", vec![Value::Map(Default::default())]).unwrap(),
            Value::Null
        );
        let mixed = Value::List(vec![
            Value::Int(1),
            "2.5".into(),
            "x".into(),
            Value::Null,
            Value::List(vec![]),
        ]);
        assert_eq!(
            call("toIntegerList", vec![mixed.clone()]).unwrap(),
            Value::List(vec![
                Value::Int(1),
                Value::Int(2),
                Value::Null,
                Value::Null,
                Value::Null
            ])
        );
        assert_eq!(
            call("toStringList", vec![mixed]).unwrap(),
            Value::List(vec![
                "1".into(),
                "2.5".into(),
                "x".into(),
                Value::Null,
                Value::Null
            ])
        );
        assert_eq!(
            call(
                "toBooleanList",
                vec![Value::List(vec!["true".into(), Value::Int(0)])]
            )
            .unwrap(),
            Value::List(vec![Value::Bool(true), Value::Bool(false)])
        );
        assert_eq!(call("toFloatList", vec![Value::Null]).unwrap(), Value::Null);
        assert!(call("toFloatList", vec![Value::Int(1)]).is_err());
    }
}
