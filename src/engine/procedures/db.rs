//! `db.labels()`, `db.relationshipTypes()`, `db.propertyKeys()`: the names the graph uses, as
//! Neo4j Browser and the neo4j drivers' tools ask for them.

use std::collections::BTreeSet;

use super::{rows, Context, Procedure, ProcedureRows, Type};
use crate::engine::EngineError;
use crate::value::Value;

/// Names are gathered by a scan; the budget is checked every this many records.
const CHECK_EVERY: usize = 4096;

fn names(set: BTreeSet<String>) -> Result<ProcedureRows, EngineError> {
    rows(set.into_iter().map(|n| vec![Value::String(n)]).collect())
}

pub struct Labels;

impl Procedure for Labels {
    fn name(&self) -> &'static str {
        "db.labels"
    }

    fn outputs(&self) -> &'static [(&'static str, Type)] {
        &[("label", Type::String)]
    }

    fn run(&self, ctx: &Context<'_>, _: Vec<Value>) -> Result<ProcedureRows, EngineError> {
        // The label index keeps a label's entry while nodes have it.
        let set = ctx
            .graph
            .labels
            .iter()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|(label, _)| label.clone())
            .collect();
        names(set)
    }
}

pub struct RelationshipTypes;

impl Procedure for RelationshipTypes {
    fn name(&self) -> &'static str {
        "db.relationshipTypes"
    }

    fn outputs(&self) -> &'static [(&'static str, Type)] {
        &[("relationshipType", Type::String)]
    }

    fn run(&self, ctx: &Context<'_>, _: Vec<Value>) -> Result<ProcedureRows, EngineError> {
        let mut set = BTreeSet::new();
        for (i, rel) in ctx.graph.rels.values().enumerate() {
            if i.is_multiple_of(CHECK_EVERY) {
                ctx.env.check_budget()?;
            }
            if !set.contains(rel.rel_type.as_ref()) {
                set.insert(rel.rel_type.to_string());
            }
        }
        names(set)
    }
}

pub struct PropertyKeys;

impl Procedure for PropertyKeys {
    fn name(&self) -> &'static str {
        "db.propertyKeys"
    }

    fn outputs(&self) -> &'static [(&'static str, Type)] {
        &[("propertyKey", Type::String)]
    }

    fn run(&self, ctx: &Context<'_>, _: Vec<Value>) -> Result<ProcedureRows, EngineError> {
        let mut set = BTreeSet::new();
        let mut add = |i: usize, keys: &mut dyn Iterator<Item = &str>| {
            if i.is_multiple_of(CHECK_EVERY) {
                ctx.env.check_budget()?;
            }
            for k in keys {
                if !set.contains(k) {
                    set.insert(k.to_owned());
                }
            }
            Ok::<(), EngineError>(())
        };
        for (i, node) in ctx.graph.nodes.values().enumerate() {
            add(i, &mut node.props.iter().map(|(k, _)| k))?;
        }
        for (i, rel) in ctx.graph.rels.values().enumerate() {
            add(i, &mut rel.props.iter().map(|(k, _)| k))?;
        }
        names(set)
    }
}
