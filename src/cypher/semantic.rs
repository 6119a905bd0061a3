//! Semantic analysis: the checks openCypher makes after parsing and before anything runs.
//!
//! A query that rebinds a variable, uses one variable as both node and relationship, names a
//! variable nothing bound, aggregates where no aggregation is allowed, or asks `SKIP`/`LIMIT` for
//! something that is not a constant is refused here, so it fails before it changes the graph,
//! whatever the data. The pass walks the AST once, clause by clause, keeping the variables in
//! scope with what is statically known of each one's kind (node, relationship, path, or a value
//! of a known type). Only what can be decided without data is checked; everything else is left
//! to the executor, which keeps its own runtime checks as a fallback.
//!
//! Scoping follows openCypher: `WITH` and `RETURN` replace the scope with their columns, except
//! that a `WHERE` directly on a `WITH`, and the `ORDER BY` of a `WITH` or `RETURN`, also see the
//! variables from before the projection when it does not aggregate (and, for `ORDER BY`, is not
//! `DISTINCT`). Subqueries in expressions (`EXISTS { }`, `COUNT { }`, pattern comprehensions) and
//! `FOREACH` see the outer scope; `CALL { }` sees only what its leading `WITH` imports.
//!
//! Texts are Memgraph's where it has one ("Unbound variable: x.", "Redeclaring variable: x.").
//! This module knows nothing of the engine: it reads the AST and answers with a [`SyntaxError`],
//! which reaches clients under Memgraph's one client error code.

use super::ast::{
    BinaryOp, Clause, Direction, Expr, NodePattern, PatternPart, Projection, Query, RelPattern,
    RemoveItem, ReturnItem, SetItem,
};
use super::parser::{RED_ZONE, STACK_GROWTH};
use super::SyntaxError;
use crate::value::Value;

/// Checks a parsed query. `Ok` means nothing the pass can see statically is wrong.
pub fn check(query: &Query) -> Result<(), SyntaxError> {
    Analyzer.query(query, &Scope::default()).map(|_| ())
}

/// What is statically known of a variable's or an expression's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Node,
    Rel,
    /// The list of relationships a variable-length pattern binds.
    RelList,
    Path,
    Bool,
    Number,
    Str,
    List,
    Map,
    /// Anything, or null: nothing is checked against it.
    Any,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Node => "node",
            Kind::Rel => "relationship",
            Kind::RelList => "list of relationships",
            Kind::Path => "path",
            Kind::Bool => "boolean",
            Kind::Number => "number",
            Kind::Str => "string",
            Kind::List => "list",
            Kind::Map => "map",
            Kind::Any => "value",
        }
    }

    fn of_value(v: &Value) -> Kind {
        match v {
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) | Value::Float(_) => Kind::Number,
            Value::String(_) => Kind::Str,
            Value::List(_) => Kind::List,
            Value::Map(_) => Kind::Map,
            _ => Kind::Any,
        }
    }

    /// Whether a value of this kind can be a predicate (WHERE, AND, NOT, ...).
    fn may_be_bool(self) -> bool {
        matches!(self, Kind::Bool | Kind::Any)
    }

    /// Whether a value of this kind is a scalar that has no properties, for `x.key`.
    fn lacks_properties(self) -> bool {
        matches!(
            self,
            Kind::Bool | Kind::Number | Kind::Str | Kind::List | Kind::Path | Kind::RelList
        )
    }
}

/// The variables visible at one point of a query.
#[derive(Debug, Clone, Default)]
struct Scope {
    vars: Vec<(String, Kind)>,
    /// Set after `CALL proc()` without `YIELD`: its columns are not known here, so no name is
    /// reported as unbound from then on.
    open: bool,
}

impl Scope {
    fn get(&self, name: &str) -> Option<Kind> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, k)| *k)
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn bind(&mut self, name: &str, kind: Kind) {
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = kind,
            None => self.vars.push((name.to_owned(), kind)),
        }
    }

    /// `inner` on top of `self`: names of `inner` shadow ours.
    fn with(&self, inner: &Scope) -> Scope {
        let mut s = self.clone();
        for (n, k) in &inner.vars {
            s.bind(n, *k);
        }
        s.open |= inner.open;
        s
    }
}

/// Whether aggregate functions may appear where an expression is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agg {
    /// In a projection item (or an ORDER BY after an aggregating projection).
    Allowed,
    /// Inside an aggregate's argument: another aggregate would nest.
    Inside,
    /// In the body of a comprehension, quantifier or reduce, which runs once per element.
    PerElement,
    /// Anywhere else; the text names the place for the message.
    Forbidden(&'static str),
}

/// How an expression is being checked.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    agg: Agg,
    /// After DISTINCT or aggregation, an ORDER BY expression may repeat a projected expression
    /// (`RETURN DISTINCT a.name ORDER BY a.name`) even though its variables are gone.
    projected: Option<&'a [ReturnItem]>,
}

impl<'a> Ctx<'a> {
    fn forbid(place: &'static str) -> Ctx<'a> {
        Ctx {
            agg: Agg::Forbidden(place),
            projected: None,
        }
    }

    fn with_agg(self, agg: Agg) -> Ctx<'a> {
        Ctx { agg, ..self }
    }
}

/// Aggregate functions: the one list the semantic pass and the executor share.
const AGGREGATES: &[&str] = &[
    "count",
    "collect",
    "sum",
    "avg",
    "min",
    "max",
    "percentileDisc",
    "percentileCont",
    "stDev",
    "stDevP",
];

/// Whether `name` is an aggregate function (case-insensitive).
pub fn is_aggregate(name: &str) -> bool {
    AGGREGATES.iter().any(|a| a.eq_ignore_ascii_case(name))
}

fn err(message: impl Into<String>) -> SyntaxError {
    SyntaxError::new(message)
}

fn unbound(name: &str) -> SyntaxError {
    err(format!("Unbound variable: {name}."))
}

fn redeclared(name: &str) -> SyntaxError {
    err(format!("Redeclaring variable: {name}."))
}

/// Memgraph's text, with its names for the kinds of symbols.
fn mismatch(name: &str, was: Kind, now: Kind) -> SyntaxError {
    let symbol = |k: Kind| match k {
        Kind::Node => "Vertex",
        Kind::Rel => "Edge",
        Kind::RelList => "EdgeList",
        Kind::Path => "Path",
        Kind::Number => "Number",
        Kind::Bool => "Boolean",
        Kind::Str => "String",
        Kind::List => "List",
        Kind::Map => "Map",
        Kind::Any => "Any",
    };
    err(format!(
        "Type mismatch: {name} already defined as {}, expected {}.",
        symbol(was),
        symbol(now)
    ))
}

/// How a pattern binds its variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binding {
    /// MATCH and pattern comprehensions: new variables are bound, known ones are matched.
    Match,
    /// CREATE: everything new is created; known nodes are only joined.
    Create,
    /// MERGE: like CREATE for what it may create.
    Merge,
    /// A pattern used as a predicate: it may not introduce variables.
    Predicate,
}

impl Binding {
    fn clause(self) -> &'static str {
        match self {
            Binding::Match => "MATCH",
            Binding::Create => "CREATE",
            Binding::Merge => "MERGE",
            Binding::Predicate => "a pattern expression",
        }
    }
}

/// The pass; it holds no state between calls (scopes are passed along), so that the recursion
/// is easy to follow.
struct Analyzer;

