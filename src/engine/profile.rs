//! `EXPLAIN` and `PROFILE` results, and the counters PROFILE runs a query with.
//!
//! PROFILE measures each clause of each UNION part as a stage: the rows that came out of it and
//! the time spent producing them. A stage's time is inclusive of the stages it pulled from, so
//! the clause's own time is its time minus the previous stage's. Operators of one clause (a
//! MATCH's scan, expand and filter) run interleaved in the executor, so the clause's rows and
//! time are reported on its topmost operator and its other operators show the rows only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::plan::Operator;
use super::{EngineError, QueryResult, QueryType, Row, RowStream};
use crate::value::Value;

/// EXPLAIN's one column, as Memgraph names it.
pub const EXPLAIN_COLUMN: &str = "QUERY PLAN";
/// PROFILE's columns, as Memgraph names them.
pub const PROFILE_COLUMNS: [&str; 4] =
    ["OPERATOR", "ACTUAL HITS", "RELATIVE TIME", "ABSOLUTE TIME"];

/// What one stage (one clause) produced.
#[derive(Debug, Default)]
pub struct Stage {
    hits: AtomicU64,
    nanos: AtomicU64,
}

impl Stage {
    fn record(&self, hits: u64, elapsed: Duration) {
        self.hits.fetch_add(hits, Ordering::Relaxed);
        self.nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// The stages of one profiled query: `parts[union part][clause]`.
#[derive(Debug)]
pub struct Profile {
    parts: Vec<Vec<Stage>>,
}

impl Profile {
    pub fn new(clauses_per_part: &[usize]) -> Self {
        Profile {
            parts: clauses_per_part
                .iter()
                .map(|&n| (0..n).map(|_| Stage::default()).collect())
                .collect(),
        }
    }

    pub fn stage(&self, part: usize, clause: usize) -> Option<&Stage> {
        self.parts.get(part)?.get(clause)
    }

    fn hits(&self, stage: (usize, usize)) -> u64 {
        self.stage(stage.0, stage.1)
            .map_or(0, |s| s.hits.load(Ordering::Relaxed))
    }

    /// The clause's own time: its inclusive time less that of the clause it pulled from.
    fn own_nanos(&self, (part, clause): (usize, usize)) -> u64 {
        let inclusive = |c: usize| {
            self.stage(part, c)
                .map_or(0, |s| s.nanos.load(Ordering::Relaxed))
        };
        let before = clause.checked_sub(1).map_or(0, inclusive);
        inclusive(clause).saturating_sub(before)
    }
}

/// Where a stage's counts go while it runs.
#[derive(Debug, Clone)]
pub struct Meter {
    profile: Arc<Profile>,
    part: usize,
    clause: usize,
}

impl Meter {
    pub fn new(profile: Arc<Profile>, part: usize, clause: usize) -> Self {
        Meter {
            profile,
            part,
            clause,
        }
    }

    pub fn record(&self, hits: u64, elapsed: Duration) {
        if let Some(stage) = self.profile.stage(self.part, self.clause) {
            stage.record(hits, elapsed);
        }
    }

    /// Counts the items `inner` yields and the time spent getting them.
    pub fn count<T: Send + 'static>(
        self,
        inner: Box<dyn Iterator<Item = Result<T, EngineError>> + Send>,
    ) -> Box<dyn Iterator<Item = Result<T, EngineError>> + Send> {
        let mut inner = inner;
        Box::new(std::iter::from_fn(move || {
            let started = Instant::now();
            let next = inner.next();
            let hit = u64::from(matches!(next, Some(Ok(_))));
            self.record(hit, started.elapsed());
            next
        }))
    }
}

fn table(fields: Vec<String>, rows: Vec<Row>, query_type: QueryType) -> QueryResult {
    let rows: RowStream = Box::new(rows.into_iter().map(Ok));
    QueryResult {
        fields,
        rows,
        query_type,
        stats: None,
        heavy: false,
    }
}

/// EXPLAIN: the operators, one per row, as ` * Name`.
pub fn explain(operators: &[Operator]) -> QueryResult {
    let rows = operators
        .iter()
        .map(|op| vec![Value::String(format!(" * {}", op.name))])
        .collect();
    table(vec![EXPLAIN_COLUMN.to_string()], rows, QueryType::Read)
}

/// PROFILE: each operator with the rows it produced and its share of the time.
pub fn profile(operators: &[Operator], measured: &Profile, query_type: QueryType) -> QueryResult {
    let own = |op: &Operator| match op.stage {
        Some(stage) if op.top => measured.own_nanos(stage),
        _ => 0,
    };
    let total: u64 = operators.iter().map(own).sum::<u64>().max(1);
    let rows = operators
        .iter()
        .map(|op| {
            let hits = op.stage.map_or(1, |s| measured.hits(s));
            let nanos = own(op);
            vec![
                Value::String(format!("* {}", op.name)),
                Value::Int(hits as i64),
                Value::String(format!("{:.6} %", nanos as f64 * 100.0 / total as f64)),
                Value::String(format!("{:.6} ms", nanos as f64 / 1e6)),
            ]
        })
        .collect();
    let fields = PROFILE_COLUMNS.iter().map(|c| c.to_string()).collect();
    table(fields, rows, query_type)
}

#[cfg(test)]
mod tests {
    use crate::engine::testing::*;
    use crate::engine::MemoryEngine;
    use crate::value::Value;

