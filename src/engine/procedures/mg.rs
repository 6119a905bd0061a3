//! `mg.procedures()` and `mg.functions()`: Memgraph's listings, which GQLAlchemy and Memgraph
//! Lab read to learn what the server offers. Built-ins have no module file, so `path` is empty
//! and `is_editable` false.

use super::{rows, signature, Context, Mode, Procedure, ProcedureRows, Type, REGISTRY};
use crate::engine::EngineError;
use crate::value::Value;

pub struct Procedures;

impl Procedure for Procedures {
    fn name(&self) -> &'static str {
        "mg.procedures"
    }

    fn outputs(&self) -> &'static [(&'static str, Type)] {
        &[
            ("name", Type::String),
            ("signature", Type::String),
            ("is_write", Type::Boolean),
            ("path", Type::String),
            ("is_editable", Type::Boolean),
        ]
    }

    fn run(&self, _: &Context<'_>, _: Vec<Value>) -> Result<ProcedureRows, EngineError> {
        rows(
            REGISTRY
                .iter()
                .map(|p| {
                    vec![
                        p.name().into(),
                        signature(*p).into(),
                        Value::Bool(p.mode() == Mode::Write),
                        "".into(),
                        Value::Bool(false),
                    ]
                })
                .collect(),
        )
    }
}

pub struct Functions;

impl Procedure for Functions {
    fn name(&self) -> &'static str {
        "mg.functions"
    }

    fn outputs(&self) -> &'static [(&'static str, Type)] {
        &[
            ("name", Type::String),
            ("signature", Type::String),
            ("path", Type::String),
            ("is_editable", Type::Boolean),
        ]
    }

    fn run(&self, _: &Context<'_>, _: Vec<Value>) -> Result<ProcedureRows, EngineError> {
        rows(
            crate::engine::functions::NAMES
                .iter()
                .map(|f| {
                    vec![
                        (*f).into(),
                        format!("{f}(...)").into(),
                        "".into(),
                        Value::Bool(false),
                    ]
                })
                .collect(),
        )
    }
}
