//! Functions of graph entities and of values as such: `id`, `elementId`, `labels`, `type`,
//! `properties`, `nodes`, `relationships`, `valueType`, `randomUUID`, `timestamp` and
//! Memgraph's `assert`.

use super::{arity, single, wrong, Function};
use crate::engine::EngineError;
use crate::value::Value;

pub(super) fn lookup(n: &str) -> Option<Function> {
    let f: Function = match n {
        "id" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::Node(n) => Ok(Value::Int(n.id)),
            Value::Relationship(r) => Ok(Value::Int(r.id)),
            other => Err(wrong(name, &other)),
        },
        // Memgraph's element ids are its internal ids, as strings.
        "elementid" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::Node(n) => Ok(Value::String(n.id.to_string())),
            Value::Relationship(r) => Ok(Value::String(r.id.to_string())),
            other => Err(wrong(name, &other)),
        },
        "labels" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::Node(n) => Ok(Value::List(
                n.labels().iter().cloned().map(Value::String).collect(),
            )),
            other => Err(wrong(name, &other)),
        },
        "type" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::Relationship(r) => Ok(Value::String(r.rel_type)),
            other => Err(wrong(name, &other)),
        },
        "properties" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::Node(n) => Ok(Value::Map(n.properties().to_map())),
            Value::Relationship(r) => Ok(Value::Map(r.properties)),
            Value::Map(m) => Ok(Value::Map(m)),
            other => Err(wrong(name, &other)),
        },
        "nodes" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::Path(p) => Ok(Value::List(p.nodes.into_iter().map(Value::Node).collect())),
            other => Err(wrong(name, &other)),
        },
        "relationships" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::Path(p) => Ok(Value::List(
                p.relationships
                    .into_iter()
                    .map(Value::Relationship)
                    .collect(),
            )),
            other => Err(wrong(name, &other)),
        },
        "valuetype" => |name, args| {
            let v = single(name, args)?;
            Ok(Value::String(value_type(&v)))
        },
        "randomuuid" => |name, args| {
            arity(name, &args, 0, 0)?;
            Ok(Value::String(random_uuid()))
        },
        "timestamp" => |name, args| {
            arity(name, &args, 0, 0)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| EngineError::database(format!("clock error: {e}")))?;
            Ok(Value::Int(now.as_millis() as i64))
        },
        "assert" => assert,
        _ => return None,
    };
    Some(f)
}

fn assert(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    arity(name, &args, 1, 2)?;
    match args.as_slice() {
        [Value::Bool(true), ..] => Ok(Value::Bool(true)),
        [Value::Bool(false) | Value::Null] => Err(EngineError::client("Assertion failed!")),
        [Value::Bool(false) | Value::Null, Value::String(message)] => {
            Err(EngineError::client(format!("Assertion failed: {message}")))
        }
        [other, ..] => Err(wrong(name, other)),
        [] => Err(wrong(name, &Value::Null)),
    }
}

/// A version 4 (random) UUID in its usual text form.
fn random_uuid() -> String {
    let (hi, lo) = (super::random_u64(), super::random_u64());
    // Version 4 in the third group, the RFC 4122 variant in the fourth.
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0xC000 << 48)) | (0x8000 << 48);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// The type name without nullability, in Neo4j's spelling; `None` for null.
fn base_type(v: &Value) -> Option<String> {
    Some(
        match v {
            Value::Null => return None,
            Value::Bool(_) => "BOOLEAN",
            Value::Int(_) => "INTEGER",
            Value::Float(_) => "FLOAT",
            Value::String(_) => "STRING",
            Value::Bytes(_) => "BYTE ARRAY",
            Value::Map(_) => "MAP",
            Value::Node(_) => "NODE",
            Value::Relationship(_) => "RELATIONSHIP",
            Value::Path(_) => "PATH",
            Value::Date(_) => "DATE",
            Value::Time { .. } => "ZONED TIME",
            Value::LocalTime(_) => "LOCAL TIME",
            Value::LocalDateTime { .. } => "LOCAL DATETIME",
            Value::DateTime { .. } => "ZONED DATETIME",
            Value::Duration(_) => "DURATION",
            Value::Point2D { .. } | Value::Point3D { .. } => "POINT",
            Value::List(items) => return Some(format!("LIST<{}>", element_type(items))),
        }
        .to_owned(),
    )
}