impl Analyzer {
    /// Checks a query and the queries UNIONed to it, starting from `outer`; returns the columns.
    fn query(&self, q: &Query, outer: &Scope) -> Result<Vec<(String, Kind)>, SyntaxError> {
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            let columns = self.clauses(&q.clauses, outer.clone())?;
            let mut next = q.union.as_ref();
            let mut all_kind: Option<bool> = None;
            while let Some((all, part)) = next {
                if all_kind.is_some_and(|k| k != *all) {
                    return Err(err("Invalid combination of UNION and UNION ALL."));
                }
                all_kind = Some(*all);
                let other = self.clauses(&part.clauses, outer.clone())?;
                let names = |c: &[(String, Kind)]| c.iter().map(|(n, _)| n.clone()).collect();
                let (a, b): (Vec<String>, Vec<String>) = (names(&columns), names(&other));
                if a != b {
                    return Err(err(
                        "All subqueries in an UNION must have the same column names.",
                    ));
                }
                next = part.union.as_ref();
            }
            Ok(columns)
        })
    }

    /// Checks one query's clauses from `scope`; returns RETURN's columns (none for a query that
    /// ends with an updating clause).
    fn clauses(
        &self,
        clauses: &[Clause],
        mut scope: Scope,
    ) -> Result<Vec<(String, Kind)>, SyntaxError> {
        for clause in clauses {
            if let Clause::Return(projection) = clause {
                let columns = self.projection(projection, &scope, "RETURN", None)?;
                return Ok(columns.vars);
            }
            self.clause(clause, &mut scope)?;
        }
        Ok(Vec::new())
    }

    fn clause(&self, clause: &Clause, scope: &mut Scope) -> Result<(), SyntaxError> {
        match clause {
            Clause::Match {
                patterns, filter, ..
            } => {
                let mut rels = Vec::new();
                for part in patterns.iter() {
                    self.pattern(part, scope, Binding::Match, &mut rels)?;
                }
                self.match_properties(patterns, scope)?;
                if let Some(f) = filter {
                    self.predicate(f, scope, "WHERE")?;
                }
            }
            Clause::Unwind { expr, variable } => {
                let kind = self.expr(expr, scope, Ctx::forbid("UNWIND"))?;
                if scope.has(variable) {
                    return Err(redeclared(variable));
                }
                let element = match expr {
                    Expr::List(items) => common_kind(items.iter().map(literal_kind)),
                    _ => Kind::Any,
                };
                if !matches!(kind, Kind::List | Kind::Any) {
                    // UNWIND of a single value yields it once; its kind carries over.
                    scope.bind(variable, kind);
                } else {
                    scope.bind(variable, element);
                }
            }
            Clause::With { projection, filter } => {
                *scope = self.projection(projection, scope, "WITH", filter.as_ref())?;
            }
            Clause::Return(projection) => {
                self.projection(projection, scope, "RETURN", None)?;
            }
            Clause::Create(parts) => {
                let mut rels = Vec::new();
                for part in parts {
                    self.pattern(part, scope, Binding::Create, &mut rels)?;
                }
            }
            Clause::Merge {
                pattern,
                on_create,
                on_match,
            } => {
                self.pattern(pattern, scope, Binding::Merge, &mut Vec::new())?;
                self.set_items(on_create, scope)?;
                self.set_items(on_match, scope)?;
            }
            Clause::Set(items) => self.set_items(items, scope)?,
            Clause::Remove(items) => {
                for item in items {
                    match item {
                        RemoveItem::Property { target, .. } => {
                            self.entity_target(target, scope, "REMOVE")?;
                        }
                        RemoveItem::Labels { variable, .. } => {
                            self.variable_target(variable, scope, "REMOVE")?;
                        }
                    }
                }
            }
            Clause::Delete { targets, .. } => {
                for target in targets {
                    if let Expr::HasLabels(..) = target {
                        return Err(err(
                            "DELETE removes nodes, relationships and paths; to remove a label \
                             use REMOVE n:Label.",
                        ));
                    }
                    let kind = self.expr(target, scope, Ctx::forbid("DELETE"))?;
                    if matches!(kind, Kind::Bool | Kind::Number | Kind::Str | Kind::Map) {
                        return Err(err(format!(
                            "DELETE can only remove nodes, relationships and paths, not a {}.",
                            kind.name()
                        )));
                    }
                }
            }
            Clause::Foreach {
                variable,
                list,
                clauses,
            } => {
                // What the list is, the executor checks (with its own text).
                self.expr(list, scope, Ctx::forbid("FOREACH"))?;
                let mut inner = scope.clone();
                inner.bind(variable, Kind::Any);
                // FOREACH nests clauses in clauses, as deep as the text does.
                stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
                    clauses.iter().try_for_each(|c| self.clause(c, &mut inner))
                })?;
            }
            Clause::LoadCsv(load) => {
                let place = Ctx::forbid("LOAD CSV");
                for e in [&load.delimiter, &load.quote, &load.nullif]
                    .into_iter()
                    .flatten()
                    .chain(std::iter::once(&load.source))
                {
                    self.expr(e, scope, place)?;
                }
                if scope.has(&load.variable) {
                    return Err(redeclared(&load.variable));
                }
                let kind = if load.header { Kind::Map } else { Kind::List };
                scope.bind(&load.variable, kind);
            }
            Clause::CallProcedure(call) => {
                for a in &call.args {
                    self.expr(a, scope, Ctx::forbid("procedure arguments"))?;
                }
                match &call.yields {
                    Some(yields) => {
                        let mut fresh: Vec<&str> = Vec::new();
                        for (_, alias) in yields {
                            if scope.has(alias) || fresh.contains(&alias.as_str()) {
                                return Err(redeclared(alias));
                            }
                            fresh.push(alias);
                        }
                        for alias in fresh {
                            scope.bind(alias, Kind::Any);
                        }
                    }
                    None => scope.open = true,
                }
                if let Some(f) = &call.filter {
                    self.predicate(f, scope, "WHERE")?;
                }
            }
            Clause::CallSubquery(query) => {
                let imports = matches!(query.clauses.first(), Some(Clause::With { projection, .. })
                    if projection.star
                        || projection.items.iter().all(|i| matches!(&i.expr, Expr::Variable(v) if *v == i.name)));
                let start = if imports {
                    scope.clone()
                } else {
                    Scope {
                        vars: Vec::new(),
                        open: scope.open,
                    }
                };
                let columns = self.query(query, &start)?;
                for (name, kind) in columns {
                    if scope.has(&name) {
                        return Err(err(format!(
                            "Variable '{name}' in subquery already declared in outer scope!"
                        )));
                    }
                    scope.bind(&name, kind);
                }
            }
        }
        Ok(())
    }

    /// A `WHERE`: no aggregation, and it must be able to be a boolean.
    fn predicate(&self, e: &Expr, scope: &Scope, place: &'static str) -> Result<(), SyntaxError> {
        self.predicate_in(e, scope, Ctx::forbid(place), place)
    }

    fn predicate_in(
        &self,
        e: &Expr,
        scope: &Scope,
        ctx: Ctx,
        place: &'static str,
    ) -> Result<(), SyntaxError> {
        let kind = self.expr(e, scope, ctx)?;
        if !kind.may_be_bool() {
            return Err(err(format!(
                "{place} needs a boolean predicate, not a {}.",
                kind.name()
            )));
        }
        Ok(())
    }

    fn variable_target(
        &self,
        variable: &str,
        scope: &Scope,
        clause: &str,
    ) -> Result<Kind, SyntaxError> {
        match scope.get(variable) {
            Some(k) if k.lacks_properties() || k == Kind::Map => Err(err(format!(
                "{clause} can only change nodes and relationships, but {variable} is a {}.",
                k.name()
            ))),
            Some(k) => Ok(k),
            None if scope.open => Ok(Kind::Any),
            None => Err(unbound(variable)),
        }
    }

    fn entity_target(&self, target: &Expr, scope: &Scope, clause: &str) -> Result<(), SyntaxError> {
        match target {
            Expr::Variable(v) => self.variable_target(v, scope, clause).map(|_| ()),
            other => self
                .expr(other, scope, Ctx::forbid("SET and REMOVE"))
                .map(|_| ()),
        }
    }

    fn set_items(&self, items: &[SetItem], scope: &Scope) -> Result<(), SyntaxError> {
        let place = Ctx::forbid("SET");
        for item in items {
            match item {
                SetItem::Property { target, value, .. } => {
                    self.entity_target(target, scope, "SET")?;
                    self.expr(value, scope, place)?;
                }
                SetItem::Replace { variable, value } | SetItem::Merge { variable, value } => {
                    self.variable_target(variable, scope, "SET")?;
                    let kind = self.expr(value, scope, place)?;
                    if matches!(
                        kind,
                        Kind::Bool | Kind::Number | Kind::Str | Kind::List | Kind::Path
                    ) {
                        return Err(err(format!(
                            "SET {variable} = ... needs a map of properties, not a {}.",
                            kind.name()
                        )));
                    }
                }
                SetItem::Labels { variable, .. } => {
                    self.variable_target(variable, scope, "SET")?;
                }
            }
        }
        Ok(())
    }

    /// Binds (or checks) a pattern's variables in `scope`. `rels` collects the relationship
    /// variables of the clause so far: one clause may not use a relationship variable twice.
    fn pattern(
        &self,
        part: &PatternPart,
        scope: &mut Scope,
        binding: Binding,
        rels: &mut Vec<String>,
    ) -> Result<(), SyntaxError> {
        if let Some(p) = &part.path_variable {
            if scope.has(p) {
                return Err(redeclared(p));
            }
            if binding == Binding::Predicate {
                return Err(err(
                    "A pattern expression cannot bind a path variable; use a MATCH clause.",
                ));
            }
        }
        // The path variable names the whole pattern: no element of it may reuse the name.
        let mentions = |name: &Option<String>| name.is_some() && *name == part.path_variable;
        if mentions(&part.start.variable)
            || part
                .steps
                .iter()
                .any(|(r, n)| mentions(&r.variable) || mentions(&n.variable))
        {
            return Err(redeclared(
                part.path_variable.as_deref().unwrap_or_default(),
            ));
        }
        let alone = part.steps.is_empty();
        self.node(&part.start, scope, binding, alone)?;
        for (rel, node) in &part.steps {
            self.rel(rel, scope, binding, rels)?;
            self.node(node, scope, binding, false)?;
        }
        if let Some(p) = &part.path_variable {
            scope.bind(p, Kind::Path);
        }
        Ok(())
    }

    fn properties(
        &self,
        properties: &Option<Expr>,
        scope: &Scope,
        binding: Binding,
    ) -> Result<(), SyntaxError> {
        let Some(props) = properties else {
            return Ok(());
        };
        if let Expr::Parameter(name) = props {
            if matches!(
                binding,
                Binding::Match | Binding::Merge | Binding::Predicate
            ) {
                return Err(err(format!(
                    "Parameter maps cannot be used in {} patterns; write the properties out, \
                     e.g. {{key: ${name}.key}}.",
                    binding.clause()
                )));
            }
        }
        if let (Binding::Merge, Expr::Map(entries)) = (binding, props) {
            if let Some((key, _)) = entries
                .iter()
                .find(|(_, v)| matches!(v, Expr::Literal(Value::Null)))
            {
                // The executor's text, for the same refusal made before anything runs.
                return Err(err(format!(
                    "Cannot merge using a null value for property '{key}': MERGE needs every \
                     property in its pattern to have a value."
                )));
            }
        }
        // MATCH reads its property maps once the whole clause is bound (see `match_properties`).
        if binding != Binding::Match {
            self.expr(props, scope, Ctx::forbid("pattern properties"))?;
        }
        Ok(())
    }

    /// A MATCH's property maps may use any variable the MATCH binds, wherever in it
    /// (`MATCH (a {v: b.v}), (b)`), so they are read after binding.
    fn match_properties(&self, parts: &[PatternPart], scope: &Scope) -> Result<(), SyntaxError> {
        let place = Ctx::forbid("pattern properties");
        for part in parts {
            let nodes = std::iter::once(&part.start.properties);
            let steps = part
                .steps
                .iter()
                .flat_map(|(r, n)| [&r.properties, &n.properties]);
            for props in nodes.chain(steps).flatten() {
                self.expr(props, scope, place)?;
            }
        }
        Ok(())
    }

    fn node(
        &self,
        node: &NodePattern,
        scope: &mut Scope,
        binding: Binding,
        alone: bool,
    ) -> Result<(), SyntaxError> {
        // Outside MATCH, properties are read before the node is bound: `CREATE (a {x: a.y})`
        // cannot see itself.
        self.properties(&node.properties, scope, binding)?;
        let Some(v) = &node.variable else {
            return Ok(());
        };
        match scope.get(v) {
            None if binding == Binding::Predicate && !scope.open => return Err(unbound(v)),
            None => scope.bind(v, Kind::Node),
            Some(Kind::Path) => return Err(redeclared(v)),
            Some(k @ (Kind::Node | Kind::Any)) => {
                if matches!(binding, Binding::Create | Binding::Merge)
                    && (alone || !node.labels.is_empty() || node.properties.is_some())
                {
                    return Err(redeclared(v));
                }
                if k == Kind::Any {
                    scope.bind(v, Kind::Node);
                }
            }
            Some(k) => return Err(mismatch(v, k, Kind::Node)),
        }
        Ok(())
    }

    fn rel(
        &self,
        rel: &RelPattern,
        scope: &mut Scope,
        binding: Binding,
        rels: &mut Vec<String>,
    ) -> Result<(), SyntaxError> {
        if matches!(binding, Binding::Create | Binding::Merge) {
            let clause = binding.clause();
            if rel.length.is_some() {
                return Err(err(format!(
                    "Variable-length relationships cannot be used in {clause}."
                )));
            }
            if rel.types.len() != 1 {
                return Err(err(format!(
                    "A relationship in {clause} must have exactly one type, e.g. -[:KNOWS]->."
                )));
            }
            if binding == Binding::Create && rel.direction == Direction::Either {
                return Err(err(
                    "Relationships must be directed to be created: use -[]-> or <-[]-.",
                ));
            }
        }
        self.properties(&rel.properties, scope, binding)?;
        let Some(v) = &rel.variable else {
            return Ok(());
        };
        if rels.contains(v) {
            return Err(err(format!(
                "The relationship variable {v} is used more than once in one pattern; each \
                 relationship of a pattern is a different one."
            )));
        }
        rels.push(v.clone());
        let kind = if rel.length.is_some() {
            Kind::RelList
        } else {
            Kind::Rel
        };
        match scope.get(v) {
            None if binding == Binding::Predicate && !scope.open => Err(unbound(v)),
            None => {
                scope.bind(v, kind);
                Ok(())
            }
            Some(_) if matches!(binding, Binding::Create | Binding::Merge) => Err(redeclared(v)),
            Some(Kind::Path) => Err(redeclared(v)),
            Some(Kind::Any) => {
                scope.bind(v, kind);
                Ok(())
            }
            Some(k) if k == kind => Ok(()),
            // A list (of relationships, one hopes) can be walked as a variable-length path.
            Some(Kind::List) if kind == Kind::RelList => Ok(()),
            Some(k) => Err(mismatch(v, k, kind)),
        }
    }

    /// Checks a WITH or RETURN (and the WITH's WHERE). Returns the scope after it.
    fn projection(
        &self,
        p: &Projection,
        scope: &Scope,
        clause: &'static str,
        filter: Option<&Expr>,
    ) -> Result<Scope, SyntaxError> {
        let mut next = Scope {
            vars: Vec::new(),
            open: scope.open,
        };
        if p.star {
            // `WITH *` over nothing passes nothing on, which is harmless; `RETURN *` would
            // return no columns at all.
            if clause == "RETURN" && scope.vars.is_empty() && !scope.open {
                return Err(err("There are no variables in scope to use for '*'."));
            }
            next.vars = scope.vars.clone();
        }
        let mut aggregating = false;
        for item in &p.items {
            let kind = self.expr(
                &item.expr,
                scope,
                Ctx {
                    agg: Agg::Allowed,
                    projected: None,
                },
            )?;
            aggregating |= has_aggregate(&item.expr);
            if clause == "WITH" && !aliased(item) {
                return Err(err(format!(
                    "Expression in WITH must be aliased (use AS): {}.",
                    item.name
                )));
            }
            if next.has(&item.name) {
                return Err(err(format!(
                    "Multiple results with the same name '{}' are not allowed.",
                    item.name
                )));
            }
            let kind = match &item.expr {
                Expr::Variable(v) => scope.get(v).unwrap_or(kind),
                _ => kind,
            };
            next.vars.push((item.name.clone(), kind));
        }
        if aggregating {
            ambiguous_aggregation(&p.items)?;
        }
        let sees_old = !aggregating;
        let order_scope = if sees_old && !p.distinct {
            scope.with(&next)
        } else {
            next.clone()
        };
        let order_ctx = Ctx {
            agg: if aggregating {
                Agg::Allowed
            } else {
                Agg::Forbidden("ORDER BY after a WITH or RETURN that does not aggregate")
            },
            projected: (aggregating || p.distinct).then_some(p.items.as_slice()),
        };
        // A variable the projection dropped is unbound after it; say why, since it was bound
        // just before.
        let dropped =
            |e: SyntaxError, place: &str| match e.message.strip_prefix("Unbound variable: ") {
                Some(rest) if scope.has(rest.trim_end_matches('.')) => err(format!(
                "{} {place} after an aggregating or DISTINCT {clause} sees only its columns and \
                 the expressions it projects; project what you need.",
                e.message
            )),
                _ => e,
            };
        for s in &p.order_by {
            self.expr(&s.expr, &order_scope, order_ctx)
                .map_err(|e| dropped(e, "ORDER BY"))?;
            if aggregating && has_aggregate(&s.expr) {
                ambiguous_order(&s.expr, &p.items)?;
            }
        }
        for (what, e) in [("SKIP", &p.skip), ("LIMIT", &p.limit)] {
            if let Some(e) = e {
                self.count(e, what)?;
            }
        }
        if let Some(f) = filter {
            // Like ORDER BY, except that DISTINCT keeps one row per distinct projection, so
            // after it only the projected expressions have a single value.
            let (visible, projected) = if aggregating || p.distinct {
                (next.clone(), Some(p.items.as_slice()))
            } else {
                (scope.with(&next), None)
            };
            let ctx = Ctx {
                agg: Agg::Forbidden("WHERE"),
                projected,
            };
            self.predicate_in(f, &visible, ctx, "WHERE")
                .map_err(|e| dropped(e, "WHERE"))?;
        }
        Ok(next)
    }

    /// SKIP and LIMIT: constants (literals, parameters and what is computed from them only).
    fn count(&self, e: &Expr, what: &'static str) -> Result<(), SyntaxError> {
        if !constant(e) {
            return Err(err(format!(
                "Variables are not allowed in {what}; use a literal or a parameter."
            )));
        }
        let kind = self.expr(e, &Scope::default(), Ctx::forbid(what))?;
        match e {
            Expr::Literal(Value::Int(n)) if *n < 0 => Err(err(format!(
                "{what} must be a non-negative integer, got {n}."
            ))),
            Expr::Literal(Value::Float(f)) => Err(err(format!(
                "{what} must be a non-negative integer, got the float {f}."
            ))),
            _ if matches!(kind, Kind::Bool | Kind::Str | Kind::List | Kind::Map) => {
                Err(err(format!(
                    "{what} must be a non-negative integer, not a {}.",
                    kind.name()
                )))
            }
            _ => Ok(()),
        }
    }

    /// Checks an expression and returns its kind.
    fn expr(&self, e: &Expr, scope: &Scope, ctx: Ctx) -> Result<Kind, SyntaxError> {
        if let Some(items) = ctx.projected {
            if !matches!(e, Expr::Literal(_) | Expr::Parameter(_))
                && items.iter().any(|i| i.expr == *e)
            {
                return Ok(Kind::Any);
            }
        }
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.expr_inner(e, scope, ctx))
    }

    fn expr_inner(&self, e: &Expr, scope: &Scope, ctx: Ctx) -> Result<Kind, SyntaxError> {
        let sub = |x: &Expr| self.expr(x, scope, ctx);
        Ok(match e {
            Expr::Literal(v) => Kind::of_value(v),
            Expr::Parameter(_) => Kind::Any,
            Expr::Variable(v) => match scope.get(v) {
                Some(k) => k,
                None if scope.open => Kind::Any,
                None => return Err(unbound(v)),
            },
            Expr::List(items) => {
                for i in items {
                    sub(i)?;
                }
                Kind::List
            }
            Expr::Map(entries) => {
                for (_, v) in entries {
                    sub(v)?;
                }
                Kind::Map
            }
            Expr::Property(target, key) => {
                let k = sub(target)?;
                if k.lacks_properties() {
                    return Err(err(format!(
                        "Cannot read the property {key} of a {}; only nodes, relationships, maps \
                         and temporal values have properties.",
                        k.name()
                    )));
                }
                Kind::Any
            }
            Expr::Index(target, index) => {
                sub(target)?;
                sub(index)?;
                Kind::Any
            }
            Expr::Slice(target, from, to) => {
                sub(target)?;
                for x in [from, to].into_iter().flatten() {
                    sub(x)?;
                }
                Kind::Any
            }
            Expr::Binary(op, l, r) => {
                let (a, b) = (sub(l)?, sub(r)?);
                binary_kind(*op, a, b).map_err(|_| {
                    err(format!(
                        "Invalid types: {} and {} for '{}'.",
                        type_name(l, a),
                        type_name(r, b),
                        op.symbol()
                    ))
                })?
            }
            Expr::Not(x) => {
                let k = sub(x)?;
                if !k.may_be_bool() {
                    return Err(err(format!("NOT needs a boolean, not a {}.", k.name())));
                }
                Kind::Bool
            }
            Expr::Negate(x) => {
                let k = sub(x)?;
                if !matches!(k, Kind::Number | Kind::Any) {
                    return Err(err(format!("Cannot negate a {}.", k.name())));
                }
                k
            }
            Expr::IsNull(x, _) => {
                sub(x)?;
                Kind::Bool
            }
            Expr::CountStar => {
                self.aggregate(None, ctx)?;
                Kind::Number
            }
            Expr::Call { name, args, .. } => {
                let inner = if is_aggregate(name) {
                    self.aggregate(Some(name), ctx)?;
                    ctx.with_agg(Agg::Inside)
                } else {
                    if ctx.agg == Agg::Inside && name.eq_ignore_ascii_case("rand") {
                        return Err(err(
                            "rand() cannot be used inside an aggregation: it gives another value \
                             for every row; aggregate a value computed in a WITH before.",
                        ));
                    }
                    ctx
                };
                let mut kinds = Vec::with_capacity(args.len());
                for a in args {
                    kinds.push(self.expr(a, scope, inner)?);
                }
                call_kind(name, &kinds)?
            }
            Expr::Case {
                subject,
                whens,
                otherwise,
            } => {
                if let Some(s) = subject {
                    sub(s)?;
                }
                let mut kinds = Vec::new();
                for (w, t) in whens {
                    sub(w)?;
                    kinds.push(sub(t)?);
                }
                if let Some(o) = otherwise {
                    kinds.push(sub(o)?);
                }
                common_kind(kinds.into_iter())
            }
            Expr::HasLabels(x, _) => {
                let k = sub(x)?;
                if !matches!(k, Kind::Node | Kind::Rel | Kind::Any) {
                    return Err(err(format!(
                        "Only nodes (and relationships) have labels, not a {}.",
                        k.name()
                    )));
                }
                Kind::Bool
            }
            Expr::Pattern(part) => {
                let mut inner = scope.clone();
                self.pattern(part, &mut inner, Binding::Predicate, &mut Vec::new())?;
                Kind::Bool
            }
            Expr::Quantified {
                variable,
                list,
                predicate,
                ..
            } => {
                let element = self.list_element(list, scope, ctx)?;
                let mut inner = scope.clone();
                inner.bind(variable, element);
                let k = self.expr(predicate, &inner, self.local(ctx))?;
                if !k.may_be_bool() {
                    return Err(err(format!(
                        "The predicate of a quantifier must be a boolean, not a {}.",
                        k.name()
                    )));
                }
                Kind::Bool
            }
            Expr::Reduce {
                accumulator,
                init,
                variable,
                list,
                expr,
            } => {
                sub(init)?;
                let element = self.list_element(list, scope, ctx)?;
                let mut inner = scope.clone();
                inner.bind(accumulator, Kind::Any);
                inner.bind(variable, element);
                self.expr(expr, &inner, self.local(ctx))?;
                Kind::Any
            }
            Expr::ListComprehension {
                variable,
                list,
                predicate,
                projection,
            } => {
                let element = self.list_element(list, scope, ctx)?;
                let mut inner = scope.clone();
                inner.bind(variable, element);
                if let Some(p) = predicate {
                    self.expr(p, &inner, self.local(ctx))?;
                }
                if let Some(p) = projection {
                    self.expr(p, &inner, self.local(ctx))?;
                }
                Kind::List
            }
            Expr::PatternComprehension {
                pattern,
                predicate,
                projection,
            } => {
                let mut inner = scope.clone();
                self.pattern(pattern, &mut inner, Binding::Match, &mut Vec::new())?;
                self.match_properties(std::slice::from_ref(pattern), &inner)?;
                if let Some(p) = predicate {
                    self.expr(p, &inner, self.local(ctx))?;
                }
                self.expr(projection, &inner, self.local(ctx))?;
                Kind::List
            }
            Expr::ExistsSubquery(q) | Expr::CountSubquery(q) => {
                if q.writes() {
                    return Err(err(
                        "A subquery inside an expression cannot change the graph; use CALL { } \
                         as a clause for updates.",
                    ));
                }
                self.query(q, scope)?;
                if matches!(e, Expr::ExistsSubquery(_)) {
                    Kind::Bool
                } else {
                    Kind::Number
                }
            }
        })
    }

    /// The context for the body of a comprehension, quantifier or reduce: it runs once per
    /// element, where no aggregate can be computed.
    fn local<'a>(&self, ctx: Ctx<'a>) -> Ctx<'a> {
        match ctx.agg {
            Agg::Forbidden(_) => ctx,
            _ => Ctx {
                agg: Agg::PerElement,
                projected: None,
            },
        }
    }

    /// Checks the list of a comprehension and returns what is known of its elements.
    fn list_element(&self, list: &Expr, scope: &Scope, ctx: Ctx) -> Result<Kind, SyntaxError> {
        let k = self.expr(list, scope, ctx)?;
        if matches!(
            k,
            Kind::Bool | Kind::Number | Kind::Str | Kind::Map | Kind::Node | Kind::Rel
        ) {
            return Err(err(format!(
                "Expected a list to iterate over, got a {}.",
                k.name()
            )));
        }
        Ok(match list {
            Expr::List(items) => common_kind(items.iter().map(literal_kind)),
            _ if k == Kind::RelList => Kind::Rel,
            _ => Kind::Any,
        })
    }

    /// Memgraph's texts, and where the aggregate (`call`; `None` for `count(*)`) was.
    fn aggregate(&self, call: Option<&str>, ctx: Ctx) -> Result<(), SyntaxError> {
        let name = || match call {
            Some(name) => format!("{name}()"),
            None => "count(*)".to_owned(),
        };
        match ctx.agg {
            Agg::Allowed => Ok(()),
            Agg::Inside => Err(err(
                "Using aggregation functions inside aggregation functions is not allowed.",
            )),
            Agg::PerElement => Err(err(format!(
                "Using aggregation functions inside an expression over a list is not allowed \
                 ({} in a list comprehension, quantifier or reduce).",
                name()
            ))),
            Agg::Forbidden(place) => Err(err(format!(
                "Aggregation functions are only allowed in WITH and RETURN ({} in {place}); \
                 aggregate in a WITH and use its alias.",
                name()
            ))),
        }
    }
}

