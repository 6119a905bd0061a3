//! Expression evaluation with Cypher's semantics: null propagation, three-valued logic, checked
//! integer arithmetic, and type errors that name the operator and the types.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Instant;

use super::functions;
use super::graph::Graph;
use super::pattern;
use super::subquery;
use super::temporal;
use super::{EngineError, Params};
use crate::cypher::ast::{BinaryOp, Expr, PatternPart, Quantifier};
use crate::cypher::{RED_ZONE, STACK_GROWTH};
use crate::value::{Map, Value};

/// What a query that ran out of time reports.
pub const TIMEOUT: &str = "Query execution timeout: the query ran longer than \
                           --query-execution-timeout-sec allows. Narrow the query (labels, \
                           indexed properties, bounded path lengths) or raise the limit.";

/// Memgraph's answer to a query whose transaction another user terminated (a transient error,
/// as Memgraph classifies it).
pub const TERMINATED: &str = "Transaction was asked to abort by another user.";

/// Variables in scope, innermost last (UNWIND and comprehensions push; lookups search backwards),
/// and the graph that pattern predicates and graph functions look at.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub params: Arc<Params>,
    /// Names and values are shared (`Arc`): environments are cloned for every row and binding,
    /// and copying a bound node must not copy its properties.
    pub vars: Vec<(Arc<str>, Arc<Value>)>,
    pub graph: Option<Arc<Graph>>,
    /// When the query must give up (`--query-execution-timeout-sec`); checked wherever the work
    /// per row is unbounded (pattern expansion, grouping, updates).
    pub deadline: Option<Instant>,
    /// Live heap bytes above which the query stops (`--memory-limit`).
    pub memory_limit: Option<usize>,
    /// Set by `TERMINATE TRANSACTIONS` from another session; checked with the deadline.
    pub abort: Option<Arc<AtomicBool>>,
    /// The transaction's and statement's instants, fixed for `datetime()` and friends.
    pub clock: temporal::Clock,
    /// A DELETE has run earlier in this query: reading a bound entity's properties or labels
    /// then checks that it still exists (the check costs a graph lookup, so only then).
    pub after_delete: bool,
}

impl Env {
    pub fn new(params: Arc<Params>) -> Self {
        Env::at(params, temporal::Clock::now())
    }

    /// An environment whose temporal functions see `clock`: a query's root, whose instants its
    /// transaction fixed (reading the system clock for [`Env::new`] would be wasted there).
    pub fn at(params: Arc<Params>, clock: temporal::Clock) -> Self {
        Env {
            params,
            vars: Vec::new(),
            graph: None,
            deadline: None,
            memory_limit: None,
            abort: None,
            clock,
            after_delete: false,
        }
    }

    /// Fails once the query's time is up or the server holds more memory than allowed; called
    /// wherever a query's work or memory can grow without bound.
    pub fn check_budget(&self) -> Result<(), EngineError> {
        if self
            .abort
            .as_ref()
            .is_some_and(|a| a.load(AtomicOrdering::Relaxed))
        {
            return Err(EngineError::transient(TERMINATED));
        }
        if let Some(d) = self.deadline {
            if Instant::now() >= d {
                return Err(EngineError::client(TIMEOUT));
            }
        }
        if let Some(limit) = self.memory_limit {
            let live = crate::alloc::live_bytes();
            if live > limit {
                return Err(EngineError::client(format!(
                    "Memory limit exceeded: the server holds {} MiB and --memory-limit is {} MiB. \
                     The query was stopped and its transaction must be rolled back; narrow it \
                     (LIMIT, fewer rows in ORDER BY, DISTINCT or collect()) or raise the limit.",
                    live >> 20,
                    limit >> 20
                )));
            }
        }
        Ok(())
    }

    pub fn with(&self, name: &str, value: Value) -> Env {
        let mut vars = Vec::with_capacity(self.vars.len() + 1);
        vars.extend(self.vars.iter().cloned());
        vars.push((Arc::from(name), Arc::new(value)));
        Env {
            params: Arc::clone(&self.params),
            vars,
            graph: self.graph.clone(),
            deadline: self.deadline,
            memory_limit: self.memory_limit,
            abort: self.abort.clone(),
            clock: self.clock,
            after_delete: self.after_delete,
        }
    }

