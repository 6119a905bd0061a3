//! Scalar functions. Names are case-insensitive, as in Cypher; one file per family under
//! `functions/` ([`math`], [`string`], [`list`], [`convert`], [`spatial`], [`entity`]), and
//! this file dispatches to them.
//!
//! Null in, null out: unless a function says otherwise (`coalesce`, `valueType`, `toString`),
//! a null argument gives null. A wrong argument type is a client error naming the function and
//! the type.

pub mod convert;
pub mod entity;
pub mod list;
pub mod math;
pub mod spatial;
pub mod string;

use super::EngineError;
use crate::value::Value;

pub use list::{range_args, range_iter, range_len, MAX_MATERIALIZED_LIST};

/// A function's implementation: its name as the user wrote it (for messages) and its arguments.
pub(crate) type Function = fn(&str, Vec<Value>) -> Result<Value, EngineError>;

/// Every function the engine answers, as written in the docs; `mg.functions()` and
/// `dbms.functions()` list these. A function added to the engine is added here too.
pub const NAMES: &[&str] = &[
    "abs",
    "acos",
    "asin",
    "assert",
    "atan",
    "atan2",
    "avg",
    "ceil",
    "coalesce",
    "collect",
    "cos",
    "cot",
    "count",
    "date",
    "datetime",
    "degrees",
    "duration",
    "e",
    "elementId",
    "endNode",
    "exists",
    "exp",
    "floor",
    "haversin",
    "head",
    "id",
    "isEmpty",
    "isNaN",
    "keys",
    "labels",
    "last",
    "left",
    "length",
    "localdatetime",
    "localtime",
    "log",
    "log10",
    "ltrim",
    "max",
    "min",
    "nodes",
    "percentileCont",
    "percentileDisc",
    "pi",
    "point",
    "point.distance",
    "point.withinbbox",
    "properties",
    "radians",
    "rand",
    "randomUUID",
    "range",
    "relationships",
    "replace",
    "reverse",
    "right",
    "round",
    "rtrim",
    "sign",
    "sin",
    "size",
    "split",
    "sqrt",
    "startNode",
    "stDev",
    "stDevP",
    "substring",
    "sum",
    "tail",
    "tan",
    "timestamp",
    "toBoolean",
    "toBooleanList",
    "toBooleanOrNull",
    "toFloat",
    "toFloatList",
    "toFloatOrNull",
    "toInteger",
    "toIntegerList",
    "toIntegerOrNull",
    "toLower",
    "toString",
    "toStringList",
    "toStringOrNull",
    "toUpper",
    "trim",
    "type",
    "valueType",
];

/// The aggregates are evaluated by the projection (WITH/RETURN), never as scalar functions; the
/// front end's semantic pass knows them by the same list.
pub use crate::cypher::semantic::is_aggregate;

/// The longest function name dispatched here; longer names cannot be ours.
const MAX_NAME: usize = 24;

/// A function name lower-cased into a stack buffer, so that dispatch never allocates.
struct Lowered {
    buf: [u8; MAX_NAME],
    len: usize,
}

impl Lowered {
    fn new(name: &str) -> Option<Self> {
        let bytes = name.as_bytes();
        if bytes.len() > MAX_NAME {
            return None;
        }
        let mut buf = [0u8; MAX_NAME];
        for (b, c) in buf.iter_mut().zip(bytes) {
            *b = c.to_ascii_lowercase();
        }
        Some(Lowered {
            buf,
            len: bytes.len(),
        })
    }

    fn as_str(&self) -> &str {
        // Lower-casing ASCII bytes keeps UTF-8 valid; a non-UTF-8 result cannot happen, and
        // would only make the name unknown.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// The implementation of the lower-case name `n`, if there is one.
fn lookup(n: &str) -> Option<Function> {
    math::lookup(n)
        .or_else(|| string::lookup(n))
        .or_else(|| list::lookup(n))
        .or_else(|| convert::lookup(n))
        .or_else(|| entity::lookup(n))
        .or_else(|| spatial::lookup(n))
}

/// Calls scalar function `name`.
pub fn call(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    let found = Lowered::new(name).and_then(|n| lookup(n.as_str()));
    match found {
        Some(f) => f(name, args),
        // Temporal functions were tried before (they need the clock; see eval.rs).
        None => Err(unknown(name)),
    }
}

/// Fails unless there are `min..=max` arguments.
pub(crate) fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), EngineError> {
    if args.len() < min || args.len() > max {
        let expected = match (min, max) {
            (1, 1) => "1 argument".to_owned(),
            (a, b) if a == b => format!("{a} arguments"),
            (a, b) => format!("{a} to {b} arguments"),
        };
        return Err(EngineError::client(format!(
            "Function {name}() takes {expected}, got {}.",
            args.len()
        )));
    }
    Ok(())
}

/// The one argument of a one-argument function.
pub(crate) fn single(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    arity(name, &args, 1, 1)?;
    Ok(args.into_iter().next().unwrap_or(Value::Null))
}

/// The two arguments of a two-argument function.
pub(crate) fn pair(name: &str, args: Vec<Value>) -> Result<(Value, Value), EngineError> {
    arity(name, &args, 2, 2)?;
    let mut it = args.into_iter();
    Ok((
        it.next().unwrap_or(Value::Null),
        it.next().unwrap_or(Value::Null),
    ))
}

/// The error for an argument of a type the function does not take.
pub(crate) fn wrong(name: &str, v: &Value) -> EngineError {
    EngineError::client(format!(
        "Function {name}() cannot take an argument of type {}.",
        v.type_name()
    ))
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

/// 64 random bits from the standard library's randomly keyed hasher, which is all `rand()` and
/// `randomUUID()` need (they are not for cryptography). Every `RandomState` has fresh keys.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into()),
    );
    h.finish()
}

fn unknown(name: &str) -> EngineError {
    EngineError::client(format!("Function '{name}' doesn't exist."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_is_case_insensitive_and_names_unknown_functions() {
        assert_eq!(
            call("TOUPPER", vec!["ab".into()]).unwrap(),
            Value::from("AB")
        );
        assert_eq!(
            call("Pi", vec![]).unwrap(),
            Value::Float(std::f64::consts::PI)
        );
        let e = call("nope", vec![Value::Int(1)]).unwrap_err();
        assert_eq!(e.message, "Function 'nope' doesn't exist.");
        let long = "x".repeat(100);
        assert!(call(&long, vec![]).unwrap_err().message.contains(&long));
        assert!(is_aggregate("percentileDisc") && is_aggregate("STDEVP"));
        assert!(!is_aggregate("size"));
    }

    #[test]
    fn every_listed_function_is_answered() {
        let elsewhere = ["exists", "startnode", "endnode"];
        for name in NAMES {
            let n = name.to_ascii_lowercase();
            let known = is_aggregate(name)
                || elsewhere.contains(&n.as_str())
                || lookup(&n).is_some()
                || super::super::temporal::call(name, &[], &super::super::temporal::Clock::now())
                    .is_some();
            assert!(known, "{name} is listed but not answered");
        }
    }

    #[test]
    fn arity_errors_name_the_function() {
        let e = call("size", vec![]).unwrap_err();
        assert_eq!(e.message, "Function size() takes 1 argument, got 0.");
        let e = call("atan2", vec![Value::Int(1)]).unwrap_err();
        assert_eq!(e.message, "Function atan2() takes 2 arguments, got 1.");
    }
}
