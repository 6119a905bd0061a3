//! The property graph one transaction sees: nodes, relationships, adjacency and indexes.
//!
//! Every collection is a persistent map (`imbl`), so cloning a whole graph is O(1) and shares
//! structure. That is what makes snapshot isolation cheap: a transaction starts from a clone of the
//! committed graph and writes into its own copy; a query that only reads streams over a clone of
//! that copy without holding any lock. Records sit behind `Arc`s, and a record that was not
//! written keeps the very `Arc` of the snapshot it came from, so the commit can tell "changed
//! since my snapshot" by pointer identity instead of keeping version numbers.

use std::cmp::Ordering;
use std::sync::Arc;

use imbl::{OrdMap, OrdSet};

use super::rel_types::{self, RelType};
use crate::value::{Node, Relationship, Value};
pub use crate::value::{NodeData, Props};

/// A node as stored: the very record a node value shares (see [`NodeData`]).
pub type NodeRec = NodeData;

/// A relationship as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RelRec {
    pub start: i64,
    pub end: i64,
    /// The interned name (see `rel_types.rs`), shared by every relationship of the type.
    pub rel_type: Arc<str>,
    pub props: Props,
}

/// One relationship as seen from one of its ends: what an expansion needs (the node at the other
/// end and the type) without looking the relationship up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub rel: i64,
    pub other: i64,
    pub rel_type: RelType,
}

/// The relationships touching one node, in creation order: an expansion is a walk over a slice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adjacency {
    pub out: Vec<Edge>,
    pub inc: Vec<Edge>,
}

impl Adjacency {
    /// The ids of every relationship touching the node (a self-loop twice).
    pub fn rel_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.out.iter().chain(self.inc.iter()).map(|e| e.rel)
    }
}

/// Appends to an edge list growing it by an eighth rather than doubling: edge lists are most of
/// a graph's memory, a doubled list wastes up to half of it, and an eighth still keeps appends
/// amortised O(1) for a node with very many relationships.
fn push_edge(list: &mut Vec<Edge>, edge: Edge) {
    if list.len() == list.capacity() {
        list.reserve_exact(list.len() / 8 + 1);
    }
    list.push(edge);
}

/// A property value as an index key. Values that compare equal in Cypher (`1 = 1.0`) are looked
/// up under both forms by [`Graph::indexed_nodes`]; here they only need a total order.
#[derive(Debug, Clone)]
pub enum IndexKey {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Lists, temporal values and the rest: rare as keys, compared by structure.
    Other(Box<Value>),
}

impl PartialEq for IndexKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for IndexKey {}

impl PartialOrd for IndexKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IndexKey {
    fn cmp(&self, other: &Self) -> Ordering {
        use IndexKey::*;
        fn rank(k: &IndexKey) -> u8 {
            match k {
                Bool(_) => 0,
                Int(_) => 1,
                Float(_) => 2,
                Str(_) => 3,
                Other(_) => 4,
            }
        }
        match (self, other) {
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            (Str(a), Str(b)) => a.cmp(b),
            (Other(a), Other(b)) => a.structural_cmp(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

impl IndexKey {
    /// The key of a property value; null is never indexed.
    pub fn of(v: &Value) -> Option<IndexKey> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(b) => IndexKey::Bool(*b),
            Value::Int(i) => IndexKey::Int(*i),
            Value::Float(f) => IndexKey::Float(*f),
            Value::String(s) => IndexKey::Str(s.clone()),
            other => IndexKey::Other(Box::new(other.clone())),
        })
    }

    /// The keys an equality lookup for `v` must probe: an integer also finds the equal float and
    /// the other way round.
    pub fn probes(v: &Value) -> Vec<IndexKey> {
        let mut keys: Vec<IndexKey> = IndexKey::of(v).into_iter().collect();
        match v {
            Value::Int(i) => keys.push(IndexKey::Float(*i as f64)),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => {
                keys.push(IndexKey::Int(*f as i64))
            }
            _ => {}
        }
        keys
    }
}

/// A label-property index: property value → ids of the nodes with that label holding it.
#[derive(Debug, Clone, Default)]
pub struct PropertyIndex {
    /// Created by `CREATE INDEX` (as opposed to only backing a uniqueness constraint).
    pub explicit: bool,
    /// Backs a `CREATE CONSTRAINT ... IS UNIQUE`.
    pub unique: bool,
    /// `(value, node id)` pairs: one entry per indexed node. (A set per value would allocate a
    /// whole tree node for each of the usually unique values.)
    pub entries: OrdSet<(IndexKey, i64)>,
}

impl PropertyIndex {
    /// The nodes holding exactly `key`.
    pub fn ids(&self, key: &IndexKey) -> impl Iterator<Item = i64> + '_ {
        self.entries
            .range((key.clone(), i64::MIN)..=(key.clone(), i64::MAX))
            .map(|(_, id)| *id)
    }

