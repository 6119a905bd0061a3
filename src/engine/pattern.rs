//! Pattern matching: every way a MATCH pattern fits the graph, given the variables already bound.
//!
//! Matching is a depth-first search written in continuation style: each step hands the extended
//! bindings to the rest of the pattern, and the last step hands a complete match to the caller's
//! `emit`, which can stop the search (pattern predicates need only one match). As in Cypher, one
//! relationship is used at most once per MATCH (relationship isomorphism), which also bounds
//! unbounded variable-length patterns.

use std::ops::ControlFlow;

use super::eval::{equals, eval, Env};
use super::graph::{Edge, Graph, Props};
use super::rel_types::TypeFilter;
use super::EngineError;
use crate::cypher::ast::{BinaryOp, Direction, Expr, NodePattern, PatternPart};
use crate::cypher::{RED_ZONE, STACK_GROWTH};
use crate::value::{Map, Path, Value};

/// What `emit` tells the search: keep looking or stop.
pub type Flow = ControlFlow<()>;
pub const CONTINUE: Flow = ControlFlow::Continue(());
pub const STOP: Flow = ControlFlow::Break(());

/// A callback receiving each complete match and the relationships it used.
pub type Emit<'a> = dyn FnMut(Env, &mut Vec<i64>) -> Result<Flow, EngineError> + 'a;

/// An equality taken from a WHERE clause (`n.p = $v`, or `id(n) = $v` when `property` is
/// `None`), used to pick start nodes from an index or by id. The WHERE clause is still applied
/// afterwards.
#[derive(Debug, Clone)]
pub struct Hint {
    pub variable: String,
    pub property: Option<String>,
    pub value: Expr,
    /// `n.p IN $list` / `id(n) IN $list`: any of the list's values.
    pub any_of: bool,
}