/// The kind of a literal element of a list (anything else is unknown).
fn literal_kind(e: &Expr) -> Kind {
    match e {
        Expr::Literal(v) => Kind::of_value(v),
        Expr::List(_) => Kind::List,
        Expr::Map(_) => Kind::Map,
        _ => Kind::Any,
    }
}

/// The one kind every value has, or `Any`.
fn common_kind(mut kinds: impl Iterator<Item = Kind>) -> Kind {
    let Some(first) = kinds.next() else {
        return Kind::Any;
    };
    if kinds.all(|k| k == first) {
        first
    } else {
        Kind::Any
    }
}

/// The type of an operand as the executor names it in its errors (Memgraph's "Invalid types:
/// INTEGER and STRING for '-'."): exact for literals, the kind otherwise.
fn type_name(e: &Expr, kind: Kind) -> &'static str {
    match (e, kind) {
        (Expr::Literal(v), _) => v.type_name(),
        (_, Kind::Node) => "NODE",
        (_, Kind::Rel) => "RELATIONSHIP",
        (_, Kind::Path) => "PATH",
        (_, Kind::Bool) => "BOOLEAN",
        (_, Kind::Number) => "NUMBER",
        (_, Kind::Str) => "STRING",
        (_, Kind::List | Kind::RelList) => "LIST",
        (_, Kind::Map) => "MAP",
        (_, Kind::Any) => "ANY",
    }
}