    /// Refuses to read `v` when it is a node or relationship this query has deleted.
    pub fn readable(&self, v: &Value) -> Result<(), EngineError> {
        if !self.after_delete {
            return Ok(());
        }
        let Some(graph) = &self.graph else {
            return Ok(());
        };
        let gone = match v {
            Value::Node(n) => graph.node(n.id).is_none().then_some("node"),
            Value::Relationship(r) => graph.rel(r.id).is_none().then_some("relationship"),
            _ => None,
        };
        match gone {
            Some(what) => Err(EngineError::client(format!(
                "The {what} was deleted earlier in this query; its properties and labels can no \
                 longer be read. Read them before the DELETE."
            ))),
            None => Ok(()),
        }
    }

    /// Replaces every binding of the node or relationship `id` with `fresh`, after SET/REMOVE
    /// changed it, so that later clauses see the new properties.
    pub fn refresh(&mut self, fresh: &Value) {
        let key = entity_key(fresh);
        for (_, v) in self.vars.iter_mut() {
            if key.is_some() && entity_key(v) == key {
                *v = Arc::new(fresh.clone());
            }
        }
    }

    pub fn lookup(&self, name: &str) -> Option<&Value> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n.as_ref() == name)
            .map(|(_, v)| v.as_ref())
    }
}

fn entity_key(v: &Value) -> Option<(bool, i64)> {
    match v {
        Value::Node(n) => Some((true, n.id)),
        Value::Relationship(r) => Some((false, r.id)),
        _ => None,
    }
}

/// Evaluates `expr` in `env`. The parser bounds nesting, and the stack grows on demand so that
/// the deepest legal expression cannot overflow it.
pub fn eval(expr: &Expr, env: &Env) -> Result<Value, EngineError> {
    stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || eval_inner(expr, env))
}

