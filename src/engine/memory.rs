//! The embedded engine: an in-memory property graph with snapshot-isolated transactions.
//!
//! This file is the glue between the Bolt layer's traits and the pieces: `store.rs` keeps the
//! committed graph and decides commits, `exec.rs` runs queries, `schema.rs` runs index and
//! constraint statements.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use slog::Logger;

use super::offload::{self, INLINE_WRITES};
use super::persist;
use super::snapshotter::Snapshotter;
use super::store::{Rebuilt, Store, TxState};
use super::{
    blind_writes, exec, light_writes, schema, EngineError, Params, QueryEngine, QueryResult,
    Transaction,
};
use crate::cypher::ast::{Query, SchemaCommand};
use crate::storage::{Durability, Storage};

/// Memgraph's answer to COMMIT after a failed query in an explicit transaction.
pub const COMMIT_AFTER_ERROR: &str = "Transaction can't be committed because there was a \
                                      previous error. Please invoke a rollback instead.";

/// The embedded in-memory engine.
#[derive(Default)]
pub struct MemoryEngine {
    store: Arc<Store>,
    /// How long one query may run (`--query-execution-timeout-sec`); `None` for no limit.
    timeout: Option<Duration>,
    /// Live heap bytes above which queries stop (`--memory-limit`); `None` for no limit.
    memory_limit: Option<usize>,
    /// Periodic snapshots, when the graph is durable and they are asked for.
    snapshots: Option<Snapshotter>,
}

impl std::fmt::Debug for MemoryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryEngine")
            .field("timeout", &self.timeout)
            .field("memory_limit", &self.memory_limit)
            .finish_non_exhaustive()
    }
}

impl MemoryEngine {
    /// An engine whose graph lives in memory only.
    pub fn new() -> Self {
        Self::with_limits(None, None)
    }

    /// An in-memory engine whose queries give up after `timeout`, or once the server's heap
    /// exceeds `memory_limit` bytes.
    pub fn with_limits(timeout: Option<Duration>, memory_limit: Option<usize>) -> Self {
        MemoryEngine {
            store: Store::new(),
            timeout,
            memory_limit,
            snapshots: None,
        }
    }

    /// A durable engine: recovers the graph from the data directory, logs every commit, and
    /// writes periodic snapshots as `durability` says.
    pub fn open(
        timeout: Option<Duration>,
        memory_limit: Option<usize>,
        durability: Durability,
        logger: Logger,
    ) -> Result<Self, String> {
        let mut builder = persist::Builder::default();
        let (storage, recovered) = Storage::open(durability.clone(), &mut builder, logger.clone())?;
        let rebuilt = Rebuilt {
            graph: builder.finish(),
            seq: recovered.seq,
            next_node: recovered.next_node,
            next_rel: recovered.next_rel,
        };
        let store = Store::durable(Arc::new(storage), rebuilt);
        let snapshots = match durability.snapshot_interval {
            Some(every) => Some(
                Snapshotter::start(Arc::clone(&store), every, logger)
                    .map_err(|e| format!("cannot start the snapshot thread: {e}"))?,
            ),
            None => None,
        };
        Ok(MemoryEngine {
            store,
            timeout,
            memory_limit,
            snapshots,
        })
    }

    /// A clean stop: no more periodic snapshots, the snapshot on exit if asked for, and the WAL
    /// synced and closed. Blocks (call it where blocking is allowed).
    pub fn close(&self) -> Result<(), String> {
        if let Some(snapshots) = &self.snapshots {
            snapshots.stop();
        }
        let Some(storage) = self.store.storage() else {
            return Ok(());
        };
        // With the WAL on, a snapshot that already covers the last record (or an empty log with
        // no snapshot) would only repeat what is on disk: a large unchanged graph stops at once.
        let newest = storage.snapshots().last().map_or(0, |s| s.seq);
        let unchanged = storage.logs() && newest == self.store.image().1;
        let snapshot = if storage.settings().snapshot_on_exit && !unchanged {
            self.store.write_snapshot().map(|_| ())
        } else {
            Ok(())
        };
        storage.close();
        snapshot
    }

    /// A transaction of this engine on `state`.
    fn transaction(&self, state: TxState) -> Box<dyn Transaction> {
        Box::new(MemoryTransaction {
            state: Some(state),
            failed: false,
            timeout: self.timeout,
            memory_limit: self.memory_limit,
            abort: None,
            started: super::temporal::clock::transaction_start(),
        })
    }
}

#[async_trait]
impl QueryEngine for MemoryEngine {
    async fn begin(&self) -> Result<Box<dyn Transaction>, EngineError> {
        Ok(self.transaction(self.store.begin()))
    }

    async fn begin_auto(&self, query: &Query) -> Result<Box<dyn Transaction>, EngineError> {
        let state = if blind_writes::blind(query) {
            self.store.begin_on_newest()
        } else {
            self.store.begin()
        };
        Ok(self.transaction(state))
    }

    async fn schema(&self, command: SchemaCommand) -> Result<QueryResult, EngineError> {
        // Building an index walks every node with the label.
        let store = Arc::clone(&self.store);
        offload::blocking("schema", move || schema::run(&store, &command)).await?
    }
}

/// What a transaction does with a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Run,
    Explain,
    Profile,
}

/// A transaction of the embedded engine. Dropping it (a dropped connection does) discards its
/// writes.
#[derive(Debug)]
pub struct MemoryTransaction {
    /// Taken while an updating query runs on a blocking thread.
    state: Option<TxState>,
    /// A query failed and may have left part of its writes: the transaction can only be rolled
    /// back.
    failed: bool,
    timeout: Option<Duration>,
    memory_limit: Option<usize>,
    /// Set by `TERMINATE TRANSACTIONS`; every query of the transaction checks it.
    abort: Option<Arc<AtomicBool>>,
    /// When the transaction began, in nanoseconds since the epoch: `datetime.transaction()` of
    /// every statement in it.
    started: i64,
}