/// The kind of `a op b`; `Err` when the operator cannot take operands of these kinds (the
/// caller words the error).
fn binary_kind(op: BinaryOp, a: Kind, b: Kind) -> Result<Kind, ()> {
    use BinaryOp::*;
    Ok(match op {
        Or | Xor | And => {
            for k in [a, b] {
                if !k.may_be_bool() {
                    return Err(());
                }
            }
            Kind::Bool
        }
        Eq | Neq | Lt | Gt | Le | Ge => Kind::Bool,
        In => {
            if !matches!(b, Kind::List | Kind::RelList | Kind::Any) {
                return Err(());
            }
            Kind::Bool
        }
        StartsWith | EndsWith | Contains | RegexMatch => Kind::Bool,
        Add => match (a, b) {
            (Kind::List | Kind::RelList, _) | (_, Kind::List | Kind::RelList) => Kind::List,
            (Kind::Str, Kind::Str | Kind::Number) | (Kind::Number, Kind::Str) => Kind::Str,
            (Kind::Number, Kind::Number) => Kind::Number,
            (Kind::Node | Kind::Rel | Kind::Path, _)
            | (_, Kind::Node | Kind::Rel | Kind::Path)
            | (Kind::Bool, Kind::Bool | Kind::Number)
            | (Kind::Number, Kind::Bool) => return Err(()),
            (Kind::Str, _) | (_, Kind::Str) => Kind::Str,
            _ => Kind::Any,
        },
        Sub | Mul | Div | Mod | Pow => {
            for k in [a, b] {
                if !matches!(k, Kind::Number | Kind::Any) {
                    return Err(());
                }
            }
            if a == Kind::Number && b == Kind::Number {
                Kind::Number
            } else {
                Kind::Any
            }
        }
    })
}

