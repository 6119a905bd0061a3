//! Runs a parsed query against one transaction's graph.
//!
//! Reading clauses are lazy iterators over an immutable snapshot of the transaction's graph, so a
//! read-only query streams its rows as the client pulls them and holds no lock. A query with an
//! updating clause runs to completion inside RUN: each updating clause drains the rows before it
//! (which were read from a snapshot taken before the update, so `MATCH (n) CREATE (m)` cannot
//! chase its own output), applies its changes to the transaction, and hands its rows to the next
//! clause over a fresh snapshot. That way the statistics are known and a failure rolls back before
//! any row reaches the client.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use super::eval::{eval, Env};
use super::graph::{Graph, NodeRec, Props, RelRec};
use super::pattern::{self, Hint, CONTINUE};
use super::plan;
use super::profile::{self, Meter, Profile};
use super::project::{project, row_key, Envs};
use super::store::TxState;
use super::subquery;
use super::{EngineError, Params, QueryResult, QueryType, Row, RowStream};
use crate::cypher::ast::{Clause, Direction, Expr, PatternPart, Query, RemoveItem, SetItem};
use crate::value::{Map, Path, Value};

/// Write statistics, named as Memgraph reports them in the summary's `stats`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub nodes_created: i64,
    pub nodes_deleted: i64,
    pub relationships_created: i64,
    pub relationships_deleted: i64,
    pub properties_set: i64,
    pub labels_added: i64,
    pub labels_removed: i64,
}

impl Stats {
    /// The counters under their summary names, in the names' order: the summary encodes them
    /// straight from here, where a map would allocate seven strings per write query.
    pub fn counters(&self) -> [(&'static str, i64); 7] {
        [
            ("labels-added", self.labels_added),
            ("labels-removed", self.labels_removed),
            ("nodes-created", self.nodes_created),
            ("nodes-deleted", self.nodes_deleted),
            ("properties-set", self.properties_set),
            ("relationships-created", self.relationships_created),
            ("relationships-deleted", self.relationships_deleted),
        ]
    }
}

/// Whether any clause of the query (or of a query UNIONed to it) changes the graph.
pub fn query_writes(q: &Query) -> bool {
    q.writes()
}

fn returns(q: &Query) -> bool {
    matches!(q.clauses.last(), Some(Clause::Return(_)))
}

/// What one query may spend.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    /// When it must stop (`--query-execution-timeout-sec`).
    pub deadline: Option<Instant>,
    /// Live heap bytes of the whole server above which it stops (`--memory-limit`).
    pub memory_limit: Option<usize>,
    /// Set when another session terminates the transaction (`TERMINATE TRANSACTIONS`).
    pub abort: Option<Arc<AtomicBool>>,
    /// The instants `datetime.transaction()` and `datetime.statement()` give: not a limit, but
    /// fixed per query in the same way.
    pub clock: super::temporal::Clock,
}

impl Budget {
    /// The environment a query starts from: its parameters and what it may spend.
    fn root(self, params: Params) -> Env {
        let mut root = Env::at(Arc::new(params), self.clock);
        root.deadline = self.deadline;
        root.memory_limit = self.memory_limit;
        root.abort = self.abort;
        root
    }
}

/// Runs `query` in `tx`.
pub fn run(
    tx: &mut TxState,
    query: &Query,
    params: Params,
    budget: Budget,
) -> Result<QueryResult, EngineError> {
    let writes = query_writes(query);
    let mut stats = Stats::default();
    let root = budget.root(params);
    let (fields, rows) = run_union(query, Some(tx), writes, &root, &mut stats, None)?;
    let query_type = match (writes, returns(query)) {
        (false, _) => QueryType::Read,
        (true, false) => QueryType::Write,
        (true, true) => QueryType::ReadWrite,
    };
    Ok(QueryResult {
        fields,
        rows,
        query_type,
        stats: writes.then_some(stats),
        heavy: !writes && heavy(query),
    })
}

/// `EXPLAIN`: the operators the query would run, without running it.
pub fn explain(tx: &TxState, query: &Query) -> QueryResult {
    profile::explain(&plan::operators(query, &tx.working))
}

/// `PROFILE`: runs the query to its end (its writes stay in the transaction, as Memgraph does)
/// and returns, instead of its rows, each operator with the rows it produced and its time.
pub fn profile(
    tx: &mut TxState,
    query: &Query,
    params: Params,
    budget: Budget,
) -> Result<QueryResult, EngineError> {
    let operators = plan::operators(query, &tx.working);
    let mut sizes = vec![query.clauses.len()];
    let mut next = query.union.as_ref();
    while let Some((_, q)) = next {
        sizes.push(q.clauses.len());
        next = q.union.as_ref();
    }
    let measured = Arc::new(Profile::new(&sizes));
    let writes = query_writes(query);
    let mut stats = Stats::default();
    let root = budget.root(params);
    let (_, rows) = run_union(query, Some(tx), writes, &root, &mut stats, Some(&measured))?;
    for row in rows {
        row?;
    }
    let query_type = if writes {
        QueryType::ReadWrite
    } else {
        QueryType::Read
    };
    let mut result = profile::profile(&operators, &measured, query_type);
    result.stats = writes.then_some(stats);
    Ok(result)
}

