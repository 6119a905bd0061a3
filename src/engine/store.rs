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
//!
//! With a WAL, publishing is two steps. Under the lock the commit becomes the newest state (what
//! later commits are checked against) and its record is queued for the log, in sequence order;
//! the lock is then released and the commit waits for the log. Only once its record is logged is
//! the commit made visible (to new transactions) and acknowledged. So readers never see a commit
//! that is not logged, while commits waiting for the same sync overlap (group commit). If the log
//! cannot be written, every commit not yet logged is failed and the newest state is rolled back to
//! the visible one.
//!
//! The one exception is a transaction that reads nothing of the graph (an auto-commit `CREATE`
//! from parameters, see `blind_writes.rs`): it starts on the newest state, since it cannot see
//! what it starts on, and so commits without a merge. Its epoch then names a state that may be
//! rolled back; epochs only grow, so such a commit merges into whatever is newest instead.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::graph::{Graph, IndexKey, NodeRec, RelRec};
use super::persist;
use super::EngineError;
use crate::storage::doorbell::{self, RING_AFTER};
use crate::storage::record::Header;
use crate::storage::snapshot::{SnapshotHeader, Written};
use crate::storage::wal::{LogError, Ticket};
use crate::storage::Storage;

/// Memgraph's text for a serialization failure; clients retry on the TransientError code.
pub const CONFLICT: &str = "Cannot resolve conflicting transactions. You can retry this \
                            transaction when the conflicting transaction is finished.";

/// A commit whose record is being logged: readers see it once the log has it.
#[derive(Debug)]
struct Logging {
    seq: u64,
    graph: Graph,
    epoch: u64,
}

#[derive(Debug, Default)]
struct Committed {
    /// The newest state, including commits still being logged: what commits are checked against.
    latest: Graph,
    latest_epoch: u64,
    /// What transactions start from: every commit in it is logged.
    visible: Graph,
    visible_epoch: u64,
    /// The last logged record in `visible`.
    visible_seq: u64,
    /// Commits being logged, oldest first.
    logging: VecDeque<Logging>,
    /// The sequence number of the next record.
    next_seq: u64,
    /// Bumped by every commit and schema change; names a state of the graph.
    epochs: u64,
    /// WAL failures already rolled back (the writer counts them).
    failures_handled: u64,
}

impl Committed {
    /// Makes the logged commits up to `seq` visible.
    fn publish_through(&mut self, seq: u64) {
        while self.logging.front().is_some_and(|l| l.seq <= seq) {
            if let Some(l) = self.logging.pop_front() {
                self.visible = l.graph;
                self.visible_epoch = l.epoch;
                self.visible_seq = l.seq;
            }
        }
    }

    /// A new newest state; visible at once when nothing is logged.
    fn advance(&mut self, graph: Graph, logged: Option<u64>) -> u64 {
        self.epochs += 1;
        let epoch = self.epochs;
        match logged {
            Some(seq) => self.logging.push_back(Logging {
                seq,
                graph: graph.clone(),
                epoch,
            }),
            None => {
                self.visible = graph.clone();
                self.visible_epoch = epoch;
            }
        }
        self.latest = graph;
        self.latest_epoch = epoch;
        epoch
    }
}

/// The shared, committed state of the embedded engine.
#[derive(Debug, Default)]
pub struct Store {
    committed: Mutex<Committed>,
    next_node: AtomicI64,
    next_rel: AtomicI64,
    /// The WAL and snapshots; `None` for a graph that lives in memory only.
    storage: Option<Arc<Storage>>,
}

/// The graph recovered at start, and where the log goes on.
#[derive(Debug, Default)]
pub struct Rebuilt {
    pub graph: Graph,
    pub seq: u64,
    pub next_node: i64,
    pub next_rel: i64,
}

/// What a commit still has to wait for before it is acknowledged.
#[derive(Debug)]
pub enum Durable {
    /// Nothing: it is visible already.
    Done,
    /// Its WAL record.
    Logging {
        store: Arc<Store>,
        seq: u64,
        ticket: Ticket,
        /// The record waits for this Bolt worker to idle before the writer is woken.
        deferred: bool,
    },
}