/// Checks the arguments of the functions whose argument kinds the TCK pins down, and returns the
/// kind of the result where it is known.
fn call_kind(name: &str, args: &[Kind]) -> Result<Kind, SyntaxError> {
    let lower = name.to_ascii_lowercase();
    let first = args.first().copied().unwrap_or(Kind::Any);
    let accepts: &[Kind] = match lower.as_str() {
        "labels" => &[Kind::Node],
        "type" | "startnode" | "endnode" => &[Kind::Rel],
        "length" => &[Kind::Path, Kind::Str, Kind::List],
        "size" => &[Kind::Str, Kind::List, Kind::RelList, Kind::Map],
        "nodes" | "relationships" => &[Kind::Path],
        "properties" | "keys" => &[Kind::Node, Kind::Rel, Kind::Map],
        _ => &[],
    };
    if !accepts.is_empty() && first != Kind::Any && !accepts.contains(&first) {
        return Err(err(format!(
            "Function {name}() cannot take a {} as its argument.",
            first.name()
        )));
    }
    Ok(match lower.as_str() {
        "count" | "sum" | "avg" | "size" | "length" | "abs" | "tointeger" | "tofloat" | "id" => {
            Kind::Number
        }
        "collect" | "labels" | "keys" | "nodes" | "relationships" | "range" | "tail" => Kind::List,
        "tostring" | "type" | "tolower" | "toupper" | "trim" | "substring" | "replace" => Kind::Str,
        "properties" => Kind::Map,
        "startnode" | "endnode" => Kind::Node,
        _ => Kind::Any,
    })
}

fn has_aggregate(e: &Expr) -> bool {
    let mut found = false;
    walk_outside_subqueries(e, &mut |x| {
        if matches!(x, Expr::CountStar)
            || matches!(x, Expr::Call { name, .. } if is_aggregate(name))
        {
            found = true;
        }
    });
    found
}

/// Whether an expression uses no variable (SKIP, LIMIT).
fn constant(e: &Expr) -> bool {
    let mut ok = true;
    walk_outside_subqueries(e, &mut |x| {
        if matches!(
            x,
            Expr::Variable(_)
                | Expr::Pattern(_)
                | Expr::ExistsSubquery(_)
                | Expr::CountSubquery(_)
                | Expr::PatternComprehension { .. }
        ) {
            ok = false;
        }
    });
    ok
}

/// Whether a WITH item was written with `AS` (or is a bare variable, which names itself). The
/// AST keeps only the column name, and an unaliased item's name is its source text: so an item
/// is unaliased exactly when its name parses back into its expression. (An alias spelling out
/// its own expression, `WITH a.x AS `a.x``, is taken for none; nobody needs that.)
fn aliased(item: &ReturnItem) -> bool {
    if let Expr::Variable(v) = &item.expr {
        if *v == item.name {
            return true;
        }
    }
    let text = format!("RETURN {}", item.name);
    let Ok(tokens) = super::lexer::tokenize(&text) else {
        return true;
    };
    match super::parser::parse_tokens(&text, tokens) {
        Ok(super::ast::Statement::Query(q)) if q.union.is_none() => !matches!(
            q.clauses.as_slice(),
            [Clause::Return(p)] if p.items.len() == 1 && p.items[0].expr == item.expr
        ),
        _ => true,
    }
}

/// In an aggregating projection, an item that aggregates may use outside its aggregates only
/// grouping keys: variables projected as themselves, or property reads projected as they are
/// (`RETURN me.age, me.age + count(*)`). Anything else has no one value per group.
fn ambiguous_aggregation(items: &[ReturnItem]) -> Result<(), SyntaxError> {
    let keys: Vec<&ReturnItem> = items.iter().filter(|i| !has_aggregate(&i.expr)).collect();
    for item in items.iter().filter(|i| has_aggregate(&i.expr)) {
        grouped(&item.expr, &keys, &[], &item.name)?;
    }
    Ok(())
}

/// The same rule for an ORDER BY expression after aggregation; the projected names count as
/// grouping keys too.
fn ambiguous_order(e: &Expr, items: &[ReturnItem]) -> Result<(), SyntaxError> {
    let keys: Vec<&ReturnItem> = items.iter().filter(|i| !has_aggregate(&i.expr)).collect();
    let names: Vec<String> = items.iter().map(|i| i.name.clone()).collect();
    grouped(e, &keys, &names, "ORDER BY")
}

fn grouped(
    e: &Expr,
    keys: &[&ReturnItem],
    names: &[String],
    what: &str,
) -> Result<(), SyntaxError> {
    let is_key = |x: &Expr| keys.iter().any(|k| k.expr == *x);
    let ambiguous = || {
        err(format!(
            "Aggregation in {what} mixes an aggregate with an expression that is not a grouping \
             key; project that expression on its own in the same WITH or RETURN."
        ))
    };
    match e {
        Expr::CountStar => Ok(()),
        Expr::Call { name, .. } if is_aggregate(name) => Ok(()),
        Expr::Variable(v) => {
            let key = keys
                .iter()
                .any(|k| matches!(&k.expr, Expr::Variable(x) if x == v) || k.name == *v);
            if key || names.contains(v) {
                Ok(())
            } else {
                Err(ambiguous())
            }
        }
        Expr::Property(target, _) if is_key(e) || matches!(target.as_ref(), Expr::Variable(_)) => {
            if is_key(e) {
                Ok(())
            } else {
                grouped(target, keys, names, what)
            }
        }
        Expr::ExistsSubquery(_)
        | Expr::CountSubquery(_)
        | Expr::PatternComprehension { .. }
        | Expr::Pattern(_)
        | Expr::Quantified { .. }
        | Expr::Reduce { .. }
        | Expr::ListComprehension { .. } => Ok(()),
        _ => {
            let mut result = Ok(());
            children(e, &mut |c| {
                if result.is_ok() {
                    result = grouped(c, keys, names, what);
                }
            });
            result
        }
    }
}

/// Calls `f` on `e` and every expression inside it, except inside subqueries and patterns,
/// which have scopes of their own.
fn walk_outside_subqueries(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
        f(e);
        children(e, &mut |c| walk_outside_subqueries(c, f));
    })
}

