//! `MATCH pattern [WHERE ...] RETURN count(...), sum(...), ...` without rows: the matches are
//! walked over node ids and fed straight to the aggregates; nothing is built and thrown away per
//! match.
//!
//! The general executor hands every match to the next clause as an environment holding node and
//! relationship values, and the grouping step then keys each row; for an aggregation that is
//! nearly all of the cost. This plan applies when the query is exactly one non-optional MATCH of
//! one pattern part, then a RETURN whose items are aggregate calls and plain grouping keys (built
//! from variables, properties, parameters, operators and non-aggregating functions), ordered, if
//! at all, by returned columns. When every item only counts matches (`count(*)`, or `count(v)` of a
//! pattern variable, never null in such a match), a match is only counted, and a whole-graph count
//! reads the last hop's degrees from a table instead of walking it. Variable-length steps are
//! walked too when no relationship of the pattern is named. Anything else (a named relationship
//! beside a variable-length step, a repeated variable, a property map that reads a variable, a
//! subquery or comprehension, DISTINCT rows, SKIP or LIMIT, ORDER BY an expression not returned)
//! takes the general path, which gives the same answers, only slower; the tests below compare both.
//!
//! A WHERE clause is kept: each complete match binds only the variables that it and the
//! aggregates read, then it is evaluated as the general path would. Matching rules are those of
//! `pattern.rs`: each relationship at most once per match, a self-loop once for an undirected
//! relationship.

use std::sync::Arc;

use super::aggregate::Accumulator;
use super::direct_reads::{self, Direct, Prop};
use super::eval::{eval, order, Env};
use super::graph::{Adjacency, Edge, Graph, NodeRec};
use super::group_key::{self, Index, KeyHashing};
use super::pattern::{self, expand, Hint};
use super::prefetch::{Ahead, Locate};
use super::rel_types::{RelType, TypeFilter};
use super::{EngineError, RowStream};
use crate::cypher::ast::{Clause, Direction, Expr, NodePattern, PatternPart};
use crate::cypher::{RED_ZONE, STACK_GROWTH};
use crate::value::{Map, Node, Value};

/// A query this plan answers: its pattern, its filter and the aggregates it returns.
pub struct CountPlan {
    part: PatternPart,
    filter: Option<Expr>,
    /// The pattern's variables the filter and the aggregates read: bound for each match, and
    /// only those.
    reads: Vec<String>,
    /// The returned columns: an aggregate call (or `count(*)`), or a grouping key (`true`).
    items: Vec<(String, Expr, bool)>,
    /// ORDER BY, as (column, descending): each sort key is a returned column.
    order: Vec<(usize, bool)>,
    /// Every item counts the matches (`count(*)` or `count(v)` of a pattern variable): then no
    /// match needs more than its ids, and whole-graph counts can use degree tables.
    counting_only: bool,
    /// The keys and aggregate arguments, when all are read straight from node records (see
    /// `direct_reads.rs`); never with a filter.
    direct: Option<Direct>,
}

impl CountPlan {
    /// The plan for `clauses`, when it applies (see the module's notes). `outer` holds the
    /// variables already in scope: a subquery's pattern may refer to them, so only a query that
    /// starts with none is planned here.
    pub fn of(clauses: &[Clause], outer: &Env) -> Option<CountPlan> {
        if !outer.vars.is_empty() {
            return None;
        }
        let [Clause::Match {
            optional: false,
            patterns,
            filter,
        }, Clause::Return(projection)] = clauses
        else {
            return None;
        };
        let [part] = patterns.as_slice() else {
            return None;
        };
        // Most MATCH ... RETURN queries aggregate nothing: say so before copying anything.
        let aggregates = |e: &Expr| match e {
            Expr::CountStar => true,
            Expr::Call { name, .. } => super::functions::is_aggregate(name),
            _ => false,
        };
        if !projection.items.iter().any(|item| aggregates(&item.expr)) {
            return None;
        }
        if projection.distinct
            || projection.star
            || projection.skip.is_some()
            || projection.limit.is_some()
        {
            return None;
        }
        if projection.items.is_empty() || part.path_variable.is_some() || !simple_part(part) {
            return None;
        }
        let names = pattern::variables(std::slice::from_ref(part));
        let counts_matches = |e: &Expr| match e {
            Expr::CountStar => true,
            Expr::Call {
                name,
                distinct: false,
                args,
            } if name.eq_ignore_ascii_case("count") => {
                matches!(args.as_slice(), [Expr::Variable(v)] if names.contains(v))
            }
            _ => false,
        };
        let mut reads = Vec::new();
        let mut items = Vec::new();
        for item in &projection.items {
            let is_key = match &item.expr {
                Expr::CountStar => false,
                Expr::Call { name, args, .. } if super::functions::is_aggregate(name) => {
                    if !args.iter().all(|a| plain(a, &mut reads)) {
                        return None;
                    }
                    false
                }
                // A grouping key: plain, so it holds no aggregate either.
                key if plain(key, &mut reads) => true,
                _ => return None,
            };
            items.push((item.name.clone(), item.expr.clone(), is_key));
        }
        // ORDER BY a returned column, by its name or its very expression.
        let mut order = Vec::new();
        for sort in &projection.order_by {
            let column = items.iter().position(|(name, e, _)| {
                *e == sort.expr || matches!(&sort.expr, Expr::Variable(v) if v == name)
            })?;
            order.push((column, sort.descending));
        }
        if let Some(f) = filter {
            if !plain(f, &mut reads) {
                return None;
            }
        }
        if reads.iter().any(|v| !names.contains(v)) {
            return None;
        }
        reads.sort();
        reads.dedup();
        let pattern_nodes: Vec<Option<String>> = std::iter::once(&part.start)
            .chain(part.steps.iter().map(|(_, node)| node))
            .map(|n| n.variable.clone())
            .collect();
        // A variable-length step's node is bound once per depth, which `Prop::node` (a position
        // in the match) does not tell apart from the others; such patterns evaluate.
        let direct = (filter.is_none() && part.steps.iter().all(|(rel, _)| rel.length.is_none()))
            .then(|| Direct::of(&items, &pattern_nodes))
            .flatten();
        Some(CountPlan {
            direct,
            part: part.clone(),
            filter: filter.clone(),
            reads,
            counting_only: items
                .iter()
                .all(|(_, e, is_key)| !is_key && counts_matches(e)),
            items,
            order,
        })
    }