impl Durable {
    /// Waits until the record is logged, then makes the commit visible. A failed write rolls the
    /// in-memory state back to what is logged and fails the commit.
    pub async fn wait(self) -> Result<(), EngineError> {
        match self {
            Durable::Done => Ok(()),
            Durable::Logging {
                store,
                seq,
                mut ticket,
                deferred,
            } => {
                if deferred {
                    // The worker rings when it idles; one that never does is rung for here.
                    if let Ok(answer) = tokio::time::timeout(RING_AFTER, &mut ticket).await {
                        return store.logged(seq, answer);
                    }
                    store.ring_wal();
                }
                store.logged(seq, ticket.await)
            }
        }
    }

    /// [`Durable::wait`] for threads that may block (schema changes run on one).
    pub fn wait_blocking(self) -> Result<(), EngineError> {
        match self {
            Durable::Done => Ok(()),
            Durable::Logging {
                store,
                seq,
                ticket,
                deferred,
            } => {
                if deferred {
                    store.ring_wal();
                }
                store.logged(seq, ticket.blocking_recv())
            }
        }
    }
}

impl Store {
    pub fn new() -> Arc<Self> {
        Arc::new(Store::default())
    }

    /// A store over an opened data directory, starting from the recovered graph.
    pub fn durable(storage: Arc<Storage>, recovered: Rebuilt) -> Arc<Self> {
        let committed = Committed {
            latest: recovered.graph.clone(),
            visible: recovered.graph,
            visible_seq: recovered.seq,
            next_seq: recovered.seq + 1,
            ..Committed::default()
        };
        Arc::new(Store {
            committed: Mutex::new(committed),
            next_node: AtomicI64::new(recovered.next_node),
            next_rel: AtomicI64::new(recovered.next_rel),
            storage: Some(storage),
        })
    }

