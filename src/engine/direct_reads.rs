//! Grouping keys and aggregate arguments read straight from node records.
//!
//! `MATCH (p:Person) RETURN p.age, count(*)` spent most of its time per match building a node
//! value, binding it in an environment and evaluating `p.age` through it, to read one property.
//! When every key and every aggregate argument is a property of a pattern node (or, for `count`,
//! the node itself) and there is no WHERE, the aggregate walk reads them from the node's record
//! in place: nothing is built or bound per match, and a key value is copied only for a new group.

use std::sync::Arc;

use super::aggregate;
use crate::cypher::ast::Expr;
use crate::value::{Props, Value};

/// A property of one node of the match.
pub struct Prop {
    /// Which node: 0 the start, `i + 1` the node after step `i`.
    pub node: usize,
    /// The property, by its shared name.
    pub key: Arc<str>,
}

/// The reads of a plan that takes them all from records.
pub struct Direct {
    pub keys: Vec<Prop>,
    /// One per aggregate item, in order: the property its argument reads, or `None` when it
    /// only counts the match (`count(*)`, or `count(n)` of a pattern node, which is never null).
    pub args: Vec<Option<Prop>>,
}

impl Direct {
    /// The direct reads of `items` (name, expression, whether a grouping key), when every item
    /// has them. `nodes` names the pattern's nodes in match order.
    pub fn of(items: &[(String, Expr, bool)], nodes: &[Option<String>]) -> Option<Direct> {
        let position = |v: &str| nodes.iter().position(|n| n.as_deref() == Some(v));
        let property = |e: &Expr| match e {
            Expr::Property(target, key) => match target.as_ref() {
                Expr::Variable(v) => Some(Prop {
                    node: position(v)?,
                    key: crate::property_keys::shared(key),
                }),
                _ => None,
            },
            _ => None,
        };
        let mut direct = Direct {
            keys: Vec::new(),
            args: Vec::new(),
        };
        for (_, e, is_key) in items {
            if *is_key {
                direct.keys.push(property(e)?);
                continue;
            }
            let read = match e {
                Expr::CountStar => None,
                Expr::Call {
                    name,
                    distinct,
                    args,
                } if aggregate::takes_one_argument(name) => match args.as_slice() {
                    [Expr::Variable(v)] if name.eq_ignore_ascii_case("count") && !distinct => {
                        position(v)?;
                        None
                    }
                    [arg] => Some(property(arg)?),
                    _ => return None,
                },
                _ => return None,
            };
            direct.args.push(read);
        }
        Some(direct)
    }
}

/// The property `key` of a node whose properties are `props`; null when it has none, and for a
/// node missing from the graph (`None`), as evaluating `n.key` would give.
pub fn value<'p>(props: Option<&'p Props>, key: &Arc<str>) -> &'p Value {
    static NULL: Value = Value::Null;
    props.and_then(|p| p.get_shared(key)).unwrap_or(&NULL)
}
