//! The committed graph and the rules for changing it: snapshot isolation with first-committer-wins.
//!
//! A transaction copies the committed [`Graph`] when it starts (O(1), see `graph.rs`), writes into
//! its copy and records which nodes and relationships it touched. At commit, under a lock held only
//! for the check and the merge (never across a client round trip):
//!
//! * if nothing was committed since the transaction started, its copy simply becomes the committed
//!   graph;
//! * otherwise every record it touched must still be the very record of its snapshot (same `Arc`):
//!   a record someone else changed or deleted in the meantime is a write-write conflict and fails
//!   the commit with a `TransientError`, which clients retry. Records that pass are copied into the
//!   newer committed graph.
//!
//! Creating or deleting a relationship touches both end nodes (their adjacency changes), so a node
//! deleted concurrently with a new relationship to it is a conflict rather than a dangling edge.
//! Uniqueness constraints are checked on the merged graph before it is published.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::graph::{Graph, IndexKey, NodeRec, RelRec};
use super::EngineError;

/// Memgraph's text for a serialization failure; clients retry on the TransientError code.
pub const CONFLICT: &str = "Cannot resolve conflicting transactions. You can retry this \
                            transaction when the conflicting transaction is finished.";

#[derive(Debug, Default)]
struct Committed {
    graph: Graph,
    /// Bumped by every commit and schema change.
    epoch: u64,
}

/// The shared, committed state of the embedded engine.
#[derive(Debug, Default)]
pub struct Store {
    committed: Mutex<Committed>,
    next_node: AtomicI64,
    next_rel: AtomicI64,
}

impl Store {
    pub fn new() -> Arc<Self> {
        Arc::new(Store::default())
    }

    fn lock(&self) -> MutexGuard<'_, Committed> {
        // A panic while holding the lock cannot leave a half-merged graph behind: the merge
        // works on a copy that is published with one assignment. So a poisoned lock is usable.
        self.committed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a transaction on the current committed graph.
    pub fn begin(self: &Arc<Self>) -> TxState {
        let committed = self.lock();
        TxState {
            store: Arc::clone(self),
            snapshot: committed.graph.clone(),
            working: committed.graph.clone(),
            epoch: committed.epoch,
            written_nodes: HashSet::new(),
            written_rels: HashSet::new(),
        }
    }

    /// The committed graph right now (for statements that only report).
    pub fn committed(&self) -> Graph {
        self.lock().graph.clone()
    }

    /// Runs a schema change on the committed graph, outside any transaction.
    pub fn alter<R>(
        &self,
        change: impl FnOnce(&mut Graph) -> Result<R, EngineError>,
    ) -> Result<R, EngineError> {
        let mut committed = self.lock();
        let mut graph = committed.graph.clone();
        let r = change(&mut graph)?;
        committed.graph = graph;
        committed.epoch += 1;
        Ok(r)
    }

    fn commit(&self, tx: TxState) -> Result<(), EngineError> {
        if tx.written_nodes.is_empty() && tx.written_rels.is_empty() {
            return Ok(());
        }
        let mut committed = self.lock();
        let merged = if committed.epoch == tx.epoch {
            tx.working
        } else {
            let mut merged = committed.graph.clone();
            for id in &tx.written_nodes {
                let before = tx.snapshot.node(*id);
                let now = merged.node(*id);
                let same_node = match (before, now) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    (None, None) => true,
                    _ => false,
                };
                let same_adjacency = match (tx.snapshot.adjacency(*id), merged.adjacency(*id)) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    (None, None) => true,
                    _ => false,
                };
                if !same_node || !same_adjacency {
                    return Err(EngineError::transient(CONFLICT));
                }
            }
            for id in &tx.written_rels {
                let same = match (tx.snapshot.rel(*id), merged.rel(*id)) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    (None, None) => true,
                    _ => false,
                };
                if !same {
                    return Err(EngineError::transient(CONFLICT));
                }
            }
            for id in &tx.written_nodes {
                merged.adopt_node(*id, &tx.working);
            }
            for id in &tx.written_rels {
                merged.adopt_rel(*id, &tx.working);
            }
            merged
        };
        check_unique(&merged, &tx.written_nodes)?;
        check_existence(&merged, &tx.written_nodes)?;
        committed.graph = merged;
        committed.epoch += 1;
        Ok(())
    }
}

