//! The operator view of a query for `EXPLAIN` and `PROFILE`, in Memgraph's vocabulary
//! (`ScanAll`, `ScanAllByLabel`, `Expand`, `Filter`, `Produce`, ...).
//!
//! The executor runs clauses, not a separate plan tree, so the operators are derived from the
//! clauses with the same choices the executor makes: a start node is taken from a bound
//! variable, by id, from a label-property index when the pattern or WHERE gives an equality on
//! an indexed property, from the label index, or by scanning every node (see
//! [`super::pattern::start_candidates`]). Each operator names the clause that runs it, so
//! `PROFILE` can put that clause's measured rows and time beside it.

use super::exec::has_aggregate;
use super::graph::Graph;
use super::pattern;
use crate::cypher::ast::{Clause, Direction, Expr, NodePattern, PatternPart, Projection, Query};

/// One line of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    /// As Memgraph prints it, e.g. `ScanAllByLabel (n :Person)`.
    pub name: String,
    /// Which stage measures it: `(union part, clause)`; `None` for `Once` and `Union`.
    pub stage: Option<(usize, usize)>,
    /// Whether this is the operator that ends its clause (the one its rows come out of).
    pub top: bool,
}

/// The operators of `query`, from the one producing the result down to `Once`, as EXPLAIN
/// prints them.
pub fn operators(query: &Query, graph: &Graph) -> Vec<Operator> {
    let mut parts = vec![query];
    let mut next = query.union.as_ref();
    while let Some((_, q)) = next {
        parts.push(q);
        next = q.union.as_ref();
    }
    let mut out = Vec::new();
    if parts.len() > 1 {
        out.push(Operator {
            name: "Union".into(),
            stage: None,
            top: true,
        });
    }
    for (i, part) in parts.iter().enumerate() {
        let mut ops = Planner::new(graph, i).clauses(&part.clauses);
        ops.reverse();
        out.extend(ops);
    }
    out
}

/// Builds one query part's operators bottom-up, tracking which variables are bound.
struct Planner<'g> {
    graph: &'g Graph,
    part: usize,
    bound: Vec<String>,
    anonymous: usize,
    ops: Vec<Operator>,
}

impl<'g> Planner<'g> {
    fn new(graph: &'g Graph, part: usize) -> Self {
        Planner {
            graph,
            part,
            bound: Vec::new(),
            anonymous: 0,
            ops: vec![Operator {
                name: "Once".into(),
                stage: None,
                top: false,
            }],
        }
    }

    fn push(&mut self, clause: usize, name: String) {
        self.ops.push(Operator {
            name,
            stage: Some((self.part, clause)),
            top: false,
        });
    }

    fn clauses(mut self, clauses: &[Clause]) -> Vec<Operator> {
        for (i, clause) in clauses.iter().enumerate() {
            self.clause(i, clause);
            if let Some(last) = self.ops.last_mut() {
                last.top = last.stage == Some((self.part, i));
            }
        }
        if clauses.last().is_some_and(Clause::writes) {
            let last = clauses.len() - 1;
            self.push(last, "EmptyResult".into());
            self.ops.last_mut().expect("just pushed").top = true;
            // The write before it is no longer the clause's top.
            let n = self.ops.len();
            if n >= 2 && self.ops[n - 2].stage == Some((self.part, last)) {
                self.ops[n - 2].top = false;
            }
        }
        self.ops
    }

    fn name_of(&mut self, variable: &Option<String>) -> String {
        match variable {
            Some(v) => v.clone(),
            None => {
                self.anonymous += 1;
                format!("anon{}", self.anonymous)
            }
        }
    }

    fn clause(&mut self, i: usize, clause: &Clause) {
        match clause {
            Clause::Match {
                optional,
                patterns,
                filter,
            } => {
                let hints = pattern::hints(filter.as_ref());
                let before = self.ops.len();
                for part in patterns.iter() {
                    self.pattern(i, part, &hints);
                }
                if filter.is_some() || patterns.iter().any(needs_filter) {
                    self.push(i, "Filter".into());
                }
                if *optional {
                    self.ops.truncate(before);
                    self.push(i, "Optional".into());
                }
            }
            Clause::Unwind { variable, .. } => {
                self.bound.push(variable.clone());
                self.push(i, "Unwind".into());
            }
            Clause::With { projection, filter } => {
                self.projection(i, projection);
                if filter.is_some() {
                    self.push(i, "Filter".into());
                }
            }
            Clause::Return(projection) => self.projection(i, projection),
            Clause::Create(parts) => {
                for part in parts {
                    let start = &part.start;
                    let bound = start
                        .variable
                        .as_ref()
                        .is_some_and(|v| self.bound.contains(v));
                    if !bound {
                        self.push(i, "CreateNode".into());
                    }
                    if !part.steps.is_empty() {
                        self.push(i, "CreateExpand".into());
                    }
                    self.bound
                        .extend(pattern::variables(std::slice::from_ref(part)));
                }
            }
            Clause::Merge { pattern: part, .. } => {
                self.push(i, "Merge".into());
                self.bound
                    .extend(pattern::variables(std::slice::from_ref(part)));
            }
            Clause::Set(_) => self.push(i, "SetProperty".into()),
            Clause::Remove(_) => self.push(i, "RemoveProperty".into()),
            Clause::Delete { .. } => self.push(i, "Delete".into()),
            Clause::Foreach { .. } => self.push(i, "Foreach".into()),
            Clause::LoadCsv(load) => {
                self.bound.push(load.variable.clone());
                self.push(i, format!("LoadCsv {{{}}}", load.variable));
            }
            Clause::CallProcedure(call) => {
                self.push(i, format!("CallProcedure<{}>", call.name));
            }
            Clause::CallSubquery(_) => self.push(i, "Apply".into()),
        }
    }