/// The direct sub-expressions of `e` (not those inside subqueries or patterns).
pub(crate) fn children(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    match e {
        Expr::Literal(_)
        | Expr::Parameter(_)
        | Expr::Variable(_)
        | Expr::CountStar
        | Expr::Pattern(_)
        | Expr::ExistsSubquery(_)
        | Expr::CountSubquery(_) => {}
        Expr::List(items) => items.iter().for_each(f),
        Expr::Map(entries) => entries.iter().for_each(|(_, v)| f(v)),
        Expr::Property(x, _)
        | Expr::Not(x)
        | Expr::Negate(x)
        | Expr::IsNull(x, _)
        | Expr::HasLabels(x, _) => f(x),
        Expr::Index(a, b) | Expr::Binary(_, a, b) => {
            f(a);
            f(b);
        }
        Expr::Slice(a, b, c) => {
            f(a);
            for x in [b, c].into_iter().flatten() {
                f(x);
            }
        }
        Expr::Call { args, .. } => args.iter().for_each(f),
        Expr::Case {
            subject,
            whens,
            otherwise,
        } => {
            if let Some(s) = subject {
                f(s);
            }
            for (w, t) in whens {
                f(w);
                f(t);
            }
            if let Some(o) = otherwise {
                f(o);
            }
        }
        Expr::Quantified {
            list, predicate, ..
        } => {
            f(list);
            f(predicate);
        }
        Expr::Reduce {
            init, list, expr, ..
        } => {
            f(init);
            f(list);
            f(expr);
        }
        Expr::ListComprehension {
            list,
            predicate,
            projection,
            ..
        } => {
            f(list);
            for x in [predicate, projection].into_iter().flatten() {
                f(x);
            }
        }
        Expr::PatternComprehension {
            predicate,
            projection,
            ..
        } => {
            if let Some(p) = predicate {
                f(p);
            }
            f(projection);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cypher::ast::{LoadCsv, ProcedureCall, Statement};
    use crate::cypher::parse;

    /// The message the pass refuses `q` with; panics when `q` is accepted or does not parse.
    fn refused(q: &str) -> String {
        let tokens = crate::cypher::lexer::tokenize(q).expect("lexes");
        match crate::cypher::parser::parse_tokens(q, tokens) {
            Ok(Statement::Query(query)) => match check(&query) {
                Err(e) => e.message,
                Ok(()) => panic!("{q}: accepted"),
            },
            other => panic!("{q}: does not parse: {other:?}"),
        }
    }

    fn accepted(q: &str) {
        if let Err(e) = parse(q) {
            panic!("{q}: {}", e.message);
        }
    }

    /// Each wrong query fails with a message holding `needle`; its valid neighbour passes.
    fn pairs(cases: &[(&str, &str, &str)]) {
        for (wrong, needle, right) in cases {
            let message = refused(wrong);
            assert!(message.contains(needle), "{wrong}: {message}");
            accepted(right);
        }
    }

    #[test]
    fn unknown_variables() {
        pairs(&[
            (
                "MATCH (n) WHERE n.v = nope RETURN n",
                "Unbound variable: nope.",
                "MATCH (n) WHERE n.v = 1 RETURN n",
            ),
            (
                "MATCH (n) RETURN m",
                "Unbound variable: m.",
                "MATCH (m) RETURN m",
            ),
            (
                "CREATE (n {v: other}) RETURN n",
                "Unbound variable: other.",
                "WITH 1 AS other CREATE (n {v: other}) RETURN n",
            ),
            (
                "MATCH (n) SET n.v = w",
                "Unbound variable: w.",
                "MATCH (n) SET n.v = n.w",
            ),
            (
                "MATCH (n) SET m:L",
                "Unbound variable: m.",
                "MATCH (n) SET n:L",
            ),
            (
                "MATCH (n) DELETE m",
                "Unbound variable: m.",
                "MATCH (n) DELETE n",
            ),
            (
                "MERGE (n) ON CREATE SET m.v = 1",
                "Unbound variable: m.",
                "MERGE (n) ON CREATE SET n.v = 1",
            ),
            (
                "UNWIND [1] AS x RETURN x ORDER BY y",
                "Unbound variable: y.",
                "UNWIND [1] AS x RETURN x ORDER BY x",
            ),
            (
                "RETURN [x IN [1, 2] | y] AS l",
                "Unbound variable: y.",
                "RETURN [x IN [1, 2] | x] AS l",
            ),
            (
                "RETURN [x IN [1] | x] AS l, x",
                "Unbound variable: x.",
                "WITH 5 AS x RETURN [x IN [1] | x] AS l, x",
            ),
            (
                "RETURN reduce(s = 0, x IN [1] | s + t) AS r",
                "Unbound variable: t.",
                "RETURN reduce(s = 0, x IN [1] | s + x) AS r",
            ),
            (
                "RETURN all(x IN [1] WHERE y > 0) AS r",
                "Unbound variable: y.",
                "RETURN all(x IN [1] WHERE x > 0) AS r",
            ),
            // A pattern used as a predicate introduces no variables.
            (
                "MATCH (a {v: c.v})-->(b) RETURN a",
                "Unbound variable: c.",
                "MATCH (a {v: b.v})-->(b {w: a.w}) RETURN a",
            ),
            (
                "MATCH (n) WHERE (n)-->(m) RETURN n",
                "Unbound variable: m.",
                "MATCH (n), (m) WHERE (n)-->(m) RETURN n",
            ),
            // A pattern comprehension does, for its own body only.
            (
                "MATCH (n) RETURN [(n)-->(m) | m.v] AS vs, m",
                "Unbound variable: m.",
                "MATCH (n) RETURN [(n)-->(m) WHERE m.v > 1 | m.v] AS vs",
            ),
        ]);
    }

    #[test]
    fn with_replaces_the_scope() {
        pairs(&[
            (
                "MATCH (a), (b) WITH a RETURN b",
                "Unbound variable: b.",
                "MATCH (a), (b) WITH a, b RETURN b",
            ),
            // WHERE on WITH and ORDER BY see the old variables when nothing aggregates...
            (
                "MATCH (a), (b) WITH a WITH a WHERE b.v = 1 RETURN a",
                "Unbound variable: b.",
                "MATCH (a), (b) WITH a WHERE b.v = 1 RETURN a",
            ),
            (
                "MATCH (a), (b) WITH a WITH a ORDER BY b.v RETURN a",
                "Unbound variable: b.",
                "MATCH (a), (b) WITH a ORDER BY b.v RETURN a",
            ),
            // ...but not after aggregation...
            (
                "MATCH (a) WITH a.k AS k, count(*) AS c WHERE a.v > 1 RETURN k",
                "Unbound variable: a.",
                "MATCH (a) WITH a.k AS k, count(*) AS c WHERE c > 1 RETURN k",
            ),
            (
                "MATCH (a) RETURN count(*) AS c ORDER BY a.v",
                "Unbound variable: a.",
                "MATCH (a) RETURN a.v, count(*) AS c ORDER BY a.v",
            ),
            // ...and ORDER BY not after DISTINCT, unless it repeats a projected expression.
            (
                "MATCH (a) WITH DISTINCT a.k AS k WHERE a.v > 1 RETURN k",
                "Unbound variable: a.",
                "MATCH (a) WITH DISTINCT a.k AS k WHERE a.k > 1 RETURN k",
            ),
            (
                "MATCH (a) RETURN DISTINCT a.k ORDER BY a.v",
                "Unbound variable: a.",
                "MATCH (a) RETURN DISTINCT a.k ORDER BY a.k",
            ),
        ]);
    }

    #[test]
    fn variables_bound_twice() {
        pairs(&[
            (
                "MATCH (a) CREATE (a)",
                "Redeclaring variable: a.",
                "MATCH (a) CREATE (a)-[:R]->()",
            ),
            (
                "MATCH (a) CREATE (a:L)-[:R]->()",
                "Redeclaring variable: a.",
                "MATCH (a) SET a:L CREATE (a)-[:R]->()",
            ),
            (
                "CREATE (a:X), (a:Y)",
                "Redeclaring variable: a.",
                "CREATE (a:X), (a)-[:R]->(:Y)",
            ),
            (
                "CREATE (a), (a)",
                "Redeclaring variable: a.",
                "CREATE (a), (b)",
            ),
            (
                "MATCH (a) MERGE (a)",
                "Redeclaring variable: a.",
                "MATCH (a) MERGE (a)-[:R]->()",
            ),
            (
                "MATCH ()-[r]->() CREATE ()-[r:R]->()",
                "Redeclaring variable: r.",
                "MATCH ()-[r]->() CREATE ()-[s:R]->()",
            ),
            (
                "MATCH ()-[r]->() MERGE ()-[r:R]->()",
                "Redeclaring variable: r.",
                "MATCH ()-[r]->() MERGE ()-[s:R]->()",
            ),
            (
                "MATCH (p) MATCH p = ()-->() RETURN p",
                "Redeclaring variable: p.",
                "MATCH (q) MATCH p = (q)-->() RETURN p",
            ),
            (
                "MATCH p = (p)-->() RETURN p",
                "Redeclaring variable: p.",
                "MATCH p = (q)-->() RETURN p",
            ),
            (
                "WITH 1 AS x UNWIND [1] AS x RETURN x",
                "Redeclaring variable: x.",
                "WITH 1 AS x UNWIND [1] AS y RETURN x, y",
            ),
            (
                "MATCH (a) CALL { RETURN 1 AS a } RETURN a",
                "already declared in outer scope",
                "MATCH (a) CALL { RETURN 1 AS b } RETURN a, b",
            ),
        ]);
    }

    #[test]
    fn kinds_of_variables_conflict() {
        pairs(&[
            (
                "MATCH ()-[r]->() MATCH (r) RETURN r",
                "Type mismatch: r already defined as Edge, expected Vertex.",
                "MATCH ()-[r]->() MATCH ()-[r]->() RETURN r",
            ),
            (
                "MATCH (n) MATCH ()-[n]->() RETURN n",
                "Type mismatch: n already defined as Vertex, expected Edge.",
                "MATCH (n) MATCH (n)-->() RETURN n",
            ),
            (
                "MATCH (x)-[x]->() RETURN x",
                "Type mismatch",
                "MATCH (x)-[y]->() RETURN x, y",
            ),
            (
                "WITH 'text' AS n MATCH (n) RETURN n",
                "already defined as String",
                "WITH 'text' AS t MATCH (n {name: t}) RETURN n",
            ),
            (
                "MATCH (a) WITH [a] AS l MATCH (l)-->() RETURN l",
                "already defined as List",
                "MATCH (a) WITH [a] AS l UNWIND l AS n MATCH (n)-->() RETURN n",
            ),
            (
                "MATCH p = ()-->() MATCH (p) RETURN p",
                "Redeclaring variable: p.",
                "MATCH p = (q)-->() MATCH (q) RETURN p",
            ),
        ]);
    }

    #[test]
    fn a_relationship_variable_once_per_pattern() {
        pairs(&[
            (
                "MATCH (a)-[r]->()-[r]->(a) RETURN r",
                "more than once in one pattern",
                "MATCH (a)-[r]->()-[s]->(a) RETURN r, s",
            ),
            (
                "MATCH ()-[r]->(), ()-[r]->() RETURN r",
                "more than once in one pattern",
                "MATCH ()-[r]->() MATCH ()-[r]->() RETURN r",
            ),
        ]);
    }

    #[test]
    fn created_relationships_need_one_type_a_direction_and_one_hop() {
        pairs(&[
            (
                "CREATE ()-[:A|B]->()",
                "exactly one type",
                "CREATE ()-[:A]->()",
            ),
            ("CREATE ()-->()", "exactly one type", "CREATE ()-[:A]->()"),
            (
                "CREATE (a)-[:A]-(b)",
                "must be directed",
                "CREATE (a)<-[:A]-(b)",
            ),
            (
                "CREATE ()-[:A*2]->()",
                "Variable-length relationships cannot be used in CREATE",
                "CREATE ()-[:A]->()-[:A]->()",
            ),
            (
                "MERGE (a)-[:A*1..2]->(b)",
                "Variable-length relationships cannot be used in MERGE",
                "MERGE (a)-[:A]-(b)",
            ),
            ("MERGE (a)-->(b)", "exactly one type", "MERGE (a)-[:T]->(b)"),
            (
                "MERGE (a:L {k: null})",
                "Cannot merge using a null value for property 'k'",
                "MERGE (a:L {k: 1})",
            ),
            (
                "CREATE (a)<-[:T]->(b)",
                "must be directed",
                "MATCH (a)<-[:T]->(b) RETURN a",
            ),
            (
                "MATCH (n $p) RETURN n",
                "Parameter maps cannot be used in MATCH",
                "CREATE (n $p) RETURN n",
            ),
        ]);
    }

    #[test]
    fn aggregation_only_where_allowed() {
        pairs(&[
            (
                "MATCH (n) WHERE count(n) > 1 RETURN n",
                "only allowed in WITH and RETURN (count() in WHERE)",
                "MATCH (n) WITH n, count(*) AS c WHERE c > 1 RETURN n",
            ),
            (
                "RETURN sum(rand())",
                "rand() cannot be used inside an aggregation",
                "WITH rand() AS r RETURN sum(r)",
            ),
            (
                "RETURN count(count(*))",
                "inside aggregation functions is not allowed",
                "RETURN count(*)",
            ),
            (
                "MATCH (n) SET n.c = count(*)",
                "(count(*) in SET)",
                "MATCH (n) WITH n, count(*) AS c SET n.c = c",
            ),
            (
                "CREATE ({c: count(*)})",
                "in pattern properties",
                "WITH count(*) AS c CREATE ({c: c})",
            ),
            (
                "RETURN [x IN [1, 2] | count(x)] AS l",
                "inside an expression over a list",
                "RETURN [x IN collect(1) | x] AS l",
            ),
            (
                "MATCH (n) RETURN n.a ORDER BY max(n.b)",
                "in ORDER BY",
                "MATCH (n) RETURN n.a, max(n.b) ORDER BY max(n.b)",
            ),
            (
                "UNWIND [count(*)] AS x RETURN x",
                "in UNWIND",
                "UNWIND [1] AS x RETURN count(x)",
            ),
        ]);
    }

    #[test]
    fn aggregates_mix_only_with_grouping_keys() {
        pairs(&[
            (
                "MATCH (a)-->(b) RETURN a.v + count(b)",
                "not a grouping key",
                "MATCH (a)-->(b) RETURN a.v, a.v + count(b)",
            ),
            (
                "MATCH (a)-->(b) RETURN a.v + b.v, a.v + b.v + count(*)",
                "not a grouping key",
                "MATCH (a)-->(b) RETURN a, a.v + count(*)",
            ),
            (
                "MATCH (a)-->(b) RETURN a.v + b.v AS s, count(*) AS c ORDER BY a.v + b.v + count(*)",
                "not a grouping key",
                "MATCH (a)-->(b) RETURN a.v AS v, count(*) AS c ORDER BY a.v + count(*)",
            ),
        ]);
        accepted("MATCH (n) RETURN $p + avg(n.v) - 1");
    }

    #[test]
    fn skip_and_limit_are_non_negative_integer_constants() {
        pairs(&[
            (
                "MATCH (n) RETURN n SKIP n.v",
                "Variables are not allowed in SKIP",
                "MATCH (n) RETURN n SKIP $s",
            ),
            (
                "MATCH (n) RETURN n LIMIT -2",
                "non-negative",
                "MATCH (n) RETURN n LIMIT 0",
            ),
            ("RETURN 1 LIMIT 1.5", "float", "RETURN 1 LIMIT 1 + 1"),
            (
                "RETURN 1 SKIP 'x'",
                "string",
                "RETURN 1 SKIP toInteger('1')",
            ),
        ]);
    }

    #[test]
    fn delete_takes_entities() {
        pairs(&[
            (
                "MATCH (n) DELETE 1 + 2",
                "not a number",
                "MATCH (n) DELETE n",
            ),
            (
                "MATCH (n) DELETE n:L",
                "use REMOVE n:Label",
                "MATCH (n) REMOVE n:L",
            ),
            (
                "MATCH p = ()-->() DELETE 'p'",
                "not a string",
                "MATCH p = ()-->() DELETE p",
            ),
        ]);
        accepted("MATCH (a)-[r]->(b) DELETE [r], a, b");
    }

    #[test]
    fn columns() {
        pairs(&[
            (
                "MATCH (a) RETURN a, a",
                "Multiple results with the same name 'a'",
                "MATCH (a) RETURN a, a AS b",
            ),
            (
                "WITH 1 AS x, 2 AS x RETURN x",
                "Multiple results with the same name 'x'",
                "WITH 1 AS x, 2 AS y RETURN x",
            ),
            (
                "MATCH (a) WITH a.v RETURN 1",
                "Expression in WITH must be aliased (use AS)",
                "MATCH (a) WITH a.v AS v RETURN v",
            ),
            (
                "MATCH (a) WITH a, count(*) RETURN a",
                "must be aliased",
                "MATCH (a) WITH a, count(*) AS c RETURN a",
            ),
            (
                "MATCH () RETURN *",
                "no variables in scope",
                "MATCH (n) RETURN *",
            ),
            (
                "RETURN 1 AS a UNION RETURN 2 AS b",
                "same column names",
                "RETURN 1 AS a UNION RETURN 2 AS a",
            ),
            (
                "RETURN 1 AS a UNION RETURN 2 AS a UNION ALL RETURN 3 AS a",
                "Invalid combination of UNION and UNION ALL.",
                "RETURN 1 AS a UNION ALL RETURN 2 AS a UNION ALL RETURN 3 AS a",
            ),
        ]);
        // The shape of what Neo4j Browser sends (its CALLs replaced by UNWINDs here).
        accepted(
            "UNWIND ['A'] AS label RETURN {name: 'labels', data: collect(label)[..1000]} AS result \
             UNION ALL UNWIND ['R'] AS t RETURN {name: 'types', data: collect(t)[..1000]} AS result",
        );
        accepted(
            "MATCH (n) OPTIONAL MATCH (n)-[r]-(m) WITH n, r, m LIMIT 1000 \
             RETURN n, r, m, size(labels(n)) AS l, type(r) AS t",
        );
        // WITH * over nothing passes nothing on, which is allowed.
        accepted("CREATE () WITH * CREATE ()");
        // An alias that is not a plain identifier is still an alias.
        accepted("WITH 1 + 1 AS `a b`, 2 AS `c.d` RETURN `a b`, `c.d`");
        refused("WITH 1 + 1 RETURN 1");
        refused("WITH [x IN [1] | x] RETURN 1");
    }

    #[test]
    fn argument_kinds_known_statically() {
        pairs(&[
            (
                "MATCH (n) RETURN type(n)",
                "type() cannot take a node",
                "MATCH ()-[r]->() RETURN type(r)",
            ),
            (
                "MATCH p = ()-->() RETURN labels(p)",
                "labels() cannot take a path",
                "MATCH (n) RETURN labels(n)",
            ),
            (
                "MATCH ()-[r]->() RETURN length(r)",
                "length() cannot take a relationship",
                "MATCH p = ()-[r]->() RETURN length(p)",
            ),
            (
                "WITH 7 AS x RETURN x.key",
                "Cannot read the property key of a number",
                "WITH {key: 7} AS x RETURN x.key",
            ),
            (
                "RETURN 1 - 'a'",
                "Invalid types: INTEGER and STRING for '-'.",
                "RETURN 1 - 2.5",
            ),
            (
                "RETURN 1 OR false",
                "Invalid types: INTEGER and BOOLEAN for 'OR'.",
                "RETURN true OR false",
            ),
            ("RETURN NOT 'x'", "NOT needs a boolean", "RETURN NOT null"),
            ("RETURN 2 IN 3", "for 'IN'", "RETURN 2 IN [3]"),
            (
                "RETURN any(s IN ['a'] WHERE s * 2 > 1) AS r",
                "Invalid types: STRING and INTEGER for '*'.",
                "RETURN any(s IN [1] WHERE s * 2 > 1) AS r",
            ),
            (
                "MATCH (n) WHERE (n) RETURN n",
                "WHERE needs a boolean",
                "MATCH (n) WHERE n:L RETURN n",
            ),
        ]);
        // What is not known statically is left to the executor.
        accepted("WITH date() AS d RETURN d.year, d + duration('P1D')");
        accepted("MATCH (n) RETURN n.v - 1, -n.v, n.s + 'x', 'x' + 1, [1] + 2");
    }

    #[test]
    fn subqueries_scope() {
        // EXISTS and COUNT see the outer scope; CALL { } sees only what its WITH imports.
        accepted("MATCH (a) WHERE EXISTS { MATCH (a)-->(b) WHERE b.v > a.v } RETURN a");
        accepted("MATCH (a) RETURN COUNT { MATCH (a)-->() } AS c");
        accepted("MATCH (a) CALL { WITH a MATCH (a)-->(b) RETURN b } RETURN a, b");
        pairs(&[
            (
                "MATCH (a) CALL { MATCH (b) WHERE b.v = a.v RETURN b } RETURN b",
                "Unbound variable: a.",
                "MATCH (a) CALL { WITH a MATCH (b) WHERE b.v = a.v RETURN b } RETURN b",
            ),
            (
                "MATCH (a) WHERE EXISTS { MATCH (a)-->(b) RETURN c } RETURN a",
                "Unbound variable: c.",
                "MATCH (a) WHERE EXISTS { MATCH (a)-->(b) RETURN b } RETURN a",
            ),
            (
                "MATCH (a) WHERE EXISTS { MATCH (a)-->(b) SET b.x = 1 } RETURN a",
                "cannot change the graph",
                "MATCH (a) CALL { WITH a MATCH (a)-->(b) SET b.x = 1 } RETURN a",
            ),
        ]);
    }

    /// `FOREACH`, `LOAD CSV` and `CALL proc()` are checked from their AST (their parsing lives
    /// elsewhere).
    fn with_clauses(clauses: Vec<Clause>) -> Result<(), SyntaxError> {
        check(&Query {
            clauses,
            union: None,
        })
    }

    fn clauses_of(q: &str) -> Vec<Clause> {
        let tokens = crate::cypher::lexer::tokenize(q).expect("lexes");
        match crate::cypher::parser::parse_tokens(q, tokens) {
            Ok(Statement::Query(query)) => std::sync::Arc::unwrap_or_clone(query).clauses,
            other => panic!("{q}: {other:?}"),
        }
    }

    #[test]
    fn foreach_load_csv_and_procedures_bind_their_variables() {
        let set_x = clauses_of("MATCH (n) SET n.v = x");
        let Clause::Set(items) = &set_x[1] else {
            panic!()
        };
        let foreach = |variable: &str| Clause::Foreach {
            variable: variable.into(),
            list: Expr::List(vec![Expr::Literal(Value::Int(1))]),
            clauses: vec![Clause::Set(items.clone())],
        };
        let mut q = clauses_of("MATCH (n) RETURN n");
        q.insert(1, foreach("x"));
        assert_eq!(with_clauses(q.clone()), Ok(()));
        q[1] = foreach("y");
        assert_eq!(
            with_clauses(q.clone()).unwrap_err().message,
            "Unbound variable: x."
        );
        // What FOREACH binds stays inside it.
        q[1] = foreach("x");
        q[2] = clauses_of("WITH 1 AS y RETURN x").remove(1);
        assert!(with_clauses(q).is_err());

        let load = |variable: &str| {
            Clause::LoadCsv(LoadCsv {
                source: Expr::Literal(Value::from("f.csv")),
                header: true,
                ignore_bad: false,
                delimiter: None,
                quote: None,
                nullif: None,
                variable: variable.into(),
            })
        };
        let ret = clauses_of("WITH 1 AS a RETURN row.name");
        assert_eq!(with_clauses(vec![load("row"), ret[1].clone()]), Ok(()));
        assert!(with_clauses(vec![load("other"), ret[1].clone()]).is_err());
        assert_eq!(
            with_clauses(vec![ret[0].clone(), load("a")])
                .unwrap_err()
                .message,
            "Redeclaring variable: a."
        );

        let call = |yields: Option<Vec<(&str, &str)>>| {
            Clause::CallProcedure(ProcedureCall {
                name: "db.labels".into(),
                args: Vec::new(),
                yields: yields.map(|y| y.into_iter().map(|(f, a)| (f.into(), a.into())).collect()),
                filter: None,
            })
        };
        let ret = clauses_of("WITH 1 AS a RETURN l");
        assert_eq!(
            with_clauses(vec![call(Some(vec![("label", "l")])), ret[1].clone()]),
            Ok(())
        );
        assert_eq!(
            with_clauses(vec![call(Some(vec![("label", "x")])), ret[1].clone()])
                .unwrap_err()
                .message,
            "Unbound variable: l."
        );
        assert_eq!(
            with_clauses(vec![ret[0].clone(), call(Some(vec![("label", "a")]))])
                .unwrap_err()
                .message,
            "Redeclaring variable: a."
        );
        assert!(with_clauses(vec![call(Some(vec![("a", "x"), ("b", "x")]))]).is_err());
        // Without YIELD the columns are not known here: nothing after is reported.
        assert_eq!(with_clauses(vec![call(None), ret[1].clone()]), Ok(()));
    }

    #[test]
    fn explain_and_profile_are_checked_like_the_query() {
        for q in ["EXPLAIN MATCH (n) RETURN m", "PROFILE MATCH (n) RETURN m"] {
            let e = parse(q).unwrap_err();
            assert_eq!(e.message, "Unbound variable: m.", "{q}");
        }
        accepted("EXPLAIN MATCH (n) RETURN n");
        accepted("PROFILE MATCH (n) RETURN n");
    }

    #[test]
    fn procedure_calls_and_foreach_as_parsed() {
        accepted("CALL db.labels() YIELD label RETURN label");
        accepted("CALL db.labels() YIELD label AS l WHERE l <> 'x' RETURN l");
        accepted("MATCH (n) FOREACH (x IN [1, 2] | SET n.v = x) RETURN n");
        accepted("LOAD CSV FROM 'f.csv' WITH HEADER AS row CREATE (:P {name: row.name})");
        pairs(&[
            (
                "CALL db.labels() YIELD label RETURN lbl",
                "Unbound variable: lbl.",
                "CALL db.labels() YIELD label AS lbl RETURN lbl",
            ),
            (
                "MATCH (n) FOREACH (x IN [1] | SET n.v = x) RETURN x",
                "Unbound variable: x.",
                "MATCH (n) FOREACH (x IN [1] | SET n.v = x) RETURN n",
            ),
            (
                "WITH 1 AS row LOAD CSV FROM 'f.csv' NO HEADER AS row RETURN row",
                "Redeclaring variable: row.",
                "WITH 1 AS r LOAD CSV FROM 'f.csv' NO HEADER AS row RETURN row, r",
            ),
        ]);
    }

    #[test]
    fn deep_accepted_input_does_not_overflow() {
        let q = format!("RETURN {}1{} AS x", "[".repeat(100), "]".repeat(100));
        accepted(&q);
        let q = format!(
            "MATCH (n) RETURN n ORDER BY {}n.v{}",
            "(".repeat(100),
            ")".repeat(100)
        );
        accepted(&q);
        let mut q = "MATCH (n) RETURN n".to_owned();
        for _ in 0..60 {
            q = format!("MATCH (n) WHERE EXISTS {{ {q} }} RETURN n");
        }
        accepted(&q);
        // FOREACH inside FOREACH, deeper than any text would nest it.
        let mut body = clauses_of("MATCH (n) SET n.v = x").remove(1);
        for _ in 0..1_000 {
            body = Clause::Foreach {
                variable: "x".into(),
                list: Expr::List(Vec::new()),
                clauses: vec![body],
            };
        }
        let mut q = clauses_of("MATCH (n) RETURN n");
        q.insert(1, body);
        assert_eq!(with_clauses(q), Ok(()));
    }
}