/// Whether pulling rows may take long enough to stall other sessions on the same async worker:
/// grouping, sorting and DISTINCT (the first pull does all the work), variable-length patterns,
/// and matches that must scan (no inline properties, no equality in WHERE, not already bound).
/// Index lookups and plain streaming are cheap per batch and stay on the worker, because moving
/// work off it costs a thread hand-off per pull.
fn heavy(q: &Query) -> bool {
    let mut bound: Vec<String> = Vec::new();
    for clause in &q.clauses {
        match clause {
            Clause::Match {
                patterns, filter, ..
            } => {
                let hints = pattern::hints(filter.as_ref());
                for part in patterns.iter() {
                    let start = &part.start;
                    let is_bound = start.variable.as_ref().is_some_and(|v| bound.contains(v));
                    let hinted = start
                        .variable
                        .as_ref()
                        .is_some_and(|v| hints.iter().any(|h| &h.variable == v));
                    if !is_bound && !hinted && start.properties.is_none() {
                        return true;
                    }
                    if part.steps.iter().any(|(r, _)| r.length.is_some()) {
                        return true;
                    }
                    bound.extend(pattern::variables(std::slice::from_ref(part)));
                }
            }
            // A filter after an unbounded row source may pass nothing for a long time in one
            // pull (`UNWIND range(...) WITH x WHERE ...`).
            Clause::With {
                filter: Some(_), ..
            } => return true,
            Clause::With { projection, .. } | Clause::Return(projection) => {
                if !projection.order_by.is_empty()
                    || projection.distinct
                    || projection.items.iter().any(|i| has_aggregate(&i.expr))
                {
                    return true;
                }
                if let Clause::With { .. } = clause {
                    if !projection.star {
                        bound = projection.items.iter().map(|i| i.name.clone()).collect();
                    }
                }
            }
            Clause::Unwind { variable, .. } => bound.push(variable.clone()),
            // Procedures may scan the whole graph.
            Clause::CallProcedure(_) => return true,
            Clause::LoadCsv(_) => return true,
            _ => {}
        }
    }
    q.union.as_ref().is_some_and(|(_, n)| heavy(n))
}

pub(super) fn has_aggregate(e: &Expr) -> bool {
    match e {
        Expr::CountStar => true,
        Expr::Call { name, args, .. } => {
            super::functions::is_aggregate(name) || args.iter().any(has_aggregate)
        }
        Expr::Binary(_, l, r) => has_aggregate(l) || has_aggregate(r),
        Expr::Not(x) | Expr::Negate(x) | Expr::IsNull(x, _) | Expr::Property(x, _) => {
            has_aggregate(x)
        }
        Expr::Index(a, b) => has_aggregate(a) || has_aggregate(b),
        Expr::List(items) => items.iter().any(has_aggregate),
        Expr::Map(entries) => entries.iter().any(|(_, v)| has_aggregate(v)),
        Expr::Case {
            subject,
            whens,
            otherwise,
        } => {
            subject.as_deref().is_some_and(has_aggregate)
                || whens
                    .iter()
                    .any(|(w, t)| has_aggregate(w) || has_aggregate(t))
                || otherwise.as_deref().is_some_and(has_aggregate)
        }
        _ => false,
    }
}

/// Runs a query and the queries UNIONed to it. Without a transaction (a subquery inside an
/// expression or a reading `CALL { }`) it reads `root`'s graph and may not write.
pub(super) fn run_union(
    query: &Query,
    mut tx: Option<&mut TxState>,
    writes: bool,
    root: &Env,
    stats: &mut Stats,
    profile: Option<&Arc<Profile>>,
) -> Result<(Vec<String>, RowStream), EngineError> {
    let mut parts = vec![query];
    let mut all = true;
    let mut next = query.union.as_ref();
    while let Some((is_all, q)) = next {
        all &= *is_all;
        parts.push(q);
        next = q.union.as_ref();
    }
    let many = parts.len() > 1;
    let mut fields: Option<Vec<String>> = None;
    let mut streams: Vec<RowStream> = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let profile = profile.map(|p| (p, i));
        let (f, rows) = single(
            &part.clauses,
            tx.as_deref_mut(),
            writes,
            root,
            stats,
            profile,
        )?;
        match &fields {
            Some(existing) if *existing != f => {
                return Err(EngineError::client(
                    "All subqueries in an UNION must have the same column names.",
                ))
            }
            _ => fields = Some(f),
        }
        streams.push(rows);
    }
    let mut rows: RowStream = Box::new(streams.into_iter().flatten());
    if many && !all {
        let mut seen = std::collections::HashSet::new();
        rows = Box::new(rows.filter(move |r| match r {
            Ok(row) => seen.insert(row_key(row)),
            Err(_) => true,
        }));
    }
    Ok((fields.unwrap_or_default(), rows))
}