/// Collects `var.prop = <literal or parameter>` and `id(var) = ...` conjuncts of a WHERE
/// expression.
pub fn hints(filter: Option<&Expr>) -> Vec<Hint> {
    let mut out = Vec::new();
    fn walk(e: &Expr, out: &mut Vec<Hint>) {
        match e {
            Expr::Binary(BinaryOp::And, l, r) => {
                walk(l, out);
                walk(r, out);
            }
            Expr::Binary(op @ (BinaryOp::Eq | BinaryOp::In), l, r) => {
                let any_of = *op == BinaryOp::In;
                let sides = if any_of {
                    vec![(l, r)]
                } else {
                    vec![(l, r), (r, l)]
                };
                for (a, b) in sides {
                    if !matches!(b.as_ref(), Expr::Literal(_) | Expr::Parameter(_)) {
                        continue;
                    }
                    match a.as_ref() {
                        Expr::Property(target, prop) => {
                            if let Expr::Variable(v) = target.as_ref() {
                                out.push(Hint {
                                    variable: v.clone(),
                                    property: Some(prop.clone()),
                                    value: b.as_ref().clone(),
                                    any_of,
                                });
                            }
                        }
                        Expr::Call { name, args, .. } if name.eq_ignore_ascii_case("id") => {
                            if let [Expr::Variable(v)] = args.as_slice() {
                                out.push(Hint {
                                    variable: v.clone(),
                                    property: None,
                                    value: b.as_ref().clone(),
                                    any_of,
                                });
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(f) = filter {
        walk(f, &mut out);
    }
    out
}

/// The id a variable is bound to, `Some(None)` when it is bound to null, `None` when unbound.
fn bound_id(env: &Env, variable: &Option<String>) -> Option<Option<i64>> {
    let v = env.lookup(variable.as_deref()?)?;
    Some(match v {
        Value::Node(n) => Some(n.id),
        Value::Relationship(r) => Some(r.id),
        _ => None,
    })
}

pub(super) fn property_map(expr: &Option<Expr>, env: &Env) -> Result<Option<Map>, EngineError> {
    match expr {
        None => Ok(None),
        Some(e) => match eval(e, env)? {
            Value::Map(m) => Ok(Some(m)),
            Value::Null => Ok(Some(Map::new())),
            other => Err(EngineError::client(format!(
                "A pattern's properties must be a MAP, got {}.",
                other.type_name()
            ))),
        },
    }
}

pub(super) fn props_match(props: &Props, wanted: &Option<Map>) -> bool {
    wanted.as_ref().is_none_or(|w| {
        w.iter().all(|(k, v)| {
            props
                .get(k)
                .is_some_and(|have| equals(have, v) == Some(true))
        })
    })
}

/// The nodes a pattern's first node can be, using (in order of preference) a bound variable, a
/// label-property index, the label index, or every node.
pub fn start_candidates(
    g: &Graph,
    node: &NodePattern,
    env: &Env,
    hints: &[Hint],
) -> Result<Vec<i64>, EngineError> {
    if let Some(bound) = bound_id(env, &node.variable) {
        return Ok(bound.into_iter().collect());
    }
    let mine = |h: &&Hint| node.variable.as_deref() == Some(h.variable.as_str());
    if let Some(h) = hints.iter().filter(mine).find(|h| h.property.is_none()) {
        // `id(n) = x` or `id(n) IN [...]`: those nodes, whatever the labels.
        let mut ids: Vec<i64> = hint_values(h, env)?
            .into_iter()
            .filter_map(|v| match v {
                Value::Int(id) if g.node(id).is_some() => Some(id),
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        return Ok(ids);
    }
    if !node.labels.is_empty() {
        // Each entry: a property and the values any of which it may equal.
        let mut equalities: Vec<(String, Vec<Value>)> = Vec::new();
        if let Some(m) = property_map(&node.properties, env)? {
            equalities.extend(m.into_iter().map(|(k, v)| (k, vec![v])));
        }
        for h in hints.iter().filter(mine) {
            if let Some(p) = &h.property {
                equalities.push((p.clone(), hint_values(h, env)?));
            }
        }
        for label in &node.labels {
            for (prop, values) in &equalities {
                let found: Option<Vec<Vec<i64>>> = values
                    .iter()
                    .map(|v| g.indexed_nodes(label, prop, v))
                    .collect();
                if let Some(found) = found {
                    let mut ids: Vec<i64> = found.into_iter().flatten().collect();
                    ids.sort_unstable();
                    ids.dedup();
                    return Ok(ids);
                }
            }
        }
        let smallest = node
            .labels
            .iter()
            .min_by_key(|l| g.labels.get(l.as_str()).map_or(0, |s| s.len()))
            .expect("labels is not empty");
        return Ok(g.nodes_with_label(smallest));
    }
    Ok(g.nodes.keys().copied().collect())
}

/// The values a hint allows: one for `=`, the list's elements for `IN` (none for a null list).
fn hint_values(h: &Hint, env: &Env) -> Result<Vec<Value>, EngineError> {
    let v = eval(&h.value, env)?;
    Ok(match (h.any_of, v) {
        (false, v) => vec![v],
        (true, Value::List(items)) => items,
        (true, _) => Vec::new(),
    })
}

pub(super) fn node_fits(
    g: &Graph,
    id: i64,
    node: &NodePattern,
    env: &Env,
) -> Result<bool, EngineError> {
    if let Some(bound) = bound_id(env, &node.variable) {
        if bound != Some(id) {
            return Ok(false);
        }
    }
    let Some(rec) = g.node(id) else {
        return Ok(false);
    };
    if !node.labels.iter().all(|l| rec.labels.contains(l)) {
        return Ok(false);
    }
    Ok(props_match(
        &rec.props,
        &property_map(&node.properties, env)?,
    ))
}

fn bind(env: Env, variable: &Option<String>, value: impl FnOnce() -> Value) -> Env {
    match variable {
        Some(v) if env.lookup(v).is_none() => env.with(v, value()),
        _ => env,
    }
}

fn node_value(g: &Graph, id: i64) -> Value {
    g.node_value(id).map_or(Value::Null, Value::Node)
}

fn rel_value(g: &Graph, id: i64) -> Value {
    g.rel_value(id).map_or(Value::Null, Value::Relationship)
}

/// Relationships of `node` that fit the pattern's direction and types, each with whether it
/// leaves `node` (it is in the outgoing list): a walk over the node's edge slices that looks
/// nothing up. A self-loop is reported once for an undirected pattern.
pub(super) fn expand<'g>(
    g: &'g Graph,
    node: i64,
    direction: Direction,
    types: &'g TypeFilter,
) -> impl Iterator<Item = (Edge, bool)> + 'g {
    let adj = g.adjacency(node).map(|a| a.as_ref());
    let out = adj
        .filter(|_| direction != Direction::Incoming)
        .map_or(&[][..], |a| a.out.as_slice());
    let inc = adj
        .filter(|_| direction != Direction::Outgoing)
        .map_or(&[][..], |a| a.inc.as_slice());
    let either = direction == Direction::Either;
    out.iter()
        .filter(move |e| types.accepts(e.rel_type))
        .map(|e| (*e, true))
        .chain(
            inc.iter()
                .filter(move |e| types.accepts(e.rel_type) && !(either && e.other == node))
                .map(|e| (*e, false)),
        )
}

/// Whether relationship `r` has the properties a pattern asks for (looked up only then).
fn rel_fits(g: &Graph, r: i64, wanted: &Option<Map>) -> bool {
    wanted.is_none() || g.rel(r).is_some_and(|rec| props_match(&rec.props, wanted))
}

/// Matches `parts` one after another, extending `env`; `emit` gets every complete match.
pub fn match_parts(
    g: &Graph,
    parts: &[PatternPart],
    env: Env,
    used: &mut Vec<i64>,
    hints: &[Hint],
    emit: &mut Emit<'_>,
) -> Result<Flow, EngineError> {
    let Some((first, rest)) = parts.split_first() else {
        return emit(env, used);
    };
    for start in start_candidates(g, &first.start, &env, hints)? {
        env.check_budget()?;
        let flow = match_from(g, first, start, env.clone(), used, &mut |env, used| {
            match_parts(g, rest, env, used, hints, emit)
        })?;
        if flow.is_break() {
            return Ok(STOP);
        }
    }
    Ok(CONTINUE)
}

/// Matches one part whose first node is `start`.
pub fn match_from(
    g: &Graph,
    part: &PatternPart,
    start: i64,
    env: Env,
    used: &mut Vec<i64>,
    emit: &mut Emit<'_>,
) -> Result<Flow, EngineError> {
    if !node_fits(g, start, &part.start, &env)? {
        return Ok(CONTINUE);
    }
    let env = bind(env, &part.start.variable, || node_value(g, start));
    let types: Vec<TypeFilter> = part
        .steps
        .iter()
        .map(|(rel, _)| TypeFilter::new(&rel.types))
        .collect();
    let mut walk = Walk {
        g,
        part,
        types: &types,
        nodes: vec![start],
        rels: Vec::new(),
    };
    walk.step(0, start, env, used, emit)
}

/// The state of matching one pattern part: the path so far.
struct Walk<'g, 't> {
    g: &'g Graph,
    part: &'g PatternPart,
    /// Each step's relationship types, resolved to numbers once.
    types: &'t [TypeFilter],
    nodes: Vec<i64>,
    rels: Vec<i64>,
}

impl Walk<'_, '_> {
    fn step(
        &mut self,
        i: usize,
        at: i64,
        env: Env,
        used: &mut Vec<i64>,
        emit: &mut Emit<'_>,
    ) -> Result<Flow, EngineError> {
        let Some((rel, node)) = self.part.steps.get(i) else {
            let env = match &self.part.path_variable {
                Some(p) => {
                    let path = self.path();
                    env.with(p, path)
                }
                None => env,
            };
            return emit(env, used);
        };
        env.check_budget()?;
        let wanted = property_map(&rel.properties, &env)?;
        match rel.length {
            None => {
                let bound = bound_id(&env, &rel.variable);
                let (g, types) = (self.g, self.types);
                for (Edge { rel: r, other, .. }, _) in expand(g, at, rel.direction, &types[i]) {
                    if used.contains(&r)
                        || bound.is_some_and(|b| b != Some(r))
                        || !rel_fits(g, r, &wanted)
                        || !node_fits(g, other, node, &env)?
                    {
                        continue;
                    }
                    let next = bind(env.clone(), &rel.variable, || rel_value(self.g, r));
                    let next = bind(next, &node.variable, || node_value(self.g, other));
                    let flow = self.along(r, other, used, |walk, used| {
                        walk.step(i + 1, other, next, used, emit)
                    });
                    if flow?.is_break() {
                        return Ok(STOP);
                    }
                }
                Ok(CONTINUE)
            }
            Some((min, max)) => {
                let min = min.unwrap_or(1) as usize;
                let max = max.map_or(usize::MAX, |m| m as usize);
                let mut trail = Vec::new();
                self.var_length(i, at, &env, used, emit, &wanted, (min, max), &mut trail)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn var_length(
        &mut self,
        i: usize,
        at: i64,
        env: &Env,
        used: &mut Vec<i64>,
        emit: &mut Emit<'_>,
        wanted: &Option<Map>,
        (min, max): (usize, usize),
        trail: &mut Vec<i64>,
    ) -> Result<Flow, EngineError> {
        env.check_budget()?;
        let (rel, node) = &self.part.steps[i];
        if trail.len() >= min && node_fits(self.g, at, node, env)? {
            let rels = Value::List(trail.iter().map(|r| rel_value(self.g, *r)).collect());
            let next = bind(env.clone(), &rel.variable, || rels);
            let next = bind(next, &node.variable, || node_value(self.g, at));
            if self.step(i + 1, at, next, used, emit)?.is_break() {
                return Ok(STOP);
            }
        }
        if trail.len() >= max {
            return Ok(CONTINUE);
        }
        let (g, types) = (self.g, self.types);
        for (Edge { rel: r, other, .. }, _) in expand(g, at, rel.direction, &types[i]) {
            if used.contains(&r) || !rel_fits(self.g, r, wanted) {
                continue;
            }
            trail.push(r);
            let flow = self.along(r, other, used, |walk, used| {
                walk.var_length(i, other, env, used, emit, wanted, (min, max), trail)
            });
            trail.pop();
            if flow?.is_break() {
                return Ok(STOP);
            }
        }
        Ok(CONTINUE)
    }

    /// Runs `next` with relationship `r` (to node `other`) added to the path and marked used,
    /// then takes it back off. Matching recurses once per hop, and paths in a long chain can be
    /// deeper than any fixed stack, so the stack grows on the heap as needed.
    fn along<R>(
        &mut self,
        r: i64,
        other: i64,
        used: &mut Vec<i64>,
        next: impl FnOnce(&mut Self, &mut Vec<i64>) -> R,
    ) -> R {
        used.push(r);
        self.rels.push(r);
        self.nodes.push(other);
        let result = stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || next(self, used));
        used.pop();
        self.rels.pop();
        self.nodes.pop();
        result
    }

    fn path(&self) -> Value {
        let nodes = self.nodes.iter().filter_map(|n| self.g.node_value(*n));
        let rels = self.rels.iter().filter_map(|r| self.g.rel_value(*r));
        Value::Path(Path {
            nodes: nodes.collect(),
            relationships: rels.collect(),
        })
    }
}

/// Whether the pattern has at least one match (a pattern predicate in WHERE).
pub fn exists(g: &Graph, part: &PatternPart, env: &Env) -> Result<bool, EngineError> {
    // The first match stops the search, so it stopped exactly when there was one.
    let flow = match_parts(
        g,
        std::slice::from_ref(part),
        env.clone(),
        &mut Vec::new(),
        &[],
        &mut |_, _| Ok(STOP),
    )?;
    Ok(flow.is_break())
}

/// Every variable a pattern binds, in order of appearance.
pub fn variables(parts: &[PatternPart]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |v: &Option<String>| {
        if let Some(v) = v {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
    };
    for part in parts {
        add(&part.path_variable);
        add(&part.start.variable);
        for (rel, node) in &part.steps {
            add(&rel.variable);
            add(&node.variable);
        }
    }
    out
}
