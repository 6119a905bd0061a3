//! Grouping keys of the aggregate walk (`count.rs`): hashed and compared as typed parts, so that
//! a match costs no text, and grouped in a map keyed by that hash.
//!
//! Values are told apart as `project::value_key` tells them (1 and 1.0 are one group), so both
//! paths group alike; only kinds that keys rarely are fall back to that text.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::project::value_key;
use crate::value::Value;

/// One grouping key value, typed.
#[derive(PartialEq, Eq, Hash)]
enum KeyPart<'a> {
    Int(i64),
    Node(i64),
    Rel(i64),
    Str(&'a str),
    Bool(bool),
    Null,
    /// Everything else, by its `value_key` text, which never starts like the kinds above.
    Other(String),
}

impl<'a> KeyPart<'a> {
    fn of(v: &'a Value) -> KeyPart<'a> {
        match v {
            Value::Int(i) => KeyPart::Int(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => KeyPart::Int(*f as i64),
            Value::Node(n) => KeyPart::Node(n.id),
            Value::Relationship(r) => KeyPart::Rel(r.id),
            Value::String(s) => KeyPart::Str(s),
            Value::Bool(b) => KeyPart::Bool(*b),
            Value::Null => KeyPart::Null,
            other => {
                let mut text = String::new();
                value_key(other, &mut text);
                KeyPart::Other(text)
            }
        }
    }
}

/// The hash of a key given as its values in order.
pub fn hash<'v>(key: impl IntoIterator<Item = &'v Value>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for v in key {
        KeyPart::of(v).hash(&mut h);
    }
    h.finish()
}

/// Whether `stored` (a group's key) and `key` are one group.
pub fn same<'v>(stored: &[Value], key: impl IntoIterator<Item = &'v Value>) -> bool {
    let mut key = key.into_iter();
    stored
        .iter()
        .all(|x| key.next().is_some_and(|y| KeyPart::of(x) == KeyPart::of(y)))
        && key.next().is_none()
}

/// Group positions by key hash, colliding keys side by side. The map's own hasher passes the
/// hash through: it is already one, and hashing it again cost as much as the first time.
pub type Index = HashMap<u64, Vec<usize>, BuildHasherDefault<Prehashed>>;

/// A hasher for keys that are hashes already.
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed with it; fold anything else in rather than panic.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_group_as_value_key_does() {
        let one = [Value::Int(1)];
        assert_eq!(hash(&one), hash(&[Value::Float(1.0)]));
        assert!(same(&one, &[Value::Float(1.0)]));
        assert!(!same(&one, &[Value::Float(1.5)]));
        assert!(!same(&one, &[Value::String("1".into())]));
        assert!(!same(&one, &[Value::Int(1), Value::Null]));
        assert!(!same(&[Value::Int(1), Value::Null], &one));
        let list = [Value::List(vec![Value::Int(1)])];
        assert!(same(&list, &[Value::List(vec![Value::Float(1.0)])]));
        assert!(!same(&list, &one));
    }
}