    /// The result, computed when its first row is pulled (so that the session does it where
    /// blocking is allowed, as for any heavy query).
    pub fn rows(self, g: Arc<Graph>, root: Env) -> (Vec<String>, RowStream) {
        let fields = self.items.iter().map(|(name, _, _)| name.clone()).collect();
        let rows = std::iter::once_with(move || self.table(&g, &root)).flat_map(
            |table| -> Box<dyn Iterator<Item = Result<Vec<Value>, EngineError>> + Send> {
                match table {
                    Ok(rows) => Box::new(rows.into_iter().map(Ok)),
                    Err(e) => Box::new(std::iter::once(Err(e))),
                }
            },
        );
        (fields, Box::new(rows))
    }

    fn table(&self, g: &Graph, root: &Env) -> Result<Vec<Vec<Value>>, EngineError> {
        let steps = self.steps(root)?;
        let walk = self.walk(g, root, &steps)?;
        if self.counting_only {
            let n = Value::Int(walk.count.min(i64::MAX as u64) as i64);
            return Ok(vec![vec![n; self.items.len()]]);
        }
        let mut rows = Vec::with_capacity(walk.groups.len());
        for (keys, accumulators) in walk.groups {
            let (mut keys, mut accumulators) = (keys.into_iter(), accumulators.into_iter());
            let mut row = Vec::with_capacity(self.items.len());
            for (_, _, is_key) in &self.items {
                row.push(match is_key {
                    true => keys.next().unwrap_or(Value::Null),
                    false => accumulators
                        .next()
                        .map_or(Ok(Value::Null), |a| a.finish())?,
                });
            }
            rows.push(row);
        }
        // A stable sort, as the general path's: equal keys keep the order groups were found in.
        rows.sort_by(|a, b| {
            for &(column, descending) in &self.order {
                let o = order(&a[column], &b[column]);
                let o = if descending { o.reverse() } else { o };
                if o.is_ne() {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
        Ok(rows)
    }

    /// A new group's accumulators, one per aggregate item.
    fn accumulators(&self) -> Vec<Accumulator> {
        self.items
            .iter()
            .filter(|(_, _, is_key)| !is_key)
            .map(|(_, call, _)| Accumulator::new(call))
            .collect()
    }

    fn grouped(&self) -> bool {
        self.items.iter().any(|(_, _, is_key)| *is_key)
    }

    /// The pattern's steps with their types and property maps resolved.
    fn steps(&self, root: &Env) -> Result<Vec<Step>, EngineError> {
        self.part
            .steps
            .iter()
            .map(|(rel, node)| {
                Ok(Step {
                    length: rel.length.map(|(min, max)| {
                        (
                            min.unwrap_or(1) as usize,
                            max.map_or(usize::MAX, |m| m as usize),
                        )
                    }),
                    direction: rel.direction,
                    types: TypeFilter::new(&rel.types),
                    rel_props: constant_map(&rel.properties, root)?,
                    node_labels: node.labels.clone(),
                    node_props: constant_map(&node.properties, root)?,
                    rel_variable: rel.variable.clone(),
                    node_variable: node.variable.clone(),
                })
            })
            .collect()
    }

    /// Walks every match, counting or accumulating.
    fn walk<'a>(
        &'a self,
        g: &'a Graph,
        root: &'a Env,
        steps: &'a [Step],
    ) -> Result<Walk<'a>, EngineError> {
        let hints: Vec<Hint> = pattern::hints(self.filter.as_ref());

        let starts = pattern::start_candidates(g, &self.part.start, root, &hints)?;
        // Candidates from the scan of the start's only label already fit it.
        let start = &self.part.start;
        let mine = |h: &Hint| start.variable.as_deref() == Some(h.variable.as_str());
        let starts_fit =
            start.properties.is_none() && start.labels.len() <= 1 && !hints.iter().any(mine);
        let degrees = steps
            .last()
            .filter(|last| {
                self.counting_only
                    && self.filter.is_none()
                    && last.rel_props.is_none()
                    && last.node_labels.is_empty()
                    && last.node_props.is_none()
                    && last.length.is_none()
                    && starts.len() >= DEGREE_TABLE_FROM
            })
            .and_then(|last| degrees(g, last.direction, &last.types));
        let mut walk = Walk {
            g,
            steps,
            plan: self,
            // Without grouping keys there is one group, there even when nothing matches.
            groups: match self.grouped() {
                true => Vec::new(),
                false => vec![(Vec::new(), self.accumulators())],
            },
            index: Index::default(),
            hashing: KeyHashing::default(),
            key: Vec::new(),
            env: None,
            root,
            degrees,
            start: None,
            path: Vec::with_capacity(steps.len()),
            nodes: Vec::with_capacity(steps.len() + 1),
            count: 0,
            since_check: 0,
        };
        // When the starts are most of the graph, in id order, and the match reads the start
        // node itself, walking the node map beside them replaces a lookup per start (a tree
        // descent and its cache misses) with the map's own in-order iteration.
        let reads_start = start
            .variable
            .as_ref()
            .is_some_and(|v| self.reads.contains(v));
        let merged = reads_start
            && starts.len() >= MERGE_FROM
            && starts.len() * 4 >= g.nodes.len()
            && starts.is_sorted();
        type Paired<'g> = Box<dyn Iterator<Item = (i64, Option<&'g Arc<NodeRec>>)> + 'g>;
        let paired: Paired<'a> = match starts.first() {
            Some(&first) if merged => {
                let mut records = g.nodes.range(first..).peekable();
                let paired = starts.into_iter().map(move |id| {
                    while records.next_if(|(at, _)| **at < id).is_some() {}
                    let rec = records.next_if(|(at, _)| **at == id).map(|(_, rec)| rec);
                    (id, rec)
                });
                Box::new(Ahead::new(
                    paired,
                    |(_, rec)| rec.map(|r| Arc::as_ptr(r).cast()),
                    |(_, rec)| rec.map(|r| r.props.as_ptr()),
                ))
            }
            _ => Box::new(starts.into_iter().map(|id| (id, None))),
        };
        for (n, (start_id, rec)) in paired.enumerate() {
            if n % CHECK_EVERY as usize == 0 {
                root.check_budget()?;
            }
            if !starts_fit && !pattern::node_fits(g, start_id, start, root)? {
                continue;
            }
            walk.start = rec;
            walk.nodes.push(start_id);
            walk.step(0, start_id)?;
            walk.nodes.pop();
        }
        Ok(walk)
    }
}

