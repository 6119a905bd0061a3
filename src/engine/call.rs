//! `CALL procedure(args) [YIELD field [AS alias], ... | YIELD *] [WHERE predicate]`: joins each
//! incoming row with the procedure's rows.
//!
//! The procedure and the yielded fields are resolved once, before any row is read, so an unknown
//! procedure or field fails the query before it runs. Rows stay lazy: each incoming row's
//! arguments are evaluated and the procedure is run when that row is pulled.

use std::sync::Arc;

use super::eval::{eval, Env};
use super::exec::keep;
use super::procedures::{self, Procedure};
use super::project::Envs;
use super::{EngineError, Row, RowStream};
use crate::cypher::ast::{Expr, ProcedureCall};
use crate::value::Value;

/// What a call binds: the procedure, and for each yielded field its index among the
/// procedure's outputs and the variable it is bound to.
struct Resolved {
    procedure: &'static dyn Procedure,
    bindings: Vec<(usize, Arc<str>)>,
}

fn resolve(call: &ProcedureCall) -> Result<Resolved, EngineError> {
    let procedure = procedures::find(&call.name)?;
    let outputs = procedure.outputs();
    let bindings = match &call.yields {
        None => outputs
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (i, Arc::from(*name)))
            .collect(),
        Some(fields) => fields
            .iter()
            .map(|(field, alias)| {
                outputs
                    .iter()
                    .position(|(name, _)| name == field)
                    .map(|i| (i, Arc::from(alias.as_str())))
                    .ok_or_else(|| {
                        EngineError::client(format!(
                            "The procedure named '{}' has no result field named '{field}'.",
                            call.name
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Resolved {
        procedure,
        bindings,
    })
}

/// The names a call binds, in order: the columns of a standalone CALL.
pub fn bound_names(call: &ProcedureCall) -> Result<Vec<String>, EngineError> {
    Ok(resolve(call)?
        .bindings
        .into_iter()
        .map(|(_, n)| n.to_string())
        .collect())
}

/// The CALL clause inside a query: every incoming environment, joined with each of the
/// procedure's rows that passes the filter.
pub fn call_clause(envs: Envs, call: &ProcedureCall) -> Result<Envs, EngineError> {
    let resolved = Arc::new(resolve(call)?);
    let args = Arc::new(call.args.clone());
    let filter = Arc::new(call.filter.clone());
    Ok(Box::new(envs.flat_map(move |env| -> Envs {
        let env = match env {
            Ok(env) => env,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let rows = match run_for(&resolved, &args, &env) {
            Ok(rows) => rows,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let (resolved, filter) = (Arc::clone(&resolved), Arc::clone(&filter));
        Box::new(rows.filter_map(move |row| {
            let joined = row.and_then(|row| bind(&env, &resolved, row));
            match joined {
                Ok(env) => keep(env, filter.as_ref().as_ref()),
                Err(e) => Some(Err(e)),
            }
        }))
    })))
}

/// A query that is only a CALL: its columns are the yielded fields (every output field without
/// YIELD), and each passing row of the procedure is a result row.
pub fn standalone(
    root: Env,
    call: &ProcedureCall,
) -> Result<(Vec<String>, RowStream), EngineError> {
    let fields = bound_names(call)?;
    let envs: Envs = Box::new(std::iter::once(Ok(root)));
    let names = fields.clone();
    let rows = call_clause(envs, call)?.map(move |env| -> Result<Row, EngineError> {
        let env = env?;
        Ok(names
            .iter()
            .map(|n| env.lookup(n).cloned().unwrap_or(Value::Null))
            .collect())
    });
    Ok((fields, Box::new(rows)))
}

fn run_for(
    resolved: &Resolved,
    args: &[Expr],
    env: &Env,
) -> Result<procedures::ProcedureRows, EngineError> {
    env.check_budget()?;
    let values = args
        .iter()
        .map(|a| eval(a, env))
        .collect::<Result<Vec<_>, _>>()?;
    procedures::run(resolved.procedure, env, values)
}

fn bind(env: &Env, resolved: &Resolved, row: Row) -> Result<Env, EngineError> {
    env.check_budget()?;
    let mut out = env.clone();
    out.vars.reserve(resolved.bindings.len());
    for (i, name) in &resolved.bindings {
        let value = row.get(*i).cloned().unwrap_or(Value::Null);
        out.vars.push((Arc::clone(name), Arc::new(value)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::cypher::ast::Statement;
    use crate::engine::{Classification, MemoryEngine, Params, QueryEngine, Transaction};
    use crate::value::Value;

    use super::*;

    async fn run_on(
        tx: &mut Box<dyn Transaction>,
        q: &str,
    ) -> Result<(Vec<String>, Vec<Row>), EngineError> {
        let Statement::Query(query) = crate::cypher::parse(q)? else {
            panic!("{q}: not a query")
        };
        let r = tx.run(query, Params::new()).await?;
        let rows = r.rows.collect::<Result<Vec<_>, _>>()?;
        Ok((r.fields, rows))
    }

    async fn graph() -> MemoryEngine {
        let engine = MemoryEngine::new();
        let mut tx = engine.begin().await.unwrap();
        run_on(
            &mut tx,
            "CREATE (:Person {name: 'a', age: 1})-[:KNOWS {since: 2}]->(:Person:Admin {name: 'b'}), \
             (:City)-[:IN]->(:Country)",
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        engine
    }

    async fn query(engine: &MemoryEngine, q: &str) -> Result<(Vec<String>, Vec<Row>), EngineError> {
        let mut tx = engine.begin().await?;
        run_on(&mut tx, q).await
    }

    fn strings(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| match r.as_slice() {
                [Value::String(s)] => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn standalone_calls_return_every_field_or_the_yielded_ones() {
        let engine = graph().await;
        let (fields, rows) = query(&engine, "CALL db.labels()").await.unwrap();
        assert_eq!(fields, vec!["label"]);
        assert_eq!(strings(&rows), vec!["Admin", "City", "Country", "Person"]);
        let (_, rows) = query(&engine, "CALL db.relationshipTypes").await.unwrap();
        assert_eq!(strings(&rows), vec!["IN", "KNOWS"]);
        let (fields, rows) = query(&engine, "CALL db.propertyKeys() YIELD propertyKey AS k")
            .await
            .unwrap();
        assert_eq!(fields, vec!["k"]);
        assert_eq!(strings(&rows), vec!["age", "name", "since"]);
        let (fields, rows) = query(&engine, "CALL dbms.components() YIELD *")
            .await
            .unwrap();
        assert_eq!(fields, vec!["name", "versions", "edition"]);
        assert_eq!(rows[0][0], Value::from("Neo4j Kernel"));
    }

    #[tokio::test]
    async fn calls_inside_queries_join_yield_and_filter() {
        let engine = graph().await;
        let (fields, rows) = query(
            &engine,
            "CALL db.labels() YIELD label WHERE label STARTS WITH 'C' \
             MATCH (n) WHERE label IN labels(n) RETURN label, count(n) AS c ORDER BY label",
        )
        .await
        .unwrap();
        assert_eq!(fields, vec!["label", "c"]);
        assert_eq!(
            rows,
            vec![
                vec![Value::from("City"), Value::Int(1)],
                vec![Value::from("Country"), Value::Int(1)]
            ]
        );
        // Each incoming row is joined with every procedure row.
        let (_, rows) = query(
            &engine,
            "UNWIND [1, 2] AS i CALL db.relationshipTypes() YIELD relationshipType AS t \
             RETURN i, t",
        )
        .await
        .unwrap();
        assert_eq!(rows.len(), 4);
        // Neo4j Browser's start-up query: calls joined by UNION ALL.
        let (_, rows) = query(
            &engine,
            "CALL db.labels() YIELD label RETURN {name: 'labels', data: collect(label)[..1000]} \
             AS result UNION ALL CALL db.relationshipTypes() YIELD relationshipType \
             RETURN {name: 'types', data: collect(relationshipType)[..1000]} AS result",
        )
        .await
        .unwrap();
        assert_eq!(rows.len(), 2);
        let (_, rows) = query(
            &engine,
            "CALL mg.procedures() YIELD name, is_write WHERE name = 'db.labels' RETURN name, is_write",
        )
        .await
        .unwrap();
        assert_eq!(
            rows,
            vec![vec![Value::from("db.labels"), Value::Bool(false)]]
        );
        let (_, rows) = query(
            &engine,
            "CALL mg.functions() YIELD name WHERE name = 'toUpper' RETURN name",
        )
        .await
        .unwrap();
        assert_eq!(rows.len(), 1);
    }

    #[tokio::test]
    async fn unknown_procedures_fields_and_arguments_are_refused_before_running() {
        let engine = graph().await;
        let e = query(&engine, "CALL db.nothing()").await.unwrap_err();
        assert_eq!(e.message, "There is no procedure named 'db.nothing'.");
        assert_eq!(e.classification, Classification::ClientError);
        let e = query(&engine, "CALL db.labels() YIELD name RETURN name")
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "The procedure named 'db.labels' has no result field named 'name'."
        );
        let e = query(&engine, "CALL db.labels(1)").await.unwrap_err();
        assert!(
            e.message.contains("takes 0 arguments, got 1"),
            "{}",
            e.message
        );
        // Refused before anything ran: the CREATE before the bad CALL left nothing.
        let e = query(
            &engine,
            "CREATE (:New) WITH 1 AS x CALL db.none() YIELD y RETURN y",
        )
        .await
        .unwrap_err();
        assert!(e.message.contains("db.none"), "{}", e.message);
        let (_, rows) = query(&engine, "MATCH (n:New) RETURN n").await.unwrap();
        assert!(rows.is_empty());
    }

    #[tokio::test]
    async fn a_set_abort_flag_stops_a_running_query_and_the_transaction() {
        let engine = MemoryEngine::new();
        let mut tx = engine.begin().await.unwrap();
        let flag = Arc::new(AtomicBool::new(false));
        tx.set_abort(Arc::clone(&flag));
        let Statement::Query(q) =
            crate::cypher::parse("UNWIND range(1, 100000000) AS x WITH x WHERE x < 0 RETURN x")
                .unwrap()
        else {
            panic!()
        };
        let mut r = tx.run(q, Params::new()).await.unwrap();
        flag.store(true, Ordering::Relaxed);
        let e = r.rows.next().unwrap().unwrap_err();
        assert_eq!(e.message, crate::engine::eval::TERMINATED);
        assert_eq!(e.classification, Classification::TransientError);
        let e = run_on(&mut tx, "RETURN 1").await.unwrap_err();
        assert_eq!(e.message, crate::engine::eval::TERMINATED);
        assert!(tx.commit().await.is_err());
    }
}
