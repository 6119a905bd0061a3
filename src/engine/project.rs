//! WITH and RETURN: projection, aggregation with implicit grouping, DISTINCT, ORDER BY, SKIP and
//! LIMIT.
//!
//! Aggregates are pulled out of the item expressions first (`count(x) + 1` becomes `#agg0 + 1`),
//! rows are grouped by the items that hold no aggregate, and each group evaluates the rewritten
//! items with its aggregates bound. Without aggregates rows stream through one at a time; only
//! aggregation, DISTINCT and ORDER BY hold rows, because they must.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::aggregate::Accumulator;
use super::eval::{eval, order, Env};
use super::functions::is_aggregate;
use super::{EngineError, Row};
use crate::cypher::ast::{Expr, Projection, SortItem};
use crate::value::Value;

/// Environments flowing between clauses.
pub type Envs = Box<dyn Iterator<Item = Result<Env, EngineError>> + Send>;

/// Rows with the scope they were computed in (ORDER BY may name variables and aliases).
pub type Scoped = Box<dyn Iterator<Item = Result<(Row, Env), EngineError>> + Send>;

/// Where aggregate results are bound while the rewritten items are evaluated; not a name a user
/// can write.
const AGG_PREFIX: &str = "#agg";

/// Projects `envs`. `scope` is the variables visible before the projection, for `*`.
/// `scoped`: whether the caller reads the rows' environments (a WITH's WHERE, which sees the
/// projected names and, without aggregation, the variables from before). When neither it nor
/// ORDER BY needs them, the environment handed back with a row is the input one, unextended,
/// which saves a copy of every row's bindings.
pub fn project(
    envs: Envs,
    projection: &Projection,
    scope: &[String],
    root: &Env,
    scoped: bool,
) -> Result<(Vec<String>, Scoped), EngineError> {
    let mut items: Vec<(String, Expr)> = projection
        .items
        .iter()
        .map(|i| (i.name.clone(), i.expr.clone()))
        .collect();
    if projection.star {
        // `RETURN *` over nothing was refused by the semantic pass; `WITH *` over nothing
        // passes nothing on.
        let mut names: Vec<String> = scope.to_vec();
        names.sort();
        let star = names.into_iter().map(|n| (n.clone(), Expr::Variable(n)));
        items = star.chain(items).collect();
    }
    let fields: Vec<String> = items.iter().map(|(n, _)| n.clone()).collect();
    let skip = count_expr(projection.skip.as_ref(), "SKIP", root)?;
    let limit = count_expr(projection.limit.as_ref(), "LIMIT", root)?;

    let mut aggregates = Vec::new();
    let rewritten: Vec<(String, Expr, bool)> = items
        .iter()
        .map(|(name, e)| {
            // An aggregate becomes a slot reference, so the item changed iff it aggregates.
            let r = extract(e, &mut aggregates);
            let has_aggregate = r != *e;
            (name.clone(), r, has_aggregate)
        })
        .collect();
    let mut order_by = projection.order_by.clone();
    if aggregates.is_empty() {
        for s in &order_by {
            let mut inner = Vec::new();
            extract(&s.expr, &mut inner);
            if !inner.is_empty() {
                return Err(EngineError::client(
                    "Aggregation in ORDER BY needs an aggregation in the projection; project it \
                     and order by its alias.",
                ));
            }
        }
    } else {
        // `ORDER BY count(*)` after `RETURN a, count(*)`: the sort key reads the projection's
        // own aggregate. One the projection does not compute could only see the variables the
        // projection dropped, which openCypher forbids.
        let projected = aggregates.len();
        for s in &mut order_by {
            s.expr = extract(&s.expr, &mut aggregates);
        }
        if aggregates.len() > projected {
            return Err(EngineError::client(
                "An aggregation in ORDER BY must also be in the projection; project it and \
                 order by its alias.",
            ));
        }
    }

    let keep_scope = scoped || !order_by.is_empty();
    let mut rows: Scoped = if aggregates.is_empty() {
        let items: Arc<Vec<(Arc<str>, Expr)>> = Arc::new(
            items
                .into_iter()
                .map(|(name, e)| (Arc::from(name.as_str()), e))
                .collect(),
        );
        Box::new(envs.map(move |env| -> Result<(Row, Env), EngineError> {
            let env = env?;
            let mut row = Vec::with_capacity(items.len());
            for (_, expr) in items.iter() {
                row.push(eval(expr, &env)?);
            }
            if !keep_scope {
                return Ok((row, env));
            }
            // The old bindings, then the columns (which shadow them), in one copy.
            let mut scope = env;
            scope.vars.reserve(items.len());
            for ((name, _), v) in items.iter().zip(&row) {
                scope.vars.push((Arc::clone(name), Arc::new(v.clone())));
            }
            Ok((row, scope))
        }))
    } else {
        aggregate(envs, rewritten, aggregates, root.clone())
    };

    if projection.distinct {
        let mut seen: HashSet<String> = HashSet::new();
        rows = Box::new(rows.filter_map(move |r| match r {
            Ok((row, env)) => {
                if let Err(e) = env.check_budget() {
                    return Some(Err(e));
                }
                seen.insert(row_key(&row)).then_some(Ok((row, env)))
            }
            Err(e) => Some(Err(e)),
        }));
    }
    if !order_by.is_empty() {
        rows = sorted(rows, Arc::new(order_by));
    }
    if let Some(skip) = skip {
        rows = Box::new(rows.skip(skip));
    }
    if let Some(limit) = limit {
        rows = Box::new(rows.take(limit));
    }
    Ok((fields, rows))
}

