//! Relationship types as small integers, so that an expansion filters edges by type with one
//! integer compare instead of looking up each relationship and comparing its type's text.
//!
//! The table is process-wide and only grows: a type gets its number the first time any graph
//! stores a relationship of that type, and keeps it. Numbers are never written to disk (the WAL
//! and snapshots keep type names), so they need not be stable across restarts, and graphs cloned
//! for snapshot isolation share them for free. Like Memgraph's name-to-id mapper, it holds one
//! entry per distinct type name ever used, which is small next to the relationships themselves.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

/// A relationship type's number (see the module's notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RelType(u32);

fn table() -> &'static RwLock<HashMap<Arc<str>, u32>> {
    static TABLE: OnceLock<RwLock<HashMap<Arc<str>, u32>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// The one shared copy of a type's name, entered in the table if new: stored relationships hold
/// it instead of a string of their own (a heap block per relationship otherwise).
pub fn shared_name(name: &str) -> Arc<str> {
    {
        let map = table().read().unwrap_or_else(|p| p.into_inner());
        if let Some((k, _)) = map.get_key_value(name) {
            return Arc::clone(k);
        }
    }
    intern(name);
    let map = table().read().unwrap_or_else(|p| p.into_inner());
    map.get_key_value(name)
        .map_or_else(|| Arc::from(name), |(k, _)| Arc::clone(k))
}

/// The number of `name`, given one if it has none yet.
pub fn intern(name: &str) -> RelType {
    if let Some(t) = lookup(name) {
        return t;
    }
    // A poisoned lock only means another thread panicked while inserting; the map is intact.
    let mut map = table().write().unwrap_or_else(|p| p.into_inner());
    let next = map.len() as u32;
    RelType(*map.entry(name.into()).or_insert(next))
}

/// The number of `name` if any relationship ever had that type; `None` means no graph in this
/// process can hold a relationship of that type, so a pattern asking for it matches nothing.
pub fn lookup(name: &str) -> Option<RelType> {
    let map = table().read().unwrap_or_else(|p| p.into_inner());
    map.get(name).copied().map(RelType)
}

/// The types a pattern accepts, resolved once per match: `Any` for a pattern without types.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeFilter {
    Any,
    /// Any of these (possibly none, when no relationship of the named types exists).
    OneOf(Vec<RelType>),
}

impl TypeFilter {
    pub fn new(names: &[String]) -> TypeFilter {
        if names.is_empty() {
            return TypeFilter::Any;
        }
        TypeFilter::OneOf(names.iter().filter_map(|n| lookup(n)).collect())
    }

    pub fn accepts(&self, t: RelType) -> bool {
        match self {
            TypeFilter::Any => true,
            TypeFilter::OneOf(types) => types.contains(&t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_numbers_and_unknown_types_match_nothing() {
        let a = intern("rel_types_test_A");
        assert_eq!(intern("rel_types_test_A"), a);
        assert_ne!(intern("rel_types_test_B"), a);
        assert_eq!(lookup("rel_types_test_A"), Some(a));
        let filter = TypeFilter::new(&["rel_types_test_A".into(), "rel_types_never".into()]);
        assert!(filter.accepts(a));
        assert!(!filter.accepts(intern("rel_types_test_B")));
        assert_eq!(
            TypeFilter::new(&["rel_types_never".into()]),
            TypeFilter::OneOf(vec![])
        );
        assert!(TypeFilter::new(&[]).accepts(a));
        let name = shared_name("rel_types_test_C");
        assert!(Arc::ptr_eq(&name, &shared_name("rel_types_test_C")));
        assert!(lookup("rel_types_test_C").is_some());
    }
}
