//! Built-in procedures, called with `CALL name(args) [YIELD ...]`.
//!
//! Each procedure is one value implementing [`Procedure`] in its own file (or one file per small
//! family: `db.rs` for `db.*`, `dbms.rs` for `dbms.*`, `mg.rs` for `mg.*`), listed once in
//! [`REGISTRY`]. Its signature (arguments with types and defaults, output fields with types, mode)
//! is data, so `mg.procedures()` describes every procedure from the same table the executor
//! checks calls against. Adding a procedure is one new file and one line in [`REGISTRY`].
//!
//! This module knows the graph snapshot a call runs on and the values it is given; it knows
//! nothing of clauses, YIELD or WHERE (`call.rs` joins the rows into the query).

mod db;
mod dbms;
mod mg;

use std::sync::Arc;

use super::eval::Env;
use super::graph::Graph;
use super::{EngineError, Row};
use crate::value::Value;

/// Rows of a procedure, in the order of its output fields; lazy where the procedure can be.
pub type ProcedureRows = Box<dyn Iterator<Item = Result<Row, EngineError>> + Send>;

/// Whether a procedure reads the graph, writes it, or is about the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Read,
    Write,
    Dbms,
}

/// The types of arguments and output fields, named as Memgraph prints them in signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Any,
    Boolean,
    Integer,
    Float,
    Number,
    String,
    Map,
    List(&'static Type),
}

impl Type {
    /// The name in a signature (`LIST OF STRING`).
    pub fn name(&self) -> String {
        match self {
            Type::Any => "ANY".into(),
            Type::Boolean => "BOOLEAN".into(),
            Type::Integer => "INTEGER".into(),
            Type::Float => "FLOAT".into(),
            Type::Number => "NUMBER".into(),
            Type::String => "STRING".into(),
            Type::Map => "MAP".into(),
            Type::List(inner) => format!("LIST OF {}", inner.name()),
        }
    }

    /// Whether `v` may be passed where this type is declared. Null is accepted everywhere, as
    /// an argument that was not given a value.
    fn accepts(&self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Null) | (Type::Any, _) => true,
            (Type::Boolean, Value::Bool(_)) => true,
            (Type::Integer, Value::Int(_)) => true,
            (Type::Float | Type::Number, Value::Float(_) | Value::Int(_)) => true,
            (Type::String, Value::String(_)) => true,
            (Type::Map, Value::Map(_)) => true,
            (Type::List(inner), Value::List(items)) => items.iter().all(|i| inner.accepts(i)),
            _ => false,
        }
    }
}

/// One declared argument. An argument with a default may be left out (from the end).
#[derive(Debug, Clone)]
pub struct Arg {
    pub name: &'static str,
    pub ty: Type,
    pub default: Option<Value>,
}

/// What a procedure sees while it runs: the transaction's graph snapshot, and the environment of
/// the calling row (for the query's budget: deadline, memory limit, termination).
pub struct Context<'a> {
    pub graph: &'a Arc<Graph>,
    pub env: &'a Env,
}

/// A built-in procedure.
pub trait Procedure: Sync {
    /// The dotted name, e.g. `db.labels`. Names are case-sensitive, as in Memgraph.
    fn name(&self) -> &'static str;

    /// The declared arguments, in order.
    fn args(&self) -> Vec<Arg> {
        Vec::new()
    }

    /// The output fields and their types, in the order of each row's values.
    fn outputs(&self) -> &'static [(&'static str, Type)];

    fn mode(&self) -> Mode {
        Mode::Read
    }

    /// Runs the procedure on checked arguments (one per declared argument, defaults filled in).
    fn run(&self, ctx: &Context<'_>, args: Vec<Value>) -> Result<ProcedureRows, EngineError>;
}

/// Every built-in procedure, in the order `mg.procedures()` lists them.
pub static REGISTRY: &[&dyn Procedure] = &[
    &db::Labels,
    &db::PropertyKeys,
    &db::RelationshipTypes,
    &dbms::ClientConfig,
    &dbms::Components,
    &dbms::Functions,
    &dbms::Procedures,
    &mg::Functions,
    &mg::Procedures,
];

/// The procedure called `name`, or Memgraph's error for an unknown one.
pub fn find(name: &str) -> Result<&'static dyn Procedure, EngineError> {
    REGISTRY
        .iter()
        .copied()
        .find(|p| p.name() == name)
        .ok_or_else(|| EngineError::client(format!("There is no procedure named '{name}'.")))
}