    /// Some value held by more than one node, with those nodes.
    pub fn duplicate(&self) -> Option<Vec<i64>> {
        let mut previous: Option<&(IndexKey, i64)> = None;
        for entry in self.entries.iter() {
            if let Some(p) = previous {
                if p.0 == entry.0 {
                    return Some(self.ids(&entry.0).collect());
                }
            }
            previous = Some(entry);
        }
        None
    }
}

/// One transaction's view of the graph.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub nodes: OrdMap<i64, Arc<NodeRec>>,
    pub rels: OrdMap<i64, Arc<RelRec>>,
    pub adjacency: OrdMap<i64, Arc<Adjacency>>,
    /// Every label's nodes; always maintained, it is what `MATCH (n:Label)` scans.
    pub labels: OrdMap<String, OrdSet<i64>>,
    /// Explicit `CREATE INDEX ON :Label` indexes (the label index above serves them; this only
    /// records that the user asked, for `SHOW INDEX INFO`).
    pub label_indexes: OrdSet<String>,
    pub property_indexes: OrdMap<(String, String), PropertyIndex>,
    /// `(label, property)` pairs of existence constraints.
    pub existence: OrdSet<(String, String)>,
}

impl Graph {
    pub fn node(&self, id: i64) -> Option<&Arc<NodeRec>> {
        self.nodes.get(&id)
    }

    pub fn rel(&self, id: i64) -> Option<&Arc<RelRec>> {
        self.rels.get(&id)
    }

    /// The node as a value for clients and expressions: it shares the stored record, so binding
    /// a node to a variable copies no label or property.
    pub fn node_value(&self, id: i64) -> Option<Node> {
        self.nodes.get(&id).map(|n| Node::shared(id, Arc::clone(n)))
    }

    pub fn rel_value(&self, id: i64) -> Option<Relationship> {
        self.rels.get(&id).map(|r| Relationship {
            id,
            start: r.start,
            end: r.end,
            rel_type: r.rel_type.to_string(),
            properties: r.props.to_map(),
        })
    }

    /// The node's relationships; `None` for a node that never had any (they are created on
    /// demand to keep relationship-less nodes small).
    pub fn adjacency(&self, id: i64) -> Option<&Arc<Adjacency>> {
        self.adjacency.get(&id)
    }

    /// Inserts or replaces a node, keeping the indexes in step.
    pub fn put_node(&mut self, id: i64, rec: NodeRec) {
        let new = Arc::new(rec);
        if let Some(old) = self.nodes.insert(id, Arc::clone(&new)) {
            self.unindex(id, &old);
        }
        self.index(id, &new);
    }

    /// Removes a node (its relationships must be gone already).
    pub fn remove_node(&mut self, id: i64) {
        if let Some(old) = self.nodes.remove(&id) {
            self.unindex(id, &old);
        }
        self.adjacency.remove(&id);
    }

    pub fn put_rel(&mut self, id: i64, rec: RelRec) {
        let is_new = !self.rels.contains_key(&id);
        let (start, end) = (rec.start, rec.end);
        let rel_type = rel_types::intern(&rec.rel_type);
        self.rels.insert(id, Arc::new(rec));
        if is_new {
            let out = &mut Arc::make_mut(self.adjacency.entry(start).or_default()).out;
            push_edge(
                out,
                Edge {
                    rel: id,
                    other: end,
                    rel_type,
                },
            );
            let inc = &mut Arc::make_mut(self.adjacency.entry(end).or_default()).inc;
            push_edge(
                inc,
                Edge {
                    rel: id,
                    other: start,
                    rel_type,
                },
            );
        }
    }

    pub fn remove_rel(&mut self, id: i64) {
        if let Some(old) = self.rels.remove(&id) {
            if let Some(adj) = self.adjacency.get_mut(&old.start) {
                Arc::make_mut(adj).out.retain(|e| e.rel != id);
            }
            if let Some(adj) = self.adjacency.get_mut(&old.end) {
                Arc::make_mut(adj).inc.retain(|e| e.rel != id);
            }
        }
    }

