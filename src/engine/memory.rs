//! The embedded engine: parses a query and turns it into a lazy stream of rows.
//!
//! Rows are pulled one at a time by the Bolt session, so `UNWIND range(1, 1000000) AS x RETURN x`
//! starts streaming at once and never holds the whole result. Only DISTINCT and ORDER BY keep
//! rows in memory, because they must.

use std::sync::Arc;

use async_trait::async_trait;

use super::ast::{Clause, Expr, Projection, Query};
use super::eval::{eval, order, Env};
use super::functions::{range_args, range_iter};
use super::{
    parser, EngineError, Params, QueryEngine, QueryResult, QueryType, Row, RowStream, Transaction,
};
use crate::value::Value;

/// The embedded in-memory engine. It holds no graph yet; every transaction is read-only.
#[derive(Debug, Default)]
pub struct MemoryEngine {}

impl MemoryEngine {
    pub fn new() -> Self {
        MemoryEngine {}
    }
}

#[async_trait]
impl QueryEngine for MemoryEngine {
    async fn begin(&self) -> Result<Box<dyn Transaction>, EngineError> {
        Ok(Box::new(MemoryTransaction {}))
    }
}

/// A transaction of the embedded engine. Nothing to commit or undo until there is a store.
#[derive(Debug)]
pub struct MemoryTransaction {}

#[async_trait]
impl Transaction for MemoryTransaction {
    async fn run(&mut self, query: &str, params: &Params) -> Result<QueryResult, EngineError> {
        let query = parser::parse(query)?;
        plan(query, Arc::new(params.clone()))
    }

    async fn commit(self: Box<Self>) -> Result<(), EngineError> {
        Ok(())
    }

    async fn rollback(self: Box<Self>) {}
}

type Envs = Box<dyn Iterator<Item = Result<Env, EngineError>> + Send>;

/// Builds the row stream for a parsed query.
fn plan(query: Query, params: Arc<Params>) -> Result<QueryResult, EngineError> {
    let root = Env::new(params);
    let mut envs: Envs = Box::new(std::iter::once(Ok(root.clone())));
    let mut variables: Vec<String> = Vec::new();
    for clause in query.clauses {
        match clause {
            Clause::Unwind { expr, variable } => {
                variables.retain(|v| v != &variable);
                variables.push(variable.clone());
                envs = unwind(envs, Arc::new(expr), variable);
            }
            Clause::Return(projection) => {
                let (fields, rows) = project(envs, projection, &variables, &root)?;
                return Ok(QueryResult {
                    fields,
                    rows: fuse_on_error(rows),
                    query_type: QueryType::Read,
                });
            }
        }
    }
    Err(EngineError::client("A query must end with RETURN."))
}