/// Memgraph's signature text: `db.labels() :: (label :: STRING)`.
pub fn signature(p: &dyn Procedure) -> String {
    let args: Vec<String> = p
        .args()
        .iter()
        .map(|a| match &a.default {
            None => format!("{} :: {}", a.name, a.ty.name()),
            Some(d) => {
                let mut text = String::new();
                if super::literal::write(&mut text, d).is_err() {
                    text = "null".into();
                }
                format!("{} = {text} :: {}", a.name, a.ty.name())
            }
        })
        .collect();
    let outputs: Vec<String> = p
        .outputs()
        .iter()
        .map(|(name, ty)| format!("{name} :: {}", ty.name()))
        .collect();
    format!(
        "{}({}) :: ({})",
        p.name(),
        args.join(", "),
        outputs.join(", ")
    )
}

/// Checks a call's arguments against the declaration: count, then each type; defaults fill in
/// the ones left out.
pub fn check_args(p: &dyn Procedure, mut given: Vec<Value>) -> Result<Vec<Value>, EngineError> {
    let declared = p.args();
    let required = declared.iter().filter(|a| a.default.is_none()).count();
    if given.len() < required || given.len() > declared.len() {
        let expected = if required == declared.len() {
            format!("{required}")
        } else {
            format!("{required} to {}", declared.len())
        };
        return Err(EngineError::client(format!(
            "Procedure '{}' takes {expected} arguments, got {}. Its signature is {}.",
            p.name(),
            given.len(),
            signature(p)
        )));
    }
    for (i, (arg, v)) in declared.iter().zip(&given).enumerate() {
        if !arg.ty.accepts(v) {
            return Err(EngineError::client(format!(
                "Argument {} ('{}') of procedure '{}' must be {}, got {}.",
                i + 1,
                arg.name,
                p.name(),
                arg.ty.name(),
                v.type_name()
            )));
        }
    }
    for arg in &declared[given.len()..] {
        given.push(arg.default.clone().unwrap_or(Value::Null));
    }
    Ok(given)
}

/// Runs `p` with `args` (checked here) on the graph the environment sees.
pub fn run(p: &dyn Procedure, env: &Env, args: Vec<Value>) -> Result<ProcedureRows, EngineError> {
    let args = check_args(p, args)?;
    let Some(graph) = env.graph.as_ref() else {
        return Err(EngineError::database(
            "a procedure was called without a graph",
        ));
    };
    p.run(&Context { graph, env }, args)
}

/// Materialised rows, for procedures whose answer is small (names, settings).
fn rows(rows: Vec<Row>) -> Result<ProcedureRows, EngineError> {
    Ok(Box::new(rows.into_iter().map(Ok)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Params;

    fn env() -> Env {
        let mut env = Env::new(Arc::new(Params::new()));
        env.graph = Some(Arc::new(Graph::default()));
        env
    }

    #[test]
    fn names_are_unique_and_found_exactly() {
        let mut names: Vec<&str> = REGISTRY.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        assert!(find("db.labels").is_ok());
        let e = find("db.nope").err().unwrap();
        assert_eq!(e.message, "There is no procedure named 'db.nope'.");
        assert!(find("DB.LABELS").is_err());
    }

    #[test]
    fn signatures_read_like_memgraphs() {
        assert_eq!(
            signature(find("db.labels").unwrap()),
            "db.labels() :: (label :: STRING)"
        );
        assert_eq!(
            signature(find("dbms.components").unwrap()),
            "dbms.components() :: (name :: STRING, versions :: LIST OF STRING, edition :: STRING)"
        );
    }

    #[test]
    fn arguments_are_counted_and_typed() {
        let p = find("db.labels").unwrap();
        let e = run(p, &env(), vec![Value::Int(1)]).err().unwrap();
        assert!(
            e.message.contains("takes 0 arguments, got 1"),
            "{}",
            e.message
        );
        assert!(check_args(p, vec![]).unwrap().is_empty());
        // Every output row has one value per declared field.
        for p in REGISTRY {
            let args: Vec<Value> = p.args().iter().map(|_| Value::Null).collect();
            for row in run(*p, &env(), args).unwrap() {
                assert_eq!(row.unwrap().len(), p.outputs().len(), "{}", p.name());
            }
        }
    }

    #[test]
    fn types_accept_what_they_declare() {
        assert!(Type::List(&Type::String).accepts(&Value::List(vec!["a".into()])));
        assert!(!Type::List(&Type::String).accepts(&Value::List(vec![Value::Int(1)])));
        assert!(Type::Number.accepts(&Value::Int(1)));
        assert!(!Type::Integer.accepts(&Value::Float(1.0)));
        assert!(Type::Map.accepts(&Value::Null));
    }
}