/// Fails when a written node shares a uniquely constrained property value with another node.
fn check_unique(graph: &Graph, written: &HashSet<i64>) -> Result<(), EngineError> {
    for ((label, prop), index) in graph.property_indexes.iter() {
        if !index.unique {
            continue;
        }
        for id in written {
            let Some(node) = graph.node(*id) else {
                continue;
            };
            if !node.labels.contains(label) {
                continue;
            }
            let Some(value) = node.props.get(prop) else {
                continue;
            };
            let holders: usize = IndexKey::probes(value)
                .iter()
                .map(|k| index.ids(k).count())
                .sum();
            if holders > 1 {
                return Err(EngineError::client(format!(
                    "Unable to commit due to unique constraint violation on :{label}({prop})."
                )));
            }
        }
    }
    Ok(())
}

/// Fails when a written node lacks a property an existence constraint requires.
fn check_existence(graph: &Graph, written: &HashSet<i64>) -> Result<(), EngineError> {
    if graph.existence.is_empty() {
        return Ok(());
    }
    for id in written {
        let Some(node) = graph.node(*id) else {
            continue;
        };
        for (label, prop) in graph.existence.iter() {
            if node.labels.contains(label) && node.props.get(prop).is_none() {
                return Err(EngineError::client(format!(
                    "Unable to commit due to existence constraint violation on :{label}({prop})."
                )));
            }
        }
    }
    Ok(())
}

/// One transaction's private copy of the graph and what it wrote. Dropping it discards the writes.
#[derive(Debug)]
pub struct TxState {
    store: Arc<Store>,
    snapshot: Graph,
    pub working: Graph,
    epoch: u64,
    written_nodes: HashSet<i64>,
    written_rels: HashSet<i64>,
}

impl TxState {
    /// How many nodes and relationships this transaction changed: what a commit has to check and
    /// merge, and what a rollback frees.
    pub fn written(&self) -> usize {
        self.written_nodes.len() + self.written_rels.len()
    }

    pub fn commit(self) -> Result<(), EngineError> {
        let store = Arc::clone(&self.store);
        store.commit(self)
    }

    pub fn create_node(&mut self, rec: NodeRec) -> i64 {
        let id = self.store.next_node.fetch_add(1, Ordering::Relaxed);
        self.working.put_node(id, rec);
        self.written_nodes.insert(id);
        id
    }

    /// Replaces a node's labels and properties.
    pub fn update_node(&mut self, id: i64, rec: NodeRec) {
        self.working.put_node(id, rec);
        self.written_nodes.insert(id);
    }

    /// Deletes a node and, when `detach`, its relationships; refuses otherwise if it has any.
    pub fn delete_node(&mut self, id: i64, detach: bool) -> Result<bool, EngineError> {
        if self.working.node(id).is_none() {
            return Ok(false);
        }
        let rels: Vec<i64> = self
            .working
            .adjacency(id)
            .map(|adj| adj.out.iter().chain(adj.inc.iter()).copied().collect())
            .unwrap_or_default();
        if !rels.is_empty() && !detach {
            return Err(EngineError::client(
                "Failed to remove node because of it's existing connections. Consider using \
                 DETACH DELETE.",
            ));
        }
        for rel in rels {
            self.delete_rel(rel);
        }
        self.working.remove_node(id);
        self.written_nodes.insert(id);
        Ok(true)
    }

    pub fn create_rel(&mut self, rec: RelRec) -> i64 {
        let id = self.store.next_rel.fetch_add(1, Ordering::Relaxed);
        self.written_nodes.insert(rec.start);
        self.written_nodes.insert(rec.end);
        self.working.put_rel(id, rec);
        self.written_rels.insert(id);
        id
    }