/// A key under which equal rows collide, for DISTINCT, UNION and grouping.
pub fn row_key(row: &[Value]) -> String {
    let mut key = String::new();
    for v in row {
        value_key(v, &mut key);
        key.push('\u{1}');
    }
    key
}

pub(crate) fn value_key(v: &Value, out: &mut String) {
    use std::fmt::Write;
    match v {
        // 1 and 1.0 are the same group in Cypher.
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => {
            let _ = write!(out, "i{}", *f as i64);
        }
        Value::Int(i) => {
            let _ = write!(out, "i{i}");
        }
        Value::Node(n) => {
            let _ = write!(out, "n{}", n.id);
        }
        Value::Relationship(r) => {
            let _ = write!(out, "r{}", r.id);
        }
        Value::List(items) => {
            out.push('[');
            for item in items {
                value_key(item, out);
                out.push(',');
            }
            out.push(']');
        }
        other => {
            let _ = write!(out, "{other:?}");
        }
    }
}

/// Replaces each aggregate call in `e` with a reference to its slot in `aggregates`.
fn extract(e: &Expr, aggregates: &mut Vec<Expr>) -> Expr {
    // The same aggregate written twice (`RETURN count(*), count(*) + 1`, or again in ORDER BY)
    // is computed once.
    let slot = |aggregates: &mut Vec<Expr>, e: &Expr| {
        let at = aggregates.iter().position(|a| a == e).unwrap_or_else(|| {
            aggregates.push(e.clone());
            aggregates.len() - 1
        });
        Expr::Variable(format!("{AGG_PREFIX}{at}"))
    };
    let mut sub = |x: &Expr| Box::new(extract(x, aggregates));
    match e {
        Expr::CountStar => slot(aggregates, e),
        Expr::Call { name, .. } if is_aggregate(name) => slot(aggregates, e),
        Expr::Call {
            name,
            distinct,
            args,
        } => Expr::Call {
            name: name.clone(),
            distinct: *distinct,
            args: args.iter().map(|a| extract(a, aggregates)).collect(),
        },
        Expr::List(items) => Expr::List(items.iter().map(|a| extract(a, aggregates)).collect()),
        Expr::Map(entries) => Expr::Map(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), extract(v, aggregates)))
                .collect(),
        ),
        Expr::Property(t, k) => Expr::Property(sub(t), k.clone()),
        Expr::Index(t, i) => {
            let t = sub(t);
            Expr::Index(t, Box::new(extract(i, aggregates)))
        }
        Expr::Slice(t, a, b) => {
            let t = sub(t);
            let a = a.as_ref().map(|x| Box::new(extract(x, aggregates)));
            let b = b.as_ref().map(|x| Box::new(extract(x, aggregates)));
            Expr::Slice(t, a, b)
        }
        Expr::Binary(op, l, r) => {
            let l = sub(l);
            Expr::Binary(*op, l, Box::new(extract(r, aggregates)))
        }
        Expr::Not(x) => Expr::Not(sub(x)),
        Expr::Negate(x) => Expr::Negate(sub(x)),
        Expr::IsNull(x, n) => Expr::IsNull(sub(x), *n),
        Expr::HasLabels(x, l) => Expr::HasLabels(sub(x), l.clone()),
        Expr::Case {
            subject,
            whens,
            otherwise,
        } => Expr::Case {
            subject: subject.as_ref().map(|s| Box::new(extract(s, aggregates))),
            whens: whens
                .iter()
                .map(|(w, t)| (extract(w, aggregates), extract(t, aggregates)))
                .collect(),
            otherwise: otherwise.as_ref().map(|o| Box::new(extract(o, aggregates))),
        },
        // An aggregate may give the list a comprehension walks (`[x IN collect(n) | ...]`);
        // inside the per-element parts it would be per element, which openCypher forbids.
        Expr::Quantified {
            quantifier,
            variable,
            list,
            predicate,
        } => Expr::Quantified {
            quantifier: *quantifier,
            variable: variable.clone(),
            list: sub(list),
            predicate: predicate.clone(),
        },
        Expr::ListComprehension {
            variable,
            list,
            predicate,
            projection,
        } => Expr::ListComprehension {
            variable: variable.clone(),
            list: sub(list),
            predicate: predicate.clone(),
            projection: projection.clone(),
        },
        Expr::Reduce {
            accumulator,
            init,
            variable,
            list,
            expr,
        } => {
            let init = sub(init);
            Expr::Reduce {
                accumulator: accumulator.clone(),
                init,
                variable: variable.clone(),
                list: Box::new(extract(list, aggregates)),
                expr: expr.clone(),
            }
        }
        Expr::Literal(_)
        | Expr::Parameter(_)
        | Expr::Variable(_)
        | Expr::Pattern(_)
        | Expr::ExistsSubquery(_)
        | Expr::CountSubquery(_)
        | Expr::PatternComprehension { .. } => e.clone(),
    }
}