/// From how many start nodes the last step's degrees are tabulated up front: a table costs one
/// pass over the adjacency, and then each arrival at a next-to-last node is an array read
/// instead of a map lookup and a walk over its edges.
/// (The engine's tests tabulate from one start, so that their small graphs take this path too.)
const DEGREE_TABLE_FROM: usize = if cfg!(test) { 1 } else { 1024 };

/// From how many start nodes they are read beside the node map rather than looked up (the
/// engine's tests merge from one start, so that their small graphs take this path too).
const MERGE_FROM: usize = if cfg!(test) { 1 } else { 1024 };

/// Every node's number of edges fitting `direction` and `types` (a self-loop once when
/// undirected), indexed by node id; `None` when ids are too sparse for an array.
fn degrees(g: &Graph, direction: Direction, types: &TypeFilter) -> Option<Vec<u32>> {
    let max = g.nodes.get_max().map(|(id, _)| *id)?;
    if max < 0 || max as u64 > 4 * g.nodes.len() as u64 + 4096 {
        return None;
    }
    let mut table = vec![0u32; max as usize + 1];
    // The adjacency is read node after node: ask for each one's record and edge list ahead.
    let edges: Locate<(&i64, &Arc<Adjacency>)> = match direction {
        Direction::Incoming => |(_, adj)| Some(adj.inc.as_ptr().cast()),
        _ => |(_, adj)| Some(adj.out.as_ptr().cast()),
    };
    let adjacency = Ahead::new(
        g.adjacency.iter(),
        |(_, adj)| Some(Arc::as_ptr(adj).cast()),
        edges,
    );
    for (id, adj) in adjacency {
        let mut n = 0u32;
        if direction != Direction::Incoming {
            n += adj.out.iter().filter(|e| types.accepts(e.rel_type)).count() as u32;
        }
        if direction != Direction::Outgoing {
            let either = direction == Direction::Either;
            n += adj
                .inc
                .iter()
                .filter(|e| types.accepts(e.rel_type) && !(either && e.other == *id))
                .count() as u32;
        }
        if let Some(slot) = usize::try_from(*id).ok().and_then(|i| table.get_mut(i)) {
            *slot = n;
        }
    }
    Some(table)
}

/// One relationship and the node after it, with everything resolved before the walk.
struct Step {
    /// `*min..max` of a variable-length step (unbounded is `usize::MAX`).
    length: Option<(usize, usize)>,
    direction: Direction,
    types: TypeFilter,
    rel_props: Option<Map>,
    node_labels: Vec<String>,
    node_props: Option<Map>,
    rel_variable: Option<String>,
    node_variable: Option<String>,
}