    pub fn update_rel(&mut self, id: i64, rec: RelRec) {
        self.working.put_rel(id, rec);
        self.written_rels.insert(id);
    }

    pub fn delete_rel(&mut self, id: i64) -> bool {
        let Some(rec) = self.working.rel(id).cloned() else {
            return false;
        };
        self.written_nodes.insert(rec.start);
        self.written_nodes.insert(rec.end);
        self.working.remove_rel(id);
        self.written_rels.insert(id);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Map, Value};

    fn rec(label: &str, v: i64) -> NodeRec {
        let mut props = Map::new();
        props.insert("v".into(), Value::Int(v));
        NodeRec {
            labels: vec![label.into()],
            props: props.into(),
        }
    }

    #[test]
    fn uncommitted_writes_are_private_and_dropped_on_drop() {
        let store = Store::new();
        let mut a = store.begin();
        let id = a.create_node(rec("A", 1));
        let b = store.begin();
        assert!(b.working.node(id).is_none());
        drop(a);
        assert!(store.committed().node(id).is_none());
    }

    #[test]
    fn first_committer_wins() {
        let store = Store::new();
        let mut setup = store.begin();
        let id = setup.create_node(rec("A", 0));
        setup.commit().unwrap();

        let mut t1 = store.begin();
        let mut t2 = store.begin();
        t1.update_node(id, rec("A", 1));
        t2.update_node(id, rec("A", 2));
        t1.commit().unwrap();
        let e = t2.commit().unwrap_err();
        assert_eq!(
            e.classification,
            super::super::Classification::TransientError
        );
        assert_eq!(
            store
                .committed()
                .node(id)
                .unwrap()
                .props
                .get("v")
                .cloned()
                .unwrap(),
            Value::Int(1)
        );
    }

    /// A store with two committed nodes, and two transactions started after them.
    fn two_nodes_two_transactions() -> (Arc<Store>, i64, i64, TxState, TxState) {
        let store = Store::new();
        let mut setup = store.begin();
        let a = setup.create_node(rec("A", 0));
        let b = setup.create_node(rec("A", 0));
        setup.commit().unwrap();
        let t1 = store.begin();
        let t2 = store.begin();
        (store, a, b, t1, t2)
    }

    #[test]
    fn disjoint_writers_both_commit_and_merge() {
        let (store, a, b, mut t1, mut t2) = two_nodes_two_transactions();
        t1.update_node(a, rec("A", 1));
        t2.update_node(b, rec("B", 2));
        t1.commit().unwrap();
        t2.commit().unwrap();
        let g = store.committed();
        assert_eq!(
            g.node(a).unwrap().props.get("v").cloned().unwrap(),
            Value::Int(1)
        );
        assert_eq!(g.nodes_with_label("B"), vec![b]);
        assert_eq!(g.nodes_with_label("A"), vec![a]);
    }

    #[test]
    fn relationship_to_a_concurrently_deleted_node_conflicts() {
        let (store, a, b, mut t1, mut t2) = two_nodes_two_transactions();
        t1.delete_node(b, true).unwrap();
        t2.create_rel(RelRec {
            start: a,
            end: b,
            rel_type: "R".into(),
            props: Default::default(),
        });
        t1.commit().unwrap();
        assert!(t2.commit().is_err());
        assert!(store.committed().rels.is_empty());
    }

    #[test]
    fn unique_constraint_is_checked_at_commit() {
        let store = Store::new();
        store
            .alter(|g| {
                g.ensure_property_index("A", "v").unique = true;
                Ok(())
            })
            .unwrap();
        let mut t = store.begin();
        t.create_node(rec("A", 1));
        t.commit().unwrap();
        let mut t = store.begin();
        t.create_node(rec("A", 1));
        let e = t.commit().unwrap_err();
        assert!(e.message.contains("unique constraint violation on :A(v)"));
        assert_eq!(store.committed().nodes.len(), 1);
    }
}