    /// Copies node `id` (record and adjacency, or its absence) from `other`, re-indexing it
    /// under this graph's index definitions. Used to fold a transaction's writes into a newer
    /// committed graph.
    pub fn adopt_node(&mut self, id: i64, other: &Graph) {
        match other.nodes.get(&id) {
            Some(rec) => {
                if let Some(old) = self.nodes.insert(id, Arc::clone(rec)) {
                    self.unindex(id, &old);
                }
                self.index(id, rec);
                match other.adjacency.get(&id) {
                    Some(adj) => self.adjacency.insert(id, Arc::clone(adj)),
                    None => self.adjacency.remove(&id),
                };
            }
            None => self.remove_node(id),
        }
    }

    pub fn adopt_rel(&mut self, id: i64, other: &Graph) {
        match other.rels.get(&id) {
            Some(rec) => {
                self.rels.insert(id, Arc::clone(rec));
            }
            None => {
                self.rels.remove(&id);
            }
        }
    }

    /// The property indexes that cover a node with these labels.
    fn indexed_keys(&self, rec: &NodeRec) -> Vec<(String, String)> {
        if self.property_indexes.is_empty() {
            return Vec::new();
        }
        self.property_indexes
            .keys()
            .filter(|(label, _)| rec.labels.contains(label))
            .cloned()
            .collect()
    }

    fn index(&mut self, id: i64, rec: &NodeRec) {
        for label in &rec.labels {
            // Look up before inserting: `entry` would need an owned key, a String allocation per
            // label of every node created or recovered.
            match self.labels.get_mut(label) {
                Some(ids) => {
                    ids.insert(id);
                }
                None => {
                    self.labels.insert(label.clone(), OrdSet::unit(id));
                }
            }
        }
        for (label, prop) in self.indexed_keys(rec) {
            if let Some(key) = rec.props.get(&prop).and_then(IndexKey::of) {
                if let Some(index) = self.property_indexes.get_mut(&(label, prop)) {
                    index.entries.insert((key, id));
                }
            }
        }
    }

    fn unindex(&mut self, id: i64, rec: &NodeRec) {
        for label in &rec.labels {
            if let Some(set) = self.labels.get_mut(label) {
                set.remove(&id);
                if set.is_empty() {
                    self.labels.remove(label);
                }
            }
        }
        for (label, prop) in self.indexed_keys(rec) {
            if let Some(key) = rec.props.get(&prop).and_then(IndexKey::of) {
                if let Some(index) = self.property_indexes.get_mut(&(label, prop)) {
                    index.entries.remove(&(key, id));
                }
            }
        }
    }

    /// Builds (or re-flags) a label-property index over the current nodes.
    pub fn ensure_property_index(&mut self, label: &str, prop: &str) -> &mut PropertyIndex {
        let key = (label.to_owned(), prop.to_owned());
        if !self.property_indexes.contains_key(&key) {
            let mut index = PropertyIndex::default();
            if let Some(ids) = self.labels.get(label) {
                for id in ids.iter() {
                    if let Some(k) = self.nodes.get(id).and_then(|n| n.props.get(prop)) {
                        if let Some(k) = IndexKey::of(k) {
                            index.entries.insert((k, *id));
                        }
                    }
                }
            }
            self.property_indexes.insert(key.clone(), index);
        }
        self.property_indexes
            .get_mut(&key)
            .expect("index inserted above")
    }

    /// Drops a property index unless something else still needs it.
    pub fn release_property_index(&mut self, label: &str, prop: &str) {
        let key = (label.to_owned(), prop.to_owned());
        if let Some(index) = self.property_indexes.get(&key) {
            if !index.explicit && !index.unique {
                self.property_indexes.remove(&key);
            }
        }
    }

    /// Nodes with `label` whose `prop` equals `value`, if an index can answer that.
    pub fn indexed_nodes(&self, label: &str, prop: &str, value: &Value) -> Option<Vec<i64>> {
        let index = self.property_index(label, prop)?;
        let mut ids: Vec<i64> = Vec::new();
        let mut probes_found = 0;
        for key in IndexKey::probes(value) {
            let before = ids.len();
            ids.extend(index.ids(&key));
            probes_found += usize::from(ids.len() > before);
        }
        // Each probe's ids come sorted and distinct; only ids from two probes need merging.
        if probes_found > 1 {
            ids.sort_unstable();
            ids.dedup();
        }
        Some(ids)
    }