/// Runs one query without UNION.
fn single(
    clauses: &[Clause],
    mut tx: Option<&mut TxState>,
    writes: bool,
    root: &Env,
    stats: &mut Stats,
    profile: Option<(&Arc<Profile>, usize)>,
) -> Result<(Vec<String>, RowStream), EngineError> {
    let meter = |clause: usize| profile.map(|(p, part)| Meter::new(Arc::clone(p), part, clause));
    let mut graph = match tx.as_deref() {
        Some(tx) => Arc::new(tx.working.clone()),
        None => root
            .graph
            .clone()
            .ok_or_else(|| EngineError::database("a subquery ran without a graph"))?,
    };
    let mut root = root.clone();
    root.graph = Some(Arc::clone(&graph));
    if profile.is_none() {
        if let Some(plan) = super::count::CountPlan::of(clauses, &root) {
            return Ok(plan.rows(graph, root));
        }
    }
    let params = &root.params;
    let mut envs: Envs = Box::new(std::iter::once(Ok(root.clone())));
    // A subquery starts with the variables of its outer row in scope.
    let mut scope: Vec<String> = root.vars.iter().map(|(n, _)| n.to_string()).collect();
    // Whether a clause that may delete has run: later reads check that entities still exist.
    let mut deleted = root.after_delete;
    let add_scope = |scope: &mut Vec<String>, names: Vec<String>| {
        for n in names {
            if !scope.contains(&n) {
                scope.push(n);
            }
        }
    };
    for (i, clause) in clauses.iter().enumerate() {
        if clause.writes() {
            let Some(tx) = tx.as_deref_mut() else {
                return Err(EngineError::client(
                    "A subquery inside an expression cannot change the graph; use CALL { } \
                     as a clause for updates.",
                ));
            };
            // The rows after the last clause are not needed: a bulk `UNWIND ... CREATE` keeps
            // none of them.
            let keep_rows = i + 1 < clauses.len();
            let mut out = Vec::new();
            let (started, mut hits) = (Instant::now(), 0);
            for env in envs {
                let env = env?;
                env.check_budget()?;
                write(tx, clause, env, stats, &mut out)?;
                hits += out.len() as u64;
                if !keep_rows {
                    out.clear();
                }
            }
            if let Some(meter) = meter(i) {
                meter.record(
                    if keep_rows { out.len() as u64 } else { hits },
                    started.elapsed(),
                );
            }
            let fresh = Arc::new(tx.working.clone());
            deleted |= matches!(
                clause,
                Clause::Delete { .. } | Clause::Foreach { .. } | Clause::CallSubquery(_)
            );
            for env in out.iter_mut() {
                env.graph = Some(Arc::clone(&fresh));
                env.after_delete |= deleted;
            }
            graph = fresh;
            add_scope(&mut scope, written_variables(clause));
            envs = Box::new(out.into_iter().map(Ok));
            continue;
        }
        let g = Arc::clone(&graph);
        match clause {
            Clause::Match {
                optional,
                patterns,
                filter,
            } => {
                add_scope(&mut scope, pattern::variables(patterns));
                envs = match_clause(envs, g, Arc::clone(patterns), filter.clone(), *optional);
            }
            Clause::Unwind { expr, variable } => {
                add_scope(&mut scope, vec![variable.clone()]);
                envs = unwind(envs, Arc::new(expr.clone()), variable.clone());
            }
            Clause::LoadCsv(load) => {
                add_scope(&mut scope, vec![load.variable.clone()]);
                envs = super::load_csv::stage(load, &root)?(envs);
            }
            Clause::With { projection, filter } => {
                let (fields, rows) = project(envs, projection, &scope, &root, filter.is_some())?;
                scope = fields.clone();
                let params = Arc::clone(params);
                let (deadline, memory_limit, clock) =
                    (root.deadline, root.memory_limit, root.clock);
                let abort = root.abort.clone();
                let filter = filter.clone();
                let fields = Arc::new(fields);
                envs = Box::new(rows.filter_map(move |r| {
                    let (row, scoped) = match r {
                        Ok(r) => r,
                        Err(e) => return Some(Err(e)),
                    };
                    // The WHERE of a WITH is evaluated where the projection was: with the
                    // columns and, when the projection does not aggregate, the variables from
                    // before it too, as openCypher scopes it (the semantic pass has refused any
                    // other use of an old variable).
                    if filter.is_some() {
                        match keep(scoped, filter.as_ref()) {
                            Some(Ok(_)) => {}
                            None => return None,
                            Some(Err(e)) => return Some(Err(e)),
                        }
                    }
                    let env = Env {
                        params: Arc::clone(&params),
                        vars: fields
                            .iter()
                            .map(|f| Arc::from(f.as_str()))
                            .zip(row.into_iter().map(Arc::new))
                            .collect(),
                        graph: Some(Arc::clone(&g)),
                        deadline,
                        memory_limit,
                        abort: abort.clone(),
                        clock,
                        after_delete: deleted,
                    };
                    Some(Ok(env))
                }));
            }
            Clause::CallProcedure(call) if clauses.len() == 1 => {
                let (fields, rows) = super::call::standalone(root.clone(), call)?;
                return Ok((fields, finish(rows, writes)?));
            }
            Clause::CallProcedure(call) => {
                add_scope(&mut scope, super::call::bound_names(call)?);
                envs = super::call::call_clause(envs, call)?;
            }
            Clause::Return(projection) => {
                let (fields, rows) = project(envs, projection, &scope, &root, false)?;
                let mut rows: RowStream = Box::new(rows.map(|r| r.map(|(row, _)| row)));
                if let Some(meter) = meter(i) {
                    rows = meter.count(rows);
                }
                return Ok((fields, finish(rows, writes)?));
            }
            Clause::CallSubquery(query) => {
                add_scope(&mut scope, subquery::returned(query));
                envs = subquery::call_reading(envs, Arc::new(query.as_ref().clone()), g);
            }
            _ => return Err(EngineError::database("unexpected clause")),
        }
        if let Some(meter) = meter(i) {
            envs = meter.count(envs);
        }
    }
    // A subquery read without RETURN (EXISTS { MATCH ... }) yields one empty row per match.
    if tx.is_none() {
        return Ok((Vec::new(), Box::new(envs.map(|e| e.map(|_| Vec::new())))));
    }
    // An updating query without RETURN: run it for its effects.
    for env in envs {
        env?;
    }
    Ok((Vec::new(), Box::new(std::iter::empty())))
}

/// Updating queries are run in full before RUN answers; read-only ones stream.
fn finish(rows: RowStream, eager: bool) -> Result<RowStream, EngineError> {
    if !eager {
        return Ok(fuse_on_error(rows));
    }
    let rows: Vec<Row> = rows.collect::<Result<_, _>>()?;
    Ok(Box::new(rows.into_iter().map(Ok)))
}