/// A relationship of the match so far, by its ends (as stored, not as walked) and type.
#[derive(Clone, Copy)]
struct Used {
    rel: i64,
    start: i64,
    end: i64,
    rel_type: RelType,
}

impl Used {
    /// `edge`, reached from `at` (leaving it when `outgoing`).
    fn of(at: i64, edge: Edge, outgoing: bool) -> Used {
        let (start, end) = if outgoing {
            (at, edge.other)
        } else {
            (edge.other, at)
        };
        Used {
            rel: edge.rel,
            start,
            end,
            rel_type: edge.rel_type,
        }
    }
}

struct Walk<'a> {
    g: &'a Graph,
    steps: &'a [Step],
    plan: &'a CountPlan,
    /// Each group's key values and accumulators (one per aggregate item), in the order first
    /// found; unused when the plan only counts.
    groups: Vec<(Vec<Value>, Vec<Accumulator>)>,
    /// Groups by the hash of their key (`hashing`), colliding keys told apart by
    /// `group_key::same`: the grouping of `project::row_key`, without writing a text per match.
    index: Index,
    hashing: KeyHashing,
    /// The current match's key values, rebuilt in place for each match.
    key: Vec<Value>,
    /// The environment each match is evaluated in (see `complete`).
    env: Option<Env>,
    root: &'a Env,
    /// The last step's degree of every node (see [`degrees`]), when tabulated.
    degrees: Option<Vec<u32>>,
    /// The current start node's record, when read beside the node map (see `walk`).
    start: Option<&'a Arc<NodeRec>>,
    /// The relationships and nodes of the match so far.
    path: Vec<Used>,
    nodes: Vec<i64>,
    count: u64,
    /// Matches since the budget was last checked (a check reads the clock).
    since_check: u32,
}

/// How many complete matches or start nodes pass between budget checks.
const CHECK_EVERY: u32 = 4096;

