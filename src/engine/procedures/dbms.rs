//! The `dbms.*` procedures Neo4j Browser and the neo4j drivers' tools call on connect:
//! `dbms.components()` (which product and version), `dbms.clientConfig()` (Browser settings:
//! none), and `dbms.procedures()`/`dbms.functions()` (Neo4j's names for `mg.procedures()` and
//! `mg.functions()`, in Neo4j's columns).

use super::{rows, signature, Context, Mode, Procedure, ProcedureRows, Type, REGISTRY};
use crate::engine::EngineError;
use crate::value::Value;

/// The Neo4j version the server's Bolt agent claims compatibility with (see
/// `config::DEFAULT_SERVER_NAME`); tools read `versions[0]` of the `Neo4j Kernel` row to decide
/// which Cypher they may send.
const NEO4J_COMPATIBLE: &str = "5.11.0";

pub struct Components;

impl Procedure for Components {
    fn name(&self) -> &'static str {
        "dbms.components"
    }

    fn outputs(&self) -> &'static [(&'static str, Type)] {
        &[
            ("name", Type::String),
            ("versions", Type::List(&Type::String)),
            ("edition", Type::String),
        ]
    }

    fn mode(&self) -> Mode {
        Mode::Dbms
    }

    fn run(&self, _: &Context<'_>, _: Vec<Value>) -> Result<ProcedureRows, EngineError> {
        rows(vec![vec![
            "Neo4j Kernel".into(),
            Value::List(vec![NEO4J_COMPATIBLE.into()]),
            "community".into(),
        ]])
    }
}

/// Neo4j Browser reads its settings from here; the server has none for it, so no rows.
pub struct ClientConfig;

impl Procedure for ClientConfig {
    fn name(&self) -> &'static str {
        "dbms.clientConfig"
    }

    fn outputs(&self) -> &'static [(&'static str, Type)] {
        &[
            ("name", Type::String),
            ("description", Type::String),
            ("value", Type::String),
        ]
    }

    fn mode(&self) -> Mode {
        Mode::Dbms
    }

    fn run(&self, _: &Context<'_>, _: Vec<Value>) -> Result<ProcedureRows, EngineError> {
        rows(Vec::new())
    }
}

pub struct Procedures;

impl Procedure for Procedures {
    fn name(&self) -> &'static str {
        "dbms.procedures"
    }

    fn outputs(&self) -> &'static [(&'static str, Type)] {
        &[
            ("name", Type::String),
            ("signature", Type::String),
            ("description", Type::String),
            ("mode", Type::String),
        ]
    }

    fn mode(&self) -> Mode {
        Mode::Dbms
    }

    fn run(&self, _: &Context<'_>, _: Vec<Value>) -> Result<ProcedureRows, EngineError> {
        rows(
            REGISTRY
                .iter()
                .map(|p| {
                    let mode = match p.mode() {
                        Mode::Read => "READ",
                        Mode::Write => "WRITE",
                        Mode::Dbms => "DBMS",
                    };
                    vec![
                        p.name().into(),
                        signature(*p).into(),
                        "".into(),
                        mode.into(),
                    ]
                })
                .collect(),
        )
    }
}

pub struct Functions;

impl Procedure for Functions {
    fn name(&self) -> &'static str {
        "dbms.functions"
    }

    fn outputs(&self) -> &'static [(&'static str, Type)] {
        &[
            ("name", Type::String),
            ("signature", Type::String),
            ("description", Type::String),
        ]
    }

    fn mode(&self) -> Mode {
        Mode::Dbms
    }

    fn run(&self, _: &Context<'_>, _: Vec<Value>) -> Result<ProcedureRows, EngineError> {
        rows(
            crate::engine::functions::NAMES
                .iter()
                .map(|f| vec![(*f).into(), format!("{f}(...)").into(), "".into()])
                .collect(),
        )
    }
}
