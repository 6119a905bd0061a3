//! `CALL procedure(args) [YIELD field [AS alias], ... | YIELD *] [WHERE predicate]`: joins each
//! incoming row with the procedure's rows.
//!
//! The procedure and the yielded fields are resolved once, before any row is read, so an unknown
//! procedure or field fails the query before it runs. Rows stay lazy: each incoming row's
//! arguments are evaluated and the procedure is run when that row is pulled.

use std::sync::Arc;

use super::eval::{eval, Env};
use super::procedures::{self, Procedure};
use super::project::Envs;
use super::{EngineError, Row, RowStream};
use crate::cypher::ast::{Expr, ProcedureCall};
use crate::value::Value;

/// What a call binds: the procedure, and for each yielded field its index among the
/// procedure's outputs and the variable it is bound to.
struct Resolved {
    procedure: &'static dyn Procedure,
    bindings: Vec<(usize, Arc<str>)>,
}

fn resolve(call: &ProcedureCall) -> Result<Resolved, EngineError> {
    let procedure = procedures::find(&call.name)?;
    let outputs = procedure.outputs();
    let bindings = match &call.yields {
        None => outputs
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (i, Arc::from(*name)))
            .collect(),
        Some(fields) => fields
            .iter()
            .map(|(field, alias)| {
                outputs
                    .iter()
                    .position(|(name, _)| name == field)
                    .map(|i| (i, Arc::from(alias.as_str())))
                    .ok_or_else(|| {
                        EngineError::client(format!(
                            "The procedure named '{}' has no result field named '{field}'.",
                            call.name
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Resolved {
        procedure,
        bindings,
    })
}

/// The names a call binds, in order: the columns of a standalone CALL.
pub fn bound_names(call: &ProcedureCall) -> Result<Vec<String>, EngineError> {
    Ok(resolve(call)?
        .bindings
        .into_iter()
        .map(|(_, n)| n.to_string())
        .collect())
}

/// The CALL clause inside a query: every incoming environment, joined with each of the
/// procedure's rows that passes the filter.
pub fn call_clause(envs: Envs, call: &ProcedureCall) -> Result<Envs, EngineError> {
    let resolved = Arc::new(resolve(call)?);
    let args = Arc::new(call.args.clone());
    let filter = Arc::new(call.filter.clone());
    Ok(Box::new(envs.flat_map(move |env| -> Envs {
        let env = match env {
            Ok(env) => env,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let rows = match run_for(&resolved, &args, &env) {
            Ok(rows) => rows,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let (resolved, filter) = (Arc::clone(&resolved), Arc::clone(&filter));
        Box::new(rows.filter_map(move |row| {
            let joined = row.and_then(|row| bind(&env, &resolved, row));
            match joined {
                Ok(env) => keep(env, filter.as_ref().as_ref()),
                Err(e) => Some(Err(e)),
            }
        }))
    })))
}

/// A query that is only a CALL: its columns are the yielded fields (every output field without
/// YIELD), and each passing row of the procedure is a result row.
pub fn standalone(
    root: Env,
    call: &ProcedureCall,
) -> Result<(Vec<String>, RowStream), EngineError> {
    let fields = bound_names(call)?;
    let envs: Envs = Box::new(std::iter::once(Ok(root)));
    let names = fields.clone();
    let rows = call_clause(envs, call)?.map(move |env| -> Result<Row, EngineError> {
        let env = env?;
        Ok(names
            .iter()
            .map(|n| env.lookup(n).cloned().unwrap_or(Value::Null))
            .collect())
    });
    Ok((fields, Box::new(rows)))
}

fn run_for(
    resolved: &Resolved,
    args: &[Expr],
    env: &Env,
) -> Result<procedures::ProcedureRows, EngineError> {
    env.check_budget()?;
    let values = args
        .iter()
        .map(|a| eval(a, env))
        .collect::<Result<Vec<_>, _>>()?;
    procedures::run(resolved.procedure, env, values)
}

fn bind(env: &Env, resolved: &Resolved, row: Row) -> Result<Env, EngineError> {
    env.check_budget()?;
    let mut out = env.clone();
    out.vars.reserve(resolved.bindings.len());
    for (i, name) in &resolved.bindings {
        let value = row.get(*i).cloned().unwrap_or(Value::Null);
        out.vars.push((Arc::clone(name), Arc::new(value)));
    }
    Ok(out)
}

/// `YIELD ... WHERE`: only rows where the predicate is exactly `true` pass.
fn keep(env: Env, filter: Option<&Expr>) -> Option<Result<Env, EngineError>> {
    match filter {
        None => Some(Ok(env)),
        Some(f) => match eval(f, &env) {
            Ok(Value::Bool(true)) => Some(Ok(env)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        },
    }
}