    /// Whether an index on `label` and `prop` can answer equality lookups.
    pub fn has_property_index(&self, label: &str, prop: &str) -> bool {
        self.property_index(label, prop).is_some()
    }

    /// The index on `label` and `prop`. Servers hold a handful of indexes, so looking through
    /// them costs less than the two strings a keyed lookup would build on every indexed read.
    fn property_index(&self, label: &str, prop: &str) -> Option<&PropertyIndex> {
        if self.property_indexes.len() > 32 {
            return self
                .property_indexes
                .get(&(label.to_owned(), prop.to_owned()));
        }
        self.property_indexes
            .iter()
            .find(|((l, p), _)| l == label && p == prop)
            .map(|(_, index)| index)
    }

    /// All nodes with `label`, in id order.
    pub fn nodes_with_label(&self, label: &str) -> Vec<i64> {
        self.labels
            .get(label)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(labels: &[&str], props: &[(&str, Value)]) -> NodeRec {
        NodeRec {
            labels: labels.iter().map(|l| l.to_string()).collect(),
            props: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<crate::value::Map>()
                .into(),
        }
    }

    #[test]
    fn indexes_follow_writes() {
        let mut g = Graph::default();
        g.put_node(1, node(&["P"], &[("id", Value::Int(1))]));
        g.ensure_property_index("P", "id").explicit = true;
        g.put_node(2, node(&["P"], &[("id", Value::Int(2))]));
        assert_eq!(g.indexed_nodes("P", "id", &Value::Int(1)), Some(vec![1]));
        assert_eq!(
            g.indexed_nodes("P", "id", &Value::Float(2.0)),
            Some(vec![2])
        );
        g.put_node(2, node(&["Q"], &[("id", Value::Int(2))]));
        assert_eq!(g.indexed_nodes("P", "id", &Value::Int(2)), Some(vec![]));
        assert_eq!(g.nodes_with_label("Q"), vec![2]);
        assert_eq!(g.indexed_nodes("Q", "id", &Value::Int(2)), None);
    }

    /// 1 and 1.0 are one value to an index lookup, whichever is stored and whichever is asked;
    /// the ids of both come back once each, in order, with few indexes or many.
    #[test]
    fn index_lookups_merge_both_number_forms() {
        let mut g = Graph::default();
        g.put_node(5, node(&["P"], &[("id", Value::Float(1.0))]));
        g.put_node(3, node(&["P"], &[("id", Value::Int(1))]));
        g.put_node(4, node(&["P"], &[("id", Value::Int(2))]));
        g.ensure_property_index("P", "id");
        for many in [false, true] {
            if many {
                for i in 0..40 {
                    g.ensure_property_index("Other", &format!("p{i}"));
                }
            }
            assert_eq!(g.indexed_nodes("P", "id", &Value::Int(1)), Some(vec![3, 5]));
            assert_eq!(
                g.indexed_nodes("P", "id", &Value::Float(1.0)),
                Some(vec![3, 5])
            );
            assert_eq!(g.indexed_nodes("P", "id", &Value::Int(2)), Some(vec![4]));
            assert_eq!(g.indexed_nodes("P", "nope", &Value::Int(2)), None);
        }
    }

    #[test]
    fn clones_are_independent_and_share_untouched_records() {
        let mut g = Graph::default();
        g.put_node(1, node(&["A"], &[]));
        g.put_node(2, node(&["A"], &[]));
        let snapshot = g.clone();
        g.put_rel(
            10,
            RelRec {
                start: 1,
                end: 2,
                rel_type: "R".into(),
                props: Props::default(),
            },
        );
        assert!(snapshot.rels.is_empty());
        let out: Vec<(i64, i64)> = g
            .adjacency(1)
            .unwrap()
            .out
            .iter()
            .map(|e| (e.rel, e.other))
            .collect();
        assert_eq!(out, vec![(10, 2)]);
        assert!(snapshot.adjacency(1).is_none());
        assert!(Arc::ptr_eq(g.node(1).unwrap(), snapshot.node(1).unwrap()));
        g.remove_rel(10);
        assert!(g.adjacency(2).unwrap().inc.is_empty());
    }
}
