//! Helpers for the engine's tests: run a query's text as the dispatcher would and collect what
//! comes back.

use async_trait::async_trait;

use super::memory::MemoryEngine;
use super::{EngineError, Params, QueryEngine, QueryResult, Row, Transaction};
use crate::cypher::ast::Statement;
use crate::value::Value;

pub(crate) type Rows = Vec<Result<Row, EngineError>>;

/// Runs a query's text in a transaction, as the dispatcher does: parsed once, moved in.
#[async_trait]
pub(crate) trait RunText {
    async fn run_text(&mut self, q: &str, params: &Params) -> Result<QueryResult, EngineError>;
}

#[async_trait]
impl RunText for Box<dyn Transaction> {
    async fn run_text(&mut self, q: &str, params: &Params) -> Result<QueryResult, EngineError> {
        match crate::cypher::parse(q)? {
            Statement::Query(query) => self.run(query, params.clone()).await,
            Statement::Explain(query) => self.explain(query, params.clone(), false).await,
            Statement::Profile(query) => self.explain(query, params.clone(), true).await,
            other => panic!("{q}: not a query: {other:?}"),
        }
    }
}

/// A query in its own transaction, or a schema statement, as an auto-commit RUN does.
pub(crate) async fn run_in(
    engine: &MemoryEngine,
    q: &str,
) -> Result<(Vec<String>, Rows, QueryResult), EngineError> {
    if let Statement::Schema(command) = crate::cypher::parse(q)? {
        let mut r = engine.schema(command).await?;
        let rows: Rows = std::mem::replace(&mut r.rows, Box::new(std::iter::empty())).collect();
        return Ok((r.fields.clone(), rows, r));
    }
    let mut tx = engine.begin().await?;
    let mut params = Params::new();
    params.insert("n".into(), Value::Int(3));
    let mut r = tx.run_text(q, &params).await?;
    let rows: Rows = std::mem::replace(&mut r.rows, Box::new(std::iter::empty())).collect();
    if rows.iter().all(|r| r.is_ok()) {
        tx.commit().await?;
    }
    Ok((r.fields.clone(), rows, r))
}

pub(crate) async fn rows(engine: &MemoryEngine, q: &str) -> Vec<Row> {
    match run_in(engine, q).await {
        Ok((_, rows, _)) => rows
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{q}: {e}")))
            .collect(),
        Err(e) => panic!("{q}: {e}"),
    }
}

pub(crate) async fn one(engine: &MemoryEngine, q: &str) -> Value {
    let mut r = rows(engine, q).await;
    assert_eq!(r.len(), 1, "{q}: {r:?}");
    let mut row = r.remove(0);
    assert_eq!(row.len(), 1, "{q}");
    row.remove(0)
}

pub(crate) async fn run(q: &str) -> Result<(Vec<String>, Rows), EngineError> {
    run_in(&MemoryEngine::new(), q)
        .await
        .map(|(f, rows, _)| (f, rows))
}

pub(crate) fn ints(rows: Rows) -> Vec<i64> {
    rows.into_iter()
        .map(|r| match r.unwrap().as_slice() {
            [Value::Int(i)] => *i,
            other => panic!("{other:?}"),
        })
        .collect()
}

pub(crate) fn int_list(v: Value) -> Vec<i64> {
    match v {
        Value::List(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Int(i) => i,
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}