fn eval_inner(expr: &Expr, env: &Env) -> Result<Value, EngineError> {
    match expr {
        Expr::Literal(v) => Ok(v.clone()),
        Expr::Parameter(name) => env
            .params
            .get(name)
            .cloned()
            .ok_or_else(|| EngineError::client(format!("Parameter ${name} not provided."))),
        Expr::Variable(name) => env
            .lookup(name)
            .cloned()
            .ok_or_else(|| EngineError::client(format!("Unbound variable: {name}."))),
        Expr::List(items) => items
            .iter()
            .map(|e| eval(e, env))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List),
        Expr::Map(entries) => {
            let mut map = Map::new();
            for (k, e) in entries {
                map.insert(k.clone(), eval(e, env)?);
            }
            Ok(Value::Map(map))
        }
        Expr::Property(target, key) => match eval(target, env).and_then(|v| {
            env.readable(&v)?;
            Ok(v)
        })? {
            Value::Null => Ok(Value::Null),
            Value::Map(m) => Ok(m.get(key).cloned().unwrap_or(Value::Null)),
            Value::Node(n) => Ok(n.properties().get(key).cloned().unwrap_or(Value::Null)),
            Value::Relationship(r) => Ok(r.properties.get(key).cloned().unwrap_or(Value::Null)),
            p @ (Value::Point2D { .. } | Value::Point3D { .. }) => {
                functions::spatial::property(&p, key)
            }
            other => temporal::property(&other, key).unwrap_or_else(|| {
                Err(EngineError::client(format!(
                    "Invalid property lookup .{key} on a {}.",
                    other.type_name()
                )))
            }),
        },
        Expr::Index(target, index) => index_value(eval(target, env)?, eval(index, env)?),
        Expr::Slice(target, from, to) => {
            let target = eval(target, env)?;
            let from = from.as_ref().map(|e| eval(e, env)).transpose()?;
            let to = to.as_ref().map(|e| eval(e, env)).transpose()?;
            slice(target, from, to)
        }
        Expr::Binary(op, left, right) => binary(*op, left, right, env),
        Expr::Not(inner) => match eval(inner, env)? {
            Value::Null => Ok(Value::Null),
            Value::Bool(b) => Ok(Value::Bool(!b)),
            other => Err(EngineError::client(format!(
                "Invalid type {} for NOT: expected a BOOLEAN.",
                other.type_name()
            ))),
        },
        Expr::Negate(inner) => match eval(inner, env)? {
            Value::Null => Ok(Value::Null),
            Value::Int(i) => i
                .checked_neg()
                .map(Value::Int)
                .ok_or_else(|| EngineError::client("Integer overflow in unary minus.")),
            Value::Float(f) => Ok(Value::Float(-f)),
            Value::Duration(d) => temporal::negate(&d),
            other => Err(EngineError::client(format!(
                "Invalid type {} for unary minus.",
                other.type_name()
            ))),
        },
        Expr::IsNull(inner, negated) => Ok(Value::Bool(eval(inner, env)?.is_null() != *negated)),
        Expr::Call {
            name,
            distinct: _,
            args,
        } => {
            if functions::is_aggregate(name) {
                return Err(EngineError::client(format!(
                    "Aggregation function {name}() is only allowed in WITH and RETURN."
                )));
            }
            if name.eq_ignore_ascii_case("exists") {
                return match args.as_slice() {
                    [Expr::Pattern(p)] => pattern_holds(p, env),
                    [e] => Ok(Value::Bool(!eval(e, env)?.is_null())),
                    _ => Err(EngineError::client("Function exists() takes 1 argument.")),
                };
            }
            let args = args
                .iter()
                .map(|a| eval(a, env))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(v) = graph_function(name, &args, env)? {
                return Ok(v);
            }
            if let Some(v) = temporal::call(name, &args, &env.clock) {
                return v;
            }
            functions::call(name, args)
        }
        Expr::CountStar => Err(EngineError::client(
            "Aggregation function count(*) is only allowed in WITH and RETURN.",
        )),
        Expr::Pattern(p) => pattern_holds(p, env),
        Expr::ExistsSubquery(query) => subquery::exists(query, env).map(Value::Bool),
        Expr::CountSubquery(query) => subquery::count(query, env).map(Value::Int),
        Expr::PatternComprehension {
            pattern,
            predicate,
            projection,
        } => subquery::comprehension(pattern, predicate.as_deref(), projection, env),
        Expr::HasLabels(target, labels) => match eval(target, env)? {
            Value::Null => Ok(Value::Null),
            Value::Node(n) => Ok(Value::Bool(labels.iter().all(|l| n.labels().contains(l)))),
            // `r:T` tests a relationship's type (it has exactly one).
            Value::Relationship(r) => Ok(Value::Bool(labels.iter().all(|l| *l == r.rel_type))),
            other => Err(EngineError::client(format!(
                "Label test on a {}: only nodes have labels and relationships types.",
                other.type_name()
            ))),
        },
        Expr::Case {
            subject,
            whens,
            otherwise,
        } => {
            let subject = subject.as_ref().map(|s| eval(s, env)).transpose()?;
            for (when, then) in whens {
                let w = eval(when, env)?;
                let hit = match &subject {
                    Some(s) => equals(s, &w) == Some(true),
                    None => w == Value::Bool(true),
                };
                if hit {
                    return eval(then, env);
                }
            }
            otherwise.as_ref().map_or(Ok(Value::Null), |e| eval(e, env))
        }
        Expr::Quantified {
            quantifier,
            variable,
            list,
            predicate,
        } => {
            let Some(items) = list_of(eval(list, env)?, "A list predicate")? else {
                return Ok(Value::Null);
            };
            // Three-valued: a null predicate result makes the answer null unless the known
            // results already decide it.
            let n = items.len();
            let (mut hits, mut unknown) = (0usize, 0usize);
            for item in items {
                match eval(predicate, &env.with(variable, item))? {
                    Value::Bool(true) => hits += 1,
                    Value::Bool(false) => {}
                    _ => unknown += 1,
                }
            }
            let misses = n - hits - unknown;
            let decided = |b: bool| Value::Bool(b);
            Ok(match quantifier {
                Quantifier::Any if hits > 0 => decided(true),
                Quantifier::None if hits > 0 => decided(false),
                Quantifier::All if misses > 0 => decided(false),
                Quantifier::Single if hits > 1 => decided(false),
                _ if unknown > 0 => Value::Null,
                Quantifier::Any => decided(false),
                Quantifier::None => decided(true),
                Quantifier::All => decided(true),
                Quantifier::Single => decided(hits == 1),
            })
        }
        Expr::Reduce {
            accumulator,
            init,
            variable,
            list,
            expr,
        } => {
            let Some(items) = list_of(eval(list, env)?, "reduce()")? else {
                return Ok(Value::Null);
            };
            let mut acc = eval(init, env)?;
            for item in items {
                let scope = env.with(accumulator, acc).with(variable, item);
                acc = eval(expr, &scope)?;
            }
            Ok(acc)
        }
        Expr::ListComprehension {
            variable,
            list,
            predicate,
            projection,
        } => {
            let items = match eval(list, env)? {
                Value::Null => return Ok(Value::Null),
                Value::List(items) => items,
                other => {
                    return Err(EngineError::client(format!(
                        "List comprehension needs a LIST, got {}.",
                        other.type_name()
                    )))
                }
            };
            let mut out = Vec::new();
            for item in items {
                let inner = env.with(variable, item.clone());
                if let Some(p) = predicate {
                    if eval(p, &inner)? != Value::Bool(true) {
                        continue;
                    }
                }
                out.push(match projection {
                    Some(e) => eval(e, &inner)?,
                    None => item,
                });
            }
            Ok(Value::List(out))
        }
    }
}