    pub fn storage(&self) -> Option<&Arc<Storage>> {
        self.storage.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, Committed> {
        // A panic while holding the lock cannot leave a half-merged graph behind: the merge
        // works on a copy that is published with one assignment. So a poisoned lock is usable.
        self.committed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a transaction on the current visible graph.
    pub fn begin(self: &Arc<Self>) -> TxState {
        let committed = self.lock();
        self.transaction(&committed.visible, committed.visible_epoch)
    }

    /// Starts a transaction on the newest state, commits still being logged included, so that
    /// it commits without a merge. Only for a transaction that reads nothing of the graph: it
    /// must not see those commits (`blind_writes.rs` says which qualify).
    pub fn begin_on_newest(self: &Arc<Self>) -> TxState {
        let committed = self.lock();
        self.transaction(&committed.latest, committed.latest_epoch)
    }

    fn transaction(self: &Arc<Self>, graph: &Graph, epoch: u64) -> TxState {
        TxState {
            store: Arc::clone(self),
            snapshot: graph.clone(),
            working: graph.clone(),
            epoch,
            written_nodes: HashSet::new(),
            written_rels: HashSet::new(),
        }
    }

    /// The visible graph right now (for statements that only report).
    pub fn committed(&self) -> Graph {
        self.lock().visible.clone()
    }

    /// What a snapshot takes: the visible graph, the last record it holds, and the id counters.
    pub fn image(&self) -> (Graph, u64, i64, i64) {
        let committed = self.lock();
        (
            committed.visible.clone(),
            committed.visible_seq,
            self.next_node.load(Ordering::Relaxed),
            self.next_rel.load(Ordering::Relaxed),
        )
    }

    /// Writes a snapshot of the visible graph (from an O(1) clone: commits go on meanwhile).
    pub fn write_snapshot(&self) -> Result<Written, String> {
        let Some(storage) = self.storage() else {
            return Err("there is no data directory to write a snapshot to".into());
        };
        let (graph, seq, next_node, next_rel) = self.image();
        let header = SnapshotHeader {
            seq,
            next_node,
            next_rel,
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            nodes: graph.nodes.len() as u64,
            rels: graph.rels.len() as u64,
        };
        storage.write_snapshot(
            header,
            &persist::schema_of(&graph),
            graph
                .nodes
                .iter()
                .map(|(id, n)| persist::node_image(*id, n)),
            graph.rels.iter().map(|(id, r)| persist::rel_image(*id, r)),
        )
    }

    fn header(&self, seq: u64) -> Header {
        Header {
            seq,
            next_node: self.next_node.load(Ordering::Relaxed),
            next_rel: self.next_rel.load(Ordering::Relaxed),
        }
    }

    /// Runs a schema change on the newest graph, outside any transaction, and logs the schema
    /// that results. Blocks until it is logged (schema statements run on a blocking thread).
    pub fn alter<R>(
        self: &Arc<Self>,
        change: impl FnOnce(&mut Graph) -> Result<R, EngineError>,
    ) -> Result<R, EngineError> {
        let durable = {
            let mut committed = self.lock();
            let mut graph = committed.latest.clone();
            let r = change(&mut graph)?;
            let durable = self.publish(&mut committed, graph, persist::schema_record)?;
            (r, durable)
        };
        durable.1.wait_blocking()?;
        Ok(durable.0)
    }

    /// Publishes `graph` as the newest state under the commit lock: logged first when there is a
    /// WAL (its record made by `record`), visible at once otherwise.
    fn publish(
        self: &Arc<Self>,
        committed: &mut Committed,
        graph: Graph,
        record: impl FnOnce(&Graph) -> Result<Vec<u8>, EngineError>,
    ) -> Result<Durable, EngineError> {
        let Some(storage) = self.storage.as_ref().filter(|s| s.logs()) else {
            committed.advance(graph, None);
            return Ok(Durable::Done);
        };
        let changes = record(&graph)?;
        let seq = committed.next_seq;
        let Some(ticket) = storage.log(self.header(seq), changes) else {
            committed.advance(graph, None);
            return Ok(Durable::Done);
        };
        committed.next_seq += 1;
        committed.advance(graph, Some(seq));
        Ok(Durable::Logging {
            store: Arc::clone(self),
            seq,
            ticket,
            deferred: doorbell::defers_here(),
        })
    }

    /// Wakes the WAL writer for the records queued so far.
    fn ring_wal(&self) {
        if let Some(storage) = &self.storage {
            storage.ring_wal();
        }
    }

    /// The WAL's answer for record `seq`.
    fn logged(
        &self,
        seq: u64,
        answer: Result<Result<(), LogError>, tokio::sync::oneshot::error::RecvError>,
    ) -> Result<(), EngineError> {
        let failure = match answer {
            Ok(Ok(())) => {
                self.lock().publish_through(seq);
                return Ok(());
            }
            Ok(Err(failure)) => failure,
            Err(_) => LogError {
                message: "the WAL writer has stopped (the server is shutting down)".into(),
                durable_through: 0,
                failure: u64::MAX,
            },
        };
        let mut committed = self.lock();
        committed.publish_through(failure.durable_through);
        if failure.failure > committed.failures_handled && failure.failure != u64::MAX {
            // Everything newer than what is logged was checked against state that never reached
            // the disk: forget it, and let the writer go on after the last logged record.
            committed.failures_handled = failure.failure;
            committed.logging.clear();
            committed.latest = committed.visible.clone();
            committed.latest_epoch = committed.visible_epoch;
            committed.next_seq = committed.visible_seq + 1;
            if let Some(storage) = &self.storage {
                storage.resume(committed.next_seq);
            }
        }
        Err(EngineError::database(format!(
            "The transaction was not committed (it was rolled back): {}",
            failure.message
        )))
    }

    fn commit(self: &Arc<Self>, tx: TxState) -> Result<Durable, EngineError> {
        if tx.written_nodes.is_empty() && tx.written_rels.is_empty() {
            return Ok(Durable::Done);
        }
        // The record holds the final image of every record written, which is the same in the
        // transaction's copy and in any merge of it: encode it before taking the lock.
        let changes = match self.storage.as_ref().filter(|s| s.logs()) {
            Some(_) => Some(persist::commit_record(
                &tx.snapshot,
                &tx.working,
                &tx.written_nodes,
                &tx.written_rels,
            )?),
            None => None,
        };
        let mut committed = self.lock();
        let merged = if committed.latest_epoch == tx.epoch {
            tx.working
        } else {
            let mut merged = committed.latest.clone();
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
        let mut changes = changes;
        self.publish(&mut committed, merged, |_| {
            Ok(changes.take().unwrap_or_default())
        })
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

    /// Checks and publishes the transaction's writes; the answer says what to wait for before
    /// the commit may be acknowledged.
    pub fn commit(self) -> Result<Durable, EngineError> {
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
            .map(|adj| adj.rel_ids().collect())
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