impl Walk<'_> {
    fn step(&mut self, i: usize, at: i64) -> Result<(), EngineError> {
        let (g, steps) = (self.g, self.steps);
        let Some(step) = steps.get(i) else {
            return self.complete();
        };
        if let Some(bounds) = step.length {
            return self.var_step(i, at, bounds, 0);
        }
        let last = i + 1 == steps.len();
        if last {
            if let Some(n) = self.tabulated(step, at) {
                self.count += n;
                return self.tick(n);
            }
        }
        for (edge, outgoing) in expand(g, at, step.direction, &step.types) {
            let r = edge.rel;
            if self.path.iter().any(|u| u.rel == r) || !self.fits(step, r, edge.other) {
                continue;
            }
            if last && self.plan.counting_only && self.plan.filter.is_none() {
                // The last hop without a filter: each edge is a match; nothing to push.
                self.count += 1;
                self.tick(1)?;
                continue;
            }
            self.path.push(Used::of(at, edge, outgoing));
            self.nodes.push(edge.other);
            let done = self.step(i + 1, edge.other);
            self.path.pop();
            self.nodes.pop();
            done?;
        }
        Ok(())
    }

    /// A variable-length step from `at`, `depth` relationships into it: a match of the step
    /// wherever the depth is within bounds and the node fits, and deeper while below the maximum.
    fn var_step(
        &mut self,
        i: usize,
        at: i64,
        (min, max): (usize, usize),
        depth: usize,
    ) -> Result<(), EngineError> {
        let (g, step) = (self.g, &self.steps[i]);
        if depth >= min && self.node_fits(step, at) {
            self.nodes.push(at);
            let done = self.step(i + 1, at);
            self.nodes.pop();
            done?;
        }
        if depth >= max {
            return Ok(());
        }
        for (edge, outgoing) in expand(g, at, step.direction, &step.types) {
            let r = edge.rel;
            if self.path.iter().any(|u| u.rel == r) || !self.rel_fits(step, r) {
                continue;
            }
            self.path.push(Used::of(at, edge, outgoing));
            // Paths can be as deep as the graph is long: grow the stack as needed.
            let done = stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
                self.var_step(i, edge.other, (min, max), depth + 1)
            });
            self.path.pop();
            done?;
        }
        Ok(())
    }

    /// The last step's matches from `at` out of the degree table: its degree, less the edges
    /// of the match so far that the step would find again (each relationship is used once).
    fn tabulated(&self, step: &Step, at: i64) -> Option<u64> {
        let table = self.degrees.as_ref()?;
        let degree = usize::try_from(at)
            .ok()
            .and_then(|i| table.get(i).copied())?;
        let either = step.direction == Direction::Either;
        let again = self
            .path
            .iter()
            .filter(|u| step.types.accepts(u.rel_type))
            .filter(|u| {
                let in_out = step.direction != Direction::Incoming && u.start == at;
                let in_inc = step.direction != Direction::Outgoing
                    && u.end == at
                    && !(either && u.start == u.end);
                in_out || in_inc
            })
            .count() as u32;
        Some(u64::from(degree.saturating_sub(again)))
    }

    /// Counts `n` matches against the budget, checking it every [`CHECK_EVERY`].
    fn tick(&mut self, n: u64) -> Result<(), EngineError> {
        self.since_check = self
            .since_check
            .saturating_add(n.min(u64::from(u32::MAX)) as u32);
        if self.since_check >= CHECK_EVERY {
            self.since_check = 0;
            self.root.check_budget()?;
        }
        Ok(())
    }

    /// Whether relationship `r` and the node `other` after it fit the step; records are looked
    /// up only when the pattern names labels or properties.
    fn fits(&self, step: &Step, r: i64, other: i64) -> bool {
        self.rel_fits(step, r) && self.node_fits(step, other)
    }

    /// Whether relationship `r` has the step's properties.
    fn rel_fits(&self, step: &Step, r: i64) -> bool {
        step.rel_props.is_none()
            || self
                .g
                .rel(r)
                .is_some_and(|rec| pattern::props_match(&rec.props, &step.rel_props))
    }

    /// Whether `other` has the labels and properties of the step's node.
    fn node_fits(&self, step: &Step, other: i64) -> bool {
        if step.node_labels.is_empty() && step.node_props.is_none() {
            return true;
        }
        self.g.node(other).is_some_and(|rec| {
            step.node_labels.iter().all(|l| rec.labels.contains(l))
                && pattern::props_match(&rec.props, &step.node_props)
        })
    }

    /// A complete match: counted, or added to the aggregates, when the filter (if any) is true
    /// for it.
    fn complete(&mut self) -> Result<(), EngineError> {
        self.tick(1)?;
        if self.plan.counting_only && self.plan.filter.is_none() {
            self.count += 1;
            return Ok(());
        }
        let plan = self.plan;
        if let Some(direct) = &plan.direct {
            return self.fold_direct(direct);
        }
        // One environment for the whole walk: its variables (exactly `reads`, in order; the plan
        // starts from none) are overwritten in place, so a match allocates nothing here.
        let mut env = self.env.take().unwrap_or_else(|| {
            let mut env = self.root.clone();
            for name in &plan.reads {
                env = env.with(name, Value::Null);
            }
            env
        });
        for (slot, name) in plan.reads.iter().enumerate() {
            let value = self.value_of(name);
            let cell = &mut env.vars[slot].1;
            match Arc::get_mut(cell) {
                Some(v) => *v = value,
                None => *cell = Arc::new(value),
            }
        }
        let done = self.fold(&env);
        self.env = Some(env);
        done
    }

    /// Counts the match bound in `env` and adds it to its group, if the filter keeps it.
    fn fold(&mut self, env: &Env) -> Result<(), EngineError> {
        let plan = self.plan;
        if let Some(filter) = &plan.filter {
            if eval(filter, env)? != Value::Bool(true) {
                return Ok(());
            }
        }
        self.count += 1;
        let at = if plan.grouped() {
            // The key values go into a buffer kept for the walk; a group copies them only when
            // it is new.
            self.key.clear();
            for (_, e, _) in plan.items.iter().filter(|(_, _, is_key)| *is_key) {
                self.key.push(eval(e, env)?);
            }
            let hash = self.hashing.hash(&self.key);
            let key = &self.key;
            group_at(
                &mut self.groups,
                &mut self.index,
                hash,
                |k| group_key::same(k, key),
                || (key.clone(), plan.accumulators()),
            )
        } else {
            0
        };
        let aggregates = plan.items.iter().filter(|(_, _, is_key)| !is_key);
        for (acc, (_, call, _)) in self.groups[at].1.iter_mut().zip(aggregates) {
            acc.add(call, env)?;
        }
        Ok(())
    }

    /// Adds the current match to its group, reading keys and arguments from the records.
    fn fold_direct(&mut self, direct: &Direct) -> Result<(), EngineError> {
        let (g, plan) = (self.g, self.plan);
        self.count += 1;
        // Each read node's properties, looked up once per match (the start's is at hand when
        // the walk reads records beside the node map).
        let props = |node: usize| match (node, self.start) {
            (0, Some(rec)) => Some(&rec.props),
            _ => g.node(self.nodes[node]).map(|rec| &rec.props),
        };
        let read = |p: &Prop| direct_reads::value(props(p.node), &p.key);
        let at = if plan.grouped() {
            let key = || direct.keys.iter().map(read);
            group_at(
                &mut self.groups,
                &mut self.index,
                self.hashing.hash(key()),
                |k| group_key::same(k, key()),
                || (key().cloned().collect(), plan.accumulators()),
            )
        } else {
            0
        };
        let aggregates = plan.items.iter().filter(|(_, _, is_key)| !is_key);
        for ((acc, (_, call, _)), arg) in self.groups[at]
            .1
            .iter_mut()
            .zip(aggregates)
            .zip(&direct.args)
        {
            match (arg, call) {
                (Some(p), Expr::Call { name, .. }) => acc.add_value(name, read(p).clone())?,
                _ => acc.add_row(),
            }
        }
        Ok(())
    }

    /// The value of a pattern variable in the current match.
    fn value_of(&self, name: &str) -> Value {
        let is = |v: &Option<String>| v.as_deref() == Some(name);
        if is(&self.plan.part.start.variable) {
            return match self.start {
                Some(rec) => Value::Node(Node::shared(self.nodes[0], Arc::clone(rec))),
                None => node(self.g, self.nodes[0]),
            };
        }
        for (i, step) in self.steps.iter().enumerate() {
            if is(&step.node_variable) {
                return node(self.g, self.nodes[i + 1]);
            }
            if is(&step.rel_variable) {
                let id = self.path[i].rel;
                return self
                    .g
                    .rel_value(id)
                    .map_or(Value::Null, Value::Relationship);
            }
        }
        Value::Null
    }
}