/// The items of a list argument; `None` for null.
fn list_of(v: Value, what: &str) -> Result<Option<Vec<Value>>, EngineError> {
    match v {
        Value::Null => Ok(None),
        Value::List(items) => Ok(Some(items)),
        other => Err(EngineError::client(format!(
            "{what} needs a LIST, got {}.",
            other.type_name()
        ))),
    }
}

fn pattern_holds(part: &PatternPart, env: &Env) -> Result<Value, EngineError> {
    let Some(graph) = env.graph.clone() else {
        return Err(EngineError::client(
            "Patterns can only be used as predicates where there is a graph (in WHERE).",
        ));
    };
    pattern::exists(&graph, part, env).map(Value::Bool)
}

/// Functions that need the graph rather than only their arguments.
fn graph_function(name: &str, args: &[Value], env: &Env) -> Result<Option<Value>, EngineError> {
    if env.after_delete && matches!(args, [Value::Node(_) | Value::Relationship(_)]) {
        // The type of a deleted relationship stays readable (openCypher), its data does not.
        let reads = ["labels", "keys", "properties"];
        if reads.iter().any(|r| name.eq_ignore_ascii_case(r)) {
            env.readable(&args[0])?;
        }
    }
    let endpoint = if name.eq_ignore_ascii_case("startNode") {
        true
    } else if name.eq_ignore_ascii_case("endNode") {
        false
    } else {
        return Ok(None);
    };
    match args {
        [Value::Null] => Ok(Some(Value::Null)),
        [Value::Relationship(r)] => {
            let id = if endpoint { r.start } else { r.end };
            let node = env.graph.as_ref().and_then(|g| g.node_value(id));
            Ok(Some(node.map_or(Value::Null, Value::Node)))
        }
        [other] => Err(EngineError::client(format!(
            "Function {name}() needs a RELATIONSHIP, got {}.",
            other.type_name()
        ))),
        _ => Err(EngineError::client(format!(
            "Function {name}() takes 1 argument."
        ))),
    }
}

fn type_error(op: BinaryOp, l: &Value, r: &Value) -> EngineError {
    EngineError::client(format!(
        "Invalid types: {} and {} for '{}'.",
        l.type_name(),
        r.type_name(),
        op.symbol()
    ))
}

fn boolean(v: Value, op: BinaryOp) -> Result<Option<bool>, EngineError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        other => Err(EngineError::client(format!(
            "Invalid type {} for {}: expected a BOOLEAN.",
            other.type_name(),
            op.symbol()
        ))),
    }
}

fn binary(op: BinaryOp, left: &Expr, right: &Expr, env: &Env) -> Result<Value, EngineError> {
    // Logic short-circuits where three-valued logic allows it.
    match op {
        BinaryOp::And | BinaryOp::Or => {
            // The value that decides the result on its own: false for AND, true for OR.
            let decisive = op == BinaryOp::Or;
            let l = boolean(eval(left, env)?, op)?;
            if l == Some(decisive) {
                return Ok(Value::Bool(decisive));
            }
            let r = boolean(eval(right, env)?, op)?;
            return Ok(match (l, r) {
                (_, Some(b)) if b == decisive => Value::Bool(decisive),
                (Some(_), Some(_)) => Value::Bool(!decisive),
                _ => Value::Null,
            });
        }
        BinaryOp::Xor => {
            let l = boolean(eval(left, env)?, op)?;
            let r = boolean(eval(right, env)?, op)?;
            return Ok(match (l, r) {
                (Some(a), Some(b)) => Value::Bool(a != b),
                _ => Value::Null,
            });
        }
        _ => {}
    }
    let l = eval(left, env)?;
    let r = eval(right, env)?;
    apply(op, l, r)
}