impl MemoryTransaction {
    fn terminated(&self) -> bool {
        self.abort
            .as_ref()
            .is_some_and(|a| a.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Runs one query in `mode`, unless the transaction was terminated or an earlier query
    /// failed; a failure leaves the transaction only fit for rollback.
    async fn guarded(
        &mut self,
        query: Arc<Query>,
        params: Params,
        mode: Mode,
    ) -> Result<QueryResult, EngineError> {
        if self.terminated() {
            // Until it is rolled back, a terminated transaction answers every query so.
            self.failed = true;
            return Err(EngineError::transient(super::eval::TERMINATED));
        }
        if self.failed {
            return Err(EngineError::client(
                "An earlier query in this transaction failed; roll the transaction back before \
                 running more queries.",
            ));
        }
        let r = self.execute(query, params, mode).await;
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    async fn execute(
        &mut self,
        query: Arc<Query>,
        params: Params,
        mode: Mode,
    ) -> Result<QueryResult, EngineError> {
        let budget = exec::Budget {
            deadline: self.timeout.map(|t| Instant::now() + t),
            memory_limit: self.memory_limit,
            abort: self.abort.clone(),
            clock: super::temporal::Clock::in_transaction(self.started),
        };
        let state = self.state.as_mut().ok_or_else(unusable)?;
        let writes = exec::query_writes(&query);
        // PROFILE runs the whole query before it answers, like an updating query. Writes of a few
        // records cost less than the hand-off to the blocking pool.
        let in_place = match mode {
            Mode::Explain => true,
            Mode::Run => !writes || light_writes::light(&query, &state.working),
            Mode::Profile => false,
        };
        if in_place {
            // In place the state is borrowed where it lies: moving it out and back cost two
            // copies of it per query, and made it part of this future, which is boxed per call.
            return execute_in(state, &query, params, budget, mode);
        }
        // Updating queries run to completion before RUN answers, off the async workers.
        let mut state = self.state.take().ok_or_else(unusable)?;
        let (state, result) = offload::blocking("query", move || {
            let r = execute_in(&mut state, &query, params, budget, mode);
            (state, r)
        })
        .await?;
        self.state = Some(state);
        result
    }
}

/// The answer of a transaction whose state went with a failed hand-off to the blocking pool.
fn unusable() -> EngineError {
    EngineError::database("the transaction is no longer usable")
}

/// Runs `query` in `mode` on a transaction's state.
fn execute_in(
    state: &mut TxState,
    query: &Query,
    params: Params,
    budget: exec::Budget,
    mode: Mode,
) -> Result<QueryResult, EngineError> {
    match mode {
        Mode::Run => exec::run(state, query, params, budget),
        Mode::Explain => Ok(exec::explain(state, query)),
        Mode::Profile => exec::profile(state, query, params, budget),
    }
}

#[async_trait]
impl Transaction for MemoryTransaction {
    async fn run(&mut self, query: Arc<Query>, params: Params) -> Result<QueryResult, EngineError> {
        self.guarded(query, params, Mode::Run).await
    }

    async fn explain(
        &mut self,
        query: Arc<Query>,
        params: Params,
        profile: bool,
    ) -> Result<QueryResult, EngineError> {
        let mode = if profile {
            Mode::Profile
        } else {
            Mode::Explain
        };
        self.guarded(query, params, mode).await
    }

    async fn commit(self: Box<Self>) -> Result<(), EngineError> {
        if self.terminated() {
            return Err(EngineError::transient(super::eval::TERMINATED));
        }
        if self.failed {
            return Err(EngineError::client(COMMIT_AFTER_ERROR));
        }
        let state = self.state.ok_or_else(unusable)?;
        let durable = if state.written() <= INLINE_WRITES {
            state.commit()?
        } else {
            offload::blocking("commit", move || state.commit()).await??
        };
        durable.wait().await
    }

    fn set_abort(&mut self, flag: Arc<AtomicBool>) {
        self.abort = Some(flag);
    }

    async fn rollback(self: Box<Self>) {
        // Dropping the private copy is the rollback. Large ones are freed off the async workers.
        if let Some(state) = self.state {
            if state.written() > INLINE_WRITES {
                offload::drop_off_worker(state);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::*;
    use crate::engine::Classification;
    use crate::value::{Map, Value};

    #[tokio::test]
    async fn unwind_return() {
        let (fields, rows) = run("UNWIND [3, 1, 2] AS x RETURN x * 2 AS y")
            .await
            .unwrap();
        assert_eq!(fields, vec!["y"]);
        assert_eq!(ints(rows), vec![6, 2, 4]);
        let (_, rows) = run("UNWIND null AS x RETURN x").await.unwrap();
        assert!(rows.is_empty());
        let (_, rows) = run("UNWIND [1, 2] AS x UNWIND [10, 20] AS y RETURN x + y")
            .await
            .unwrap();
        assert_eq!(ints(rows), vec![11, 21, 12, 22]);
    }

    #[tokio::test]
    async fn order_distinct_skip_limit() {
        let (_, rows) =
            run("UNWIND [3, 1, 2, 3, 1] AS x RETURN DISTINCT x ORDER BY x DESC SKIP 1 LIMIT $n")
                .await
                .unwrap();
        assert_eq!(ints(rows), vec![2, 1]);
        let (fields, rows) = run("UNWIND [2, 1] AS b UNWIND [5] AS a RETURN *")
            .await
            .unwrap();
        assert_eq!(fields, vec!["a", "b"]);
        assert_eq!(rows.len(), 2);
    }

    #[tokio::test]
    async fn huge_range_streams_lazily() {
        let engine = MemoryEngine::new();
        let mut tx = engine.begin().await.unwrap();
        let r = tx
            .run_text(
                "UNWIND range(1, 9223372036854775807) AS x RETURN x",
                &Params::new(),
            )
            .await
            .unwrap();
        let first: Vec<i64> = ints(r.rows.take(3).collect());
        assert_eq!(first, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn errors_mid_stream_end_the_stream() {
        let (_, rows) = run("UNWIND [1, 0, 2] AS x RETURN 10 / x").await.unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows[1]
            .as_ref()
            .unwrap_err()
            .message
            .contains("Division by zero"));
        let (_, rows) = run("UNWIND [true, true, false] AS x RETURN assert(x, 'third row')")
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows[2].as_ref().unwrap_err().message.contains("third row"));
    }

    #[tokio::test]
    async fn create_match_and_stats() {
        let e = MemoryEngine::new();
        let (fields, created, result) = run_in(
            &e,
            "CREATE (a:Person {name: 'Ann', age: 30})-[r:KNOWS {since: 2020}]->(b:Person:Admin \
             {name: 'Bob'})",
        )
        .await
        .unwrap();
        assert!(fields.is_empty() && created.is_empty());
        assert_eq!(result.query_type, crate::engine::QueryType::Write);
        let stats = result.stats.unwrap();
        assert_eq!(stats.nodes_created, 2);
        assert_eq!(stats.relationships_created, 1);
        assert_eq!(stats.properties_set, 4);
        assert_eq!(stats.labels_added, 3);

        let got = rows(
            &e,
            "MATCH (a:Person)-[r:KNOWS]->(b) RETURN a.name, r.since, b.name, labels(b), type(r)",
        )
        .await;
        assert_eq!(
            got,
            vec![vec![
                Value::from("Ann"),
                Value::Int(2020),
                Value::from("Bob"),
                Value::List(vec![Value::from("Person"), Value::from("Admin")]),
                Value::from("KNOWS"),
            ]]
        );
        // Direction matters; undirected matches both ways.
        assert!(rows(&e, "MATCH (a {name: 'Bob'})-->(b) RETURN b")
            .await
            .is_empty());
        assert_eq!(
            one(&e, "MATCH (a {name: 'Bob'})<--(b) RETURN b.name").await,
            Value::from("Ann")
        );
        assert_eq!(rows(&e, "MATCH (a)--(b) RETURN a, b").await.len(), 2);
        assert_eq!(
            one(&e, "MATCH (n) WHERE n:Admin RETURN n.name").await,
            Value::from("Bob")
        );
        assert_eq!(
            one(&e, "MATCH (n:Person) RETURN count(*)").await,
            Value::Int(2)
        );
    }

    #[tokio::test]
    async fn optional_match_where_and_pattern_predicates() {
        let e = MemoryEngine::new();
        rows(
            &e,
            "CREATE (:P {n: 1})-[:R]->(:P {n: 2})-[:R]->(:P {n: 3}), (:P {n: 4})",
        )
        .await;
        let got = rows(
            &e,
            "MATCH (a:P) OPTIONAL MATCH (a)-[:R]->(b) RETURN a.n, b.n ORDER BY a.n",
        )
        .await;
        assert_eq!(got[2], vec![Value::Int(3), Value::Null]);
        assert_eq!(got[3], vec![Value::Int(4), Value::Null]);
        let got = rows(&e, "MATCH (a:P) WHERE (a)-->() RETURN a.n ORDER BY a.n").await;
        assert_eq!(got, vec![vec![Value::Int(1)], vec![Value::Int(2)]]);
        let got = rows(&e, "MATCH (a:P) WHERE NOT (a)--() RETURN a.n").await;
        assert_eq!(got, vec![vec![Value::Int(4)]]);
        assert_eq!(
            one(
                &e,
                "MATCH (a:P) WHERE exists((a)<--()) AND a.n > 2 RETURN a.n"
            )
            .await,
            Value::Int(3)
        );
    }

    #[tokio::test]
    async fn variable_length_and_paths() {
        let e = MemoryEngine::new();
        rows(
            &e,
            "CREATE (:N {i: 0})-[:NEXT]->(:N {i: 1})-[:NEXT]->(:N {i: 2})-[:NEXT]->(:N {i: 3})",
        )
        .await;
        let reach = |q: &'static str| {
            let e = &e;
            async move {
                let got = rows(e, q).await;
                got.into_iter()
                    .map(|r| match r.as_slice() {
                        [Value::Int(i)] => *i,
                        other => panic!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            reach("MATCH (a {i: 0})-[*]->(b) RETURN b.i ORDER BY b.i").await,
            vec![1, 2, 3]
        );
        assert_eq!(
            reach("MATCH (a {i: 0})-[*2]->(b) RETURN b.i").await,
            vec![2]
        );
        assert_eq!(
            reach("MATCH (a {i: 0})-[*..2]->(b) RETURN b.i ORDER BY b.i").await,
            vec![1, 2]
        );
        assert_eq!(
            reach("MATCH (a {i: 3})<-[:NEXT*1..3]-(b) RETURN b.i ORDER BY b.i").await,
            vec![0, 1, 2]
        );
        let p = one(&e, "MATCH p = (a {i: 0})-[:NEXT*3]->(b) RETURN p").await;
        let Value::Path(p) = p else { panic!("{p:?}") };
        assert_eq!(p.nodes.len(), 4);
        assert_eq!(p.relationships.len(), 3);
        assert_eq!(
            one(&e, "MATCH p = (a {i: 0})-[*]->(b {i: 2}) RETURN length(p)").await,
            Value::Int(2)
        );
        assert_eq!(
            one(
                &e,
                "MATCH (a {i: 0})-[rs:NEXT*2]->(b) RETURN [r IN rs | type(r)]"
            )
            .await,
            Value::List(vec![Value::from("NEXT"), Value::from("NEXT")])
        );
        let v = one(
            &e,
            "MATCH p = (a {i: 1})-->(b) RETURN [n IN nodes(p) | n.i]",
        )
        .await;
        assert_eq!(int_list(v), vec![1, 2]);
    }

    #[tokio::test]
    async fn aggregation_and_with() {
        let e = MemoryEngine::new();
        rows(
            &e,
            "UNWIND [['a', 1], ['a', 2], ['b', 5], ['b', null]] AS p \
             CREATE (:T {k: p[0], v: p[1]})",
        )
        .await;
        let got = rows(
            &e,
            "MATCH (t:T) RETURN t.k AS k, count(t.v) AS c, sum(t.v) AS s, avg(t.v) AS a, \
             min(t.v) AS lo, max(t.v) AS hi, collect(t.v) AS all ORDER BY k",
        )
        .await;
        assert_eq!(
            got[0],
            vec![
                Value::from("a"),
                Value::Int(2),
                Value::Int(3),
                Value::Float(1.5),
                Value::Int(1),
                Value::Int(2),
                Value::List(vec![Value::Int(1), Value::Int(2)]),
            ]
        );
        assert_eq!(got[1][1], Value::Int(1));
        assert_eq!(
            one(&e, "MATCH (t:T) RETURN count(DISTINCT t.k)").await,
            Value::Int(2)
        );
        assert_eq!(
            one(&e, "MATCH (t:Missing) RETURN count(*)").await,
            Value::Int(0)
        );
        assert_eq!(
            one(
                &e,
                "MATCH (t:T) WITH t.k AS k, sum(t.v) AS s WHERE s > 4 RETURN k"
            )
            .await,
            Value::from("b")
        );
        assert_eq!(
            one(
                &e,
                "MATCH (t:T) WHERE t.v IS NOT NULL WITH t ORDER BY t.v DESC LIMIT 1 RETURN t.v"
            )
            .await,
            Value::Int(5)
        );
        assert_eq!(
            one(&e, "UNWIND [1, 2, 3] AS x RETURN count(x) * 10 + 1").await,
            Value::Int(31)
        );
    }

    #[tokio::test]
    async fn merge_set_remove_delete() {
        let e = MemoryEngine::new();
        let (_, _, r) = run_in(
            &e,
            "UNWIND [1, 1, 2] AS i MERGE (n:M {id: i}) ON CREATE SET n.created = true \
             ON MATCH SET n.matched = true",
        )
        .await
        .unwrap();
        assert_eq!(r.stats.unwrap().nodes_created, 2);
        assert_eq!(
            one(&e, "MATCH (n:M {id: 1}) RETURN n.matched").await,
            Value::Bool(true)
        );
        assert_eq!(
            one(
                &e,
                "MATCH (n:M {id: 1}) SET n.x = 1, n += {y: 2} RETURN n.x + n.y"
            )
            .await,
            Value::Int(3)
        );
        assert_eq!(
            one(&e, "MATCH (n:M {id: 1}) SET n = {id: 1} RETURN keys(n)").await,
            Value::List(vec![Value::from("id")])
        );
        assert_eq!(
            one(
                &e,
                "MATCH (n:M {id: 2}) SET n:Extra REMOVE n:M, n.created RETURN labels(n)"
            )
            .await,
            Value::List(vec![Value::from("Extra")])
        );
        assert_eq!(
            one(&e, "MATCH (n:Extra) RETURN n.created IS NULL").await,
            Value::Bool(true)
        );
        rows(&e, "MATCH (a:M {id: 1}), (b:Extra) CREATE (a)-[:L]->(b)").await;
        let err = run_in(&e, "MATCH (n:Extra) DELETE n").await.unwrap_err();
        assert!(err.message.contains("DETACH DELETE"), "{}", err.message);
        let (_, _, r) = run_in(&e, "MATCH (n:Extra) DETACH DELETE n").await.unwrap();
        let stats = r.stats.unwrap();
        assert_eq!(stats.nodes_deleted, 1);
        assert_eq!(stats.relationships_deleted, 1);
        assert_eq!(one(&e, "MATCH (n) RETURN count(n)").await, Value::Int(1));
        // MERGE of a relationship pattern creates only what is missing.
        rows(
            &e,
            "MATCH (a:M {id: 1}) MERGE (a)-[:OWNS]->(c:Car {plate: 'X'})",
        )
        .await;
        rows(
            &e,
            "MATCH (a:M {id: 1}) MERGE (a)-[:OWNS]->(c:Car {plate: 'X'})",
        )
        .await;
        assert_eq!(
            one(&e, "MATCH (c:Car) RETURN count(c)").await,
            Value::Int(1)
        );
    }

    #[tokio::test]
    async fn union_and_expressions() {
        let (_, got) = run("RETURN 1 AS x UNION RETURN 1 AS x UNION RETURN 2 AS x")
            .await
            .unwrap();
        assert_eq!(ints(got), vec![1, 2]);
        let (_, got) = run("RETURN 1 AS x UNION ALL RETURN 1 AS x").await.unwrap();
        assert_eq!(ints(got), vec![1, 1]);
        // openCypher (and Memgraph) refuse to mix the two in one query.
        assert!(
            run("RETURN 1 AS x UNION RETURN 1 AS x UNION ALL RETURN 2 AS x")
                .await
                .is_err()
        );
        assert!(run("RETURN 1 AS x UNION RETURN 2 AS y").await.is_err());
        let e = MemoryEngine::new();
        assert_eq!(
            one(&e, "RETURN 'boltd' =~ 'b.*d' AND NOT 'x' =~ 'b.*'").await,
            Value::Bool(true)
        );
        assert_eq!(
            one(&e, "RETURN split('a,b', ',')").await,
            Value::List(vec![Value::from("a"), Value::from("b")])
        );
        assert_eq!(
            one(
                &e,
                "RETURN substring('hello', 1, 3) + replace('aXb', 'X', '-')"
            )
            .await,
            Value::from("ella-b")
        );
        assert_eq!(
            one(&e, "RETURN date('2024-03-01').month + duration('P1D').days").await,
            Value::Int(4)
        );
    }

    #[tokio::test]
    async fn transactions_are_isolated_and_roll_back() {
        let e = MemoryEngine::new();
        let mut writer = e.begin().await.unwrap();
        writer
            .run_text("CREATE (:Secret {v: 1})", &Params::new())
            .await
            .unwrap();
        // Another transaction does not see the uncommitted node.
        assert_eq!(
            one(&e, "MATCH (n:Secret) RETURN count(n)").await,
            Value::Int(0)
        );
        // The writer sees its own write.
        let mut r = writer
            .run_text("MATCH (n:Secret) RETURN count(n)", &Params::new())
            .await
            .unwrap();
        assert_eq!(r.rows.next().unwrap().unwrap(), vec![Value::Int(1)]);
        drop(r);
        writer.rollback().await;
        assert_eq!(
            one(&e, "MATCH (n:Secret) RETURN count(n)").await,
            Value::Int(0)
        );

        // A reader that started before a commit keeps its snapshot.
        let mut reader = e.begin().await.unwrap();
        rows(&e, "CREATE (:Secret {v: 2})").await;
        let mut r = reader
            .run_text("MATCH (n:Secret) RETURN count(n)", &Params::new())
            .await
            .unwrap();
        assert_eq!(r.rows.next().unwrap().unwrap(), vec![Value::Int(0)]);
        drop(r);
        reader.commit().await.unwrap();
        assert_eq!(
            one(&e, "MATCH (n:Secret) RETURN count(n)").await,
            Value::Int(1)
        );
    }

    #[tokio::test]
    async fn write_conflicts_are_transient_and_failures_need_rollback() {
        let e = MemoryEngine::new();
        rows(&e, "CREATE (:C {v: 0})").await;
        let mut t1 = e.begin().await.unwrap();
        let mut t2 = e.begin().await.unwrap();
        t1.run_text("MATCH (c:C) SET c.v = 1", &Params::new())
            .await
            .unwrap();
        t2.run_text("MATCH (c:C) SET c.v = 2", &Params::new())
            .await
            .unwrap();
        t1.commit().await.unwrap();
        let err = t2.commit().await.unwrap_err();
        assert_eq!(err.classification, Classification::TransientError);
        assert_eq!(
            err.code,
            "Memgraph.TransientError.MemgraphError.MemgraphError"
        );
        assert_eq!(one(&e, "MATCH (c:C) RETURN c.v").await, Value::Int(1));

        let mut t = e.begin().await.unwrap();
        t.run_text("CREATE (:C {v: 9})", &Params::new())
            .await
            .unwrap();
        assert!(t
            .run_text("MATCH (c:C) SET c.v = 1 / 0", &Params::new())
            .await
            .is_err());
        let err = t.commit().await.unwrap_err();
        assert_eq!(err.message, COMMIT_AFTER_ERROR);
        assert_eq!(one(&e, "MATCH (c:C) RETURN count(c)").await, Value::Int(1));
    }

    #[tokio::test]
    async fn indexes_constraints_and_schema_statements() {
        let e = MemoryEngine::new();
        rows(&e, "UNWIND range(1, 100) AS i CREATE (:U {id: i})").await;
        rows(&e, "CREATE INDEX ON :U(id)").await;
        rows(&e, "CREATE INDEX ON :U").await;
        let info = rows(&e, "SHOW INDEX INFO").await;
        assert_eq!(info.len(), 2);
        assert!(info.contains(&vec![
            Value::from("label+property"),
            Value::from("U"),
            Value::from("id"),
            Value::Int(100)
        ]));
        assert_eq!(
            one(&e, "MATCH (u:U {id: 42}) RETURN u.id").await,
            Value::Int(42)
        );
        assert_eq!(
            one(&e, "MATCH (u:U) WHERE u.id = 7 RETURN u.id").await,
            Value::Int(7)
        );
        // The index follows later writes.
        rows(&e, "MATCH (u:U {id: 42}) SET u.id = 4200").await;
        assert!(rows(&e, "MATCH (u:U {id: 42}) RETURN u").await.is_empty());
        assert_eq!(
            one(&e, "MATCH (u:U {id: 4200}) RETURN count(u)").await,
            Value::Int(1)
        );

        rows(&e, "CREATE CONSTRAINT ON (u:U) ASSERT u.id IS UNIQUE").await;
        let err = run_in(&e, "CREATE (:U {id: 1})").await.unwrap_err();
        assert!(
            err.message
                .contains("unique constraint violation on :U(id)"),
            "{}",
            err.message
        );
        assert_eq!(
            one(&e, "MATCH (u:U) RETURN count(u)").await,
            Value::Int(100)
        );
        assert_eq!(rows(&e, "SHOW CONSTRAINT INFO").await.len(), 1);
        rows(&e, "DROP CONSTRAINT ON (u:U) ASSERT u.id IS UNIQUE").await;
        rows(&e, "CREATE (:U {id: 1})").await;
        let err = run_in(&e, "CREATE CONSTRAINT ON (u:U) ASSERT u.id IS UNIQUE")
            .await
            .unwrap_err();
        assert!(err.message.contains("violates"), "{}", err.message);
        rows(&e, "DROP INDEX ON :U(id)").await;

        rows(&e, "CREATE CONSTRAINT ON (u:U) ASSERT EXISTS (u.id)").await;
        let err = run_in(&e, "CREATE (:U {name: 'no id'})").await.unwrap_err();
        assert!(
            err.message
                .contains("existence constraint violation on :U(id)"),
            "{}",
            err.message
        );
        let err = run_in(&e, "MATCH (u:U {id: 1}) REMOVE u.id")
            .await
            .unwrap_err();
        assert!(
            err.message.contains("existence constraint"),
            "{}",
            err.message
        );
        let info = rows(&e, "SHOW CONSTRAINT INFO").await;
        assert!(info.contains(&vec![
            Value::from("exists"),
            Value::from("U"),
            Value::from("id")
        ]));
        let err = run_in(&e, "CREATE CONSTRAINT ON (u:U) ASSERT EXISTS (u.name)")
            .await
            .unwrap_err();
        assert!(err.message.contains("violates"), "{}", err.message);
        rows(&e, "DROP CONSTRAINT ON (u:U) ASSERT EXISTS (u.id)").await;
        rows(&e, "CREATE (:U {name: 'no id'})").await;
        assert!(run_in(&e, "DROP INDEX ON :U(id)").await.is_err());
        rows(&e, "STORAGE MODE IN_MEMORY_TRANSACTIONAL").await;
        assert!(!rows(&e, "SHOW STORAGE INFO").await.is_empty());
    }

    #[tokio::test]
    async fn long_paths_do_not_overflow_the_stack() {
        let e = MemoryEngine::new();
        rows(&e, "UNWIND range(1, 20000) AS i CREATE (:Chain {i: i})").await;
        rows(&e, "CREATE INDEX ON :Chain(i)").await;
        rows(
            &e,
            "UNWIND range(1, 19999) AS i MATCH (a:Chain {i: i}), (b:Chain {i: i + 1}) \
             CREATE (a)-[:NEXT]->(b)",
        )
        .await;
        assert_eq!(
            one(
                &e,
                "MATCH p = (a:Chain {i: 1})-[*]->(b:Chain {i: 20000}) RETURN length(p)"
            )
            .await,
            Value::Int(19_999)
        );
    }

    #[tokio::test]
    async fn random_queries_never_panic() {
        let e = MemoryEngine::new();
        rows(
            &e,
            "CREATE (a:A {x: 1, s: 'a'})-[:R {w: 2}]->(b:B {x: 2.5})-[:R]->(a), (c:A:B {l: [1, 2]})",
        )
        .await;
        let pieces = [
            "MATCH",
            "OPTIONAL",
            "(n)",
            "(m:A)",
            "(n:B {x: 1})",
            "-[r:R]->",
            "<-[*1..2]-",
            "--",
            "-[*]-",
            "WHERE",
            "n.x",
            ">",
            "=",
            "1",
            "'s'",
            "$n",
            "RETURN",
            "n",
            "m",
            "r",
            "count(*)",
            "collect(n)",
            "WITH",
            "n,",
            "m",
            "AS",
            "k",
            "ORDER BY",
            "DESC",
            "LIMIT",
            "SKIP",
            "2",
            "CREATE",
            "(x:C)",
            "MERGE",
            "SET",
            "n.y = 1",
            "n:Z",
            "REMOVE",
            "n.x",
            "DELETE",
            "DETACH",
            "UNWIND",
            "[1, null, 'a']",
            "AS x",
            "x",
            "UNION",
            "ALL",
            "DISTINCT",
            ",",
            "p =",
            "p",
            "nodes(p)",
            "size(r)",
            "sum(n.x)",
            "CASE",
            "WHEN",
            "THEN",
            "ELSE",
            "END",
            "+",
            "/",
            "0",
            "IS NULL",
            "NOT",
            "AND",
            "exists((n)-->())",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            ":",
            "date('2024-01-01')",
            "duration('P1D')",
            "id(n)",
            "=~ '['",
            "assert(false)",
        ];
        let mut state: u64 = 7;
        for _ in 0..3000 {
            let mut q = String::new();
            for _ in 0..10 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                q.push_str(pieces[(state % pieces.len() as u64) as usize]);
                q.push(' ');
            }
            // Errors are fine; panics fail the test.
            let _ = run_in(&e, &q).await;
        }
    }

    /// Concurrent transfers between accounts, retried on conflicts, while readers check that
    /// every snapshot they see is consistent: the total never changes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_transfers_keep_the_total() {
        let e = Arc::new(MemoryEngine::new());
        rows(
            &e,
            "UNWIND range(0, 9) AS i CREATE (:Account {id: i, balance: 100})",
        )
        .await;
        let total = |e: Arc<MemoryEngine>| async move {
            one(&e, "MATCH (a:Account) RETURN sum(a.balance)").await
        };
        let mut tasks = Vec::new();
        for worker in 0..6i64 {
            let e = Arc::clone(&e);
            tasks.push(tokio::spawn(async move {
                let mut conflicts = 0;
                let mut done = Vec::new();
                for n in 0..60i64 {
                    let (from, to) = ((worker + n) % 10, (worker * 3 + n * 7 + 1) % 10);
                    if from == to {
                        continue;
                    }
                    loop {
                        let mut tx = e.begin().await.unwrap();
                        let mut p = Params::new();
                        p.insert("from".into(), Value::Int(from));
                        p.insert("to".into(), Value::Int(to));
                        tx.run_text(
                            "MATCH (a:Account {id: $from}), (b:Account {id: $to}) \
                             SET a.balance = a.balance - 1, b.balance = b.balance + 1",
                            &p,
                        )
                        .await
                        .unwrap();
                        match tx.commit().await {
                            Ok(()) => {
                                done.push((from, to));
                                break;
                            }
                            Err(err) => {
                                assert_eq!(err.classification, Classification::TransientError);
                                conflicts += 1;
                            }
                        }
                    }
                }
                (conflicts, done)
            }));
        }
        let reader = {
            let e = Arc::clone(&e);
            tokio::spawn(async move {
                for _ in 0..50 {
                    assert_eq!(total(Arc::clone(&e)).await, Value::Int(1000));
                    tokio::task::yield_now().await;
                }
            })
        };
        let mut expected = [100i64; 10];
        for t in tasks {
            let (_conflicts, done) = t.await.unwrap();
            for (from, to) in done {
                expected[from as usize] -= 1;
                expected[to as usize] += 1;
            }
        }
        reader.await.unwrap();
        assert_eq!(total(Arc::clone(&e)).await, Value::Int(1000));
        // Every committed transfer landed exactly once, and no conflicting one did.
        let balances: Vec<Value> = rows(&e, "MATCH (a:Account) RETURN a.balance ORDER BY a.id")
            .await
            .into_iter()
            .map(|mut r| r.remove(0))
            .collect();
        let expected: Vec<Value> = expected.into_iter().map(Value::Int).collect();
        assert_eq!(balances, expected);
    }

    #[tokio::test]
    async fn runaway_queries_time_out() {
        let e = MemoryEngine::with_limits(Some(Duration::from_millis(200)), None);
        rows(
            &e,
            "UNWIND range(1, 30) AS i CREATE (:K {i: i}) WITH count(*) AS c \
             MATCH (a:K), (b:K) CREATE (a)-[:E]->(b)",
        )
        .await;
        // Every path in a complete graph with self-loops: far more than 200 ms of work.
        let started = Instant::now();
        let err = run_in(&e, "MATCH p = (a:K {i: 1})-[*]->(b) RETURN count(p)")
            .await
            .map(|(_, rows, _)| rows)
            .and_then(|mut rows| rows.remove(0))
            .unwrap_err();
        assert!(
            err.message.contains("--query-execution-timeout-sec"),
            "{}",
            err.message
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn queries_stop_at_the_memory_limit() {
        // The limit is on the whole process's heap; other tests allocate concurrently, so leave
        // them room and make this query need far more.
        let limit = crate::alloc::live_bytes() + (256 << 20);
        let e = MemoryEngine::with_limits(None, Some(limit));
        for q in [
            "UNWIND range(1, 100000000) AS x RETURN collect(x)",
            "UNWIND range(1, 100000000) AS x RETURN x ORDER BY x DESC LIMIT 1",
            "UNWIND range(1, 100000000) AS x RETURN DISTINCT x",
            "UNWIND range(1, 100000000) AS x CREATE (:Big {x: x})",
        ] {
            let err = match run_in(&e, q).await {
                Err(e) => e,
                Ok((_, rows, _)) => rows
                    .into_iter()
                    .find_map(Result::err)
                    .unwrap_or_else(|| panic!("{q} finished under the limit")),
            };
            assert!(
                err.message.contains("--memory-limit"),
                "{q}: {}",
                err.message
            );
        }
        // Nothing of the failed bulk load was committed, and the engine still works.
        assert_eq!(
            one(&e, "MATCH (n:Big) RETURN count(n)").await,
            Value::Int(0)
        );
    }

    #[tokio::test]
    async fn graph_values_and_parameters() {
        let e = MemoryEngine::new();
        let mut tx = e.begin().await.unwrap();
        let mut params = Params::new();
        let mut props = Map::new();
        props.insert("when".into(), Value::Date(19_000));
        props.insert("tags".into(), Value::List(vec![Value::from("a")]));
        params.insert("props".into(), Value::Map(props.clone()));
        let mut r = tx
            .run_text(
                "CREATE (n:V $props) RETURN n, properties(n) = $props",
                &params,
            )
            .await
            .unwrap();
        let row = r.rows.next().unwrap().unwrap();
        let Value::Node(n) = &row[0] else {
            panic!("{row:?}")
        };
        assert_eq!(n.properties().to_map(), props);
        assert_eq!(row[1], Value::Bool(true));
        assert!(run("CREATE (n {bad: [1]}) SET n.x = n").await.is_err());
        assert!(run("MATCH (n) RETURN n.").await.is_err());
    }

    fn durability(dir: &std::path::Path) -> Durability {
        Durability {
            data_dir: dir.to_path_buf(),
            wal_enabled: true,
            flush_every: 1,
            segment_bytes: 1 << 20,
            snapshot_interval: None,
            snapshot_on_exit: false,
            retention: 2,
            recover: true,
        }
    }

    fn open(d: Durability) -> MemoryEngine {
        MemoryEngine::open(None, None, d, crate::logging::discard()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_survive_a_crash_with_their_schema_and_ids_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let e = open(durability(dir.path()));
        rows(&e, "CREATE INDEX ON :P(id)").await;
        rows(&e, "CREATE CONSTRAINT ON (p:P) ASSERT p.id IS UNIQUE").await;
        rows(
            &e,
            "UNWIND range(1, 50) AS i CREATE (:P {id: i, at: date('2024-02-29'), \
             tags: ['a', i], m: {k: i * 1.5}})",
        )
        .await;
        rows(
            &e,
            "MATCH (a:P {id: 1}), (b:P {id: 2}) CREATE (a)-[:R {w: 1}]->(b)",
        )
        .await;
        rows(&e, "MATCH (p:P {id: 50}) DETACH DELETE p").await;
        rows(&e, "MATCH (p:P {id: 3}) SET p.changed = true").await;
        let max_id = one(&e, "MATCH (n) RETURN max(id(n))").await;
        // A rolled-back creation takes an id too.
        let mut tx = e.begin().await.unwrap();
        tx.run_text("CREATE (:Gone)", &Params::new()).await.unwrap();
        tx.rollback().await;
        // No close(): the process "crashes" here.
        drop(e);

        let e = open(durability(dir.path()));
        assert_eq!(one(&e, "MATCH (p:P) RETURN count(p)").await, Value::Int(49));
        assert_eq!(
            one(&e, "MATCH (p:P {id: 3}) RETURN p.changed").await,
            Value::Bool(true)
        );
        assert_eq!(
            one(&e, "MATCH (:P {id: 1})-[r:R]->(:P {id: 2}) RETURN r.w").await,
            Value::Int(1)
        );
        assert_eq!(
            one(&e, "MATCH (p:P {id: 7}) RETURN p.m.k").await,
            Value::Float(10.5)
        );
        assert_eq!(rows(&e, "SHOW INDEX INFO").await.len(), 1);
        assert!(
            run_in(&e, "CREATE (:P {id: 4})").await.is_err(),
            "unique constraint kept"
        );
        let Value::Int(max_id) = max_id else { panic!() };
        let Value::Int(new_id) = one(&e, "CREATE (n:New) RETURN id(n)").await else {
            panic!()
        };
        assert!(
            new_id > max_id + 1,
            "{new_id} reuses an id at or below {}",
            max_id + 1
        );
    }

    /// 16 sessions commit 20 nodes each at once; after a crash all 320 are back.
    async fn commit_concurrently_and_recover(dir: &std::path::Path) {
        let e = Arc::new(open(durability(dir)));
        let mut tasks = Vec::new();
        for w in 0..16i64 {
            let e = Arc::clone(&e);
            tasks.push(tokio::spawn(async move {
                for n in 0..20i64 {
                    let mut tx = e.begin().await.unwrap();
                    let mut p = Params::new();
                    p.insert("w".into(), Value::Int(w));
                    p.insert("n".into(), Value::Int(n));
                    tx.run_text("CREATE (:W {w: $w, n: $n})", &p).await.unwrap();
                    tx.commit().await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        drop(e);
        let e = open(durability(dir));
        assert_eq!(
            one(&e, "MATCH (w:W) RETURN count(w)").await,
            Value::Int(320)
        );
        assert_eq!(
            one(&e, "MATCH (w:W) RETURN count(DISTINCT [w.w, w.n])").await,
            Value::Int(320)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_syncs_and_all_come_back() {
        let dir = tempfile::tempdir().unwrap();
        commit_concurrently_and_recover(dir.path()).await;
    }

    /// On workers that ring the WAL writer when they idle (main's runtime), as above.
    #[test]
    fn commits_queued_by_idling_workers_are_logged() {
        let _serial = crate::storage::doorbell::serial();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .on_thread_park(crate::storage::doorbell::worker_parks)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(60),
                commit_concurrently_and_recover(dir.path()),
            )
            .await
            .expect("the commits came back in time");
        });
    }

    /// A runtime on this one thread, for tests that make it defer its WAL records as a Bolt
    /// worker does; held with the lock every such test takes (a park rings every queue).
    fn one_thread_that_parks() -> (std::sync::MutexGuard<'static, ()>, tokio::runtime::Runtime) {
        let serial = crate::storage::doorbell::serial();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (serial, runtime)
    }

    /// A worker that never idles (here: nothing rings when it parks) still gets its commits
    /// logged: each committer rings the writer itself after a millisecond.
    #[test]
    fn a_worker_that_never_idles_still_gets_its_commits_logged() {
        use crate::storage::doorbell;
        let (_serial, runtime) = one_thread_that_parks();
        let dir = tempfile::tempdir().unwrap();
        runtime.block_on(async {
            // This thread now defers its records, as a Bolt worker does after its first park.
            doorbell::worker_parks();
            assert!(doorbell::defers_here());
            let e = open(durability(dir.path()));
            for i in 0..20i64 {
                let mut p = Params::new();
                p.insert("i".into(), Value::Int(i));
                let commit = async {
                    let mut tx = e.begin().await.unwrap();
                    tx.run_text("CREATE (:D {i: $i})", &p).await.unwrap();
                    tx.commit().await
                };
                tokio::time::timeout(Duration::from_secs(10), commit)
                    .await
                    .expect("the commit was answered without any park ringing")
                    .unwrap();
            }
            drop(e);
            let e = open(durability(dir.path()));
            assert_eq!(one(&e, "MATCH (d:D) RETURN count(d)").await, Value::Int(20));
        });
    }

    /// An auto-commit blind write starts on the newest state, a commit still being logged
    /// included; every other transaction starts on what is logged. Both commit, and after a
    /// crash everything is back.
    #[test]
    fn blind_writes_start_on_commits_still_being_logged() {
        use crate::storage::doorbell;
        let (_serial, runtime) = one_thread_that_parks();
        let dir = tempfile::tempdir().unwrap();
        let parsed = |text: &str| match crate::cypher::parse(text).unwrap() {
            crate::cypher::ast::Statement::Query(q) => q,
            other => panic!("{other:?}"),
        };
        let count = "MATCH (n) RETURN count(n)";
        runtime.block_on(async {
            // Records now wait for this thread to ring, so a commit stays in flight.
            doorbell::worker_parks();
            let e = open(durability(dir.path()));
            let mut first = e.begin().await.unwrap();
            first.run_text("CREATE (:A)", &Params::new()).await.unwrap();
            let mut in_flight = Box::pin(first.commit());
            let polled = tokio::time::timeout(Duration::ZERO, &mut in_flight).await;
            assert!(polled.is_err(), "the first commit was logged at once");
            assert_eq!(
                one(&e, count).await,
                Value::Int(0),
                "saw an unlogged commit"
            );

            let blind = parsed("CREATE (:B)");
            let mut writer = e.begin_auto(&blind).await.unwrap();
            writer.run(blind, Params::new()).await.unwrap();
            let seen = writer.run_text(count, &Params::new()).await.unwrap();
            let seen: Vec<_> = seen.rows.map(|r| r.unwrap()).collect();
            assert_eq!(
                seen,
                vec![vec![Value::Int(2)]],
                "not started on the newest state"
            );

            let reading = parsed("MATCH (:A) CREATE (:C)");
            let mut reader = e.begin_auto(&reading).await.unwrap();
            let r = reader.run(reading, Params::new()).await.unwrap();
            let _: Vec<_> = r.rows.collect();
            assert_eq!(
                r.stats.map(|s| s.nodes_created),
                Some(0),
                "read an unlogged commit"
            );

            let answered = Duration::from_secs(10);
            tokio::time::timeout(answered, writer.commit())
                .await
                .expect("the blind write was answered")
                .unwrap();
            tokio::time::timeout(answered, in_flight)
                .await
                .expect("the first commit was answered")
                .unwrap();
            reader.commit().await.unwrap();
            assert_eq!(one(&e, count).await, Value::Int(2));
            drop(e);
            let e = open(durability(dir.path()));
            assert_eq!(
                rows(&e, "MATCH (n) RETURN labels(n)[0] AS l ORDER BY l").await,
                vec![
                    vec![Value::String("A".into())],
                    vec![Value::String("B".into())]
                ]
            );
        });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshots_cover_the_log_and_prune_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = durability(dir.path());
        d.segment_bytes = 4096;
        d.snapshot_on_exit = true;
        let e = open(d.clone());
        for i in 0..200 {
            rows(
                &e,
                &format!("CREATE (:S {{i: {i}, pad: '{}'}})", "x".repeat(64)),
            )
            .await;
        }
        let segments_before = std::fs::read_dir(dir.path().join("wal")).unwrap().count();
        rows(&e, "CREATE SNAPSHOT").await;
        rows(&e, "CREATE (:S {i: 200})").await;
        rows(&e, "CREATE SNAPSHOT").await;
        let shown = rows(&e, "SHOW SNAPSHOTS").await;
        assert_eq!(shown.len(), 2);
        e.close().unwrap();
        drop(e);
        let segments_after = std::fs::read_dir(dir.path().join("wal")).unwrap().count();
        assert!(
            segments_after < segments_before,
            "{segments_after} segments left of {segments_before}"
        );
        // The exit snapshot was written and retention kept two.
        assert_eq!(
            std::fs::read_dir(dir.path().join("snapshots"))
                .unwrap()
                .count(),
            2
        );
        // From the snapshots alone (the WAL gone), everything is there.
        std::fs::remove_dir_all(dir.path().join("wal")).unwrap();
        let e = open(d);
        assert_eq!(
            one(&e, "MATCH (s:S) RETURN count(s)").await,
            Value::Int(201)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_the_wal_only_snapshots_keep_the_graph() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = durability(dir.path());
        d.wal_enabled = false;
        d.snapshot_on_exit = true;
        let e = open(d.clone());
        rows(&e, "CREATE (:A)").await;
        e.close().unwrap();
        drop(e);
        let e = open(d.clone());
        rows(&e, "CREATE (:A)").await;
        drop(e); // a crash: the second node was never in a snapshot
        let e = open(d);
        assert_eq!(one(&e, "MATCH (a:A) RETURN count(a)").await, Value::Int(1));
        assert!(!dir.path().join("wal").exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_exit_snapshot_is_skipped_when_it_would_repeat_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = durability(dir.path());
        d.snapshot_on_exit = true;
        let count = || std::fs::read_dir(dir.path().join("snapshots")).map_or(0, |e| e.count());
        let e = open(d.clone());
        e.close().unwrap();
        drop(e);
        assert_eq!(count(), 0, "nothing was ever committed");
        let e = open(d.clone());
        rows(&e, "CREATE (:X)").await;
        e.close().unwrap();
        drop(e);
        assert_eq!(count(), 1);
        let e = open(d.clone());
        e.close().unwrap();
        drop(e);
        assert_eq!(count(), 1, "unchanged since the last snapshot");
        let e = open(d);
        assert_eq!(one(&e, "MATCH (x:X) RETURN count(x)").await, Value::Int(1));
    }
}