/// Where the group with key hash `hash` is (`is_it` telling colliding keys apart), made by `new`
/// when there is none yet.
fn group_at(
    groups: &mut Vec<(Vec<Value>, Vec<Accumulator>)>,
    index: &mut Index,
    hash: u64,
    is_it: impl Fn(&[Value]) -> bool,
    new: impl FnOnce() -> (Vec<Value>, Vec<Accumulator>),
) -> usize {
    let found = index
        .get(&hash)
        .and_then(|candidates| candidates.iter().copied().find(|&g| is_it(&groups[g].0)));
    found.unwrap_or_else(|| {
        groups.push(new());
        let at = groups.len() - 1;
        index.entry(hash).or_default().push(at);
        at
    })
}

fn node(g: &Graph, id: i64) -> Value {
    g.node_value(id).map_or(Value::Null, Value::Node)
}

/// A pattern's property map when it reads no variable (checked by the plan), evaluated once.
fn constant_map(expr: &Option<Expr>, root: &Env) -> Result<Option<Map>, EngineError> {
    pattern::property_map(expr, root)
}

/// Each variable once, property maps that read no variable, and no named relationship in a
/// pattern with a variable-length step.
fn simple_part(part: &PatternPart) -> bool {
    let mut seen: Vec<String> = Vec::new();
    let mut once = |v: &Option<String>| match v {
        Some(v) if seen.contains(v) => false,
        Some(v) => {
            seen.push(v.clone());
            true
        }
        None => true,
    };
    let constant = |e: &Option<Expr>| {
        e.as_ref().is_none_or(|e| {
            let mut reads = Vec::new();
            plain(e, &mut reads) && reads.is_empty()
        })
    };
    let node_ok = |n: &NodePattern| constant(&n.properties);
    if !once(&part.start.variable) || !node_ok(&part.start) {
        return false;
    }
    for (rel, node) in &part.steps {
        if !constant(&rel.properties) || !node_ok(node) {
            return false;
        }
        if !once(&rel.variable) || !once(&node.variable) {
            return false;
        }
    }
    // A variable-length step binds a list of relationships, which the walk does not build, and
    // puts more than one relationship per step in the match so far: then no relationship may be
    // named at all.
    let variable_length = part.steps.iter().any(|(rel, _)| rel.length.is_some());
    !variable_length || part.steps.iter().all(|(rel, _)| rel.variable.is_none())
}

