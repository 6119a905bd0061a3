//! Queries and patterns nested inside a query: `EXISTS { }`, `COUNT { }`, `CALL { }` and
//! pattern comprehensions.
//!
//! They all run the same executor as a top-level query, started from the outer row instead of
//! an empty one, so a subquery supports every clause a query does. Subqueries inside expressions
//! and reading `CALL { }`s run without the transaction (they read the row's graph snapshot and
//! stream); a `CALL { }` that writes runs with it, once per incoming row, like any updating
//! clause.

use std::sync::Arc;

use super::eval::{eval, Env};
use super::exec::{run_union, Stats};
use super::graph::Graph;
use super::pattern::{self, CONTINUE};
use super::project::Envs;
use super::store::TxState;
use super::{EngineError, RowStream};
use crate::cypher::ast::{Clause, Expr, PatternPart, Query};
use crate::cypher::{RED_ZONE, STACK_GROWTH};
use crate::value::Value;

/// The columns a subquery's RETURN adds to the outer row (none for a unit subquery).
pub fn returned(query: &Query) -> Vec<String> {
    match query.clauses.last() {
        Some(Clause::Return(projection)) => {
            projection.items.iter().map(|i| i.name.clone()).collect()
        }
        _ => Vec::new(),
    }
}

/// The row a `CALL { }` body starts from: the outer row when the body begins by importing
/// variables with `WITH`, otherwise nothing of it (openCypher scopes the body that way).
fn call_start(query: &Query, outer: &Env) -> Env {
    let imports = matches!(query.clauses.first(), Some(Clause::With { projection, .. })
        if projection.star || projection.items.iter().all(|i| matches!(&i.expr, Expr::Variable(v) if *v == i.name)));
    let mut start = outer.clone();
    if !imports {
        start.vars.clear();
    }
    start
}

/// Runs a reading subquery from `env`, over the graph `env` sees.
fn rows(query: &Query, env: &Env) -> Result<(Vec<String>, RowStream), EngineError> {
    if env.graph.is_none() {
        return Err(EngineError::client(
            "Subqueries can only be used where there is a graph (in a query's clauses).",
        ));
    }
    // Subqueries nest as deep as the parser allows; grow the stack rather than trust its size.
    stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
        run_union(query, None, false, env, &mut Stats::default(), None)
    })
}

/// `EXISTS { ... }`: whether the subquery yields at least one row. Only the first is computed.
pub fn exists(query: &Query, env: &Env) -> Result<bool, EngineError> {
    let (_, mut rows) = rows(query, env)?;
    rows.next().transpose().map(|first| first.is_some())
}

/// `COUNT { ... }`: how many rows the subquery yields.
pub fn count(query: &Query, env: &Env) -> Result<i64, EngineError> {
    let (_, rows) = rows(query, env)?;
    let mut n = 0i64;
    for row in rows {
        row?;
        n += 1;
        if n % 4096 == 0 {
            env.check_budget()?;
        }
    }
    Ok(n)
}

/// Joins the outer row with each row of the subquery's result. A unit subquery (no RETURN) is
/// drained for its checks and the outer row continues once.
fn join(outer: Env, fields: &[String], rows: RowStream, unit: bool) -> Envs {
    if unit {
        let mut rows = rows;
        return Box::new(std::iter::once_with(move || {
            for row in rows.by_ref() {
                row?;
            }
            Ok(outer)
        }));
    }
    let fields: Arc<[String]> = fields.into();
    Box::new(rows.map(move |row| {
        let row = row?;
        let mut env = outer.clone();
        for (name, value) in fields.iter().zip(row) {
            env = env.with(name, value);
        }
        Ok(env)
    }))
}