    fn pattern(&mut self, i: usize, part: &PatternPart, hints: &[pattern::Hint]) {
        let start_name = self.name_of(&part.start.variable);
        let start_bound = part
            .start
            .variable
            .as_ref()
            .is_some_and(|v| self.bound.contains(v));
        if !start_bound {
            let scan = self.scan(&start_name, &part.start, hints);
            self.push(i, scan);
            self.bound.push(start_name.clone());
        }
        let mut from = start_name;
        for (rel, node) in &part.steps {
            let rel_name = self.name_of(&rel.variable);
            let to = self.name_of(&node.variable);
            let types = if rel.types.is_empty() {
                String::new()
            } else {
                format!(":{}", rel.types.join("|"))
            };
            let (left, right) = match rel.direction {
                Direction::Outgoing => ("-", "->"),
                Direction::Incoming => ("<-", "-"),
                Direction::Either => ("-", "-"),
            };
            let op = if rel.length.is_some() {
                "ExpandVariable"
            } else {
                "Expand"
            };
            self.push(
                i,
                format!("{op} ({from}){left}[{rel_name}{types}]{right}({to})"),
            );
            self.bound.push(rel_name);
            self.bound.push(to.clone());
            from = to;
        }
        if let Some(p) = &part.path_variable {
            self.push(i, format!("ConstructNamedPath {p}"));
            self.bound.push(p.clone());
        }
    }

    /// The scan [`pattern::start_candidates`] will choose for an unbound start node.
    fn scan(&self, name: &str, node: &NodePattern, hints: &[pattern::Hint]) -> String {
        let mine: Vec<&pattern::Hint> = hints.iter().filter(|h| h.variable == name).collect();
        if mine.iter().any(|h| h.property.is_none()) {
            return format!("ScanAllById ({name})");
        }
        let Some(first_label) = node.labels.first() else {
            return format!("ScanAll ({name})");
        };
        let mut properties: Vec<&str> = Vec::new();
        if let Some(Expr::Map(entries)) = &node.properties {
            properties.extend(entries.iter().map(|(k, _)| k.as_str()));
        }
        properties.extend(mine.iter().filter_map(|h| h.property.as_deref()));
        for label in &node.labels {
            for prop in &properties {
                let key = (label.clone(), prop.to_string());
                if self.graph.property_indexes.contains_key(&key) {
                    return format!("ScanAllByLabelPropertyValue ({name} :{label} {{{prop}}})");
                }
            }
        }
        let smallest = node
            .labels
            .iter()
            .min_by_key(|l| self.graph.labels.get(l.as_str()).map_or(0, |s| s.len()))
            .unwrap_or(first_label);
        format!("ScanAllByLabel ({name} :{smallest})")
    }

    fn projection(&mut self, i: usize, projection: &Projection) {
        let aggregates = projection
            .items
            .iter()
            .any(|item| has_aggregate(&item.expr));
        if aggregates {
            self.push(i, "Aggregate".into());
        }
        let mut columns: Vec<String> = projection.items.iter().map(|i| i.name.clone()).collect();
        if projection.star {
            let mut star = self.bound.clone();
            star.retain(|v| !v.starts_with("anon"));
            star.sort();
            star.dedup();
            columns = star.into_iter().chain(columns).collect();
        }
        self.push(i, format!("Produce {{{}}}", columns.join(", ")));
        if projection.distinct {
            self.push(i, "Distinct".into());
        }
        if !projection.order_by.is_empty() {
            self.push(i, "OrderBy".into());
        }
        if projection.skip.is_some() {
            self.push(i, "Skip".into());
        }
        if projection.limit.is_some() {
            self.push(i, "Limit".into());
        }
        self.bound = columns;
    }
}

/// Whether matching the pattern checks more than the scan and expansion did (labels beyond the
/// scanned one, inline properties).
fn needs_filter(part: &PatternPart) -> bool {
    let node = |n: &NodePattern| n.properties.is_some() || n.labels.len() > 1;
    node(&part.start)
        || part
            .steps
            .iter()
            .any(|(r, n)| r.properties.is_some() || node(n) || !n.labels.is_empty())
}
