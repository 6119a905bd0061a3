//! One shared copy of each property name.
//!
//! Stored properties hold their key as an `Arc<str>` from this table instead of a `String`
//! each. With a heap block per key, 100,000 nodes with the same three properties held 300,000
//! copies of three words. Reading a property then compared against keys scattered over the heap
//! (a cache miss each), which made a lookup by name cost about 200 ns on the issue-14 graph. Shared
//! keys stay in cache and cost one pointer each.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock, RwLock};

/// How many distinct names are shared at most. Past it, new names get a copy of their own:
/// a client inventing names without end must not grow this table without bound.
const LIMIT: usize = 1 << 16;

fn table() -> &'static RwLock<HashSet<Arc<str>>> {
    static TABLE: OnceLock<RwLock<HashSet<Arc<str>>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// The shared copy of `name`, entered in the table if new.
pub fn shared(name: &str) -> Arc<str> {
    // A poisoned lock only means another thread panicked while inserting; the set is intact.
    if let Some(k) = table().read().unwrap_or_else(|p| p.into_inner()).get(name) {
        return Arc::clone(k);
    }
    let mut set = table().write().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = set.get(name) {
        return Arc::clone(k);
    }
    let k: Arc<str> = Arc::from(name);
    if set.len() < LIMIT {
        set.insert(Arc::clone(&k));
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shared() {
        let a = shared("property_keys_test_name");
        let b = shared(&String::from("property_keys_test_name"));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*a, "property_keys_test_name");
        assert!(!Arc::ptr_eq(&a, &shared("property_keys_test_other")));
    }
}