/// A reading `CALL { }` clause: lazily, per incoming row.
pub fn call_reading(envs: Envs, query: Arc<Query>, graph: Arc<Graph>) -> Envs {
    Box::new(envs.flat_map(move |outer| -> Envs {
        let mut outer = match outer {
            Ok(env) => env,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        outer.graph = Some(Arc::clone(&graph));
        let unit = returned(&query).is_empty();
        match rows(&query, &call_start(&query, &outer)) {
            Ok((fields, rows)) => join(outer, &fields, rows, unit),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }))
}

/// An updating `CALL { }` for one incoming row: runs the body in the transaction and pushes the
/// joined rows.
pub fn call_writing(
    tx: &mut TxState,
    query: &Query,
    outer: Env,
    stats: &mut Stats,
    out: &mut Vec<Env>,
) -> Result<(), EngineError> {
    let start = call_start(query, &outer);
    let (fields, rows) = stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
        run_union(query, Some(tx), true, &start, stats, None)
    })?;
    let unit = returned(query).is_empty();
    let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
    if unit {
        out.push(outer);
        return Ok(());
    }
    for row in rows {
        let mut env = outer.clone();
        for (name, value) in fields.iter().zip(row) {
            env = env.with(name, value);
        }
        out.push(env);
    }
    Ok(())
}

/// `[p = (a)-->(b) WHERE pred | expr]`: the projection of every match of the pattern from the
/// current row, in match order.
pub fn comprehension(
    pattern: &PatternPart,
    predicate: Option<&Expr>,
    projection: &Expr,
    env: &Env,
) -> Result<Value, EngineError> {
    let Some(graph) = env.graph.clone() else {
        return Err(EngineError::client(
            "Pattern comprehensions can only be used where there is a graph (in a query's clauses).",
        ));
    };
    let mut out = Vec::new();
    // Every match is wanted, so the search always runs to its end.
    let _ = pattern::match_parts(
        &graph,
        std::slice::from_ref(pattern),
        env.clone(),
        &mut Vec::new(),
        &[],
        &mut |e, _| {
            let keep = match predicate {
                None => true,
                Some(p) => matches!(eval(p, &e)?, Value::Bool(true)),
            };
            if keep {
                out.push(eval(projection, &e)?);
                if out.len() % 4096 == 0 {
                    e.check_budget()?;
                }
            }
            Ok(CONTINUE)
        },
    )?;
    Ok(Value::List(out))
}

#[cfg(test)]
mod tests {
    use crate::engine::testing::*;
    use crate::engine::MemoryEngine;
    use crate::value::Value;

    async fn graph() -> MemoryEngine {
        let engine = MemoryEngine::new();
        rows(
            &engine,
            "CREATE (a:P {name: 'a', age: 30}), (b:P {name: 'b', age: 20}), (c:P {name: 'c', age: 40}), \
             (a)-[:KNOWS]->(b), (a)-[:KNOWS]->(c), (b)-[:KNOWS]->(c)",
        )
        .await;
        engine
    }

    fn second_column(rows: Vec<crate::engine::Row>) -> Vec<Value> {
        rows.into_iter().map(|r| r[1].clone()).collect()
    }