/// Applies a non-logical binary operator to two values.
pub fn apply(op: BinaryOp, l: Value, r: Value) -> Result<Value, EngineError> {
    use Value::{Float, Int, List, Null, String as Str};
    match op {
        BinaryOp::Eq => Ok(equals(&l, &r).map_or(Null, Value::Bool)),
        BinaryOp::Neq => Ok(equals(&l, &r).map_or(Null, |b| Value::Bool(!b))),
        BinaryOp::Lt | BinaryOp::Gt | BinaryOp::Le | BinaryOp::Ge => Ok(match compare(&l, &r) {
            // openCypher: an ordering comparison with NaN is false, not unknown.
            None if is_nan_comparison(&l, &r) => Value::Bool(false),
            None => Null,
            Some(ord) => Value::Bool(match op {
                BinaryOp::Lt => ord == Ordering::Less,
                BinaryOp::Gt => ord == Ordering::Greater,
                BinaryOp::Le => ord != Ordering::Greater,
                _ => ord != Ordering::Less,
            }),
        }),
        BinaryOp::In => match r {
            Null => Ok(Null),
            List(items) => {
                let mut saw_null = false;
                for item in &items {
                    match equals(&l, item) {
                        Some(true) => return Ok(Value::Bool(true)),
                        None => saw_null = true,
                        Some(false) => {}
                    }
                }
                Ok(if saw_null { Null } else { Value::Bool(false) })
            }
            other => Err(type_error(op, &l, &other)),
        },
        BinaryOp::StartsWith | BinaryOp::EndsWith | BinaryOp::Contains => match (&l, &r) {
            (Str(a), Str(b)) => Ok(Value::Bool(match op {
                BinaryOp::StartsWith => a.starts_with(b.as_str()),
                BinaryOp::EndsWith => a.ends_with(b.as_str()),
                _ => a.contains(b.as_str()),
            })),
            _ => Ok(Null),
        },
        BinaryOp::RegexMatch => match (l, r) {
            (Str(text), Str(pattern)) => functions::regex_match(&text, &pattern).map(Value::Bool),
            _ => Ok(Null),
        },
        _ if l.is_null() || r.is_null() => Ok(Null),
        BinaryOp::Add => match (l, r) {
            (Int(a), Int(b)) => a
                .checked_add(b)
                .map(Int)
                .ok_or_else(|| EngineError::client("Integer overflow in '+'.")),
            (Str(a), Str(b)) => Ok(Str(a + &b)),
            (Str(a), Int(b)) => Ok(Str(format!("{a}{b}"))),
            (Int(a), Str(b)) => Ok(Str(format!("{a}{b}"))),
            (Str(a), Float(b)) => Ok(Str(format!("{a}{b:?}"))),
            (Float(a), Str(b)) => Ok(Str(format!("{a:?}{b}"))),
            (List(mut a), List(b)) => {
                a.extend(b);
                Ok(List(a))
            }
            (List(mut a), b) => {
                a.push(b);
                Ok(List(a))
            }
            (a, List(b)) => {
                let mut out = Vec::with_capacity(b.len() + 1);
                out.push(a);
                out.extend(b);
                Ok(List(out))
            }
            (a, b) => float_op(op, &a, &b, |x, y| x + y),
        },
        BinaryOp::Sub => match (l, r) {
            (Int(a), Int(b)) => a
                .checked_sub(b)
                .map(Int)
                .ok_or_else(|| EngineError::client("Integer overflow in '-'.")),
            (a, b) => float_op(op, &a, &b, |x, y| x - y),
        },
        BinaryOp::Mul => match (l, r) {
            (Int(a), Int(b)) => a
                .checked_mul(b)
                .map(Int)
                .ok_or_else(|| EngineError::client("Integer overflow in '*'.")),
            (a, b) => float_op(op, &a, &b, |x, y| x * y),
        },
        BinaryOp::Div => match (l, r) {
            (Int(_), Int(0)) => Err(EngineError::client("Division by zero.")),
            (Int(a), Int(b)) => a
                .checked_div(b)
                .map(Int)
                .ok_or_else(|| EngineError::client("Integer overflow in '/'.")),
            (a, b) => float_op(op, &a, &b, |x, y| x / y),
        },
        BinaryOp::Mod => match (l, r) {
            (Int(_), Int(0)) => Err(EngineError::client("Modulo by zero.")),
            (Int(a), Int(b)) => Ok(Int(a.checked_rem(b).unwrap_or(0))),
            (a, b) => float_op(op, &a, &b, |x, y| x % y),
        },
        BinaryOp::Pow => {
            let (a, b) = (l, r);
            float_op(op, &a, &b, f64::powf)
        }
        BinaryOp::And | BinaryOp::Or | BinaryOp::Xor => unreachable_logic(op),
    }
}

/// Logical operators are handled before `apply`; reaching here is a bug reported as an error
/// rather than a panic.
fn unreachable_logic(op: BinaryOp) -> Result<Value, EngineError> {
    Err(EngineError::database(format!(
        "internal error: {} evaluated without short-circuiting",
        op.symbol()
    )))
}

