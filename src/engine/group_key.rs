//! Grouping keys of the aggregate walk (`count.rs`): hashed and compared as typed parts, so that
//! a match costs no text, and grouped in a map keyed by that hash.
//!
//! Values are told apart as `project::value_key` tells them (1 and 1.0 are one group), so both
//! paths group alike; only kinds that keys rarely are fall back to that text.
//!
//! Keys are hashed with foldhash rather than std's SipHash: a whole-label aggregation hashes
//! one key per node, and SipHash with the typed parts built for it was a third of such a
//! walk's instructions (about 340 of 990 per node). foldhash's `RandomState` is seeded at random
//! per process, so grouping keys taken from data cannot be chosen to collide.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use super::project::value_key;
use crate::value::Value;

/// One grouping key value, typed.
#[derive(PartialEq, Eq)]
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

impl KeyPart<'_> {
    /// Feeds the part to `h`, a tag then the payload, so that equal parts hash alike.
    fn feed(&self, h: &mut impl Hasher) {
        match self {
            KeyPart::Int(i) => {
                h.write_u8(0);
                h.write_i64(*i);
            }
            KeyPart::Node(id) => {
                h.write_u8(1);
                h.write_i64(*id);
            }
            KeyPart::Rel(id) => {
                h.write_u8(2);
                h.write_i64(*id);
            }
            KeyPart::Str(s) => {
                h.write_u8(3);
                s.hash(h);
            }
            KeyPart::Bool(b) => h.write_u8(4 + u8::from(*b)),
            KeyPart::Null => h.write_u8(6),
            KeyPart::Other(text) => {
                h.write_u8(7);
                text.hash(h);
            }
        }
    }
}

/// Hashes grouping keys for one walk.
#[derive(Default)]
pub struct KeyHashing(foldhash::fast::RandomState);

impl KeyHashing {
    /// The hash of a key given as its values in order.
    pub fn hash<'v>(&self, key: impl IntoIterator<Item = &'v Value>) -> u64 {
        let mut h = self.0.build_hasher();
        for v in key {
            KeyPart::of(v).feed(&mut h);
        }
        h.finish()
    }
}

/// Whether `stored` (a group's key) and `key` are one group.
pub fn same<'v>(stored: &[Value], key: impl IntoIterator<Item = &'v Value>) -> bool {
    let mut key = key.into_iter();
    stored
        .iter()
        .all(|x| key.next().is_some_and(|y| same_part(x, y)))
        && key.next().is_none()
}

/// One part of [`same`]: the kinds keys mostly are compared directly, the rest as typed parts.
fn same_part(x: &Value, y: &Value) -> bool {
    match (x, y) {
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        _ => KeyPart::of(x) == KeyPart::of(y),
    }
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
        let keys = KeyHashing::default();
        let hash = |k: &[Value]| keys.hash(k);
        let one = [Value::Int(1)];
        assert_eq!(hash(&one), hash(&[Value::Float(1.0)]));
        assert_ne!(hash(&one), hash(&[Value::Int(2)]));
        assert_ne!(hash(&one), hash(&[Value::String("1".into())]));
        assert_ne!(hash(&[Value::Null]), hash(&[Value::Bool(false)]));
        assert_eq!(
            hash(&[Value::List(vec![Value::Int(1)])]),
            hash(&[Value::List(vec![Value::Float(1.0)])])
        );
        let ab = [Value::String("a".into()), Value::String("b".into())];
        assert_eq!(hash(&ab), hash(&ab.clone()));
        assert_ne!(hash(&ab), hash(&[Value::String("ab".into())]));
        assert!(same(&ab, &ab.clone()));
        assert!(!same(
            &ab,
            &[Value::String("a".into()), Value::String("c".into())]
        ));
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