    fn strings(rows: Vec<crate::engine::Row>) -> Vec<String> {
        rows.into_iter()
            .map(|r| match r.as_slice() {
                [Value::String(s)] => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn exists_and_count_subqueries_see_the_outer_row() {
        let engine = graph().await;
        let q = "MATCH (p:P) WHERE EXISTS { MATCH (p)-[:KNOWS]->(q) WHERE q.age > 30 } \
                 RETURN p.name ORDER BY p.name";
        assert_eq!(strings(rows(&engine, q).await), ["a", "b"]);
        let q = "MATCH (p:P) WHERE EXISTS { (p)-[:KNOWS]->(:P {name: 'b'}) } RETURN p.name";
        assert_eq!(strings(rows(&engine, q).await), ["a"]);
        let q = "MATCH (p:P) RETURN p.name, COUNT { (p)-[:KNOWS]->() } AS n ORDER BY p.name";
        let got = second_column(rows(&engine, q).await);
        assert_eq!(got, [Value::Int(2), Value::Int(1), Value::Int(0)]);
        // A full query inside, with its own WITH and RETURN.
        let q = "MATCH (p:P {name: 'a'}) RETURN COUNT { MATCH (p)-->(q) WITH q WHERE q.age < 30 \
                 RETURN q } AS young";
        assert_eq!(one(&engine, q).await, Value::Int(1));
        let q = "RETURN EXISTS { MATCH (x:Nope) } AS e";
        assert_eq!(one(&engine, q).await, Value::Bool(false));
    }

    #[tokio::test]
    async fn pattern_comprehensions_project_every_match() {
        let engine = graph().await;
        let q = "MATCH (p:P {name: 'a'}) RETURN [(p)-[:KNOWS]->(q) WHERE q.age > 25 | q.name] AS n";
        assert_eq!(
            one(&engine, q).await,
            Value::List(vec![Value::String("c".into())])
        );
        let q = "MATCH (p:P {name: 'a'}) RETURN size([path = (p)-->() | path]) AS n";
        assert_eq!(one(&engine, q).await, Value::Int(2));
        let q = "MATCH (p:P {name: 'c'}) RETURN [(p)-->(q) | q.name] AS n";
        assert_eq!(one(&engine, q).await, Value::List(vec![]));
    }

    #[tokio::test]
    async fn call_subqueries_import_with_and_join_their_rows() {
        let engine = graph().await;
        let q = "MATCH (p:P) CALL { WITH p MATCH (p)-->(q) RETURN count(q) AS out } \
                 RETURN p.name, out ORDER BY p.name";
        let got = second_column(rows(&engine, q).await);
        assert_eq!(got, [Value::Int(2), Value::Int(1), Value::Int(0)]);
        // Without an importing WITH the body sees nothing of the outer row and runs once per row.
        let q =
            "UNWIND [1, 2] AS x CALL { MATCH (p:P) RETURN max(p.age) AS oldest } RETURN x, oldest";
        assert_eq!(rows(&engine, q).await.len(), 2);
        // A body with UNION.
        let q = "CALL { MATCH (p:P {name: 'a'}) RETURN p.name AS n UNION MATCH (p:P {name: 'b'}) \
                 RETURN p.name AS n } RETURN n ORDER BY n";
        assert_eq!(strings(rows(&engine, q).await), ["a", "b"]);
    }

    #[tokio::test]
    async fn updating_call_subqueries_run_once_per_row() {
        let engine = graph().await;
        let q =
            "UNWIND range(1, 3) AS i CALL { WITH i CREATE (:Made {i: i}) } RETURN count(*) AS n";
        assert_eq!(one(&engine, q).await, Value::Int(3));
        let q = "MATCH (m:Made) RETURN sum(m.i) AS s";
        assert_eq!(one(&engine, q).await, Value::Int(6));
        let q =
            "MATCH (p:P {name: 'a'}) CALL { WITH p CREATE (p)-[:MADE]->(m:Made {i: 9}) RETURN m } \
                 RETURN m.i";
        assert_eq!(one(&engine, q).await, Value::Int(9));
    }

    #[tokio::test]
    async fn deeply_nested_subqueries_run() {
        let engine = MemoryEngine::new();
        let depth = 100;
        let q = format!(
            "{}RETURN 1 AS x{}",
            "CALL { ".repeat(depth),
            " } RETURN x".repeat(depth)
        );
        assert_eq!(one(&engine, &q).await, Value::Int(1));
        // Each EXISTS counts as expression nesting too.
        let q = format!(
            "RETURN {}true{} AS e",
            "EXISTS { RETURN ".repeat(depth / 3),
            " AS x }".repeat(depth / 3)
        );
        assert_eq!(one(&engine, &q).await, Value::Bool(true));
    }

    #[tokio::test]
    async fn subqueries_in_expressions_may_not_write() {
        let e = run("RETURN EXISTS { CREATE (n) } AS x").await;
        let message = match e {
            Err(e) => e.message,
            Ok((_, rows)) => {
                rows.into_iter()
                    .find_map(|r| r.err())
                    .expect("an error")
                    .message
            }
        };
        assert!(message.contains("cannot change the graph"), "{message}");
    }
}