struct Group {
    env: Env,
    keys: Vec<Option<Value>>,
    accumulators: Vec<Accumulator>,
}

/// Groups every input row; runs on the first pull so that RUN answers at once.
/// `root` is the scope of a group when there were no rows at all: it still has the parameters.
fn aggregate(
    envs: Envs,
    items: Vec<(String, Expr, bool)>,
    aggregates: Vec<Expr>,
    root: Env,
) -> Scoped {
    let mut source = Some(envs);
    let mut output: std::vec::IntoIter<Result<(Row, Env), EngineError>> = Vec::new().into_iter();
    Box::new(std::iter::from_fn(move || {
        if let Some(envs) = source.take() {
            output = match group(envs, &items, &aggregates, &root) {
                Ok(rows) => rows.into_iter().map(Ok).collect::<Vec<_>>().into_iter(),
                Err(e) => vec![Err(e)].into_iter(),
            };
        }
        output.next()
    }))
}

fn group(
    envs: Envs,
    items: &[(String, Expr, bool)],
    aggregates: &[Expr],
    root: &Env,
) -> Result<Vec<(Row, Env)>, EngineError> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for env in envs {
        let env = env?;
        env.check_budget()?;
        let mut keys = Vec::with_capacity(items.len());
        for (_, e, has_agg) in items {
            keys.push(if *has_agg { None } else { Some(eval(e, &env)?) });
        }
        let key_values: Vec<Value> = keys.iter().flatten().cloned().collect();
        let k = row_key(&key_values);
        let at = *index.entry(k).or_insert_with(|| {
            groups.push(Group {
                env: env.clone(),
                keys,
                accumulators: aggregates.iter().map(Accumulator::new).collect(),
            });
            groups.len() - 1
        });
        let g = &mut groups[at];
        for (acc, call) in g.accumulators.iter_mut().zip(aggregates) {
            acc.add(call, &env)?;
        }
    }
    // Aggregating nothing without grouping keys still gives one row: count 0, collect [].
    if groups.is_empty() && items.iter().all(|(_, _, has_agg)| *has_agg) {
        groups.push(Group {
            env: root.clone(),
            keys: vec![None; items.len()],
            accumulators: aggregates.iter().map(Accumulator::new).collect(),
        });
    }
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let mut scope = g.env.clone();
        for (i, acc) in g.accumulators.into_iter().enumerate() {
            scope = scope.with(&format!("{AGG_PREFIX}{i}"), acc.finish()?);
        }
        let mut row = Vec::with_capacity(items.len());
        for ((name, e, _), key) in items.iter().zip(g.keys) {
            let v = match key {
                Some(v) => v,
                None => eval(e, &scope)?,
            };
            scope = scope.with(name, v.clone());
            row.push(v);
        }
        out.push((row, scope));
    }
    Ok(out)
}