/// Whether `e` is built only from literals, parameters, variables, properties, operators and
/// non-aggregating functions (nothing that binds its own variables or runs a subquery); the
/// variables it reads are added to `reads`.
fn plain(e: &Expr, reads: &mut Vec<String>) -> bool {
    match e {
        Expr::Literal(_) | Expr::Parameter(_) => true,
        Expr::Variable(v) => {
            reads.push(v.clone());
            true
        }
        Expr::List(items) => items.iter().all(|x| plain(x, reads)),
        Expr::Map(entries) => entries.iter().all(|(_, x)| plain(x, reads)),
        Expr::Property(x, _)
        | Expr::Not(x)
        | Expr::Negate(x)
        | Expr::IsNull(x, _)
        | Expr::HasLabels(x, _) => plain(x, reads),
        Expr::Index(a, b) | Expr::Binary(_, a, b) => plain(a, reads) && plain(b, reads),
        Expr::Call { name, args, .. } => {
            !super::functions::is_aggregate(name) && args.iter().all(|x| plain(x, reads))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::rows;
    use crate::engine::MemoryEngine;

    fn plan(q: &str) -> Option<CountPlan> {
        let crate::cypher::ast::Statement::Query(query) = crate::cypher::parse(q).unwrap() else {
            panic!("{q}: not a query");
        };
        CountPlan::of(&query.clauses, &Env::new(Arc::new(Default::default())))
    }

    #[test]
    fn only_plain_aggregates_are_planned() {
        assert!(plan("MATCH (a)-[:R]->(b) RETURN count(*)").is_some());
        assert!(plan("MATCH (a:P {id: $id})-[r]-(b) WHERE b.x > 1 RETURN count(b) AS n").is_some());
        for q in [
            "MATCH (a)-[r:R*1..2]->(b) RETURN count(*)",
            "MATCH (a)-[:R*1..2]->(b)-[r]->(c) RETURN count(*)",
            "MATCH (a)-[:R]->(a) RETURN count(*)",
            "MATCH (a)-[:R]->(b {x: a.x}) RETURN count(*)",
            "MATCH p = (a)-[:R]->(b) RETURN count(p)",
            "MATCH (a)-[:R]->(b) RETURN sum(b.x) + 1",
            "MATCH (a)-[:R]->(b) RETURN b.x",
            "MATCH (a)-[:R]->(b) RETURN b.x AS k, count(*) ORDER BY k + 1",
            "MATCH (a)-[:R]->(b) RETURN b.x AS k, count(*) SKIP 1",
            "MATCH (a)-[:R]->(b) RETURN sum([x IN [1] | x])",
            "MATCH (a)-[:R]->(b) WHERE exists((b)-->()) RETURN count(*)",
            "OPTIONAL MATCH (a)-[:R]->(b) RETURN count(b)",
            "MATCH (a), (b) RETURN count(*)",
        ] {
            assert!(plan(q).is_none(), "{q} should take the general path");
        }
    }

    /// Every count, answered by the plan, equals the general path's answer for the same pattern
    /// (forced onto the general path by a WITH, which passes every match on).
    #[tokio::test]
    async fn counts_match_the_general_path() {
        let e = MemoryEngine::new();
        rows(
            &e,
            "CREATE (a:P {id: 1, x: 1}), (b:P {id: 2, x: 5}), (c:Q {id: 3, x: 9}), \
             (a)-[:R {w: 1}]->(b), (b)-[:R {w: 2}]->(c), (c)-[:S]->(a), (a)-[:R]->(a), \
             (b)-[:R]->(b), (c)-[:R {w: 1}]->(b), (b)-[:S]->(a)",
        )
        .await;
        for pattern in [
            "MATCH (a)-[:R]->(b)",
            "MATCH (a)-[:R]-(b)",
            "MATCH (a)<-[:R|S]-(b)",
            "MATCH (a)-[]->(b)-[]->(c)",
            "MATCH (a)-[r]-(b)-[s]-(c)",
            "MATCH (a:P)-[:R {w: 1}]->(b:P)",
            "MATCH (a)-[:R]->(b:Q)<-[:R]-(c)",
            "MATCH (a)-[:R]->(b)-[:NOPE]->(c)",
            "MATCH (a {id: 2})-[:R]->(b)-[:R]->(c) WHERE c.x > 1",
            "MATCH (a)-[r:R]->(b) WHERE r.w = 1 OR b.x = 9",
            "MATCH (a)-->(b)-->(c)-->(d) WHERE a <> d",
            "MATCH (a)-->(b)-->(c)-->(d)",
            "MATCH (a)-[:R]-(b)-[:R]-(c)",
            "MATCH (a)<-[:R]-(b)-[:R]->(c)",
            "MATCH (a)-[:R]->(b)<-[:R]-(c)",
            "MATCH (a)--(b)--(c)--(d)",
            "MATCH (n:P)",
            "MATCH (n)",
            "MATCH (a)-[:R*1..3]->(b)",
            "MATCH (a)-[*0..2]-(b)",
            "MATCH (a {id: 1})-[:R|S*]->(b)",
            "MATCH (a)-[*2]->(b:P)-[:R]->(c)",
            "MATCH (a)-[:R*1..2 {w: 1}]->(b) WHERE b.x > 1",
        ] {
            let fast = format!("{pattern} RETURN count(*) AS n");
            assert!(plan(&fast).is_some(), "{fast} should be planned");
            let general = format!("{pattern} WITH 1 AS one RETURN count(*) AS n");
            let a = rows(&e, &fast).await;
            let b = rows(&e, &general).await;
            assert_eq!(a[0][0], b[0][0], "{pattern}");
        }
        for (pattern, aggregates) in [
            (
                "MATCH (a)-[:R]->(b)",
                "sum(b.x) AS s, min(a.id) AS lo, collect(b.id) AS ids",
            ),
            (
                "MATCH (a)-[r]-(b) WHERE r.w > 0",
                "avg(r.w) AS m, count(*) AS n, max(b.x) AS hi",
            ),
            (
                "MATCH (a)-[:NOPE]->(b)",
                "sum(b.x) AS s, collect(b) AS c, count(b) AS n",
            ),
            (
                "MATCH (a:P)-->(b)-->(c)",
                "count(DISTINCT c) AS d, sum(a.x * c.x) AS s",
            ),
            ("MATCH (a)-->(b)", "b.x AS k, count(*) AS n ORDER BY k"),
            (
                "MATCH (a)-->(b)",
                "count(*) AS n, labels(b) AS l, a.x % 2 AS odd ORDER BY n DESC, odd",
            ),
            ("MATCH (a)-[:NOPE]->(b)", "b.x AS k, count(*) AS n"),
            (
                "MATCH (a)--(b) WHERE a.x < 9",
                "collect(b.id) AS ids, a.id AS id ORDER BY a.id DESC",
            ),
            ("MATCH (p:P)", "count(p) AS n, p.x AS x ORDER BY x"),
            (
                "MATCH (a)-[*1..3]->(b)",
                "b.id AS id, count(*) AS n, collect(a.id) AS from ORDER BY id",
            ),
        ] {
            let fast = format!("{pattern} RETURN {aggregates}");
            assert!(plan(&fast).is_some(), "{fast} should be planned");
            let general = format!("{pattern} WITH * RETURN {aggregates}");
            assert!(plan(&general).is_none());
            assert_eq!(rows(&e, &fast).await, rows(&e, &general).await, "{fast}");
        }
    }
}

#[cfg(test)]
mod direct_tests {
    use super::*;
    use crate::engine::testing::rows;
    use crate::engine::MemoryEngine;

    fn plan(q: &str) -> CountPlan {
        let crate::cypher::ast::Statement::Query(query) = crate::cypher::parse(q).unwrap() else {
            panic!("{q}: not a query");
        };
        CountPlan::of(&query.clauses, &Env::new(Arc::new(Default::default())))
            .unwrap_or_else(|| panic!("{q} should be planned"))
    }

    #[test]
    fn only_properties_of_pattern_nodes_are_read_directly() {
        for q in [
            "MATCH (p:P) RETURN p.k AS k, count(*) AS n",
            "MATCH (p) RETURN p.k, count(p), sum(p.x), collect(p.s), min(p.x), avg(p.x)",
            "MATCH (a)-[:R]->(b) RETURN b.k AS k, count(DISTINCT a.x) AS d, count(b) AS n",
            "MATCH (a {id: 1})-->(b)-->(c) RETURN sum(c.x) AS s",
        ] {
            assert!(plan(q).direct.is_some(), "{q} reads directly");
        }
        for q in [
            // A filter, an expression, a relationship, a variable-length step, a percentile, a
            // distinct count of nodes: evaluated per match.
            "MATCH (p:P) WHERE p.x > 1 RETURN p.k AS k, count(*) AS n",
            "MATCH (p:P) RETURN p.x % 2 AS k, count(*) AS n",
            "MATCH (a)-[r]->(b) RETURN r.w AS w, count(*) AS n",
            "MATCH (a)-[*1..2]->(b) RETURN b.k AS k, count(*) AS n",
            "MATCH (p:P) RETURN percentileDisc(p.x, 0.5) AS m",
            "MATCH (p:P) RETURN p.k AS k, count(DISTINCT p) AS n",
            "MATCH (p:P) RETURN p.k AS k, sum(p) AS n",
        ] {
            assert!(plan(q).direct.is_none(), "{q} evaluates");
        }
    }

    /// Keys of every kind, missing properties and mixed numbers group and aggregate as the
    /// general path does, from whole-label scans (records read beside the node map, prefetched)
    /// and from looked-up starts alike.
    #[tokio::test]
    async fn direct_reads_match_the_general_path() {
        let e = MemoryEngine::new();
        rows(
            &e,
            "UNWIND range(0, 299) AS i \
             CREATE (:P {id: i, x: i % 7, f: toFloat(i % 3), \
                     k: CASE i % 6 WHEN 0 THEN 1 WHEN 1 THEN 1.0 WHEN 2 THEN 'one' \
                               WHEN 3 THEN [1, 'a'] WHEN 4 THEN true ELSE null END, \
                     s: 'n' + toString(i % 4)})",
        )
        .await;
        rows(
            &e,
            "MATCH (a:P), (b:P) WHERE b.id = (a.id * 7 + 3) % 300 CREATE (a)-[:R]->(b)",
        )
        .await;
        rows(&e, "CREATE (:P {id: 1000}), (:Q {k: 1})").await;
        for (pattern, items) in [
            ("MATCH (p:P)", "p.k AS k, count(*) AS n, sum(p.x) AS s"),
            (
                "MATCH (p:P)",
                "p.f AS f, p.s AS s, count(p) AS n, collect(p.id) AS ids",
            ),
            (
                "MATCH (p:P)",
                "p.missing AS m, min(p.s) AS lo, max(p.x) AS hi, avg(p.f) AS a",
            ),
            (
                "MATCH (p)",
                "p.k AS k, count(DISTINCT p.x) AS d, stDev(p.x) AS sd",
            ),
            (
                "MATCH (p:P)",
                "count(*) AS n, sum(p.f) AS s, collect(DISTINCT p.s) AS ss",
            ),
            ("MATCH (a:P)-[:R]->(b)", "b.x AS x, a.s AS s, count(b) AS n"),
            (
                "MATCH (a:P {id: 5})-->(b)-->(c)",
                "c.k AS k, sum(b.x) AS s, count(*) AS n",
            ),
            ("MATCH (a:P)<--(b)", "a.k AS k, b.s AS s, sum(b.id) AS t"),
        ] {
            let fast = format!("{pattern} RETURN {items} ORDER BY {}", order_of(items));
            assert!(plan(&fast).direct.is_some(), "{fast} reads directly");
            let general = format!(
                "{pattern} WITH * RETURN {items} ORDER BY {}",
                order_of(items)
            );
            let (a, b) = (rows(&e, &fast).await, rows(&e, &general).await);
            assert!(!a.is_empty(), "{fast}");
            assert_eq!(a, b, "{fast}");
        }
        // A type error is the general path's.
        let q = "MATCH (p:P) RETURN p.k AS k, sum(p.s) AS s";
        assert!(plan(q).direct.is_some());
        let failed = match crate::engine::testing::run_in(&e, q).await {
            Ok((_, rows, _)) => rows.into_iter().find_map(Result::err),
            Err(e) => Some(e),
        };
        let err = failed.map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("sum() needs numbers"), "{err}");
    }

    /// Orders by every returned column, so that the two paths' rows compare in one order.
    fn order_of(items: &str) -> String {
        let names: Vec<&str> = items
            .split(", ")
            .filter_map(|i| i.rsplit(" AS ").next())
            .collect();
        names.join(", ")
    }
}