/// Both sides are numbers and one is NaN: the comparison is false rather than null.
fn is_nan_comparison(l: &Value, r: &Value) -> bool {
    match (as_float(l), as_float(r)) {
        (Some(x), Some(y)) => x.is_nan() || y.is_nan(),
        _ => false,
    }
}

fn as_float(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn float_op(
    op: BinaryOp,
    a: &Value,
    b: &Value,
    f: fn(f64, f64) -> f64,
) -> Result<Value, EngineError> {
    match (as_float(a), as_float(b)) {
        (Some(x), Some(y)) => Ok(Value::Float(f(x, y))),
        _ => temporal::apply(op, a, b).unwrap_or_else(|| Err(type_error(op, a, b))),
    }
}

/// Cypher equality: `None` is null (unknown).
pub fn equals(a: &Value, b: &Value) -> Option<bool> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => {
            Some(*x as f64 == *y)
        }
        (Value::List(x), Value::List(y)) => {
            if x.len() != y.len() {
                return Some(false);
            }
            all_equal(x.iter().zip(y))
        }
        (Value::Map(x), Value::Map(y)) => {
            if x.len() != y.len() || x.keys().ne(y.keys()) {
                return Some(false);
            }
            all_equal(x.values().zip(y.values()))
        }
        (Value::Node(x), Value::Node(y)) => Some(x.id == y.id),
        (Value::Relationship(x), Value::Relationship(y)) => Some(x.id == y.id),
        _ => Some(a == b),
    }
}

/// Element-wise equality: false as soon as one pair differs, null if any pair is unknown.
fn all_equal<'a>(pairs: impl Iterator<Item = (&'a Value, &'a Value)>) -> Option<bool> {
    let mut unknown = false;
    for (p, q) in pairs {
        match equals(p, q) {
            Some(false) => return Some(false),
            None => unknown = true,
            Some(true) => {}
        }
    }
    if unknown {
        None
    } else {
        Some(true)
    }
}

/// Ordering for `<`-style comparisons; `None` when the values are not comparable.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(_), _) | (_, Value::Float(_)) => as_float(a)?.partial_cmp(&as_float(b)?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::LocalTime(x), Value::LocalTime(y)) => Some(x.cmp(y)),
        (
            Value::LocalDateTime {
                seconds: s1,
                nanos: n1,
            },
            Value::LocalDateTime {
                seconds: s2,
                nanos: n2,
            },
        ) => Some((s1, n1).cmp(&(s2, n2))),
        (
            Value::DateTime {
                seconds: s1,
                nanos: n1,
                ..
            },
            Value::DateTime {
                seconds: s2,
                nanos: n2,
                ..
            },
        ) => Some((s1, n1).cmp(&(s2, n2))),
        (Value::Time { .. }, Value::Time { .. }) => temporal::compare(a, b),
        (Value::List(x), Value::List(y)) => {
            for (p, q) in x.iter().zip(y) {
                match compare(p, q)? {
                    Ordering::Equal => continue,
                    other => return Some(other),
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        _ => None,
    }
}

/// Total order for ORDER BY: values of different types sort by a fixed type rank, nulls last
/// (ascending), as Cypher specifies.
pub fn order(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Map(_) => 0,
            Value::Node(_) => 1,
            Value::Relationship(_) => 2,
            Value::List(_) => 3,
            Value::Path(_) => 4,
            Value::DateTime { .. } => 5,
            Value::LocalDateTime { .. } => 6,
            Value::Date(_) => 7,
            Value::Time { .. } => 8,
            Value::LocalTime(_) => 9,
            Value::Duration(_) => 10,
            Value::String(_) => 11,
            Value::Bool(_) => 12,
            Value::Int(_) | Value::Float(_) => 13,
            Value::Point2D { .. } | Value::Point3D { .. } => 14,
            Value::Bytes(_) => 15,
            Value::Null => 16,
        }
    }
    match rank(a).cmp(&rank(b)) {
        Ordering::Equal => match (a, b) {
            // Lists order element by element under this same total order (so `[1, 'a']` sorts
            // before `[1, null]`), then by length.
            (Value::List(x), Value::List(y)) => x
                .iter()
                .zip(y)
                .map(|(p, q)| order(p, q))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| x.len().cmp(&y.len())),
            // NaN sorts after every other number.
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_))
                if is_nan_comparison(a, b) =>
            {
                let nan = |v: &Value| matches!(v, Value::Float(f) if f.is_nan());
                nan(a).cmp(&nan(b))
            }
            (Value::Point2D { .. } | Value::Point3D { .. }, _) => a.structural_cmp(b),
            (Value::Duration(x), Value::Duration(y)) => temporal::order_durations(x, y),
            _ => compare(a, b).unwrap_or(Ordering::Equal),
        },
        other => other,
    }
}