/// The element type of a list: one type, or a union of the types in it (in the order they first
/// appear), nullable when the list holds a null.
fn element_type(items: &[Value]) -> String {
    let mut kinds: Vec<String> = Vec::new();
    let mut nullable = false;
    for item in items {
        match base_type(item) {
            None => nullable = true,
            Some(k) => {
                if !kinds.contains(&k) {
                    kinds.push(k);
                }
            }
        }
    }
    match (kinds.is_empty(), nullable) {
        (true, false) => "NOTHING".to_owned(),
        (true, true) => "NULL".to_owned(),
        (false, true) => kinds.join(" | "),
        (false, false) => kinds
            .iter()
            .map(|k| format!("{k} NOT NULL"))
            .collect::<Vec<_>>()
            .join(" | "),
    }
}

/// `valueType(v)`: Neo4j's name of the value's type, e.g. `INTEGER NOT NULL` or
/// `LIST<STRING NOT NULL> NOT NULL`; `NULL` for null.
pub fn value_type(v: &Value) -> String {
    base_type(v).map_or_else(|| "NULL".to_owned(), |t| format!("{t} NOT NULL"))
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use super::*;
    use crate::value::{Node, Relationship};

    #[test]
    fn value_types_in_neo4j_spelling() {
        assert_eq!(value_type(&Value::Null), "NULL");
        assert_eq!(value_type(&Value::Int(1)), "INTEGER NOT NULL");
        assert_eq!(value_type(&Value::Date(0)), "DATE NOT NULL");
        assert_eq!(value_type(&Value::List(vec![])), "LIST<NOTHING> NOT NULL");
        assert_eq!(
            value_type(&Value::List(vec![Value::Int(1), Value::Int(2)])),
            "LIST<INTEGER NOT NULL> NOT NULL"
        );
        assert_eq!(
            value_type(&Value::List(vec![Value::Int(1), Value::Null])),
            "LIST<INTEGER> NOT NULL"
        );
        assert_eq!(
            value_type(&Value::List(vec![Value::Int(1), "a".into()])),
            "LIST<INTEGER NOT NULL | STRING NOT NULL> NOT NULL"
        );
        assert_eq!(
            value_type(&Value::List(vec![Value::List(vec![Value::Float(1.0)])])),
            "LIST<LIST<FLOAT NOT NULL> NOT NULL> NOT NULL"
        );
        assert_eq!(
            call("valueType", vec![Value::Null]).unwrap(),
            Value::from("NULL")
        );
    }

    #[test]
    fn uuids_are_version_4_and_differ() {
        let a = random_uuid();
        let b = random_uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!("89ab".contains(&a[19..20]), "{a}");
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }

    #[test]
    fn entity_functions() {
        let node = Value::Node(Node::new(7, vec!["A".into()], Default::default()));
        let rel = Value::Relationship(Relationship {
            id: 9,
            start: 7,
            end: 7,
            rel_type: "T".into(),
            properties: Default::default(),
        });
        assert_eq!(
            call("elementId", vec![node.clone()]).unwrap(),
            Value::from("7")
        );
        assert_eq!(
            call("elementId", vec![rel.clone()]).unwrap(),
            Value::from("9")
        );
        assert_eq!(call("id", vec![rel.clone()]).unwrap(), Value::Int(9));
        assert_eq!(call("type", vec![rel]).unwrap(), Value::from("T"));
        assert!(call("type", vec![node.clone()]).is_err());
        assert_eq!(
            call("labels", vec![node]).unwrap(),
            Value::List(vec!["A".into()])
        );
        assert!(call("id", vec![Value::Int(1)]).is_err());
        assert_eq!(call("elementId", vec![Value::Null]).unwrap(), Value::Null);
        assert!(call("assert", vec![Value::Bool(false)]).is_err());
    }
}
