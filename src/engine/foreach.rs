//! `FOREACH (variable IN list | clauses)`: updating clauses run once per list element.
//!
//! FOREACH changes the graph, never the rows: the row that comes in is the row that goes out, and
//! neither the variable nor anything the inner clauses bind is visible after it. Only the values
//! of nodes and relationships the row already held are refreshed, so that a later `RETURN n`
//! shows what an inner `SET n.x = ...` wrote.

use super::eval::{eval, Env};
use super::exec::{write, Stats};
use super::store::TxState;
use super::EngineError;
use crate::cypher::ast::{Clause, Expr};
use crate::value::Value;

/// Runs the inner `clauses` for each element of `list` (evaluated in `env`) and returns `env`,
/// its nodes and relationships refreshed.
pub fn run(
    tx: &mut TxState,
    variable: &str,
    list: &Expr,
    clauses: &[Clause],
    env: Env,
    stats: &mut Stats,
) -> Result<Env, EngineError> {
    let items = match eval(list, &env)? {
        Value::Null => return Ok(env),
        Value::List(items) => items,
        other => {
            return Err(EngineError::client(format!(
                "FOREACH expects a LIST to iterate over, got {}.",
                other.type_name()
            )))
        }
    };
    let mut env = env;
    for item in items {
        env.check_budget()?;
        // An inner MERGE may give several rows; each later clause runs on every one of them.
        let mut rows = vec![env.with(variable, item)];
        for clause in clauses {
            let mut next = Vec::new();
            for row in rows {
                write(tx, clause, row, stats, &mut next)?;
            }
            rows = next;
        }
        // The next element must see what this one wrote (`SET n.sum = n.sum + x`).
        env = refreshed(tx, env);
    }
    Ok(env)
}

/// `env` with every bound node and relationship read again from the transaction's graph.
fn refreshed(tx: &TxState, mut env: Env) -> Env {
    let fresh: Vec<Value> = env
        .vars
        .iter()
        .filter_map(|(_, v)| match v.as_ref() {
            Value::Node(n) => tx.working.node_value(n.id).map(Value::Node),
            Value::Relationship(r) => tx.working.rel_value(r.id).map(Value::Relationship),
            _ => None,
        })
        .collect();
    for v in &fresh {
        env.refresh(v);
    }
    env
}

#[cfg(test)]
mod tests {
    use crate::cypher::ast::Statement;
    use crate::engine::{EngineError, MemoryEngine, Params, QueryEngine, Row};
    use crate::value::Value;

    /// Runs `q` in its own committed transaction and collects its rows.
    async fn run(engine: &MemoryEngine, q: &str) -> Result<Vec<Row>, EngineError> {
        let Statement::Query(query) = crate::cypher::parse(q)? else {
            panic!("{q}: not a query");
        };
        let mut tx = engine.begin().await?;
        let r = tx.run(query, Params::new()).await?;
        let rows = r.rows.collect::<Result<Vec<_>, _>>()?;
        tx.commit().await?;
        Ok(rows)
    }

    async fn ok(engine: &MemoryEngine, q: &str) -> Vec<Row> {
        run(engine, q).await.unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    async fn ints(engine: &MemoryEngine, q: &str) -> Vec<i64> {
        ok(engine, q)
            .await
            .into_iter()
            .map(|r| match r.as_slice() {
                [Value::Int(i)] => *i,
                other => panic!("{q}: {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn creates_a_node_per_element_and_keeps_the_row() {
        let e = MemoryEngine::new();
        let rows = ok(
            &e,
            "WITH 7 AS k FOREACH (x IN [1, 2, 3] | CREATE (:N {v: x, k: k})) RETURN k",
        )
        .await;
        assert_eq!(rows, vec![vec![Value::Int(7)]]);
        assert_eq!(
            ints(&e, "MATCH (n:N {k: 7}) RETURN n.v ORDER BY n.v").await,
            vec![1, 2, 3]
        );
    }

    #[tokio::test]
    async fn the_variable_is_not_visible_after() {
        let e = MemoryEngine::new();
        let err = run(&e, "FOREACH (x IN [1] | CREATE (:N)) RETURN x")
            .await
            .unwrap_err();
        assert!(err.message.contains('x'), "{err}");
        let err = run(&e, "FOREACH (x IN [1] | CREATE (m:N)) RETURN m")
            .await
            .unwrap_err();
        assert!(err.message.contains('m'), "{err}");
    }

    #[tokio::test]
    async fn nested_foreach_runs_for_every_pair() {
        let e = MemoryEngine::new();
        ok(
            &e,
            "FOREACH (a IN [1, 2] | FOREACH (b IN [10, 20] | CREATE (:P {v: a + b})))",
        )
        .await;
        assert_eq!(
            ints(&e, "MATCH (p:P) RETURN p.v ORDER BY p.v").await,
            vec![11, 12, 21, 22]
        );
    }

    #[tokio::test]
    async fn set_inside_foreach_after_match_is_seen_later() {
        let e = MemoryEngine::new();
        ok(&e, "CREATE (:A {id: 1}), (:A {id: 2})").await;
        let rows = ok(
            &e,
            "MATCH (a:A) FOREACH (x IN [1, 2, 3] | SET a.total = coalesce(a.total, 0) + x) \
             RETURN a.id, a.total ORDER BY a.id",
        )
        .await;
        assert_eq!(
            rows,
            vec![
                vec![Value::Int(1), Value::Int(6)],
                vec![Value::Int(2), Value::Int(6)]
            ]
        );
        // The path of nodes a list holds can be changed too.
        ok(
            &e,
            "MATCH (a:A) WITH collect(a) AS all FOREACH (n IN all | SET n:Seen REMOVE n.total)",
        )
        .await;
        assert_eq!(
            ints(&e, "MATCH (a:Seen) WHERE a.total IS NULL RETURN count(a)").await,
            vec![2]
        );
    }

    #[tokio::test]
    async fn merge_and_delete_inside_foreach() {
        let e = MemoryEngine::new();
        ok(&e, "FOREACH (x IN [1, 1, 2] | MERGE (:M {v: x}))").await;
        assert_eq!(ints(&e, "MATCH (m:M) RETURN count(m)").await, vec![2]);
        ok(
            &e,
            "MATCH (m:M) WITH collect(m) AS ms FOREACH (m IN ms | DELETE m)",
        )
        .await;
        assert_eq!(ints(&e, "MATCH (m:M) RETURN count(m)").await, vec![0]);
    }

    #[tokio::test]
    async fn null_iterates_nothing_and_a_non_list_is_an_error() {
        let e = MemoryEngine::new();
        let rows = ok(&e, "FOREACH (x IN null | CREATE (:Z)) RETURN 1").await;
        assert_eq!(rows.len(), 1);
        assert_eq!(ints(&e, "MATCH (z:Z) RETURN count(z)").await, vec![0]);
        let err = run(&e, "FOREACH (x IN 5 | CREATE (:Z))").await.unwrap_err();
        assert!(err.message.contains("FOREACH expects a LIST"), "{err}");
        assert!(err.message.contains("INTEGER"), "{err}");
    }
}