/// Sorting needs every row; it happens on the first pull, not when the query starts.
fn sorted(rows: Scoped, order_by: Arc<Vec<SortItem>>) -> Scoped {
    let mut source = Some(rows);
    let mut buffered: std::vec::IntoIter<Result<(Row, Env), EngineError>> = Vec::new().into_iter();
    Box::new(std::iter::from_fn(move || {
        if let Some(rows) = source.take() {
            let mut keyed: Vec<(Vec<Value>, Row, Env)> = Vec::new();
            let mut failure = None;
            for r in rows {
                let keys = r.and_then(|(row, env)| {
                    env.check_budget()?;
                    let keys = order_by
                        .iter()
                        .map(|s| eval(&s.expr, &env))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok((keys, row, env))
                });
                match keys {
                    Ok(k) => keyed.push(k),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = failure {
                buffered = vec![Err(e)].into_iter();
                return buffered.next();
            }
            keyed.sort_by(|a, b| {
                for (i, s) in order_by.iter().enumerate() {
                    let o = order(&a.0[i], &b.0[i]);
                    let o = if s.descending { o.reverse() } else { o };
                    if o.is_ne() {
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

#[cfg(test)]
mod tests {
    use crate::engine::testing::{one, rows};
    use crate::engine::MemoryEngine;
    use crate::value::Value;

    #[tokio::test]
    async fn order_by_may_aggregate_after_an_aggregating_projection() {
        let e = MemoryEngine::new();
        one(
            &e,
            "UNWIND range(1, 5) AS i CREATE (:P {i: i, k: i % 2}) RETURN count(*)",
        )
        .await;
        let ordered = |q: &'static str| {
            let e = &e;
            async move {
                rows(e, q)
                    .await
                    .into_iter()
                    .map(|r| r[0].clone())
                    .collect::<Vec<Value>>()
            }
        };
        // k = 1 has three rows (1, 3, 5), k = 0 two (2, 4).
        assert_eq!(
            ordered("MATCH (p:P) RETURN p.k AS k, count(*) AS c ORDER BY count(*)").await,
            vec![Value::Int(0), Value::Int(1)]
        );
        assert_eq!(
            ordered("MATCH (p:P) RETURN p.k AS k, sum(p.i) AS s ORDER BY sum(p.i) DESC").await,
            vec![Value::Int(1), Value::Int(0)]
        );
        assert_eq!(
            ordered("MATCH (p:P) RETURN p.k AS k, count(*) ORDER BY p.k + count(*) DESC").await,
            vec![Value::Int(1), Value::Int(0)]
        );
        // An aggregate may be the list a comprehension or quantifier walks.
        assert_eq!(
            one(
                &e,
                "MATCH (p:P) RETURN [x IN collect(p.i) WHERE x > 3 | x * 10] AS l"
            )
            .await,
            Value::List(vec![Value::Int(40), Value::Int(50)])
        );
        assert_eq!(
            one(
                &e,
                "MATCH (p:P) RETURN all(x IN collect(p.i) WHERE x > 0) AS ok"
            )
            .await,
            Value::Bool(true)
        );
        assert_eq!(
            one(
                &e,
                "MATCH (p:P) RETURN reduce(s = 0, x IN collect(p.i) | s + x) AS s"
            )
            .await,
            Value::Int(15)
        );
        // The same aggregate twice in one projection is still an aggregate each time.
        let got = rows(&e, "MATCH (p:P) RETURN count(*) AS a, count(*) + 1 AS b").await;
        assert_eq!(got, vec![vec![Value::Int(5), Value::Int(6)]]);
    }
}