/// `UNWIND expr AS variable`: one environment per list element. `range(...)` is iterated lazily
/// instead of being built as a list.
fn unwind(envs: Envs, expr: Arc<Expr>, variable: String) -> Envs {
    Box::new(envs.flat_map(move |env| -> Envs {
        let env = match env {
            Ok(env) => env,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let variable = variable.clone();
        if let Expr::Call { name, args, .. } = expr.as_ref() {
            if name.eq_ignore_ascii_case("range") {
                let args = args
                    .iter()
                    .map(|a| eval(a, &env))
                    .collect::<Result<Vec<_>, _>>();
                return match args.and_then(|a| range_args(&a)) {
                    Ok((start, end, step)) => Box::new(
                        range_iter(start, end, step)
                            .map(move |i| Ok(env.with(&variable, Value::Int(i)))),
                    ),
                    Err(e) => Box::new(std::iter::once(Err(e))),
                };
            }
        }
        match eval(&expr, &env) {
            Ok(Value::Null) => Box::new(std::iter::empty()),
            Ok(Value::List(items)) => {
                Box::new(items.into_iter().map(move |v| Ok(env.with(&variable, v))))
            }
            Ok(other) => Box::new(std::iter::once(Ok(env.with(&variable, other)))),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }))
}

/// `RETURN`: evaluates the items per environment, then DISTINCT, ORDER BY, SKIP and LIMIT.
fn project(
    envs: Envs,
    projection: Projection,
    variables: &[String],
    root: &Env,
) -> Result<(Vec<String>, RowStream), EngineError> {
    let mut items: Vec<(String, Expr)> = projection
        .items
        .iter()
        .map(|i| (i.name.clone(), i.expr.clone()))
        .collect();
    if projection.star {
        if variables.is_empty() {
            return Err(EngineError::client(
                "RETURN * is not allowed when there are no variables in scope.",
            ));
        }
        let mut names = variables.to_vec();
        names.sort();
        items = names
            .into_iter()
            .map(|n| (n.clone(), Expr::Variable(n)))
            .collect();
    }
    let fields: Vec<String> = items.iter().map(|(n, _)| n.clone()).collect();
    let skip = count_expr(projection.skip.as_ref(), "SKIP", root)?;
    let limit = count_expr(projection.limit.as_ref(), "LIMIT", root)?;
    let items = Arc::new(items);
    let order_by = Arc::new(projection.order_by);

    // Each row keeps its environment (with the aliases bound) until sorting is done, because
    // ORDER BY may name both variables and return aliases.
    let rows = envs.map({
        let items = Arc::clone(&items);
        move |env| -> Result<(Row, Env), EngineError> {
            let env = env?;
            let mut row = Vec::with_capacity(items.len());
            let mut scope = env.clone();
            for (name, expr) in items.iter() {
                let v = eval(expr, &env)?;
                scope = scope.with(name, v.clone());
                row.push(v);
            }
            Ok((row, scope))
        }
    });
    let mut rows: Box<dyn Iterator<Item = Result<(Row, Env), EngineError>> + Send> = Box::new(rows);

    if projection.distinct {
        let mut seen: Vec<Row> = Vec::new();
        rows = Box::new(rows.filter(move |r| match r {
            Ok((row, _)) => {
                if seen.iter().any(|s| rows_equal(s, row)) {
                    false
                } else {
                    seen.push(row.clone());
                    true
                }
            }
            Err(_) => true,
        }));
    }
    if !order_by.is_empty() {
        rows = sorted(rows, Arc::clone(&order_by));
    }
    let mut out: RowStream = Box::new(rows.map(|r| r.map(|(row, _)| row)));
    if let Some(skip) = skip {
        out = Box::new(out.skip(skip));
    }
    if let Some(limit) = limit {
        out = Box::new(out.take(limit));
    }
    Ok((fields, out))
}

/// Sorting needs every row; it happens on the first pull, not when the query starts.
fn sorted(
    rows: Box<dyn Iterator<Item = Result<(Row, Env), EngineError>> + Send>,
    order_by: Arc<Vec<super::ast::SortItem>>,
) -> Box<dyn Iterator<Item = Result<(Row, Env), EngineError>> + Send> {
    let mut source = Some(rows);
    let mut buffered: std::vec::IntoIter<Result<(Row, Env), EngineError>> = Vec::new().into_iter();
    Box::new(std::iter::from_fn(move || {
        if let Some(rows) = source.take() {
            let mut keyed: Vec<(Vec<Value>, Row, Env)> = Vec::new();
            for r in rows {
                match r {
                    Ok((row, env)) => {
                        let keys = order_by
                            .iter()
                            .map(|s| eval(&s.expr, &env))
                            .collect::<Result<Vec<_>, _>>();
                        match keys {
                            Ok(keys) => keyed.push((keys, row, env)),
                            Err(e) => {
                                buffered = vec![Err(e)].into_iter();
                                return buffered.next();
                            }
                        }
                    }
                    Err(e) => {
                        buffered = vec![Err(e)].into_iter();
                        return buffered.next();
                    }
                }
            }
            keyed.sort_by(|a, b| {
                for (i, s) in order_by.iter().enumerate() {
                    let o = order(&a.0[i], &b.0[i]);
                    let o = if s.descending { o.reverse() } else { o };
                    if o != std::cmp::Ordering::Equal {
                        return o;
                    }
                }
                std::cmp::Ordering::Equal
            });
            buffered = keyed
                .into_iter()
                .map(|(_, row, env)| Ok((row, env)))
                .collect::<Vec<_>>()
                .into_iter();
        }
        buffered.next()
    }))
}

fn rows_equal(a: &Row, b: &Row) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            order(x, y) == std::cmp::Ordering::Equal && x.type_name() == y.type_name()
        })
}

/// Evaluates a SKIP or LIMIT count (parameters allowed, no variables).
fn count_expr(expr: Option<&Expr>, what: &str, root: &Env) -> Result<Option<usize>, EngineError> {
    let Some(expr) = expr else { return Ok(None) };
    match eval(expr, root) {
        Ok(Value::Int(n)) if n >= 0 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
        Ok(other) => Err(EngineError::client(format!(
            "{what} must be a non-negative integer, got {other}."
        ))),
        Err(e) => Err(e),
    }
}

/// Ends the stream after the first error, so a failed row is reported once and nothing follows.
fn fuse_on_error(rows: RowStream) -> RowStream {
    let mut failed = false;
    let mut rows = rows;
    Box::new(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let next = rows.next();
        if matches!(next, Some(Err(_))) {
            failed = true;
        }
        next
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(q: &str) -> Result<(Vec<String>, Vec<Result<Row, EngineError>>), EngineError> {
        let mut tx = MemoryEngine::new().begin().await?;
        let mut params = Params::new();
        params.insert("n".into(), Value::Int(3));
        let r = tx.run(q, &params).await?;
        Ok((r.fields, r.rows.collect()))
    }

    fn ints(rows: Vec<Result<Row, EngineError>>) -> Vec<i64> {
        rows.into_iter()
            .map(|r| match r.unwrap().as_slice() {
                [Value::Int(i)] => *i,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn unwind_return() {
        let (fields, rows) = run("UNWIND [3, 1, 2] AS x RETURN x * 2 AS y")
            .await
            .unwrap();
        assert_eq!(fields, vec!["y"]);
        assert_eq!(ints(rows), vec![6, 2, 4]);
        let (_, rows) = run("UNWIND null AS x RETURN x").await.unwrap();
        assert!(rows.is_empty());
        let (_, rows) = run("UNWIND 5 AS x RETURN x").await.unwrap();
        assert_eq!(ints(rows), vec![5]);
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
        let mut tx = MemoryEngine::new().begin().await.unwrap();
        let r = tx
            .run(
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
        assert!(rows[0].is_ok());
        assert!(rows[1]
            .as_ref()
            .unwrap_err()
            .message
            .contains("Division by zero"));
    }

    #[tokio::test]
    async fn unsupported_and_syntax_errors() {
        assert!(run("MATCH (n) RETURN n")
            .await
            .unwrap_err()
            .message
            .starts_with("MATCH"));
        assert!(run("RETURN").await.is_err());
        assert!(run("UNWIND [1] AS x").await.is_err());
    }
}