/// Applies a WHERE filter (or YIELD's): only rows where it is exactly `true` pass.
pub(super) fn keep(env: Env, filter: Option<&Expr>) -> Option<Result<Env, EngineError>> {
    match filter {
        None => Some(Ok(env)),
        Some(f) => match eval(f, &env) {
            Ok(Value::Bool(true)) => Some(Ok(env)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        },
    }
}

/// `[OPTIONAL] MATCH patterns [WHERE filter]`. The first node's candidates are walked lazily, so
/// `MATCH (n) RETURN n LIMIT 1` on a large graph does not visit every node.
fn match_clause(
    envs: Envs,
    g: Arc<Graph>,
    patterns: Arc<Vec<PatternPart>>,
    filter: Option<Expr>,
    optional: bool,
) -> Envs {
    let hints: Arc<Vec<Hint>> = Arc::new(pattern::hints(filter.as_ref()));
    let filter = Arc::new(filter);
    Box::new(envs.flat_map(move |env| -> Envs {
        let env = match env {
            Ok(env) => env,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let (g, patterns, filter, hints) = (
            Arc::clone(&g),
            Arc::clone(&patterns),
            Arc::clone(&filter),
            Arc::clone(&hints),
        );
        let matches_from = {
            let (g, patterns, filter, hints, env) = (
                Arc::clone(&g),
                Arc::clone(&patterns),
                Arc::clone(&filter),
                Arc::clone(&hints),
                env.clone(),
            );
            move |start: i64| -> Vec<Result<Env, EngineError>> {
                let mut out = Vec::new();
                let (first, rest) = patterns.split_first().expect("a MATCH has a pattern");
                let mut env = env.clone();
                env.graph = Some(Arc::clone(&g));
                let r =
                    pattern::match_from(&g, first, start, env, &mut Vec::new(), &mut |e, used| {
                        pattern::match_parts(&g, rest, e, used, &hints, &mut |e, _| {
                            if let Some(kept) = keep(e, filter.as_ref().as_ref()) {
                                out.push(kept);
                            }
                            Ok(CONTINUE)
                        })
                    });
                if let Err(e) = r {
                    out.push(Err(e));
                }
                out
            }
        };
        let starts = match pattern::start_candidates(&g, &patterns[0].start, &env, &hints) {
            Ok(s) => s,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        if !optional {
            return Box::new(starts.into_iter().flat_map(matches_from));
        }
        let found: Vec<Result<Env, EngineError>> =
            starts.into_iter().flat_map(matches_from).collect();
        if !found.is_empty() {
            return Box::new(found.into_iter());
        }
        // OPTIONAL MATCH without a match: one row with the new variables null.
        let mut env = env;
        for v in pattern::variables(&patterns) {
            if env.lookup(&v).is_none() {
                env = env.with(&v, Value::Null);
            }
        }
        Box::new(std::iter::once(Ok(env)))
    }))
}

/// How many elements of an unwound `range` pass between budget checks.
const RANGE_CHECK_EVERY: usize = 1024;

/// `UNWIND expr AS variable`: one environment per list element. `range(...)` is iterated lazily
/// instead of being built as a list.
fn unwind(envs: Envs, expr: Arc<Expr>, variable: String) -> Envs {
    use super::functions::{range_args, range_iter};
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
                    // The budget is checked now and then: a range can be long however little
                    // each element costs.
                    Ok((start, end, step)) => {
                        Box::new(range_iter(start, end, step).enumerate().map(move |(k, i)| {
                            if k % RANGE_CHECK_EVERY == RANGE_CHECK_EVERY - 1 {
                                env.check_budget()?;
                            }
                            Ok(env.with(&variable, Value::Int(i)))
                        }))
                    }
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

fn written_variables(clause: &Clause) -> Vec<String> {
    match clause {
        Clause::Create(parts) => pattern::variables(parts),
        Clause::Merge { pattern, .. } => pattern::variables(std::slice::from_ref(pattern)),
        Clause::CallSubquery(query) => subquery::returned(query),
        _ => Vec::new(),
    }
}

/// Applies one updating clause to one row, pushing the resulting row(s).
pub(super) fn write(
    tx: &mut TxState,
    clause: &Clause,
    env: Env,
    stats: &mut Stats,
    out: &mut Vec<Env>,
) -> Result<(), EngineError> {
    match clause {
        Clause::Create(parts) => {
            let mut env = env;
            for part in parts {
                env = create_part(tx, part, env, stats, false)?;
            }
            out.push(env);
        }
        Clause::Merge {
            pattern: part,
            on_create,
            on_match,
        } => {
            refuse_null_merge_properties(part, &env)?;
            let mut found = Vec::new();
            // Every match is wanted, so the search always runs to its end.
            let _ = pattern::match_parts(
                &tx.working,
                std::slice::from_ref(part),
                env.clone(),
                &mut Vec::new(),
                &[],
                &mut |e, _| {
                    found.push(e);
                    Ok(CONTINUE)
                },
            )?;
            if found.is_empty() {
                // MERGE matched either direction; what it creates points left to right.
                let mut env = create_part(tx, part, env, stats, true)?;
                set_items(tx, on_create, &mut env, stats)?;
                out.push(env);
            } else {
                for mut env in found {
                    set_items(tx, on_match, &mut env, stats)?;
                    out.push(env);
                }
            }
        }
        Clause::Set(items) => {
            let mut env = env;
            set_items(tx, items, &mut env, stats)?;
            out.push(env);
        }
        Clause::Remove(items) => {
            let mut env = env;
            for item in items {
                remove_item(tx, item, &mut env, stats)?;
            }
            out.push(env);
        }
        Clause::Delete { detach, targets } => {
            let values = targets
                .iter()
                .map(|t| eval(t, &env))
                .collect::<Result<Vec<_>, _>>()?;
            delete(tx, values, *detach, stats)?;
            out.push(env);
        }
        Clause::CallSubquery(query) => subquery::call_writing(tx, query, env, stats, out)?,
        Clause::Foreach {
            variable,
            list,
            clauses,
        } => out.push(super::foreach::run(
            tx, variable, list, clauses, env, stats,
        )?),
        _ => return Err(EngineError::database("not an updating clause")),
    }
    Ok(())
}

/// MERGE cannot match or create `{p: null}`: a null property does not exist, so the pattern
/// would never match what it creates.
fn refuse_null_merge_properties(part: &PatternPart, env: &Env) -> Result<(), EngineError> {
    let maps = std::iter::once(&part.start.properties).chain(
        part.steps
            .iter()
            .flat_map(|(r, n)| [&r.properties, &n.properties]),
    );
    for map in maps.flatten() {
        if let Value::Map(m) = eval(map, env)? {
            if let Some((key, _)) = m.iter().find(|(_, v)| matches!(v, Value::Null)) {
                return Err(EngineError::client(format!(
                    "Cannot merge using a null value for property '{key}': MERGE needs every \
                     property in its pattern to have a value."
                )));
            }
        }
    }
    Ok(())
}

/// Deletes what one DELETE clause names for one row. Relationships go first, so that deleting
/// paths (or a node together with its relationships) does not trip over the connections the
/// same clause removes.
fn delete(
    tx: &mut TxState,
    targets: Vec<Value>,
    detach: bool,
    stats: &mut Stats,
) -> Result<(), EngineError> {
    let mut nodes = Vec::new();
    let mut rels = Vec::new();
    let mut pending = targets;
    while let Some(v) = pending.pop() {
        match v {
            Value::Null => {}
            Value::Node(n) => nodes.push(n.id),
            Value::Relationship(r) => rels.push(r.id),
            Value::Path(p) => {
                rels.extend(p.relationships.iter().map(|r| r.id));
                nodes.extend(p.nodes.iter().map(|n| n.id));
            }
            Value::List(items) => pending.extend(items),
            other => {
                return Err(EngineError::client(format!(
                    "DELETE can only remove nodes, relationships and paths, not a {}.",
                    other.type_name()
                )))
            }
        }
    }
    for id in rels {
        if tx.delete_rel(id) {
            stats.relationships_deleted += 1;
        }
    }
    for id in nodes {
        let degree = tx
            .working
            .adjacency(id)
            .map_or(0, |a| a.out.len() + a.inc.len());
        if tx.delete_node(id, detach)? {
            stats.nodes_deleted += 1;
            stats.relationships_deleted += degree as i64;
        }
    }
    Ok(())
}

/// Checks that a value can be stored as a property.
fn storable(v: Value) -> Result<Value, EngineError> {
    match v {
        Value::Node(_) | Value::Relationship(_) | Value::Path(_) => Err(EngineError::client(
            format!("A {} cannot be stored as a property value.", v.type_name()),
        )),
        Value::List(items) => items
            .into_iter()
            .map(storable)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List),
        Value::Map(m) => m
            .into_iter()
            .map(|(k, v)| storable(v).map(|v| (k, v)))
            .collect::<Result<Map, _>>()
            .map(Value::Map),
        other => Ok(other),
    }
}

/// Evaluates a pattern's property map for creation: nulls are left out.
fn create_props(expr: &Option<Expr>, env: &Env, stats: &mut Stats) -> Result<Map, EngineError> {
    let Some(e) = expr else {
        return Ok(Map::new());
    };
    match eval(e, env)? {
        Value::Map(m) => {
            let mut props = Map::new();
            for (k, v) in m {
                if !v.is_null() {
                    props.insert(k, storable(v)?);
                    stats.properties_set += 1;
                }
            }
            Ok(props)
        }
        Value::Null => Ok(Map::new()),
        other => Err(EngineError::client(format!(
            "Properties must be a MAP, got {}.",
            other.type_name()
        ))),
    }
}

fn bound_node(env: &Env, variable: &Option<String>) -> Result<Option<i64>, EngineError> {
    let Some(v) = variable else { return Ok(None) };
    match env.lookup(v) {
        None => Ok(None),
        Some(Value::Node(n)) => Ok(Some(n.id)),
        Some(Value::Null) => Err(EngineError::client(format!(
            "Cannot create a relationship to or from {v}, which is null."
        ))),
        Some(other) => Err(EngineError::client(format!(
            "Variable {v} is a {}, not a node.",
            other.type_name()
        ))),
    }
}

/// Creates a pattern's new nodes and relationships. `undirected_outgoing`: MERGE may create an undirected
/// relationship, which openCypher creates pointing left to right.
fn create_part(
    tx: &mut TxState,
    part: &PatternPart,
    env: Env,
    stats: &mut Stats,
    undirected_outgoing: bool,
) -> Result<Env, EngineError> {
    let mut env = env;
    let mut node_ids = Vec::new();
    let mut rel_ids = Vec::new();
    let make_node = |tx: &mut TxState,
                     env: &mut Env,
                     stats: &mut Stats,
                     n: &crate::cypher::ast::NodePattern|
     -> Result<i64, EngineError> {
        if let Some(id) = bound_node(env, &n.variable)? {
            if !n.labels.is_empty() || n.properties.is_some() {
                return Err(EngineError::client(format!(
                    "Variable {} is already bound; CREATE cannot add labels or properties to it \
                     (use SET).",
                    n.variable.as_deref().unwrap_or_default()
                )));
            }
            return Ok(id);
        }
        let props = create_props(&n.properties, env, stats)?;
        let mut labels: Vec<String> = Vec::new();
        for l in &n.labels {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
        stats.labels_added += labels.len() as i64;
        stats.nodes_created += 1;
        let id = tx.create_node(NodeRec {
            labels,
            props: props.into(),
        });
        if let Some(v) = &n.variable {
            let value = tx.working.node_value(id).map_or(Value::Null, Value::Node);
            *env = env.with(v, value);
        }
        Ok(id)
    };
    let mut at = make_node(tx, &mut env, stats, &part.start)?;
    node_ids.push(at);
    for (rel, node) in &part.steps {
        let next = make_node(tx, &mut env, stats, node)?;
        if rel.length.is_some() {
            return Err(EngineError::client(
                "Variable-length relationships cannot be created.",
            ));
        }
        let [rel_type] = rel.types.as_slice() else {
            return Err(EngineError::client(
                "A relationship must have exactly one type to be created.",
            ));
        };
        if let Some(v) = &rel.variable {
            if env.lookup(v).is_some() {
                return Err(EngineError::client(format!(
                    "Variable {v} is already bound; CREATE needs a new relationship variable."
                )));
            }
        }
        let (start, end) = match rel.direction {
            Direction::Outgoing => (at, next),
            Direction::Incoming => (next, at),
            Direction::Either if undirected_outgoing => (at, next),
            Direction::Either => {
                return Err(EngineError::client(
                    "Relationships must be directed to be created: use -[]-> or <-[]-.",
                ))
            }
        };
        let props = create_props(&rel.properties, &env, stats)?;
        let id = tx.create_rel(RelRec {
            start,
            end,
            rel_type: super::rel_types::shared_name(rel_type),
            props: props.into(),
        });
        stats.relationships_created += 1;
        if let Some(v) = &rel.variable {
            let value = tx
                .working
                .rel_value(id)
                .map_or(Value::Null, Value::Relationship);
            env = env.with(v, value);
        }
        rel_ids.push(id);
        node_ids.push(next);
        at = next;
    }
    if let Some(p) = &part.path_variable {
        let path = Path {
            nodes: node_ids
                .iter()
                .filter_map(|n| tx.working.node_value(*n))
                .collect(),
            relationships: rel_ids
                .iter()
                .filter_map(|r| tx.working.rel_value(*r))
                .collect(),
        };
        env = env.with(p, Value::Path(path));
    }
    // Nodes bound earlier in this pattern may have gained relationships; values are unchanged.
    Ok(env)
}

/// The entity a SET/REMOVE target names, or `None` for null (which is skipped).
enum Entity {
    Node(i64),
    Rel(i64),
}

fn entity(v: Value, what: &str) -> Result<Option<Entity>, EngineError> {
    match v {
        Value::Null => Ok(None),
        Value::Node(n) => Ok(Some(Entity::Node(n.id))),
        Value::Relationship(r) => Ok(Some(Entity::Rel(r.id))),
        other => Err(EngineError::client(format!(
            "{what} can only change nodes and relationships, not a {}.",
            other.type_name()
        ))),
    }
}

/// Changes the properties (and, for nodes, labels) of an entity and refreshes its bindings.
fn modify(
    tx: &mut TxState,
    target: Entity,
    env: &mut Env,
    change: impl FnOnce(&mut Vec<String>, &mut Props) -> Result<(), EngineError>,
) -> Result<(), EngineError> {
    match target {
        Entity::Node(id) => {
            let Some(rec) = tx.working.node(id) else {
                return Err(EngineError::client(
                    "The node was deleted in this transaction.",
                ));
            };
            let mut rec = NodeRec::clone(rec);
            change(&mut rec.labels, &mut rec.props)?;
            tx.update_node(id, rec);
            if let Some(n) = tx.working.node_value(id) {
                env.refresh(&Value::Node(n));
            }
        }
        Entity::Rel(id) => {
            let Some(rec) = tx.working.rel(id) else {
                return Err(EngineError::client(
                    "The relationship was deleted in this transaction.",
                ));
            };
            let mut rec = RelRec::clone(rec);
            let mut no_labels = Vec::new();
            change(&mut no_labels, &mut rec.props)?;
            if !no_labels.is_empty() {
                return Err(EngineError::client("Relationships have no labels."));
            }
            tx.update_rel(id, rec);
            if let Some(r) = tx.working.rel_value(id) {
                env.refresh(&Value::Relationship(r));
            }
        }
    }
    Ok(())
}

fn map_of(v: Value) -> Result<Map, EngineError> {
    match v {
        Value::Map(m) => Ok(m),
        Value::Node(n) => Ok(n.properties().to_map()),
        Value::Relationship(r) => Ok(r.properties),
        Value::Null => Ok(Map::new()),
        other => Err(EngineError::client(format!(
            "SET needs a MAP of properties, got {}.",
            other.type_name()
        ))),
    }
}

fn set_items(
    tx: &mut TxState,
    items: &[SetItem],
    env: &mut Env,
    stats: &mut Stats,
) -> Result<(), EngineError> {
    for item in items {
        match item {
            SetItem::Property { target, key, value } => {
                let Some(target) = entity(eval(target, env)?, "SET")? else {
                    continue;
                };
                let value = storable(eval(value, env)?)?;
                modify(tx, target, env, |_, props| {
                    if value.is_null() {
                        props.remove(key);
                    } else {
                        props.insert(key.clone(), value);
                    }
                    Ok(())
                })?;
                stats.properties_set += 1;
            }
            SetItem::Replace { variable, value } | SetItem::Merge { variable, value } => {
                let replace = matches!(item, SetItem::Replace { .. });
                let Some(target) = entity(eval(&Expr::Variable(variable.clone()), env)?, "SET")?
                else {
                    continue;
                };
                let new = map_of(eval(value, env)?)?;
                let count = new.len() as i64;
                let new = storable(Value::Map(new))?;
                modify(tx, target, env, |_, props| {
                    if replace {
                        props.clear();
                    }
                    if let Value::Map(new) = new {
                        for (k, v) in new {
                            if v.is_null() {
                                props.remove(&k);
                            } else {
                                props.insert(k, v);
                            }
                        }
                    }
                    Ok(())
                })?;
                stats.properties_set += count;
            }
            SetItem::Labels { variable, labels } => {
                let Some(target) = entity(eval(&Expr::Variable(variable.clone()), env)?, "SET")?
                else {
                    continue;
                };
                let mut added = 0;
                modify(tx, target, env, |have, _| {
                    for l in labels {
                        if !have.contains(l) {
                            have.push(l.clone());
                            added += 1;
                        }
                    }
                    Ok(())
                })?;
                stats.labels_added += added;
            }
        }
    }
    Ok(())
}

fn remove_item(
    tx: &mut TxState,
    item: &RemoveItem,
    env: &mut Env,
    stats: &mut Stats,
) -> Result<(), EngineError> {
    match item {
        RemoveItem::Property { target, key } => {
            let Some(target) = entity(eval(target, env)?, "REMOVE")? else {
                return Ok(());
            };
            let mut removed = false;
            modify(tx, target, env, |_, props| {
                removed = props.remove(key).is_some();
                Ok(())
            })?;
            if removed {
                stats.properties_set += 1;
            }
        }
        RemoveItem::Labels { variable, labels } => {
            let Some(target) = entity(eval(&Expr::Variable(variable.clone()), env)?, "REMOVE")?
            else {
                return Ok(());
            };
            let mut removed = 0;
            modify(tx, target, env, |have, _| {
                let before = have.len();
                have.retain(|l| !labels.contains(l));
                removed = (before - have.len()) as i64;
                Ok(())
            })?;
            stats.labels_removed += removed;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cypher::ast::Statement;

    fn is_heavy(q: &str) -> bool {
        match crate::cypher::parse(q) {
            Ok(Statement::Query(q)) => heavy(&q),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_costly_pulls_leave_the_worker() {
        assert!(!is_heavy("RETURN 1"));
        assert!(!is_heavy("UNWIND range(1, 10) AS x RETURN x"));
        assert!(!is_heavy("MATCH (n:L {id: $id}) RETURN n"));
        assert!(!is_heavy("MATCH (n:L) WHERE n.id = 3 RETURN n"));
        assert!(!is_heavy("MATCH (n:L {id: 1})-[:R]->(m) RETURN m"));
        assert!(!is_heavy("MATCH (n:L {id: 1}) MATCH (n)-->(m) RETURN m"));
        assert!(is_heavy("MATCH (n:L) RETURN n"));
        assert!(is_heavy("MATCH (n) RETURN n"));
        assert!(is_heavy("MATCH (n:L {id: 1})-[*]->(m) RETURN m"));
        assert!(is_heavy("UNWIND [3, 1] AS x RETURN x ORDER BY x"));
        assert!(is_heavy("UNWIND [3, 1] AS x RETURN count(x) + 1"));
        assert!(is_heavy("RETURN 1 AS x UNION MATCH (n) RETURN n.x AS x"));
        assert!(is_heavy(
            "UNWIND range(1, 10) AS x WITH x WHERE x < 0 RETURN x"
        ));
        assert!(is_heavy("CALL db.labels()"));
    }

    mod semantics {
        use crate::engine::testing::*;
        use crate::engine::MemoryEngine;
        use crate::value::Value;

        #[tokio::test]
        async fn deleting_paths_that_share_nodes_in_one_clause() {
            let engine = MemoryEngine::new();
            rows(
                &engine,
                "CREATE (:U {n: 1})-[:R]->(:U {n: 2})-[:R]->(:U {n: 3})",
            )
            .await;
            let q = "MATCH p = (:U)-[r]->(:U) WITH collect(p) AS ps DELETE ps[0], ps[1]";
            rows(&engine, q).await;
            assert_eq!(
                one(&engine, "MATCH (n) RETURN count(n) AS c").await,
                Value::Int(0)
            );
        }

        #[tokio::test]
        async fn merge_refuses_null_properties_and_changes_nothing() {
            let engine = MemoryEngine::new();
            let e = run_in(&engine, "MERGE (n:L {num: null}) RETURN n").await;
            let message = match e {
                Err(e) => e.message,
                Ok((_, rows, _)) => format!("{rows:?}"),
            };
            assert!(
                message.contains("null value for property 'num'"),
                "{message}"
            );
            assert_eq!(
                one(&engine, "MATCH (n) RETURN count(n) AS c").await,
                Value::Int(0)
            );
        }

        #[tokio::test]
        async fn relationships_index_by_key_and_test_their_type() {
            let engine = MemoryEngine::new();
            rows(&engine, "CREATE ()-[:T {a: 1}]->()").await;
            let q = "MATCH ()-[r]->() RETURN [k IN keys(r) | r[k]] AS v, r:T AS t, r:U AS u";
            let row = rows(&engine, q).await.remove(0);
            assert_eq!(
                row,
                [
                    Value::List(vec![Value::Int(1)]),
                    Value::Bool(true),
                    Value::Bool(false)
                ]
            );
            // `<-->` is either direction; `SET (n).p` sets through a parenthesised target.
            let q = "MATCH (a)<-[r]->(b) SET (a).seen = true RETURN count(r) AS c";
            assert_eq!(one(&engine, q).await, Value::Int(2));
            let q = "MATCH (a) WHERE a.seen RETURN count(a) AS c";
            assert_eq!(one(&engine, q).await, Value::Int(2));
        }

        #[tokio::test]
        async fn merge_of_an_undirected_relationship_matches_either_way_and_creates_one() {
            let engine = MemoryEngine::new();
            rows(&engine, "CREATE (:A)-[:R]->(:B)").await;
            let q = "MATCH (a:A), (b:B) MERGE (b)-[r:R]-(a) RETURN count(r) AS c";
            assert_eq!(one(&engine, q).await, Value::Int(1));
            let q = "MATCH (a:A), (b:B) MERGE (a)-[:S]-(b)";
            rows(&engine, q).await;
            let q = "MATCH (:A)-[:S]->(:B) RETURN count(*) AS c";
            assert_eq!(one(&engine, q).await, Value::Int(1));
            let e = run_in(&engine, "CREATE (:A)-[:R]-(:B)")
                .await
                .expect_err("refused");
            assert!(e.message.contains("must be directed"), "{}", e.message);
        }

        #[tokio::test]
        async fn a_deleted_entity_cannot_be_read_later_in_the_query() {
            let engine = MemoryEngine::new();
            rows(&engine, "CREATE (:A {num: 0})-[:R {num: 1}]->(:B)").await;
            for q in [
                "MATCH (n:A) DETACH DELETE n RETURN n.num",
                "MATCH (n:A) DETACH DELETE n RETURN labels(n)",
                "MATCH ()-[r]->() DELETE r RETURN r.num",
                "MATCH (n:A) DETACH DELETE n WITH n RETURN n.num",
            ] {
                let e = run_in(&engine, q).await.expect_err(q);
                assert!(e.message.contains("was deleted"), "{q}: {}", e.message);
            }
            let q = "MATCH ()-[r]->() DELETE r RETURN type(r) AS t";
            assert_eq!(one(&engine, q).await, Value::String("R".into()));
            rows(&engine, "MATCH (a:A), (b:B) CREATE (a)-[:R {num: 1}]->(b)").await;
            // Nothing was deleted by the failed queries, and reading before the DELETE works.
            let q = "MATCH (n:A) WITH n, n.num AS num DETACH DELETE n RETURN num";
            assert_eq!(one(&engine, q).await, Value::Int(0));
        }

        #[tokio::test]
        async fn the_smallest_integer_can_be_written() {
            let engine = MemoryEngine::new();
            let q = "RETURN -9223372036854775808 AS a, -0x8000000000000000 AS b, \
                     -0o1000000000000000000000 AS c";
            assert_eq!(
                rows(&engine, q).await.remove(0),
                vec![Value::Int(i64::MIN); 3]
            );
            for q in ["RETURN 9223372036854775808", "RETURN 0x8000000000000000"] {
                let e = crate::cypher::parse(q).unwrap_err();
                assert!(e.message.contains("fits in 64 bits"), "{q}: {}", e.message);
            }
            let e = crate::cypher::parse("RETURN 9223372036854775809").unwrap_err();
            assert!(e.message.contains("too large"), "{}", e.message);
        }
    }

    use crate::engine::testing::{ints, one, run_in};
    use crate::engine::MemoryEngine;

    async fn count(e: &MemoryEngine, q: &str) -> i64 {
        match one(e, q).await {
            Value::Int(n) => n,
            other => panic!("{q}: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_query_the_semantic_pass_refuses_changes_nothing() {
        let e = MemoryEngine::new();
        one(&e, "CREATE (a:A {x: 1}) RETURN a.x").await;
        for q in [
            // Each of these would write before reaching its mistake if it ran.
            "MATCH (a:A) CREATE (b:B) SET b.y = missing",
            "MATCH (a:A) SET a.x = 2 CREATE (a:A)",
            "CREATE (n:N) WITH n MATCH ()-[n]-() RETURN n",
            "MATCH (a:A) DETACH DELETE a WITH a RETURN a, a",
            "MATCH (a:A) SET a.x = 3 RETURN a LIMIT -1",
            "UNWIND [1, 2] AS i CREATE (:N {i: i}) WITH count(*) AS c WHERE c > i RETURN c",
        ] {
            let err = run_in(&e, q).await.err();
            assert!(err.is_some(), "{q} should be refused");
        }
        assert_eq!(count(&e, "MATCH (n) RETURN count(n)").await, 1);
        assert_eq!(count(&e, "MATCH (a:A) RETURN a.x").await, 1);
    }

    #[tokio::test]
    async fn merge_creates_an_undirected_relationship_left_to_right() {
        let e = MemoryEngine::new();
        let got = crate::engine::testing::rows(
            &e,
            "CREATE (a {id: 1}), (b {id: 2}) MERGE (b)-[r:R]-(a) \
             RETURN startNode(r).id, endNode(r).id",
        )
        .await;
        assert_eq!(got, vec![vec![Value::Int(2), Value::Int(1)]]);
        // Found either way round the second time.
        assert_eq!(
            count(&e, "MATCH (a {id: 1}), (b {id: 2}) MERGE (a)-[:R]-(b) WITH 1 AS x MATCH ()-[r]->() RETURN count(r)").await,
            1
        );
        // WITH * over nothing passes nothing on.
        assert_eq!(
            count(&e, "CREATE () WITH * MATCH (n) RETURN count(n)").await,
            3
        );
    }

    #[tokio::test]
    async fn with_where_sees_the_variables_before_a_non_aggregating_projection() {
        let e = MemoryEngine::new();
        one(
            &e,
            "UNWIND range(1, 4) AS i CREATE (:P {i: i, even: i % 2 = 0}) RETURN count(*)",
        )
        .await;
        let (_, rows, _) = run_in(
            &e,
            "MATCH (p:P) WITH p.i AS i WHERE p.even RETURN i ORDER BY i",
        )
        .await
        .unwrap();
        assert_eq!(ints(rows), vec![2, 4]);
        // The old variable is visible to the WHERE only, not to the clauses after it.
        assert!(
            run_in(&e, "MATCH (p:P) WITH p.i AS i WHERE p.even RETURN p")
                .await
                .is_err()
        );
        // A projected name shadows the old variable of the same name.
        let (_, rows, _) = run_in(
            &e,
            "MATCH (p:P) WITH p.i AS p WHERE p > 2 RETURN p ORDER BY p",
        )
        .await
        .unwrap();
        assert_eq!(ints(rows), vec![3, 4]);
        // After aggregation only the columns are visible.
        assert!(run_in(
            &e,
            "MATCH (p:P) WITH p.even AS even, count(*) AS c WHERE p.i > 1 RETURN c"
        )
        .await
        .is_err());
        let (_, rows, _) = run_in(
            &e,
            "MATCH (p:P) WITH p.even AS even, count(*) AS c WHERE even RETURN c",
        )
        .await
        .unwrap();
        assert_eq!(ints(rows), vec![2]);
        // ORDER BY of a RETURN sees the old variables too.
        let (_, rows, _) = run_in(&e, "MATCH (p:P) RETURN p.i AS i ORDER BY p.i DESC")
            .await
            .unwrap();
        assert_eq!(ints(rows), vec![4, 3, 2, 1]);
    }
}