fn index_value(target: Value, index: Value) -> Result<Value, EngineError> {
    match (target, index) {
        (Value::Null, _) | (_, Value::Null) => Ok(Value::Null),
        (Value::List(items), Value::Int(i)) => {
            let len = items.len() as i64;
            let at = if i < 0 { len + i } else { i };
            Ok(usize::try_from(at)
                .ok()
                .and_then(|at| items.into_iter().nth(at))
                .unwrap_or(Value::Null))
        }
        (Value::Map(m), Value::String(k)) => Ok(m.get(&k).cloned().unwrap_or(Value::Null)),
        (Value::Node(n), Value::String(k)) => {
            Ok(n.properties().get(&k).cloned().unwrap_or(Value::Null))
        }
        (Value::Relationship(r), Value::String(k)) => {
            Ok(r.properties.get(&k).cloned().unwrap_or(Value::Null))
        }
        (target, index) => Err(EngineError::client(format!(
            "Cannot index a {} with a {}.",
            target.type_name(),
            index.type_name()
        ))),
    }
}

fn slice(target: Value, from: Option<Value>, to: Option<Value>) -> Result<Value, EngineError> {
    let items = match target {
        Value::Null => return Ok(Value::Null),
        Value::List(items) => items,
        other => {
            return Err(EngineError::client(format!(
                "Cannot slice a {}.",
                other.type_name()
            )))
        }
    };
    let len = items.len() as i64;
    let bound = |v: Option<Value>, default: i64| -> Result<Option<i64>, EngineError> {
        match v {
            None => Ok(Some(default)),
            Some(Value::Null) => Ok(None),
            Some(Value::Int(i)) => Ok(Some(if i < 0 { (len + i).max(0) } else { i.min(len) })),
            Some(other) => Err(EngineError::client(format!(
                "List slice bounds must be integers, got {}.",
                other.type_name()
            ))),
        }
    };
    let (Some(from), Some(to)) = (bound(from, 0)?, bound(to, len)?) else {
        return Ok(Value::Null);
    };
    if from >= to {
        return Ok(Value::List(Vec::new()));
    }
    Ok(Value::List(
        items
            .into_iter()
            .skip(from as usize)
            .take((to - from) as usize)
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cypher::ast::Clause;

    /// Evaluates `expr` as RETURN would. The text is parsed without the semantic pass, so the
    /// evaluator's own runtime checks (its fallback) are what these tests see.
    fn run(expr: &str) -> Result<Value, EngineError> {
        let text = format!("RETURN {expr}");
        let tokens = crate::cypher::lexer::tokenize(&text)?;
        let Ok(crate::cypher::ast::Statement::Query(q)) =
            crate::cypher::parser::parse_tokens(&text, tokens)
        else {
            panic!()
        };
        let Some(Clause::Return(p)) = std::sync::Arc::unwrap_or_clone(q)
            .clauses
            .into_iter()
            .last()
        else {
            panic!()
        };
        let mut params = Params::new();
        params.insert("x".into(), Value::Int(5));
        eval(&p.items[0].expr, &Env::new(Arc::new(params)))
    }

    fn ok(expr: &str) -> Value {
        run(expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    #[test]
    fn arithmetic() {
        assert_eq!(ok("1 + 2 * 3"), Value::Int(7));
        assert_eq!(ok("7 / 2"), Value::Int(3));
        assert_eq!(ok("-7 / 2"), Value::Int(-3));
        assert_eq!(ok("7 % 3"), Value::Int(1));
        assert_eq!(ok("7 / 2.0"), Value::Float(3.5));
        assert_eq!(ok("2 ^ 3"), Value::Float(8.0));
        // openCypher binds unary minus tighter than ^.
        assert_eq!(ok("-2 ^ 2"), Value::Float(4.0));
        assert_eq!(ok("$x * 2"), Value::Int(10));
        assert!(run("1 / 0")
            .unwrap_err()
            .message
            .contains("Division by zero"));
        assert!(run("9223372036854775807 + 1")
            .unwrap_err()
            .message
            .contains("overflow"));
        assert_eq!(
            run("1 - 'a'").unwrap_err().message,
            "Invalid types: INTEGER and STRING for '-'."
        );
        assert_eq!(ok("1 + null"), Value::Null);
    }

    #[test]
    fn strings_and_lists() {
        assert_eq!(ok("'a' + 'b'"), Value::from("ab"));
        assert_eq!(
            ok("[1] + [2] + 3"),
            Value::List(vec![1.into(), 2.into(), 3.into()])
        );
        assert_eq!(ok("[1, 2, 3][-1]"), Value::Int(3));
        assert_eq!(ok("[1, 2, 3][5]"), Value::Null);
        assert_eq!(
            ok("[1, 2, 3, 4][1..3]"),
            Value::List(vec![2.into(), 3.into()])
        );
        assert_eq!(ok("[1, 2, 3][..-1]"), Value::List(vec![1.into(), 2.into()]));
        assert_eq!(ok("{a: {b: 2}}.a.b"), Value::Int(2));
        assert_eq!(ok("'hello' STARTS WITH 'he'"), Value::Bool(true));
        assert_eq!(ok("'hello' CONTAINS 'z'"), Value::Bool(false));
        assert_eq!(
            ok("[x IN [1,2,3,4] WHERE x % 2 = 0 | x * 10]"),
            Value::List(vec![20.into(), 40.into()])
        );
    }

    #[test]
    fn three_valued_logic() {
        assert_eq!(ok("null AND false"), Value::Bool(false));
        assert_eq!(ok("null AND true"), Value::Null);
        assert_eq!(ok("null OR true"), Value::Bool(true));
        assert_eq!(ok("null OR false"), Value::Null);
        assert_eq!(ok("true XOR false"), Value::Bool(true));
        assert_eq!(ok("NOT null"), Value::Null);
        assert_eq!(ok("null = null"), Value::Null);
        assert_eq!(ok("null IS NULL"), Value::Bool(true));
        assert_eq!(ok("1 IS NOT NULL"), Value::Bool(true));
        assert_eq!(ok("2 IN [1, null]"), Value::Null);
        assert_eq!(ok("1 IN [1, null]"), Value::Bool(true));
        assert_eq!(ok("1 = 1.0"), Value::Bool(true));
        assert_eq!(ok("1 = 'a'"), Value::Bool(false));
        assert_eq!(ok("1 < 'a'"), Value::Null);
        assert_eq!(ok("1 < 2 < 3"), Value::Bool(true));
        assert!(run("1 AND true").is_err());
    }

    #[test]
    fn list_predicates_and_reduce() {
        assert_eq!(ok("any(x IN [1, 2, 3] WHERE x > 2)"), Value::Bool(true));
        assert_eq!(ok("all(x IN [1, 2, 3] WHERE x > 0)"), Value::Bool(true));
        assert_eq!(ok("all(x IN [1, null] WHERE x > 1)"), Value::Bool(false));
        assert_eq!(ok("all(x IN [2, null] WHERE x > 1)"), Value::Null);
        assert_eq!(ok("none(x IN [1, 2] WHERE x > 5)"), Value::Bool(true));
        assert_eq!(ok("single(x IN [1, 2, 3] WHERE x = 2)"), Value::Bool(true));
        assert_eq!(ok("single(x IN [2, 2] WHERE x = 2)"), Value::Bool(false));
        assert_eq!(ok("any(x IN null WHERE x > 2)"), Value::Null);
        assert_eq!(
            ok("reduce(s = 0, x IN [1, 2, 3] | s + x * $x)"),
            Value::Int(30)
        );
        assert_eq!(
            ok("reduce(s = '', x IN ['a', 'b'] | s + x)"),
            Value::from("ab")
        );
        // Still ordinary names elsewhere.
        assert!(run("all(1)").is_err());
    }

    #[test]
    fn case_expressions() {
        assert_eq!(
            ok("CASE 2 WHEN 1 THEN 'a' WHEN 2 THEN 'b' END"),
            Value::from("b")
        );
        assert_eq!(
            ok("CASE WHEN 1 > 2 THEN 'a' ELSE 'c' END"),
            Value::from("c")
        );
        assert_eq!(ok("CASE 3 WHEN 1 THEN 'a' END"), Value::Null);
    }

    #[test]
    fn missing_parameter_and_variable() {
        assert!(run("$nope").unwrap_err().message.contains("$nope"));
        assert!(run("y").unwrap_err().message.contains("y"));
        assert!(run("count(*)")
            .unwrap_err()
            .message
            .contains("only allowed in WITH and RETURN"));
    }
}