    fn text(rows: &[crate::engine::Row], column: usize) -> Vec<String> {
        rows.iter()
            .map(|r| match &r[column] {
                Value::String(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn explain_shows_the_scan_the_executor_chooses() {
        let engine = MemoryEngine::new();
        rows(
            &engine,
            "UNWIND range(1, 10) AS i CREATE (:P {id: i})-[:R]->(:Q)",
        )
        .await;
        let plan = text(
            &rows(
                &engine,
                "EXPLAIN MATCH (n:P)-[:R]->(m) WHERE n.id = 3 RETURN m",
            )
            .await,
            0,
        );
        assert_eq!(
            plan,
            [
                " * Produce {m}",
                " * Filter",
                " * Expand (n)-[anon1:R]->(m)",
                " * ScanAllByLabel (n :P)",
                " * Once"
            ]
        );
        rows(&engine, "CREATE INDEX ON :P(id)").await;
        let plan = text(
            &rows(
                &engine,
                "EXPLAIN MATCH (n:P)-[:R]->(m) WHERE n.id = 3 RETURN m",
            )
            .await,
            0,
        );
        assert_eq!(plan[3], " * ScanAllByLabelPropertyValue (n :P {id})");
        // Nothing ran: EXPLAIN of a write changes nothing.
        rows(&engine, "EXPLAIN CREATE (:Never)").await;
        assert_eq!(
            one(&engine, "MATCH (n:Never) RETURN count(n) AS c").await,
            Value::Int(0)
        );
    }

    #[tokio::test]
    async fn profile_counts_the_rows_of_each_operator() {
        let engine = MemoryEngine::new();
        rows(&engine, "UNWIND range(1, 10) AS i CREATE (:P {id: i})").await;
        let got = rows(
            &engine,
            "PROFILE MATCH (n:P) WHERE n.id > 4 RETURN n.id AS id",
        )
        .await;
        assert_eq!(
            text(&got, 0),
            [
                "* Produce {id}",
                "* Filter",
                "* ScanAllByLabel (n :P)",
                "* Once"
            ]
        );
        let hits: Vec<_> = got.iter().map(|r| r[1].clone()).collect();
        assert_eq!(hits[0], Value::Int(6), "{got:?}");
        assert_eq!(hits[1], Value::Int(6), "{got:?}");
        for row in &got {
            let (Value::String(relative), Value::String(absolute)) = (&row[2], &row[3]) else {
                panic!("{row:?}");
            };
            assert!(
                relative.ends_with(" %") && absolute.ends_with(" ms"),
                "{row:?}"
            );
        }
        // PROFILE runs writes, as Memgraph does.
        rows(&engine, "PROFILE CREATE (:Made)").await;
        assert_eq!(
            one(&engine, "MATCH (n:Made) RETURN count(n) AS c").await,
            Value::Int(1)
        );
    }
}
